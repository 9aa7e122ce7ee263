package notify

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestDoJSON(t *testing.T) {
	type seen struct{ method, contentType, userAgent, team, body string }
	for _, tt := range []struct {
		name      string
		req       JSONRequest
		opts      HTTPOptions
		status    int
		delay     time.Duration
		want      seen
		wantBody  string
		wantErr   string
		wantRetry bool
	}{
		{name: "post with defaults", req: JSONRequest{Body: []byte(`{"a":1}`)}, opts: HTTPOptions{Version: "1.2.3"}, status: 200,
			want: seen{"POST", "application/json", "keyage/1.2.3", "", `{"a":1}`}, wantBody: "ok"},
		{name: "GET without a body has no content type", req: JSONRequest{Method: http.MethodGet}, status: 200,
			want: seen{"GET", "", "keyage/dev", "", ""}, wantBody: "ok"},
		{name: "content type given", req: JSONRequest{Body: []byte(`{}`), ContentType: "application/json; charset=utf-8"}, status: 200,
			want: seen{"POST", "application/json; charset=utf-8", "keyage/dev", "", "{}"}, wantBody: "ok"},
		{name: "extra headers cannot replace ours", req: JSONRequest{Body: []byte(`{}`),
			Header: http.Header{"X-Team": {"platform"}, "User-Agent": {"evil"}, "Content-Type": {"text/plain"}}}, status: 200,
			want: seen{"POST", "application/json", "keyage/dev", "platform", "{}"}, wantBody: "ok"},
		{name: "5xx is retryable, secrets redacted", req: JSONRequest{Body: []byte(`{}`), Secrets: []string{"tok-secret"}}, status: 503,
			want: seen{"POST", "application/json", "keyage/dev", "", "{}"}, wantErr: "answered HTTP 503", wantRetry: true},
		{name: "timeout is retryable", req: JSONRequest{Body: []byte(`{}`)}, opts: HTTPOptions{Timeout: 20 * time.Millisecond}, status: 200, delay: time.Second,
			want: seen{"POST", "application/json", "keyage/dev", "", "{}"}, wantErr: "timeout", wantRetry: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var got seen
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				mu.Lock()
				defer mu.Unlock()
				got = seen{r.Method, r.Header.Get("Content-Type"), r.Header.Get("User-Agent"), r.Header.Get("X-Team"), string(b)}
				if tt.delay > 0 {
					select {
					case <-time.After(tt.delay):
					case <-r.Context().Done():
					}
				}
				w.WriteHeader(tt.status)
				io.WriteString(w, "ok tok-secret")
			}))
			defer srv.Close()
			tt.req.URL, tt.req.Endpoint = srv.URL+"/path/tok-secret", Endpoint(srv.URL)
			body, retry, err := tt.opts.WithDefaults(time.Second).DoJSON(context.Background(), tt.req)
			if tt.wantErr == "" && (err != nil || !strings.HasPrefix(string(body), tt.wantBody)) {
				t.Errorf("DoJSON = %q, %v; want %q", body, err, tt.wantBody)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "tok-secret")) {
				t.Errorf("DoJSON error = %v, want one containing %q and no secret", err, tt.wantErr)
			}
			if retry != tt.wantRetry {
				t.Errorf("DoJSON retry = %v, want %v", retry, tt.wantRetry)
			}
			mu.Lock()
			defer mu.Unlock()
			if tt.delay == 0 && got != tt.want {
				t.Errorf("server saw %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseURL(t *testing.T) {
	const bad = "slack: parse webhookUrl: not a URL"
	for raw, want := range map[string]string{
		"https://hooks.example.com/services/T0/B0/secret-path": "host hooks.example.com",
		"https://hooks.example.com/%zz-secret":                 bad,
		"https://hooks.example.com/\x7f-secret":                bad,
	} {
		got := ""
		if u, err := ParseURL("slack", "webhookUrl", raw); err != nil {
			got = err.Error()
		} else {
			got = "host " + u.Host
		}
		if got != want {
			t.Errorf("ParseURL(%q) = %q, want %q", raw, got, want)
		}
	}
}

func TestPoster(t *testing.T) {
	for _, tt := range []struct {
		name      string
		path      string // appended to the server's URL
		status    int
		wantErr   string // "" for none
		wantRetry bool
	}{
		{"delivered", "/hook/tok-path", 200, "", false},
		{"4xx is final and names the receiver", "/hook/tok-path", 404, "post message msg-1 to test: ", false},
		{"5xx is retryable", "/hook/tok-path", 502, "post message msg-1 to test: ", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var gotHeader, gotType string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				gotHeader, gotType = r.Header.Get("X-Team"), r.Header.Get("Content-Type")
				w.WriteHeader(tt.status)
				io.WriteString(w, "echo "+r.URL.Path)
			}))
			defer srv.Close()
			p, err := NewPoster("test", "url", JSONRequest{URL: srv.URL + tt.path, ContentType: "application/json; charset=utf-8"}, HTTPOptions{}, time.Second,
				func(u *url.URL) []string { return []string{u.Path} })
			if err != nil {
				t.Fatal(err)
			}
			retry, err := p.Post(context.Background(), "msg-1", []byte(`{}`), http.Header{"X-Team": {"platform"}})
			if retry != tt.wantRetry {
				t.Errorf("Post retry = %v, want %v", retry, tt.wantRetry)
			}
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Post = %v, want no error", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("Post = %v, want an error with %q", err, tt.wantErr)
			case err != nil && strings.Contains(err.Error(), "tok-path"):
				t.Errorf("Post = %v: shows the URL's path, a secret", err)
			}
			if gotHeader != "platform" || gotType != "application/json; charset=utf-8" {
				t.Errorf("request X-Team %q, Content-Type %q, want platform and the poster's content type", gotHeader, gotType)
			}
		})
	}
	if _, err := NewPoster("test", "url", JSONRequest{URL: "http://[::1"}, HTTPOptions{}, time.Second, nil); err == nil || strings.Contains(err.Error(), "::1") {
		t.Errorf("NewPoster(unparsable URL) = %v, want an error that does not quote the URL", err)
	}
}
