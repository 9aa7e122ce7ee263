package sandbox

import (
	"net/http"
	"time"
)

// Identity: the caller is the owner of the access key id in the credential scope. Signatures are
// not verified; the sandbox is not a security boundary.

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
	expires time.Time
}

type authFailure int

const (
	authOK authFailure = iota
	authMissing
	authInvalid
	authExpired
)

// authenticate finds the principal owning the request's access key. It returns the principal
// even when its credentials are expired, so that the request is counted for its account.
func (s *Server) authenticate(r *http.Request, cred credential) (*principal, authFailure) {
	id := cred.accessKeyID
	if id == "" {
		return nil, authMissing
	}
	if v, ok := s.sessions.Load(id); ok {
		sess := v.(*session)
		p := &principal{acct: sess.acct, kind: kindRole, sess: sess}
		if cred.sessionToken != sess.token {
			return p, authInvalid
		}
		if !s.now().Before(sess.expires) {
			return p, authExpired
		}
		return p, authOK
	}
	v, ok := s.keys.Load(id)
	if !ok {
		return nil, authInvalid
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
		defer a.mu.RUnlock()
		if k := findKey(ref.user, id); k == nil || k.status != statusActive {
			return p, authInvalid
		}
		return p, authOK
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	k := findKey(ref.user, id)
	if k == nil || k.status != statusActive {
		return p, authInvalid
	}
	// AWS records when, where and for which service a key was last used.
	k.lastUsed = s.now().UTC().Truncate(time.Second)
	k.lastService = serviceForLastUsed(cred.service)
	k.lastRegion = cred.region
	if k.lastRegion == "" {
		k.lastRegion = "us-east-1"
	}
	return p, authOK
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
