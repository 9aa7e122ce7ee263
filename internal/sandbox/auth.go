package sandbox

import (
	"net/http"
	"time"
)

// Identity: the caller is the owner of the access key id in the credential scope, once the
// request's SigV4 signature verifies with that key's secret (sigv4.go). What the caller may do
// is decided by iampolicy.go.

type principalKind int

const (
	kindUser principalKind = iota
	kindRoot
	kindRole
)

// principal is who makes a request and in which account.
type principal struct {
	acct *account
	kind principalKind
	user *user    // kindUser, kindRoot
	sess *session // kindRole
}

func (p *principal) arn() string {
	switch p.kind {
	case kindRoot:
		return "arn:aws:iam::" + p.acct.id + ":root"
	case kindRole:
		return "arn:aws:sts::" + p.acct.id + ":assumed-role/" + p.sess.role.name + "/" + p.sess.name
	}
	return p.user.arn(p.acct.id)
}

// userID is the UserId of GetCallerIdentity: AIDA..., the account id for root, or
// AROA...:session for an assumed role.
func (p *principal) userID() string {
	switch p.kind {
	case kindRoot:
		return p.acct.id
	case kindRole:
		return p.sess.role.id + ":" + p.sess.name
	}
	return p.user.id
}

// session is a set of temporary credentials from AssumeRole.
type session struct {
	acct    *account
	role    *role
	name    string
	token   string
	secret  string
	expires time.Time
}

type authFailure int

const (
	authOK authFailure = iota
	authMissing
	authInvalid
	authExpired
	authSignature // the signature does not verify (or the request time is out of the window)
)

// authResult is the outcome of authenticate; msg is the message of an authSignature failure.
type authResult struct {
	p    *principal
	fail authFailure
	msg  string
}

// authenticate finds the principal owning the request's access key and verifies the
// request's signature with its secret. It returns the principal even when its credentials
// are expired or the signature is wrong, so that the request is counted for its account.
func (s *Server) authenticate(r *http.Request, cred credential, body []byte) authResult {
	id := cred.accessKeyID
	if id == "" {
		return authResult{fail: authMissing}
	}
	if v, ok := s.sessions.Load(id); ok {
		sess := v.(*session)
		p := &principal{acct: sess.acct, kind: kindRole, sess: sess}
		if cred.sessionToken != sess.token {
			return authResult{p: p, fail: authInvalid}
		}
		if msg := s.verifySignature(r, body, sess.secret, s.requestNow()); msg != "" {
			return authResult{p: p, fail: authSignature, msg: msg}
		}
		if !s.now().Before(sess.expires) {
			return authResult{p: p, fail: authExpired}
		}
		return authResult{p: p}
	}
	v, ok := s.keys.Load(id)
	if !ok {
		return authResult{fail: authInvalid}
	}
	ref := v.(keyRef)
	p := &principal{acct: ref.acct, kind: kindUser, user: ref.user}
	if ref.user == ref.acct.rootUser {
		p.kind = kindRoot
	}
	a := ref.acct
	if ref.user == a.admin {
		// The management credentials are used by every scanner: read-lock only, and no
		// last-used bookkeeping for the hidden admin user.
		a.mu.RLock()
		k := findKey(ref.user, id)
		active := k != nil && k.status == statusActive
		a.mu.RUnlock()
		if !active {
			return authResult{p: p, fail: authInvalid}
		}
		if msg := s.verifySignature(r, body, s.mgmtSecret, s.requestNow()); msg != "" {
			return authResult{p: p, fail: authSignature, msg: msg}
		}
		return authResult{p: p}
	}
	a.mu.RLock()
	k := findKey(ref.user, id)
	var secret string
	active := k != nil && k.status == statusActive
	if active {
		secret = k.secret
	}
	a.mu.RUnlock()
	if !active {
		return authResult{p: p, fail: authInvalid}
	}
	if msg := s.verifySignature(r, body, secret, s.requestNow()); msg != "" {
		return authResult{p: p, fail: authSignature, msg: msg}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if k = findKey(ref.user, id); k == nil {
		return authResult{p: p, fail: authInvalid} // deleted meanwhile
	}
	// AWS records when, where and for which service a key was last used.
	k.lastUsed = s.now().UTC().Truncate(time.Second)
	k.lastService = serviceForLastUsed(cred.service)
	k.lastRegion = cred.region
	if k.lastRegion == "" {
		k.lastRegion = "us-east-1"
	}
	return authResult{p: p}
}

// requestNow is the clock request signatures are checked against.
func (s *Server) requestNow() time.Time {
	if s.opts.RequestClock != nil {
		return s.opts.RequestClock().UTC()
	}
	return time.Now().UTC()
}

// fixtureSecret is the secret access key of a key the fixture (not CreateAccessKey) made.
func fixtureSecret(keyID string) string {
	return idGen{seed: "keyage-sandbox"}.secret("fixture-key", keyID)
}

// AccessKeySecret returns the secret access key of an access key the sandbox issued (a
// fixture user's or root's key, or one made by CreateAccessKey), so that tests and demos can
// sign requests as that user. AWS never reveals it after CreateAccessKey; the sandbox does.
func (s *Server) AccessKeySecret(accessKeyID string) (string, bool) {
	v, ok := s.keys.Load(accessKeyID)
	if !ok {
		return "", false
	}
	ref := v.(keyRef)
	if ref.user == ref.acct.admin {
		return s.mgmtSecret, true
	}
	ref.acct.mu.RLock()
	defer ref.acct.mu.RUnlock()
	if k := findKey(ref.user, accessKeyID); k != nil {
		return k.secret, true
	}
	return "", false
}

func serviceForLastUsed(signingName string) string {
	if signingName == "" {
		return "iam"
	}
	return signingName
}

// findKey returns u's key with that id; the caller holds the account's lock.
func findKey(u *user, id string) *accessKey {
	for i := range u.keys {
		if u.keys[i].id == id {
			return &u.keys[i]
		}
	}
	return nil
}
