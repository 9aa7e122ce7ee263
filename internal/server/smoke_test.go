package server

import (
	"net/http"
	"testing"
)

func TestPagesRender(t *testing.T) {
	_, ts := newTestServer(t, testOrg(t), Options{})
	for _, p := range []string{"/", "/noncompliant", "/noncompliant?stage=all&sort=user&dir=desc", "/accounts", "/accounts/" + acctProd, "/accounts/" + acctFailed,
		"/users/" + acctProd + "/AIDAALICE", "/noncompliant.csv", "/noncompliant.json", "/api/v1/evaluations", "/api/v1/accounts", "/api/v1/users/" + acctProd + "/AIDABOB",
		"/api/v1/executions", "/api/v1/scans", "/api/v1/status", "/metrics", "/static/style.css", "/api/v1/accounts/" + acctProd} {
		resp, body := get(t, ts, p)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s = %d, want 200\n%s", p, resp.StatusCode, body)
		}
	}
}
