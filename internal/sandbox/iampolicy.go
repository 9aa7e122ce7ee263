package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// IAM permissions of principals, evaluated like AWS's policy evaluation logic
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html)
// for one account's identity policies: an explicit Deny in any policy wins, else an Allow is
// needed. A statement matches when its Action (or NotAction) and Resource (or NotResource)
// match, with * and ? wildcards, and all its conditions hold (policy.go: StringEquals,
// StringLike, ArnLike, Bool and their negations, on aws:PrincipalOrgID, aws:SourceAccount,
// aws:PrincipalArn, aws:SecureTransport, sts:ExternalId). Resource policies of topics and
// queues combine with identity policies in sns.go and sqs.go: in the resource's own account
// either one allowing is enough; across accounts both must allow.
//
// Who is evaluated: role sessions whose role has policies (fixture roles with a policy or a
// default policy from Options.DefaultRolePolicies, roles of CloudFormation stacks). The
// management credentials, root keys, IAM users (the fixture gives them no policies) and
// fixture roles without any policy are allowed everything.

// EnforceRoleName is the role "keyage enforce" assumes; a fixture role of that name gets the
// enforcer default policy.
const EnforceRoleName = "KeyageEnforceRole"

// parseIdentityPolicy parses an identity-based policy: like parsePolicy, but statements have
// no Principal.
func parseIdentityPolicy(doc string) (*policyDoc, error) {
	p, err := parsePolicyDoc(doc)
	if err != nil {
		return nil, err
	}
	for i, s := range p.Statement {
		if s.Principal != nil || s.NotPrincipal != nil {
			return nil, fmt.Errorf("statement %d: an identity-based policy has no Principal", i)
		}
		if s.Resource == nil && s.NotResource == nil {
			return nil, fmt.Errorf("statement %d: missing Resource", i)
		}
	}
	return p, nil
}

// evaluateIdentity returns policyDeny when a Deny statement matches, else policyAllow when an
// Allow statement matches, else policyNone.
func (d *policyDoc) evaluateIdentity(r policyRequest) policyDecision {
	out := policyNone
	for i := range d.Statement {
		st := &d.Statement[i]
		switch {
		case st.Action != nil && !actionMatches(st.Action, r.action),
			st.NotAction != nil && actionMatches(st.NotAction, r.action),
			st.Resource != nil && !anyGlob(st.Resource, r.resource, false),
			st.NotResource != nil && anyGlob(st.NotResource, r.resource, false),
			!conditionsMatch(st.Condition, r):
			continue
		}
		if st.Effect == "Deny" {
			return policyDeny
		}
		out = policyAllow
	}
	return out
}

// identityPolicies returns the identity policies of p, and whether they are enforced at all.
func identityPolicies(p *principal) ([]*policyDoc, bool) {
	if p.kind != kindRole || p.sess.role.unrestricted {
		return nil, false
	}
	return p.sess.role.policies, true
}

// authorize evaluates the caller's identity policies for the call, returning AWS's
// AccessDenied error of the service when they do not allow it. A call that no identity policy
// allows on a topic or queue of the caller's own account goes on: the resource's policy may
// allow it (c.idNoAllow tells sns.go, sqs.go and secretsmanager.go).
func (s *Server) authorize(c *call) *apiError {
	pols, enforced := identityPolicies(c.p)
	if !enforced || c.api == "sts:GetCallerIdentity" { // AWS needs no permission for it
		return nil
	}
	res := s.resourceOf(c)
	r := s.policyRequest(c.p, c.api, res)
	r.secure = c.req != nil && c.req.TLS != nil
	if c.api == "sts:AssumeRole" {
		r.externalID, r.hasExternalID = c.form.Get("ExternalId"), c.form.Has("ExternalId")
	}
	d := policyNone
	for _, pol := range pols {
		switch pol.evaluateIdentity(r) {
		case policyDeny:
			return s.accessDenied(c, res, "with an explicit deny in an identity-based policy")
		case policyAllow:
			d = policyAllow
		}
	}
	if d == policyAllow {
		return nil
	}
	if (c.svc.name == "sns" || c.svc.name == "sqs" || c.svc.name == "secretsmanager") && arnAccount(res) == c.p.acct.id {
		c.idNoAllow = true
		return nil
	}
	return s.accessDenied(c, res, "because no identity-based policy allows the "+c.api+" action")
}

// accessDenied is the service's error for a call the caller's policies do not allow.
func (s *Server) accessDenied(c *call, resource, why string) *apiError {
	msg := "User: " + c.p.arn() + " is not authorized to perform: " + c.api
	if resource != "*" {
		msg += " on resource: " + resource
	}
	msg += " " + why
	switch c.svc.name {
	case "sns":
		return newError(http.StatusForbidden, "AuthorizationError", msg)
	case "sqs":
		return sqsError(http.StatusForbidden, "com.amazon.coral.service#AccessDeniedException", "AccessDenied", msg)
	case "lambda":
		return lambdaError(http.StatusForbidden, "AccessDeniedException", msg, "")
	}
	switch c.svc.proto.(type) {
	case queryProtocol:
		return newError(http.StatusForbidden, "AccessDenied", msg)
	case restJSONProtocol:
		return newError(http.StatusForbidden, "AccessDeniedException", msg)
	}
	return newError(http.StatusBadRequest, "AccessDeniedException", msg)
}

// resourceOf is the ARN a call acts on, as AWS's service authorization reference names it
// for the action; "*" for actions without resource-level permissions (Organizations, Config,
// SES and CloudFormation are all evaluated against "*" by the sandbox).
func (s *Server) resourceOf(c *call) string {
	a := c.p.acct
	switch c.svc.name {
	case "iam":
		if c.op == "GetRole" {
			return "arn:aws:iam::" + a.id + ":role/" + c.form.Get("RoleName")
		}
		if c.op == "GetAccessKeyLastUsed" {
			if v, ok := s.keys.Load(c.form.Get("AccessKeyId")); ok {
				ref := v.(keyRef)
				return ref.user.arn(ref.acct.id)
			}
			return "*"
		}
		name := c.form.Get("UserName")
		if name == "" {
			switch c.op {
			case "ListUsers", "GenerateCredentialReport", "GetCredentialReport", "GetAccountSummary", "ListAccountAliases":
				if c.op == "ListUsers" {
					return "arn:aws:iam::" + a.id + ":user/"
				}
				return "*"
			}
			if c.p.kind == kindUser { // the caller's own user
				return c.p.user.arn(a.id)
			}
			return "*"
		}
		a.mu.RLock()
		u := a.userLocked(name)
		path := "/"
		if u != nil {
			path = u.path
		}
		a.mu.RUnlock()
		return "arn:aws:iam::" + a.id + ":user" + path + name
	case "sts":
		if c.op == "AssumeRole" {
			return c.form.Get("RoleArn")
		}
	case "sns":
		for _, k := range []string{"TopicArn", "TargetArn"} {
			if v := c.form.Get(k); v != "" {
				return v
			}
		}
		if c.op == "CreateTopic" {
			return "arn:aws:sns:" + c.region + ":" + a.id + ":" + c.form.Get("Name")
		}
		if v := c.form.Get("SubscriptionArn"); strings.Count(v, ":") == 6 {
			return v[:strings.LastIndexByte(v, ':')]
		}
	case "sqs":
		qurl, name := c.form.Get("QueueUrl"), c.form.Get("QueueName")
		if c.form == nil {
			var in struct{ QueueUrl, QueueName string }
			_ = json.Unmarshal(c.body, &in)
			qurl, name = in.QueueUrl, in.QueueName
		}
		if u, err := url.Parse(qurl); err == nil && qurl != "" {
			if parts := strings.Split(strings.Trim(u.Path, "/"), "/"); len(parts) == 2 {
				return "arn:aws:sqs:" + c.region + ":" + parts[0] + ":" + parts[1]
			}
		}
		if name != "" {
			return "arn:aws:sqs:" + c.region + ":" + a.id + ":" + name
		}
	case "secretsmanager":
		return s.secretsResourceOf(c)
	case "lambda":
		if c.req != nil && strings.HasPrefix(c.req.URL.Path, lambdaInvokePrefix) {
			raw := strings.TrimSuffix(strings.TrimPrefix(c.req.URL.Path, lambdaInvokePrefix), "/invocations")
			if acct, name, ok := parseFunctionName(raw, a.id); ok {
				return "arn:aws:lambda:" + c.region + ":" + acct + ":function:" + name
			}
		}
	}
	return "*"
}

// arnAccount is the account field of an ARN, "" when it has none.
func arnAccount(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 {
		return ""
	}
	return parts[4]
}

// rolePolicies builds a role's identity policies: its own (a JSON document), else the
// default for its name; neither makes it unrestricted.
func (s *Server) rolePolicies(r *role, own string) {
	switch {
	case own != "":
		p, _ := parseIdentityPolicy(own) // validated with the fixture
		r.policies = []*policyDoc{p}
	case s.defaultPolicies[r.name] != nil:
		r.policies = []*policyDoc{s.defaultPolicies[r.name]}
	default:
		r.unrestricted = true
	}
}

// managedPolicies are the AWS managed policies keyage's templates may attach, with the
// statements AWS's managed policy reference documents.
var managedPolicies = map[string]string{
	// AmazonSSMAutomationRole, policy version v5 (default), edited 2017-07-24, from
	// https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AmazonSSMAutomationRole.html
	"arn:aws:iam::aws:policy/service-role/AmazonSSMAutomationRole": `{"Version":"2012-10-17","Statement":[
{"Effect":"Allow","Action":["lambda:InvokeFunction"],"Resource":["arn:aws:lambda:*:*:function:Automation*"]},
{"Effect":"Allow","Action":["ec2:CreateImage","ec2:CopyImage","ec2:DeregisterImage","ec2:DescribeImages","ec2:DeleteSnapshot",
"ec2:StartInstances","ec2:RunInstances","ec2:StopInstances","ec2:TerminateInstances","ec2:DescribeInstanceStatus","ec2:CreateTags",
"ec2:DeleteTags","ec2:DescribeTags","cloudformation:CreateStack","cloudformation:DescribeStackEvents","cloudformation:DescribeStacks",
"cloudformation:UpdateStack","cloudformation:DeleteStack"],"Resource":["*"]},
{"Effect":"Allow","Action":["ssm:*"],"Resource":["*"]},
{"Effect":"Allow","Action":["sns:Publish"],"Resource":["arn:aws:sns:*:*:Automation*"]}]}`,
}

// managedPolicy returns the parsed managed policy of an ARN (any partition), or nil when the
// sandbox does not know it (the role then gets nothing from it).
func managedPolicy(arn string) *policyDoc {
	if i := strings.Index(arn, ":iam::aws:policy/"); i > 0 {
		arn = "arn:aws" + arn[i:]
	}
	doc, ok := managedPolicies[arn]
	if !ok {
		return nil
	}
	p, err := parseIdentityPolicy(doc)
	if err != nil {
		panic("managed policy " + arn + ": " + err.Error())
	}
	return p
}

// stackRolePolicies parses the inline and managed policies of a role a stack created.
func stackRolePolicies(inline map[string]string, managed []string) []*policyDoc {
	out := make([]*policyDoc, 0, len(inline)+len(managed))
	for _, doc := range inline {
		if p, err := parseIdentityPolicy(doc); err == nil {
			out = append(out, p)
		}
	}
	for _, arn := range managed {
		if p := managedPolicy(arn); p != nil {
			out = append(out, p)
		}
	}
	return out
}
