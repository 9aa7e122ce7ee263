package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
)

// fakeJiraAPI answers the calls receivers test makes and records them.
type fakeJiraAPI struct {
	calls chan string
}

func (f *fakeJiraAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.calls <- r.Method + " " + r.URL.Path
	w.Header().Set("Content-Type", "application/json")
	switch r.Method + " " + r.URL.Path {
	case "GET /rest/api/3/project/SEC":
		io.WriteString(w, `{"key":"SEC"}`)
	case "POST /rest/api/3/issue":
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"key":"SEC-7"}`)
	case "GET /rest/api/3/issue/SEC-7/transitions":
		io.WriteString(w, `{"transitions":[{"id":"31","name":"Done","to":{"name":"Done"}}]}`)
	case "POST /rest/api/3/issue/SEC-7/transitions":
		w.WriteHeader(http.StatusNoContent)
	default:
		http.NotFound(w, r)
	}
}

// called drains the calls made so far.
func (f *fakeJiraAPI) called() string {
	var calls []string
	for {
		select {
		case c := <-f.calls:
			calls = append(calls, c)
		default:
			return strings.Join(calls, ", ")
		}
	}
}

func TestReceiversTest(t *testing.T) {
	srv := sandboxEnv(t)
	t.Setenv("JIRA_TOKEN", "jira-token")
	dir := t.TempDir()
	hooks := make(chan map[string]any, 10)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			t.Errorf("webhook body: %v", err)
		}
		hooks <- body
	}))
	t.Cleanup(hook.Close)
	jira := &fakeJiraAPI{calls: make(chan string, 10)}
	jiraSrv := httptest.NewServer(jira)
	t.Cleanup(jiraSrv.Close)
	cfg := writeConfig(t, fmt.Sprintf(`
receivers:
  - name: local
    file: {path: %s}
  - name: hook
    webhook: {url: %q}
  - name: owners-mail
    email: {ses: {region: us-east-1}, from: keyage@example.com, to: ["{{ .Owner }}"]}
  - name: tickets
    jira: {url: %q, project: SEC, user: bot@example.com, tokenEnv: JIRA_TOKEN}
routes:
  - receivers: [local]
`, filepath.Join(dir, "n.jsonl"), hook.URL, jiraSrv.URL))

	for _, tt := range []struct {
		name       string
		args       []string
		wantCode   int
		wantOut    []string
		wantErr    []string
		wantJira   string // the Jira calls, when the case reaches Jira
		wantEmails int
	}{
		{name: "no name lists the receivers", args: nil, wantCode: ExitOK,
			wantOut: []string{"NAME", "local", "file", "hook", "webhook", "owners-mail", "email", "owners", "tickets", "jira"}},
		{name: "list as json", args: []string{"-o", "json"}, wantCode: ExitOK,
			wantOut: []string{`"name": "owners-mail"`, `"kind": "email"`, `"addresses": "owners"`}},
		{name: "file receiver", args: []string{"local"}, wantCode: ExitOK, wantErr: []string{"sent a test message through local (file)"}},
		{name: "webhook receiver at a stage", args: []string{"hook", "--stage", "deactivated"}, wantCode: ExitOK,
			wantErr: []string{"sent a test message through hook (webhook)"}},
		{name: "owner-addressed e-mail without --to", args: []string{"owners-mail"}, wantCode: ExitUsage,
			wantErr: []string{"sends to owners only", "--to"}},
		{name: "owner-addressed e-mail with --to", args: []string{"owners-mail", "--to", "me@example.com"}, wantCode: ExitOK,
			wantErr: []string{"sent a test message through owners-mail (email) to me@example.com"}, wantEmails: 1},
		{name: "jira only checks access", args: []string{"tickets"}, wantCode: ExitOK,
			wantErr: []string{"checked access to tickets (jira)", "no issue was created", "--create"}, wantJira: "GET /rest/api/3/project/SEC"},
		{name: "jira --create creates and resolves", args: []string{"tickets", "--create"}, wantCode: ExitOK,
			wantErr:  []string{"created test issue SEC-7 through tickets (jira) and resolved it"},
			wantJira: "POST /rest/api/3/issue, GET /rest/api/3/issue/SEC-7/transitions, POST /rest/api/3/issue/SEC-7/transitions"},
		{name: "--to on a non-email receiver", args: []string{"hook", "--to", "me@example.com"}, wantCode: ExitUsage,
			wantErr: []string{"--to applies to e-mail receivers only"}},
		{name: "--create on a non-jira receiver", args: []string{"hook", "--create"}, wantCode: ExitUsage,
			wantErr: []string{"--create applies to Jira receivers only"}},
		{name: "unknown stage", args: []string{"hook", "--stage", "late"}, wantCode: ExitUsage, wantErr: []string{`--stage "late"`}},
		{name: "unknown receiver", args: []string{"nope"}, wantCode: ExitUsage, wantErr: []string{`no receiver named "nope" (have: local, hook, owners-mail, tickets)`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			jira.called() // drop what a failed case left
			srv.ResetRecords()
			args := append([]string{"receivers", "test", "--config", cfg}, tt.args...)
			code, out, stderr := runCLI(t, args...)
			if code != tt.wantCode {
				t.Fatalf("keyage %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, tt.wantCode, out, stderr)
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
			if got := jira.called(); got != tt.wantJira {
				t.Errorf("jira calls = %q, want %q", got, tt.wantJira)
			}
			if got := len(srv.Emails()); got != tt.wantEmails {
				t.Errorf("%d e-mails sent, want %d", got, tt.wantEmails)
			}
		})
	}

	if got := jsonLines(t, filepath.Join(dir, "n.jsonl")); len(got) != 1 || got[0]["kind"] != "test" || !strings.Contains(fmt.Sprint(got[0]["subject"]), "[keyage test]") {
		t.Errorf("file receiver got %v, want one message of kind test with a [keyage test] subject", got)
	}
	if len(hooks) != 1 {
		t.Fatalf("webhook got %d messages, want 1", len(hooks))
	}
	if got := <-hooks; got["kind"] != "test" || !strings.Contains(fmt.Sprint(got), "deactivated") {
		t.Errorf("webhook got %v, want a test message at stage deactivated", got)
	}
}
