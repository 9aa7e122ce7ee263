package server

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyage/keyage/internal/store"
)

func TestHostAllowList(t *testing.T) {
	for _, tt := range []struct {
		name   string
		listen string
		host   string
		path   string
		want   int
	}{
		{"loopback IP", "", "127.0.0.1:8080", "/", http.StatusOK},
		{"localhost", "", "localhost:8080", "/", http.StatusOK},
		{"localhost upper case", "", "LOCALHOST", "/", http.StatusOK},
		{"IPv6 loopback", "", "[::1]:8080", "/", http.StatusOK},
		{"a .localhost name", "", "keyage.localhost:8080", "/", http.StatusOK},
		{"rebound name", "", "evil.example:8080", "/", http.StatusMisdirectedRequest},
		{"rebound name on the API", "127.0.0.1:8080", "evil.example", "/api/v1/evaluations", http.StatusMisdirectedRequest},
		{"rebound name posting a scan", "127.0.0.1:8080", "evil.example", "/api/v1/scans", http.StatusMisdirectedRequest},
		{"the listen host", "keyage.internal:8080", "keyage.internal:8080", "/", http.StatusOK},
		{"another host than the listen host", "keyage.internal:8080", "other.internal:8080", "/", http.StatusMisdirectedRequest},
		{"wildcard listen accepts any host", "0.0.0.0:8080", "keyage.example.com", "/", http.StatusOK},
		{"empty host listen accepts any host", ":8080", "keyage.example.com", "/", http.StatusOK},
		{"health checks answer any host", "127.0.0.1:8080", "10.1.2.3:8080", "/healthz", http.StatusOK},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, ts := newTestServer(t, testOrg(t), Options{Listen: tt.listen})
			method := http.MethodGet
			if tt.path == "/api/v1/scans" {
				method = http.MethodPost
			}
			req, err := http.NewRequest(method, ts.URL+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Host = tt.host
			resp, err := ts.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("%s %s with Host %q (listen %q) = %d, want %d", method, tt.path, tt.host, tt.listen, resp.StatusCode, tt.want)
			}
		})
	}
	if _, err := New(Options{Store: testOrg(t), Listen: "no-port"}); err == nil {
		t.Errorf("New(Listen: no-port) = nil error, want one naming the address")
	}
}

func TestSafeNext(t *testing.T) {
	for _, tt := range []struct{ next, want string }{
		{"", "/"},
		{"/", "/"},
		{"/noncompliant?stage=all", "/noncompliant?stage=all"},
		{"/accounts/123456789012", "/accounts/123456789012"},
		{"/users/a%2Fb/AIDA", "/users/a%2Fb/AIDA"},
		{"//evil.example/", "/"},
		{"/\\evil.example", "/"},
		{"/\t/evil.example", "/"},
		{"/\n/evil.example", "/"},
		{"/%09/evil.example", "/"},
		{"/%2F/evil.example", "/"},
		{"/%5Cevil.example", "/"},
		{"https://evil.example/", "/"},
		{"evil.example", "/"},
		{"/%zz", "/"},
	} {
		if got := safeNext(tt.next); got != tt.want {
			t.Errorf("safeNext(%q) = %q, want %q", tt.next, got, tt.want)
		}
	}
}

// login posts the token and returns the redirect and the session cookie.
func login(t *testing.T, baseURL string, client *http.Client, token, next string) (string, *http.Cookie) {
	t.Helper()
	resp, err := client.PostForm(baseURL+"/login", url.Values{"token": {token}, "next": {next}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) != 1 {
		t.Fatalf("login = %d with %d cookies, want 303 with the session", resp.StatusCode, len(resp.Cookies()))
	}
	return resp.Header.Get("Location"), resp.Cookies()[0]
}

func TestLoginNextStaysOnSite(t *testing.T) {
	const token = "correct horse battery staple"
	_, ts := newTestServer(t, testOrg(t), Options{AuthToken: token})
	client := *ts.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for _, next := range []string{"/%09/evil.example", "/\t/evil.example", "//evil.example", "/\\evil.example"} {
		if loc, _ := login(t, ts.URL, &client, token, next); loc != "/" {
			t.Errorf("login with next=%q redirects to %q, want /", next, loc)
		}
	}
}

// logout posts /logout with the session cookie c.
func logout(t *testing.T, baseURL string, client *http.Client, c *http.Cookie) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, baseURL+"/logout", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.AddCookie(c)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

func TestLogoutRevokesSession(t *testing.T) {
	const token = "correct horse battery staple"
	_, ts := newTestServer(t, testOrg(t), Options{AuthToken: token})
	client := *ts.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	_, c := login(t, ts.URL, &client, token, "/")
	_, other := login(t, ts.URL, &client, token, "/")
	if resp, _ := get(t, ts, "/", "Cookie", c.Name+"="+c.Value); resp.StatusCode != http.StatusOK {
		t.Fatalf("GET / with the session = %d, want 200", resp.StatusCode)
	}
	logout(t, ts.URL, &client, c)
	// A copy of the cookie kept past the logout no longer works.
	if resp, _ := get(t, ts, "/api/v1/scans", "Cookie", c.Name+"="+c.Value); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /api/v1/scans with a logged-out session = %d, want 401", resp.StatusCode)
	}
	if resp, _ := get(t, ts, "/", "Cookie", c.Name+"="+c.Value); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("GET / with a logged-out session = %d, want 303 to login", resp.StatusCode)
	}
	// Other sessions live on.
	if resp, _ := get(t, ts, "/", "Cookie", other.Name+"="+other.Value); resp.StatusCode != http.StatusOK {
		t.Errorf("GET / with another session after a logout = %d, want 200", resp.StatusCode)
	}
}

// A logout survives a restart: the revocation is in the state file, so a
// copy of the cookie is still refused by a new server on the same file.
func TestLogoutRevocationSurvivesRestart(t *testing.T) {
	const token = "correct horse battery staple"
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "keyage.db")
	st, err := store.Open(ctx, path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, ts := newTestServer(t, st, Options{AuthToken: token})
	client := *ts.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	_, out := login(t, ts.URL, &client, token, "/")
	_, kept := login(t, ts.URL, &client, token, "/")
	logout(t, ts.URL, &client, out)
	ts.Close()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	// The restart: a new process, a new server, the same state file.
	if st, err = store.Open(ctx, path, store.Options{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	_, ts = newTestServer(t, st, Options{AuthToken: token})
	for _, tt := range []struct {
		name   string
		cookie *http.Cookie
		want   int
	}{
		{"the logged-out session", out, http.StatusUnauthorized},
		{"another session", kept, http.StatusOK},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if resp, _ := get(t, ts, "/api/v1/scans", "Cookie", tt.cookie.Name+"="+tt.cookie.Value); resp.StatusCode != tt.want {
				t.Errorf("after a restart, GET /api/v1/scans with %s = %d, want %d", tt.name, resp.StatusCode, tt.want)
			}
		})
	}
}

func TestAuthSchemeCaseInsensitive(t *testing.T) {
	const token = "correct horse battery staple"
	_, ts := newTestServer(t, testOrg(t), Options{AuthToken: token})
	for _, tt := range []struct {
		header string
		want   int
	}{
		{"Bearer " + token, http.StatusOK},
		{"bearer " + token, http.StatusOK},
		{"BEARER " + token, http.StatusOK},
		{"bEaReR  " + token, http.StatusOK},
		{"Basic " + token, http.StatusUnauthorized},
		{"bearer wrong", http.StatusUnauthorized},
		{token, http.StatusUnauthorized},
	} {
		if resp, _ := get(t, ts, "/api/v1/status", "Authorization", tt.header); resp.StatusCode != tt.want {
			t.Errorf("GET /api/v1/status with Authorization %q = %d, want %d", strings.Replace(tt.header, token, "<token>", 1), resp.StatusCode, tt.want)
		}
	}
}

func TestHTTPServerTimeouts(t *testing.T) {
	s, _ := newTestServer(t, testOrg(t), Options{AuthToken: "correct horse battery staple"})
	hs := s.HTTPServer()
	for name, d := range map[string]time.Duration{"ReadHeaderTimeout": hs.ReadHeaderTimeout, "ReadTimeout": hs.ReadTimeout,
		"WriteTimeout": hs.WriteTimeout, "IdleTimeout": hs.IdleTimeout} {
		if d <= 0 || d > 5*time.Minute {
			t.Errorf("HTTPServer().%s = %v, want a bound of at most 5m", name, d)
		}
	}
	// A POST /login whose body trickles in is cut off at the read timeout
	// (shortened here) instead of holding the connection.
	hs.ReadTimeout = 300 * time.Millisecond
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\ntoken=")
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	done := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, bufio.NewReader(conn))
		done <- err
	}()
	select {
	case err := <-done:
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Errorf("a slow POST /login held the connection for 10s: want it closed at the read timeout")
		}
	case <-time.After(15 * time.Second):
		t.Errorf("a slow POST /login held the connection: want it closed at the read timeout")
	}
}
