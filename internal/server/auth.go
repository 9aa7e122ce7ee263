package server

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// sessionCookie names the cookie /login sets.
const sessionCookie = "keyage_session"

// sessionTTL is how long a login lasts.
const sessionTTL = 12 * time.Hour

// deriveKey makes the key that signs sessions and form tokens: from the auth
// token when there is one (sessions then survive restarts and end when the
// token changes), random otherwise.
func deriveKey(token string) []byte {
	if token == "" {
		k := make([]byte, 32)
		_, _ = rand.Read(k)
		return k
	}
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte("keyage session key v1"))
	return m.Sum(nil)
}

func (s *Server) sign(parts ...string) string {
	m := hmac.New(sha256.New, s.sessionKey)
	m.Write([]byte(strings.Join(parts, "\x00")))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// tokenOK compares a presented token with the configured one in constant
// time (hashing first so lengths do not leak either).
func (s *Server) tokenOK(given string) bool {
	a := sha256.Sum256([]byte(given))
	b := sha256.Sum256([]byte(s.opts.AuthToken))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// authenticated reports whether r carries the bearer token or a valid
// session cookie; always true without a configured token.
func (s *Server) authenticated(r *http.Request) bool {
	if s.opts.AuthToken == "" {
		return true
	}
	if h := r.Header.Get("Authorization"); h != "" {
		// The scheme is case-insensitive (RFC 9110 section 11.1).
		scheme, tok, ok := strings.Cut(strings.TrimSpace(h), " ")
		return ok && strings.EqualFold(scheme, "Bearer") && s.tokenOK(strings.TrimSpace(tok))
	}
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return false
	}
	return s.sessionOK(r.Context(), c.Value)
}

// session value: <expiry unix seconds>.<random id>.<hmac>
func (s *Server) newSession() (string, time.Time) {
	exp := s.opts.Now().Add(sessionTTL)
	e := strconv.FormatInt(exp.Unix(), 10)
	id := rand.Text()
	return e + "." + id + "." + s.sign("session", e, id), exp
}

// parseSession checks a session value's signature and expiry and returns
// its id and expiry.
func (s *Server) parseSession(v string) (id string, exp time.Time, ok bool) {
	parts := strings.Split(v, ".")
	if len(parts) != 3 {
		return "", time.Time{}, false
	}
	e, id, mac := parts[0], parts[1], parts[2]
	if !hmac.Equal([]byte(mac), []byte(s.sign("session", e, id))) {
		return "", time.Time{}, false
	}
	sec, err := strconv.ParseInt(e, 10, 64)
	if err != nil {
		return "", time.Time{}, false
	}
	exp = time.Unix(sec, 0)
	return id, exp, s.opts.Now().Before(exp)
}

// sessionOK reports whether v is a signed, unexpired session that was not
// logged out. A revocation that cannot be read refuses the session.
func (s *Server) sessionOK(ctx context.Context, v string) bool {
	id, _, ok := s.parseSession(v)
	now := s.opts.Now()
	if !ok || s.revoked.has(id, now) {
		return false
	}
	revoked, err := s.opts.Store.SessionRevoked(ctx, id, now)
	if err != nil {
		s.log.Error("session refused: its revocation cannot be read", "err", err)
		return false
	}
	return !revoked
}

// revocations are the sessions logged out before they expired, as this
// process saw them, until their expiry. The state file keeps them too
// (store.RevokeSession), so a cookie copied before its logout stays
// refused after a restart; this copy still refuses it when the state
// could not record it. Changing the token ends every session.
type revocations struct {
	mu  sync.Mutex
	ids map[string]time.Time // id -> expiry
}

func (rv *revocations) add(id string, exp, now time.Time) {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	if rv.ids == nil {
		rv.ids = map[string]time.Time{}
	}
	for k, e := range rv.ids { // forget the expired: the signature check refuses them anyway
		if !now.Before(e) {
			delete(rv.ids, k)
		}
	}
	rv.ids[id] = exp
}

func (rv *revocations) has(id string, now time.Time) bool {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	exp, ok := rv.ids[id]
	return ok && now.Before(exp)
}

// formToken is the anti-CSRF token of the dashboard's POST forms (on top of
// the cross-origin protection): bound to the session when there is one.
func (s *Server) formToken(r *http.Request) string {
	sess := ""
	if c, err := r.Cookie(sessionCookie); err == nil {
		sess = c.Value
	}
	return s.sign("form", sess)
}

func (s *Server) formTokenOK(r *http.Request) bool {
	return hmac.Equal([]byte(r.PostFormValue("csrf")), []byte(s.formToken(r)))
}

// authPage guards a dashboard route: unauthenticated browsers are sent to
// the login form.
func (s *Server) authPage(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.authenticated(r) {
			next.ServeHTTP(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		http.Redirect(w, r, "/login?next="+url.QueryEscape(requestPath(r)), http.StatusSeeOther)
	})
}

// authAPI guards an API route: 401 with a JSON error.
func (s *Server) authAPI(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.authenticated(r) {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="keyage"`)
		writeJSON(w, http.StatusUnauthorized, apiError{Error: "authentication required: send Authorization: Bearer <token>"})
	})
}

// safeNext keeps redirects after login on this site: a path on this host,
// and nothing a browser could read as another host once it strips tabs and
// newlines, turns backslashes into slashes or decodes percent escapes
// ("/\t/evil", "//evil", "/\\evil", "/%09/evil", "/%2F/evil").
func safeNext(next string) string {
	if !localPath(next) {
		return "/"
	}
	if dec, err := url.PathUnescape(next); err != nil || !localPath(dec) {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return "/"
	}
	return next
}

// localPath reports whether p starts with one slash and holds no backslash
// and no control character.
func localPath(p string) bool {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.ContainsRune(p, '\\') {
		return false
	}
	for _, c := range p {
		if c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

// withToken serves h when the server has a token to log in with; without
// one there is nothing to log in to, and it redirects to the dashboard.
func (s *Server) withToken(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.opts.AuthToken == "" {
			http.Redirect(w, r, "/", http.StatusSeeOther)
			return
		}
		h(w, r)
	}
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "login", loginData{Next: safeNext(r.URL.Query().Get("next"))})
}

type loginData struct {
	Next  string
	Error string
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.PostFormValue("next"))
	if !s.tokenOK(r.PostFormValue("token")) {
		s.log.Warn("login refused", "remote", r.RemoteAddr)
		s.render(w, r, http.StatusUnauthorized, "login", loginData{Next: next, Error: "That token is not valid."})
		return
	}
	v, exp := s.newSession()
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: v, Path: "/", Expires: exp, MaxAge: int(sessionTTL / time.Second),
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// logout revokes the session on the server, in the state file (a copy of
// the cookie stops working too, after a restart as well), and clears the
// cookie.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		if id, exp, ok := s.parseSession(c.Value); ok {
			s.revoked.add(id, exp, s.opts.Now())
			if err := s.opts.Store.RevokeSession(r.Context(), id, exp); err != nil {
				s.log.Error("logout: the revocation is kept in memory only, until a restart", "err", err)
			}
		}
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}
