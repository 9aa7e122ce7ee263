package slack

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/keyage/keyage/internal/notify"
	"github.com/keyage/keyage/internal/notify/notifytest"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

// fakeSlack mimics an incoming webhook: it validates the payload shape as
// Slack does and answers 200 "ok" or a 4xx text error.
type fakeSlack struct {
	t      *testing.T
	path   string
	status int // forced status, 0 for normal behaviour
	bodies [][]byte
}

func (f *fakeSlack) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.bodies = append(f.bodies, body)
	if r.Method != http.MethodPost || r.URL.Path != f.path {
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, "no_service")
		return
	}
	if f.status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "30")
	}
	if f.status != 0 {
		w.WriteHeader(f.status)
		io.WriteString(w, http.StatusText(f.status))
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, "invalid_payload")
		return
	}
	if err := validBlockKit(body); err != nil {
		f.t.Errorf("invalid Block Kit payload: %v\n%s", err, body)
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, "invalid_blocks")
		return
	}
	io.WriteString(w, "ok")
}

// validBlockKit checks the constraints Slack enforces on what we send.
func validBlockKit(body []byte) error {
	var p struct {
		Text   *string `json:"text"`
		Blocks []map[string]json.RawMessage
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return err
	}
	if p.Text == nil || *p.Text == "" {
		return fmt.Errorf("no fallback text")
	}
	if len(p.Blocks) > MaxBlocks {
		return fmt.Errorf("%d blocks, Slack allows %d", len(p.Blocks), MaxBlocks)
	}
	for i, b := range p.Blocks {
		var typ string
		json.Unmarshal(b["type"], &typ)
		switch typ {
		case "header":
			var txt Text
			json.Unmarshal(b["text"], &txt)
			if txt.Type != "plain_text" || len([]rune(txt.Text)) > 150 || txt.Text == "" {
				return fmt.Errorf("block %d: bad header %+v", i, txt)
			}
		case "section":
			var fields []Text
			json.Unmarshal(b["fields"], &fields)
			if _, ok := b["text"]; !ok && len(fields) == 0 {
				return fmt.Errorf("block %d: section without text or fields", i)
			}
			if len(fields) > 10 {
				return fmt.Errorf("block %d: %d fields, max 10", i, len(fields))
			}
			var txt Text
			json.Unmarshal(b["text"], &txt)
			if n := len([]rune(txt.Text)); n > maxSectionText {
				return fmt.Errorf("block %d: section text of %d characters, max %d", i, n, maxSectionText)
			}
		case "context":
		default:
			return fmt.Errorf("block %d: unexpected type %q", i, typ)
		}
	}
	return nil
}

const hookPath = "/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"

func newServer(t *testing.T) (*fakeSlack, *httptest.Server) {
	f := &fakeSlack{t: t, path: hookPath}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func TestNotifyGolden(t *testing.T) {
	f, srv := newServer(t)
	n, err := New(Options{WebhookURL: srv.URL + hookPath, Channel: "#security", Username: "keyage"})
	if err != nil {
		t.Fatal(err)
	}
	m := notifytest.Message()
	bob := notifytest.Item("bob", "AKIABOBEXAMPLE000002", 85)
	bob.Stage, bob.LastUsed, bob.AccountName = "warning", bob.LastUsed.AddDate(-5, 0, 0), "R&D <lab>"
	m.Items = append(m.Items, bob)
	m.Items = append(m.Items, notify.Item{AccountID: "333333333333", UserName: "carol", ResourceID: "AIDACAROL", AgeDays: 400, MaxAge: 90, Stage: "expired"})
	if retry, err := n.Notify(context.Background(), m); err != nil || retry {
		t.Fatalf("Notify = %v, %v, want false, nil", retry, err)
	}
	var pretty strings.Builder
	var v any
	json.Unmarshal(f.bodies[0], &v)
	enc := json.NewEncoder(&pretty)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	enc.Encode(v)
	golden := filepath.Join("testdata", "message.golden.json")
	if *update {
		os.WriteFile(golden, []byte(pretty.String()), 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), pretty.String()); diff != "" {
		t.Errorf("Slack payload differs from %s (-want +got):\n%s", golden, diff)
	}
}

func TestPayloadStructure(t *testing.T) {
	n, err := New(Options{WebhookURL: "https://hooks.slack.com" + hookPath})
	if err != nil {
		t.Fatal(err)
	}
	m := notifytest.Message()
	m.Text = `Account "222222222222" User "a<b>&c" needs to rotate their access key.`
	p := n.Payload(m)
	if want := `Account "222222222222" User "a&lt;b&gt;&amp;c" needs to rotate their access key.`; p.Text != want {
		t.Errorf("fallback text = %q, want %q", p.Text, want)
	}
	if len(p.Blocks) != 3 || p.Blocks[0].Type != "header" || p.Blocks[1].Type != "section" || p.Blocks[2].Type != "section" {
		t.Fatalf("blocks = %+v, want header, section, section", p.Blocks)
	}
	var labels []string
	for _, f := range p.Blocks[2].Fields {
		labels = append(labels, strings.SplitN(f.Text, "\n", 2)[0])
	}
	if diff := cmp.Diff([]string{"*Account*", "*User*", "*Access key*", "*Age*", "*Stage*", "*Last used*"}, labels); diff != "" {
		t.Errorf("field labels (-want +got):\n%s", diff)
	}
	for _, want := range []string{"*Access key*\n`AKIAALICEEXAMPLE0001`", "*Age*\n120 days (limit 90)", "*Stage*\nexpired", "*Last used*\n2026-05-29 (s3)"} {
		found := false
		for _, f := range p.Blocks[2].Fields {
			found = found || f.Text == want
		}
		if !found {
			t.Errorf("no field %q in %+v", want, p.Blocks[2].Fields)
		}
	}
}

func TestPayloadCapsBlocks(t *testing.T) {
	n, err := New(Options{WebhookURL: "https://hooks.slack.com" + hookPath})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name     string
		items    int
		wantMore string // text of the last block, "" when none
	}{
		{"48 items fit", 48, ""},
		{"49 items overflow", 49, "and 2 more"},
		{"120 items", 120, "and 73 more"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := notifytest.Message()
			m.Items = nil
			for i := range tt.items {
				m.Items = append(m.Items, notifytest.Item(fmt.Sprintf("user%03d", i), fmt.Sprintf("AKIA%016d", i), 100))
			}
			p := n.Payload(m)
			if len(p.Blocks) > MaxBlocks {
				t.Fatalf("Payload(%d items) has %d blocks, want at most %d", tt.items, len(p.Blocks), MaxBlocks)
			}
			last := p.Blocks[len(p.Blocks)-1]
			gotMore := ""
			if last.Type == "context" {
				gotMore = last.Elements[0].Text
			}
			if gotMore != tt.wantMore {
				t.Errorf("Payload(%d items) last block = %q, want %q", tt.items, gotMore, tt.wantMore)
			}
			shown := 0
			for _, b := range p.Blocks {
				if len(b.Fields) > 0 {
					shown++
				}
			}
			if tt.wantMore == "" && shown != tt.items {
				t.Errorf("Payload(%d items) shows %d items", tt.items, shown)
			}
		})
	}
}

func TestNotifyErrors(t *testing.T) {
	for _, tt := range []struct {
		name      string
		status    int
		path      string
		wantRetry bool
		wantText  string
	}{
		{"invalid payload", 400, hookPath, false, "HTTP 400"},
		{"revoked webhook", 0, "/services/T0/B0/other", false, "no_service"},
		{"rate limited", 429, hookPath, true, "retry after 30s"},
		{"slack down", 503, hookPath, true, "HTTP 503"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, srv := newServer(t)
			f.status = tt.status
			url := srv.URL + tt.path
			n, err := New(Options{WebhookURL: url})
			if err != nil {
				t.Fatal(err)
			}
			retry, err := n.Notify(context.Background(), notifytest.Message())
			if err == nil {
				t.Fatal("Notify = nil error, want an error")
			}
			if retry != tt.wantRetry {
				t.Errorf("Notify retry = %v, want %v (err %v)", retry, tt.wantRetry, err)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("Notify error %q does not contain %q", err, tt.wantText)
			}
			notifytest.NoSecrets(t, err, url, tt.path, "XXXXXXXXXXXXXXXXXXXXXXXX")
		})
	}
}
