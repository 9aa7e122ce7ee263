package server

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestLoginNeedsAToken(t *testing.T) {
	for _, tt := range []struct {
		name         string
		token        string
		method       string
		wantStatus   int
		wantLocation string
	}{
		{"form without a token to log in with", "", http.MethodGet, http.StatusSeeOther, "/"},
		{"post without a token to log in with", "", http.MethodPost, http.StatusSeeOther, "/"},
		{"form with a token", "s3cret", http.MethodGet, http.StatusOK, ""},
		{"post of a wrong token", "s3cret", http.MethodPost, http.StatusUnauthorized, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, ts := newTestServer(t, testOrg(t), Options{AuthToken: tt.token})
			req, err := http.NewRequest(tt.method, ts.URL+"/login", strings.NewReader(url.Values{"token": {"nope"}, "next": {"/"}}.Encode()))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			c := *ts.Client()
			c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus || resp.Header.Get("Location") != tt.wantLocation {
				t.Errorf("%s /login (token %q) = %d Location %q, want %d Location %q", tt.method, tt.token, resp.StatusCode, resp.Header.Get("Location"), tt.wantStatus, tt.wantLocation)
			}
		})
	}
}
