package cli

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/keyage/keyage/internal/server"
	"github.com/keyage/keyage/internal/store/storetest"
)

// dashboard serves the real server handler, on a fresh state file (so
// /healthz is ok and /readyz is not: no scan yet).
func dashboard(t *testing.T) *httptest.Server {
	t.Helper()
	srv, err := server.New(server.Options{Store: storetest.Open(t), Logger: slog.New(slog.DiscardHandler), AuthToken: "0123456789abcdef0123"})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	return hs
}

func TestHealth(t *testing.T) {
	hs := dashboard(t)
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	for _, tt := range []struct {
		name       string
		args       []string
		want       int
		wantOut    string
		wantStderr string
	}{
		{"alive", []string{"--url", hs.URL + "/healthz"}, ExitOK, "healthy: GET " + hs.URL + "/healthz: ok", ""},
		{"not ready before a scan", []string{"--url", hs.URL + "/healthz", "--ready"}, exitUnhealthy, "",
			"unhealthy: GET " + hs.URL + "/readyz: 503 Service Unavailable: not ready"},
		{"--ready on a bare host asks /readyz", []string{"--url", hs.URL, "--ready"}, exitUnhealthy, "", "GET " + hs.URL + "/readyz: 503"},
		{"wrong path", []string{"--url", hs.URL + "/nosuch"}, exitUnhealthy, "", "unhealthy: GET " + hs.URL + "/nosuch: "},
		{"unreachable", []string{"--url", gone.URL + "/healthz"}, exitUnhealthy, "", "unhealthy: GET " + gone.URL + "/healthz: "},
		{"not a URL", []string{"--url", "127.0.0.1:8080"}, ExitUsage, "", `--url "127.0.0.1:8080": `},
		{"bad timeout", []string{"--url", hs.URL, "--timeout", "0s"}, ExitUsage, "", "--timeout 0s"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, out, stderr := runCLI(t, append([]string{"health"}, tt.args...)...)
			if code != tt.want {
				t.Errorf("keyage health %s: exit %d, want %d; stderr:\n%s", strings.Join(tt.args, " "), code, tt.want, stderr)
			}
			if !strings.Contains(out, tt.wantOut) || (tt.wantOut == "" && out != "") {
				t.Errorf("keyage health %s: stdout %q, want %q", strings.Join(tt.args, " "), out, tt.wantOut)
			}
			if !strings.Contains(stderr, tt.wantStderr) || (tt.wantStderr == "" && stderr != "") {
				t.Errorf("keyage health %s: stderr %q, want %q", strings.Join(tt.args, " "), stderr, tt.wantStderr)
			}
		})
	}
}

func TestHealthURL(t *testing.T) {
	for _, tt := range []struct {
		in    string
		ready bool
		want  string
	}{
		{defaultHealthURL, false, "http://127.0.0.1:8080/healthz"},
		{defaultHealthURL, true, "http://127.0.0.1:8080/readyz"},
		{"http://keyage:8080", true, "http://keyage:8080/readyz"},
		{"http://keyage:8080/", true, "http://keyage:8080/readyz"},
		{"https://example.com/keyage/healthz", true, "https://example.com/keyage/readyz"},
		{"http://keyage:8080/custom", true, "http://keyage:8080/custom"},
	} {
		got, err := healthURL(tt.in, tt.ready)
		if err != nil || got != tt.want {
			t.Errorf("healthURL(%q, ready=%v) = %q, %v; want %q", tt.in, tt.ready, got, err, tt.want)
		}
	}
}
