package sandbox

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// STS over awsQuery, version 2011-06-15. AssumeRole evaluates the role's trust policy (trusts)
// and the caller's identity policies (authorize); root never assumes a role, as on AWS.

const stsXMLNS = "https://sts.amazonaws.com/doc/2011-06-15/"

func (s *Server) stsService() *service {
	svc := &service{
		name:     "sts",
		version:  "2011-06-15",
		proto:    queryProtocol{xmlns: stsXMLNS},
		throttle: newError(http.StatusBadRequest, "Throttling", "Rate exceeded"),
		failure:  newError(http.StatusInternalServerError, "InternalFailure", "An internal error has occurred"),
	}
	svc.unknownOp = queryUnknownOp(svc.version)
	svc.ops = map[string]operation{
		"AssumeRole":        s.stsAssumeRole,
		"GetCallerIdentity": s.stsGetCallerIdentity,
	}
	return svc
}

func (s *Server) stsGetCallerIdentity(c *call) (any, error) {
	p := c.p
	return xmlResult(func(x *xmlWriter) {
		x.elem("UserId", p.userID())
		x.elem("Account", p.acct.id)
		x.elem("Arn", p.arn())
	}), nil
}

// parseRoleARN splits arn:aws:iam::<account>:role/<path/><name>.
func parseRoleARN(arn string) (acct, path, name string, ok bool) {
	rest, found := strings.CutPrefix(arn, "arn:aws:iam::")
	if !found || len(rest) < 13 || rest[12] != ':' {
		return "", "", "", false
	}
	acct, rest = rest[:12], rest[13:]
	rest, found = strings.CutPrefix(rest, "role/")
	if !found || !accountIDPattern.MatchString(acct) {
		return "", "", "", false
	}
	i := strings.LastIndexByte(rest, '/')
	path, name = "/"+rest[:i+1], rest[i+1:]
	if path == "//" {
		path = "/"
	}
	return acct, path, name, validIAMName(name, 64)
}

func (s *Server) stsAssumeRole(c *call) (any, error) {
	roleARN, sessName := c.form.Get("RoleArn"), c.form.Get("RoleSessionName")
	switch {
	case roleARN == "":
		return nil, validationError("1 validation error detected: Value null at 'roleArn' failed to satisfy constraint: Member must not be null")
	case len(roleARN) < 20:
		return nil, validationError("1 validation error detected: Value '%s' at 'roleArn' failed to satisfy constraint: Member must have length greater than or equal to 20", roleARN)
	case sessName == "":
		return nil, validationError("1 validation error detected: Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null")
	case len(sessName) < 2:
		return nil, validationError("1 validation error detected: Value '%s' at 'roleSessionName' failed to satisfy constraint: Member must have length greater than or equal to 2", sessName)
	case len(sessName) > 64:
		return nil, validationError("1 validation error detected: Value '%s' at 'roleSessionName' failed to satisfy constraint: Member must have length less than or equal to 64", sessName)
	case !validIAMName(sessName, 64):
		return nil, validationError("1 validation error detected: Value '%s' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*", sessName)
	}
	duration := time.Hour
	if v := c.form.Get("DurationSeconds"); v != "" {
		n, err := strconv.Atoi(v)
		switch {
		case err != nil:
			return nil, validationError("1 validation error detected: Value '%s' at 'durationSeconds' failed to satisfy constraint: Member must be a number", v)
		case n < 900:
			return nil, validationError("1 validation error detected: Value '%d' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900", n)
		case n > 43200:
			return nil, validationError("1 validation error detected: Value '%d' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to 43200", n)
		case n > 3600:
			return nil, validationError("The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
		}
		duration = time.Duration(n) * time.Second
	}
	acctID, path, name, ok := parseRoleARN(roleARN)
	if !ok {
		return nil, validationError("%s is invalid", roleARN)
	}
	if c.p.kind == kindRoot {
		return nil, newError(http.StatusForbidden, "AccessDenied", "Roles may not be assumed by root accounts.")
	}
	denied := newError(http.StatusForbidden, "AccessDenied",
		"User: "+c.p.arn()+" is not authorized to perform: sts:AssumeRole on resource: "+roleARN)
	target, ok := s.accounts[acctID]
	if !ok || target.status != "ACTIVE" || path != "/" {
		return nil, denied
	}
	r := target.findRole(name)
	if r == nil {
		r = s.stackRole(acctID, name) // a role a CloudFormation stack created
	}
	if r == nil || (r.externalID != "" && r.externalID != c.form.Get("ExternalId")) || !s.trusts(r, c, roleARN) {
		return nil, denied
	}

	keyID, sess := s.newSession(target, r, sessName, c.reqID, c.now, duration)
	secret := sess.secret
	p := &principal{acct: target, kind: kindRole, sess: sess}
	return xmlResult(func(x *xmlWriter) {
		x.open("AssumedRoleUser")
		x.elem("AssumedRoleId", p.userID())
		x.elem("Arn", p.arn())
		x.close("AssumedRoleUser")
		x.open("Credentials")
		x.elem("AccessKeyId", keyID)
		x.elem("SecretAccessKey", secret)
		x.elem("SessionToken", sess.token)
		x.timeElem("Expiration", sess.expires)
		x.close("Credentials")
	}), nil
}

// sweepSessions forgets sessions that expired more than an hour ago (so that their use still
// says ExpiredToken for a while), keeping memory flat across long benchmarks.
func (s *Server) sweepSessions(now time.Time) {
	s.sessions.Range(func(k, v any) bool {
		if now.Sub(v.(*session).expires) > time.Hour {
			s.sessions.Delete(k)
		}
		return true
	})
}

// trusts evaluates the role's trust policy (a resource-based policy) for the caller's
// sts:AssumeRole, as AWS does: an explicit Deny refuses, and an Allow must name the caller's
// account (arn:aws:iam::ID:root or ID), its user or role ARN, or "*", with every condition
// holding (sts:ExternalId, aws:PrincipalOrgID, ...). A statement naming only a Service
// principal never matches a caller with credentials. The caller's identity policy is
// evaluated apart (authorize), as AWS requires both across accounts.
// https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_terms-and-concepts.html (trust policy)
func (s *Server) trusts(r *role, c *call, roleARN string) bool {
	doc, err := parsePolicy(r.trust)
	if err != nil {
		return false // a role without a readable trust policy cannot be assumed
	}
	req := s.policyRequest(c.p, "sts:AssumeRole", roleARN)
	req.externalID, req.hasExternalID = c.form.Get("ExternalId"), c.form.Has("ExternalId")
	return doc.evaluate(req) == policyAllow
}

// newSession starts a session of role r in target and returns its access key id.
func (s *Server) newSession(target *account, r *role, name, reqID string, now time.Time, duration time.Duration) (string, *session) {
	n := s.nSession.Add(1)
	seq := strconv.FormatInt(n, 10)
	sess := &session{
		acct:    target,
		role:    r,
		name:    name,
		token:   "FwoGZXIvYXdzE" + s.ids.secret("token", seq, reqID) + s.ids.secret("token2", seq) + s.ids.secret("token3", seq),
		expires: now.Add(duration).Truncate(time.Second),
		secret:  s.ids.secret("session", seq, reqID),
	}
	keyID := s.ids.id("ASIA", 16, "session", seq)
	s.sessions.Store(keyID, sess)
	if n%4096 == 0 {
		s.sweepSessions(now)
	}
	return keyID, sess
}

// ServiceCredentials are a role session's temporary credentials.
type ServiceCredentials struct {
	AccessKeyID, SecretAccessKey, SessionToken string
}

// AssumeRoleAsService starts a session of the role roleARN as the AWS service principal
// (ssm.amazonaws.com running an automation with its AutomationAssumeRole, lambda.amazonaws.com
// running a function) would get one: the role's trust policy must allow that service. It is
// how a test acts as a role that only a service may assume.
func (s *Server) AssumeRoleAsService(service, roleARN string) (ServiceCredentials, error) {
	acctID, path, name, ok := parseRoleARN(roleARN)
	if !ok || path != "/" {
		return ServiceCredentials{}, fmt.Errorf("sandbox: %s is not a role ARN the sandbox serves", roleARN)
	}
	target, ok := s.accounts[acctID]
	if !ok || target.status != "ACTIVE" {
		return ServiceCredentials{}, fmt.Errorf("sandbox: no active account %s", acctID)
	}
	r := target.findRole(name)
	if r == nil {
		r = s.stackRole(acctID, name)
	}
	if r == nil {
		return ServiceCredentials{}, fmt.Errorf("sandbox: no role %s", roleARN)
	}
	doc, err := parsePolicy(r.trust)
	if err != nil {
		return ServiceCredentials{}, fmt.Errorf("sandbox: trust policy of %s: %v", roleARN, err)
	}
	req := policyRequest{action: "sts:AssumeRole", resource: roleARN, account: acctID, orgID: s.org.id, arns: []string{service}}
	if dec, _ := keyPolicyDecision(doc, req, service); dec != policyAllow {
		return ServiceCredentials{}, fmt.Errorf("sandbox: the trust policy of %s does not let %s assume it", roleARN, service)
	}
	keyID, sess := s.newSession(target, r, service, s.requestID(), s.now().UTC(), time.Hour)
	return ServiceCredentials{AccessKeyID: keyID, SecretAccessKey: sess.secret, SessionToken: sess.token}, nil
}
