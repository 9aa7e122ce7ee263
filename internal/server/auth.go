package server

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"
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
		tok, ok := strings.CutPrefix(h, "Bearer ")
		return ok && s.tokenOK(strings.TrimSpace(tok))
	}
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return false
	}
	return s.sessionOK(c.Value)
}

// session value: <expiry unix seconds>.<hmac>
func (s *Server) newSession() (string, time.Time) {
	exp := s.opts.Now().Add(sessionTTL)
	e := strconv.FormatInt(exp.Unix(), 10)
	return e + "." + s.sign("session", e), exp
}

func (s *Server) sessionOK(v string) bool {
	e, mac, ok := strings.Cut(v, ".")
	if !ok {
		return false
	}
	if !hmac.Equal([]byte(mac), []byte(s.sign("session", e))) {
		return false
	}
	exp, err := strconv.ParseInt(e, 10, 64)
	return err == nil && s.opts.Now().Unix() < exp
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

// safeNext keeps redirects after login on this site.
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	return next
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	if s.opts.AuthToken == "" {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	s.render(w, r, http.StatusOK, "login", loginData{Next: safeNext(r.URL.Query().Get("next"))})
}

type loginData struct {
	Next  string
	Error string
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if s.opts.AuthToken == "" {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
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

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}
