package jira

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/keyage/keyage/internal/notify"
	"github.com/keyage/keyage/internal/notify/notifytest"
)

// A Jira that echoes the Authorization header it received cannot leak the
// token in any encoding (issue 13 row 10).
func TestEchoedCredentialsAreRedacted(t *testing.T) {
	const user, token = "bot@example.com", "jira-api-t0ken"
	for _, tt := range []struct {
		name string
		opts Options
	}{
		{"basic auth", Options{User: user, Token: token}},
		{"bearer", Options{BearerToken: token}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusBadRequest)
				_, _ = w.Write([]byte("bad request; you sent Authorization: " + r.Header.Get("Authorization")))
			}))
			defer srv.Close()
			o := tt.opts
			o.BaseURL, o.Project = srv.URL, "SEC"
			n, err := New(o)
			if err != nil {
				t.Fatal(err)
			}
			_, err = n.Notify(context.Background(), notifytest.Message())
			if err == nil {
				t.Fatal("Notify = nil, want the 400")
			}
			basic := base64.StdEncoding.EncodeToString([]byte(user + ":" + token))
			for _, leak := range []string{token, basic} {
				if strings.Contains(err.Error(), leak) {
					t.Errorf("Notify error leaks %q: %v", leak, err)
				}
			}
			if !strings.Contains(err.Error(), notify.Redacted) {
				t.Errorf("Notify error = %v, want the echoed credential shown as %s", err, notify.Redacted)
			}
		})
	}
}
