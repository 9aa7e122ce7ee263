package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/keyage/keyage/internal/notify"
	"github.com/keyage/keyage/internal/notify/notifytest"
)

type captured struct {
	header http.Header
	body   []byte
	path   string
}

// recorder answers with the statuses in order (the last one repeats) and
// records every request.
type recorder struct {
	mu       sync.Mutex
	statuses []int
	reqs     []captured
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.reqs = append(r.reqs, captured{req.Header.Clone(), body, req.URL.RequestURI()})
	status := r.statuses[min(len(r.reqs), len(r.statuses))-1]
	r.mu.Unlock()
	if status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "7")
	}
	w.WriteHeader(status)
	if status >= 400 {
		io.WriteString(w, `{"error":"nope"}`)
	}
}

func TestNotifySignsAndSends(t *testing.T) {
	rec := &recorder{statuses: []int{http.StatusNoContent}}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	const secret = "s3cr3t-hmac-key"
	n, err := New(Options{
		URL:         srv.URL + "/hooks/keyage?token=abc123",
		Secret:      secret,
		Headers:     map[string]string{"Authorization": "Bearer tok-xyz", "X-Team": "platform"},
		HTTPOptions: notify.HTTPOptions{Version: "1.2.3"},
	})
	if err != nil {
		t.Fatal(err)
	}
	m := notifytest.Message()
	retry, err := n.Notify(context.Background(), m)
	if err != nil || retry {
		t.Fatalf("Notify = %v, %v, want false, nil", retry, err)
	}
	if len(rec.reqs) != 1 {
		t.Fatalf("server got %d requests, want 1", len(rec.reqs))
	}
	got := rec.reqs[0]
	if got.path != "/hooks/keyage?token=abc123" {
		t.Errorf("path = %q", got.path)
	}
	// Verify the signature independently of Sign.
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(got.body)
	want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	if sig := got.header.Get("X-Keyage-Signature"); !hmac.Equal([]byte(sig), []byte(want)) {
		t.Errorf("X-Keyage-Signature = %q, want %q", sig, want)
	}
	for h, want := range map[string]string{
		"Content-Type":      "application/json",
		"User-Agent":        "keyage/1.2.3",
		"X-Keyage-Delivery": "msg-0001",
		"Authorization":     "Bearer tok-xyz",
		"X-Team":            "platform",
	} {
		if v := got.header.Get(h); v != want {
			t.Errorf("header %s = %q, want %q", h, v, want)
		}
	}
	// The body is the stable payload, keys in contract order.
	var keys []string
	dec := json.NewDecoder(strings.NewReader(string(got.body)))
	dec.Token()
	for dec.More() {
		k, _ := dec.Token()
		keys = append(keys, k.(string))
		var skip json.RawMessage
		dec.Decode(&skip)
	}
	if diff := cmp.Diff([]string{"id", "kind", "receiver", "groupKey", "subject", "text", "items", "createdAt"}, keys); diff != "" {
		t.Errorf("payload keys (-want +got):\n%s", diff)
	}
	var p notify.Payload
	if err := json.Unmarshal(got.body, &p); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(notify.NewPayload(m), p); diff != "" {
		t.Errorf("payload (-want +got):\n%s", diff)
	}
}

func TestNotifyWithoutSecretHasNoSignature(t *testing.T) {
	rec := &recorder{statuses: []int{http.StatusOK}}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	n, err := New(Options{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Notify(context.Background(), notifytest.Message()); err != nil {
		t.Fatal(err)
	}
	if sig := rec.reqs[0].header.Get("X-Keyage-Signature"); sig != "" {
		t.Errorf("X-Keyage-Signature = %q, want none without a secret", sig)
	}
	if ua := rec.reqs[0].header.Get("User-Agent"); ua != "keyage/dev" {
		t.Errorf("User-Agent = %q, want keyage/dev", ua)
	}
}

func TestNotifyRetryClassification(t *testing.T) {
	for _, tt := range []struct {
		name      string
		statuses  []int
		wantRetry []bool // per attempt; nil error after the last
	}{
		{"500 then 200", []int{500, 200}, []bool{true}},
		{"503 twice then 202", []int{503, 503, 202}, []bool{true, true}},
		{"429 is retried", []int{429, 200}, []bool{true}},
		{"408 is retried", []int{408, 200}, []bool{true}},
		{"400 is final", []int{400}, []bool{false}},
		{"404 is final", []int{404}, []bool{false}},
		{"301 is final, not followed", []int{301}, []bool{false}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{statuses: tt.statuses}
			srv := httptest.NewServer(rec)
			defer srv.Close()
			const secret = "hmac-secret-value"
			url := srv.URL + "/T000/B000/XXXXSECRETPATH"
			n, err := New(Options{URL: url, Secret: secret})
			if err != nil {
				t.Fatal(err)
			}
			m := notifytest.Message()
			for i, want := range tt.wantRetry {
				retry, err := n.Notify(context.Background(), m)
				if err == nil {
					t.Fatalf("attempt %d: Notify = nil error, want an error", i+1)
				}
				if retry != want {
					t.Errorf("attempt %d: Notify retry = %v, want %v (err %v)", i+1, retry, want, err)
				}
				notifytest.NoSecrets(t, err, url, secret, "XXXXSECRETPATH")
				var herr *notify.HTTPError
				if !errors.As(err, &herr) {
					t.Errorf("attempt %d: error %v is not a *notify.HTTPError", i+1, err)
				} else if herr.StatusCode == 429 && herr.RetryAfter != 7*time.Second {
					t.Errorf("RetryAfter = %v, want 7s", herr.RetryAfter)
				}
			}
			if !tt.wantRetry[len(tt.wantRetry)-1] {
				return
			}
			if retry, err := n.Notify(context.Background(), m); err != nil || retry {
				t.Errorf("last attempt: Notify = %v, %v, want false, nil", retry, err)
			}
			// Every attempt carries the same delivery id.
			for i, r := range rec.reqs {
				if id := r.header.Get("X-Keyage-Delivery"); id != m.ID {
					t.Errorf("attempt %d: X-Keyage-Delivery = %q, want %q", i+1, id, m.ID)
				}
			}
		})
	}
}

func TestNotifyNetworkErrorIsRetryableAndRedacted(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + "/services/T1/B2/supersecrettoken"
	srv.Close() // nothing listens any more
	n, err := New(Options{URL: url, Headers: map[string]string{"Authorization": "Bearer hdr-secret"}})
	if err != nil {
		t.Fatal(err)
	}
	retry, err := n.Notify(context.Background(), notifytest.Message())
	if err == nil || !retry {
		t.Fatalf("Notify to a closed server = %v, %v, want true, error", retry, err)
	}
	notifytest.NoSecrets(t, err, url, "supersecrettoken", "hdr-secret")
}

func TestNotifyTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
	}))
	defer srv.Close()
	defer close(release)
	n, err := New(Options{URL: srv.URL + "/?key=topsecret", HTTPOptions: notify.HTTPOptions{Timeout: 50 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	retry, err := n.Notify(context.Background(), notifytest.Message())
	if err == nil || !retry {
		t.Fatalf("Notify to a stalled server = %v, %v, want true, error", retry, err)
	}
	notifytest.NoSecrets(t, err, "topsecret")
}
