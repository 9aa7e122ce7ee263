package sandbox

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Resource-based policies (SNS topic policies, SQS queue policies), evaluated like AWS for a
// caller from another account: an explicit Deny wins, then an Allow whose Principal, Action,
// Resource and Condition all match. The owner's account needs no Allow (an explicit Deny
// still applies to it). Statements with NotPrincipal or NotAction, and conditions the sandbox
// does not know, never match.

type policyDoc struct {
	Statement []policyStatement
}

type policyStatement struct {
	Sid       string
	Effect    string
	Principal any
	Action    any
	Resource  any
	Condition map[string]map[string]any

	NotPrincipal any
	NotAction    any
	NotResource  any
}

// parsePolicy parses a resource policy document; Statement may be one object or a list.
func parsePolicy(doc string) (*policyDoc, error) {
	p, err := parsePolicyDoc(doc)
	if err != nil {
		return nil, err
	}
	for i, s := range p.Statement {
		if s.Principal == nil && s.NotPrincipal == nil {
			return nil, fmt.Errorf("statement %d: missing Principal", i)
		}
	}
	return p, nil
}

// parsePolicyDoc parses the statements of a resource or identity policy.
func parsePolicyDoc(doc string) (*policyDoc, error) {
	var raw struct {
		Version   string          `json:"Version"`
		Statement json.RawMessage `json:"Statement"`
	}
	if err := json.Unmarshal([]byte(doc), &raw); err != nil {
		return nil, fmt.Errorf("policy is not a JSON object: %v", err)
	}
	p := &policyDoc{}
	st := strings.TrimSpace(string(raw.Statement))
	switch {
	case st == "" || st == "null":
		return nil, fmt.Errorf("policy has no Statement")
	case st[0] == '{':
		var s policyStatement
		if err := json.Unmarshal(raw.Statement, &s); err != nil {
			return nil, fmt.Errorf("policy statement: %v", err)
		}
		p.Statement = []policyStatement{s}
	default:
		if err := json.Unmarshal(raw.Statement, &p.Statement); err != nil {
			return nil, fmt.Errorf("policy statements: %v", err)
		}
	}
	for i, s := range p.Statement {
		if s.Effect != "Allow" && s.Effect != "Deny" {
			return nil, fmt.Errorf("statement %d: Effect must be Allow or Deny, got %q", i, s.Effect)
		}
		if s.Action == nil && s.NotAction == nil {
			return nil, fmt.Errorf("statement %d: missing Action", i)
		}
	}
	return p, nil
}

// policyRequest is what a resource policy is asked about.
type policyRequest struct {
	action   string // sns:Publish
	resource string // the topic or queue ARN
	account  string // the caller's account
	arns     []string
	orgID    string
	secure   bool // aws:SecureTransport
	// externalID is sts:ExternalId of an AssumeRole call that passed one.
	externalID    string
	hasExternalID bool
	// sourceArn is aws:SourceArn of a request an AWS service makes for a resource (a rule).
	sourceArn string
}

func (s *Server) policyRequest(p *principal, action, resource string) policyRequest {
	r := policyRequest{action: action, resource: resource, account: p.acct.id, orgID: s.org.id, arns: []string{p.arn()}}
	if p.kind == kindRole {
		r.arns = append(r.arns, "arn:aws:iam::"+p.acct.id+":role/"+p.sess.role.name)
	}
	return r
}

type policyDecision int

const (
	policyNone policyDecision = iota
	policyAllow
	policyDeny
)

// evaluate returns policyDeny when a Deny statement matches, else policyAllow when an Allow
// statement matches, else policyNone.
func (d *policyDoc) evaluate(r policyRequest) policyDecision {
	if d == nil {
		return policyNone
	}
	out := policyNone
	for i := range d.Statement {
		st := &d.Statement[i]
		if st.NotPrincipal != nil || st.NotAction != nil {
			continue
		}
		if !principalMatches(st.Principal, r) || !actionMatches(st.Action, r.action) ||
			(st.Resource != nil && !anyGlob(st.Resource, r.resource, false)) || !conditionsMatch(st.Condition, r) {
			continue
		}
		if st.Effect == "Deny" {
			return policyDeny
		}
		out = policyAllow
	}
	return out
}

// strs returns a JSON string or list of strings as a list.
func strs(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		out := make([]string, 0, len(v))
		for _, x := range v {
			switch x := x.(type) {
			case string:
				out = append(out, x)
			case bool:
				out = append(out, fmt.Sprint(x))
			case float64:
				out = append(out, fmt.Sprint(x))
			}
		}
		return out
	case bool, float64:
		return []string{fmt.Sprint(v)}
	}
	return nil
}

func principalMatches(p any, r policyRequest) bool {
	if s, ok := p.(string); ok {
		return s == "*"
	}
	m, ok := p.(map[string]any)
	if !ok {
		return false
	}
	for _, v := range strs(m["AWS"]) {
		switch {
		case v == "*", v == r.account, v == "arn:aws:iam::"+r.account+":root":
			return true
		}
		for _, arn := range r.arns {
			if v == arn {
				return true
			}
		}
	}
	return false
}

// actionMatches compares service:Action case-insensitively, with wildcards.
func actionMatches(a any, action string) bool { return anyGlob(a, action, true) }

func anyGlob(patterns any, s string, fold bool) bool {
	for _, p := range strs(patterns) {
		if fold {
			if glob(strings.ToLower(p), strings.ToLower(s)) {
				return true
			}
		} else if glob(p, s) {
			return true
		}
	}
	return false
}

// glob matches s against a pattern with * (any run) and ? (one character).
func glob(pattern, s string) bool {
	px, sx := 0, 0
	star, match := -1, 0
	for sx < len(s) {
		switch {
		case px < len(pattern) && (pattern[px] == '?' || pattern[px] == s[sx]):
			px++
			sx++
		case px < len(pattern) && pattern[px] == '*':
			star, match = px, sx
			px++
		case star >= 0:
			px = star + 1
			match++
			sx = match
		default:
			return false
		}
	}
	for px < len(pattern) && pattern[px] == '*' {
		px++
	}
	return px == len(pattern)
}

// conditionValue returns the value of a global condition key for the request. The sandbox
// treats aws:SourceAccount and aws:SourceOwner as the calling account, so that a policy
// granting "*" on the condition of an account grants that account.
func conditionValue(key string, r policyRequest) (string, bool) {
	switch strings.ToLower(key) {
	case "aws:principalorgid":
		return r.orgID, true
	case "aws:principalaccount", "aws:sourceaccount", "aws:sourceowner":
		return r.account, true
	case "aws:principalarn":
		return r.arns[len(r.arns)-1], true
	case "aws:securetransport":
		return fmt.Sprint(r.secure), true
	case "sts:externalid":
		return r.externalID, r.hasExternalID
	case "aws:sourcearn":
		return r.sourceArn, r.sourceArn != ""
	}
	return "", false
}

func conditionsMatch(cond map[string]map[string]any, r policyRequest) bool {
	for op, kv := range cond {
		base, ifExists := strings.CutSuffix(op, "IfExists")
		for key, want := range kv {
			got, present := conditionValue(key, r)
			if !present {
				if ifExists || strings.Contains(base, "Not") {
					continue
				}
				return false
			}
			if !conditionOp(base, got, strs(want)) {
				return false
			}
		}
	}
	return true
}

func conditionOp(op, got string, want []string) bool {
	some := func(f func(w string) bool) bool {
		for _, w := range want {
			if f(w) {
				return true
			}
		}
		return false
	}
	switch op {
	case "StringEquals", "ArnEquals":
		return some(func(w string) bool { return w == got })
	case "StringEqualsIgnoreCase":
		return some(func(w string) bool { return strings.EqualFold(w, got) })
	case "StringLike", "ArnLike":
		return some(func(w string) bool { return glob(w, got) })
	case "StringNotEquals", "ArnNotEquals":
		return !some(func(w string) bool { return w == got })
	case "StringNotLike", "ArnNotLike":
		return !some(func(w string) bool { return glob(w, got) })
	case "Bool":
		return some(func(w string) bool { return strings.EqualFold(w, got) })
	}
	return false // an operator the sandbox does not know never matches
}
