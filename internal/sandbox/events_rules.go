package sandbox

import (
	"encoding/json"
	"strings"
	"time"
)

// EventBridge delivery through the rules CloudFormation stacks create (AWS::Events::Rule on
// the default bus, AWS::Events::EventBusPolicy), for the events the sandbox raises itself
// (iamEvent: "AWS API Call via CloudTrail" on us-east-1's default bus). Rules from AWS's
// documentation (Amazon EventBridge User Guide):
//
//   - "Event patterns" / "Content filtering": a pattern matches when every field it names
//     matches; a list of values matches when the event's value (or one of its values) equals
//     one of them; nested objects match nested fields; "$or" matches when one of its patterns
//     does; {"prefix": "..."} and {"exists": true|false} are value matchers.
//   - "Sending and receiving events between AWS accounts": a rule's target may be another
//     account's event bus; the receiving bus's resource-based policy must allow
//     events:PutEvents for the sending account, and the target names a role EventBridge
//     assumes, whose policy must allow events:PutEvents on that bus. The event keeps its
//     account, region and source.
//   - "Permissions for Amazon SQS targets" (Using resource-based policies for EventBridge): the
//     queue's policy must allow the events.amazonaws.com service principal sqs:SendMessage,
//     usually on the condition aws:SourceArn equal to the rule's ARN.
//
// Not modelled: the events API (PutEvents, PutRule, PutTargets), buses other than default,
// input transformers, dead-letter queues and retries; a refused delivery drops the event.

// busRule is a rule of a stack on an account's default bus.
type busRule struct {
	arn     string
	pattern any
	targets []busTarget
}

type busTarget struct{ arn, roleArn string }

// maxEventHops stops a forwarding loop between buses.
const maxEventHops = 3

// putOnDefaultBus puts ev (an event as EventBridge delivers it) on the default bus of account
// in region and delivers it to the targets of the rules that match.
func (s *Server) putOnDefaultBus(account, region string, ev map[string]any, now time.Time, hops int) {
	if hops >= maxEventHops {
		return
	}
	var doc any
	if b, err := json.Marshal(ev); err != nil || json.Unmarshal(b, &doc) != nil {
		return
	}
	body, _ := json.Marshal(ev)
	for _, r := range s.busRules(account, region) {
		if !eventMatches(r.pattern, doc) {
			continue
		}
		for _, t := range r.targets {
			switch {
			case strings.HasPrefix(t.arn, "arn:aws:events:"):
				parts := strings.SplitN(t.arn, ":", 6)
				if len(parts) == 6 && parts[5] == "event-bus/default" && s.busAccepts(account, t, parts[4], parts[3]) {
					s.putOnDefaultBus(parts[4], parts[3], ev, now, hops+1)
				}
			case strings.HasPrefix(t.arn, "arn:aws:sqs:"):
				if s.queueAcceptsRule(t.arn, r.arn) && !s.deliverToQueue(t.arn, string(body), nil, now, "events.amazonaws.com") {
					s.log.Warn("rule target queue is gone; event dropped", "rule", r.arn, "queue", t.arn)
				}
			}
		}
	}
}

// busRules are the enabled rules of live stacks on account's default bus in region.
func (s *Server) busRules(account, region string) []busRule {
	cf := s.cfn()
	if cf == nil {
		return nil
	}
	cf.mu.Lock()
	defer cf.mu.Unlock()
	var out []busRule
	for _, st := range cf.stacks {
		if !st.deleted.IsZero() || st.acct != account || st.region != region {
			continue
		}
		for _, r := range st.resources {
			if r.typ != "AWS::Events::Rule" || (propString(r.props, "State") != "" && propString(r.props, "State") != "ENABLED") {
				continue
			}
			if bus := propString(r.props, "EventBusName"); bus != "" && bus != "default" {
				continue
			}
			br := busRule{arn: r.attrs["Arn"], pattern: jsonValue(r.props["EventPattern"])}
			targets, _ := r.props["Targets"].([]any)
			for _, t := range targets {
				if m, ok := t.(map[string]any); ok {
					br.targets = append(br.targets, busTarget{arn: propString(m, "Arn"), roleArn: propString(m, "RoleArn")})
				}
			}
			out = append(out, br)
		}
	}
	return out
}

// busAccepts reports whether the default bus of busAcct in region takes events from account
// through target t: its policy (the stacks' AWS::Events::EventBusPolicy statements) allows
// events:PutEvents for account, and t's role allows events:PutEvents on the bus.
func (s *Server) busAccepts(account string, t busTarget, busAcct, region string) bool {
	busArn := "arn:aws:events:" + region + ":" + busAcct + ":event-bus/default"
	if busAcct == account {
		return true
	}
	cf := s.cfn()
	cf.mu.Lock()
	defer cf.mu.Unlock()
	r := policyRequest{action: "events:PutEvents", resource: busArn, account: account, orgID: s.org.id,
		arns: []string{"arn:aws:iam::" + account + ":root"}}
	allowed := false
	for _, st := range cf.stacks {
		if !st.deleted.IsZero() || st.acct != busAcct || st.region != region {
			continue
		}
		for _, res := range st.resources {
			if res.typ != "AWS::Events::EventBusPolicy" {
				continue
			}
			stmt := res.props["Statement"]
			if stmt == nil {
				continue
			}
			doc, err := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": []any{stmt}})
			if err != nil {
				continue
			}
			pol, err := parsePolicy(string(doc))
			if err != nil {
				continue
			}
			switch pol.evaluate(r) {
			case policyDeny:
				return false
			case policyAllow:
				allowed = true
			}
		}
	}
	if !allowed {
		return false
	}
	// The role EventBridge assumes in the sending account.
	name := t.roleArn[strings.LastIndex(t.roleArn, "/")+1:]
	role := cf.role(account, name)
	if t.roleArn == "" || role == nil {
		return false
	}
	r.arns = []string{role.arn}
	for _, p := range stackRolePolicies(role.policies, role.managed) {
		if p.evaluateIdentity(r) == policyAllow {
			return true
		}
	}
	return false
}

// queueAcceptsRule reports whether the queue's policy lets the events.amazonaws.com service
// principal send to it for the rule ruleArn.
func (s *Server) queueAcceptsRule(queueARN, ruleArn string) bool {
	_, acct, name, ok := parseQueueARN(queueARN)
	a := s.accounts[acct]
	if !ok || a == nil {
		return false
	}
	a.sqs.mu.Lock()
	var pol *policyDoc
	if q := a.sqs.queues[name]; q != nil {
		pol = q.policy
	}
	a.sqs.mu.Unlock()
	if pol == nil {
		return false
	}
	r := policyRequest{action: "sqs:SendMessage", resource: queueARN, account: acct, orgID: s.org.id,
		arns: []string{"events.amazonaws.com"}, sourceArn: ruleArn}
	dec, _ := keyPolicyDecision(pol, r, "events.amazonaws.com")
	return dec == policyAllow
}

// jsonValue returns v decoded when it is a JSON string (CloudFormation accepts EventPattern
// as an object or as a JSON string).
func jsonValue(v any) any {
	if s, ok := v.(string); ok {
		var out any
		if json.Unmarshal([]byte(s), &out) == nil {
			return out
		}
	}
	return v
}

// eventMatches reports whether the event (decoded JSON) matches an EventBridge pattern.
func eventMatches(pattern, event any) bool {
	p, ok := pattern.(map[string]any)
	if !ok {
		return false
	}
	ev, _ := event.(map[string]any)
	for k, want := range p {
		if k == "$or" {
			alts, _ := want.([]any)
			matched := false
			for _, alt := range alts {
				if eventMatches(alt, event) {
					matched = true
					break
				}
			}
			if !matched {
				return false
			}
			continue
		}
		got, present := ev[k]
		switch w := want.(type) {
		case map[string]any:
			if !present || !eventMatches(w, got) {
				return false
			}
		case []any:
			if !valueMatches(w, got, present) {
				return false
			}
		default:
			return false // EventBridge refuses a pattern whose leaf is not a list
		}
	}
	return true
}

// valueMatches reports whether an event value (a scalar or a list of them) matches one of the
// pattern's values.
func valueMatches(want []any, got any, present bool) bool {
	gots := []any{got}
	if l, ok := got.([]any); ok {
		gots = l
	}
	for _, w := range want {
		if m, ok := w.(map[string]any); ok {
			if e, ok := m["exists"].(bool); ok && e == present {
				return true
			}
			if pre, ok := m["prefix"].(string); ok && present {
				for _, g := range gots {
					if s, ok := g.(string); ok && strings.HasPrefix(s, pre) {
						return true
					}
				}
			}
			continue
		}
		if !present {
			continue
		}
		for _, g := range gots {
			if g == w {
				return true
			}
		}
	}
	return false
}
