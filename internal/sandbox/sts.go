package sandbox

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// STS over awsQuery, version 2011-06-15. Every role of the sandbox trusts every principal of
// the sandbox (except root, which AWS never lets assume a role); an ExternalId set on a role
// must match.

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
	if r == nil || (r.externalID != "" && r.externalID != c.form.Get("ExternalId")) {
		return nil, denied
	}

	n := s.nSession.Add(1)
	seq := strconv.FormatInt(n, 10)
	sess := &session{
		acct:    target,
		role:    r,
		name:    sessName,
		token:   "FwoGZXIvYXdzE" + s.ids.secret("token", seq, c.reqID) + s.ids.secret("token2", seq) + s.ids.secret("token3", seq),
		expires: c.now.Add(duration).Truncate(time.Second),
	}
	keyID := s.ids.id("ASIA", 16, "session", seq)
	secret := s.ids.secret("session", seq, c.reqID)
	sess.secret = secret
	s.sessions.Store(keyID, sess)
	if n%4096 == 0 {
		s.sweepSessions(c.now)
	}
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
