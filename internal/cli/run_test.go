package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/keyage/keyage/internal/store"
)

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "keyage.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func jsonLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("%s: not JSON lines: %v", path, err)
		}
		out = append(out, m)
	}
	return out
}

// keyage run end to end over the sandbox: one message per NON_COMPLIANT
// user with the seed's text, nothing new on the second run, a dry run that
// changes nothing, a webhook that fails once and is retried.
func TestRunEndToEnd(t *testing.T) {
	sandboxEnv(t)
	dir := t.TempDir()
	var mu sync.Mutex
	var hooks []string
	failures := 1
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if failures > 0 {
			failures--
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		hooks = append(hooks, r.Header.Get("X-Keyage-Signature"))
		w.WriteHeader(http.StatusNoContent)
	}))
	defer hook.Close()
	t.Setenv("HOOK_SECRET", "s3cret")
	cfg := writeConfig(t, `
accounts: {organization: true}
remediation: {retryAttemptSeconds: 1, maximumAutomaticAttempts: 3}
receivers:
  - name: central
    file: {path: `+filepath.Join(dir, "central.jsonl")+`}
  - name: hook
    webhook: {url: "`+hook.URL+`", secretEnv: HOOK_SECRET}
routes:
  - receivers: [central]
  - match: {accountName: prod}
    receivers: [hook]
    groupBy: [account]
`)
	state := filepath.Join(dir, "keyage.db")
	central := filepath.Join(dir, "central.jsonl")

	code, out, stderr := runCLI(t, "run", "--config", cfg, "--state", state, "--dry-run", "--log-level", "error")
	if code != ExitAccountError { // the fixture's broken account
		t.Fatalf("dry run exit %d; stderr:\n%s", code, stderr)
	}
	if !strings.Contains(out, "Dry run: 3 notifications would be sent") || !strings.Contains(out, `Account "222222222222" User "over-limit" needs to rotate their access key.`) {
		t.Errorf("dry run output:\n%s", out)
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Errorf("dry run created the state database")
	}
	if got := jsonLines(t, central); len(got) != 0 {
		t.Errorf("dry run sent %d messages", len(got))
	}

	code, out, stderr = runCLI(t, "run", "--config", cfg, "--state", state, "--log-level", "error")
	if code != ExitAccountError {
		t.Fatalf("run exit %d; stdout:\n%s\nstderr:\n%s", code, out, stderr)
	}
	msgs := jsonLines(t, central)
	var texts []string
	for _, m := range msgs {
		texts = append(texts, m["text"].(string))
	}
	want := []string{
		`Account "222222222222" User "over-limit" needs to rotate their access key.`,
		`Account "222222222222" User "two-keys" needs to rotate their access key.`,
	}
	sort.Strings(texts) // the dispatcher delivers concurrently
	if strings.Join(texts, "\n") != strings.Join(want, "\n") {
		t.Errorf("central messages:\n%s\nwant:\n%s", strings.Join(texts, "\n"), strings.Join(want, "\n"))
	}
	mu.Lock()
	if len(hooks) != 1 || !strings.HasPrefix(hooks[0], "sha256=") {
		t.Errorf("webhook deliveries = %q, want one signed digest after one retry", hooks)
	}
	mu.Unlock()
	if !strings.Contains(out, "  3 notifications queued\n  3 notifications sent\n  0 notifications failed\n  1 delivery attempt retried\n") {
		t.Errorf("run summary:\n%s", out)
	}

	code, out, _ = runCLI(t, "run", "--config", cfg, "--state", state, "--log-level", "error")
	if code != ExitAccountError || !strings.Contains(out, "0 notifications queued") || len(jsonLines(t, central)) != 2 {
		t.Errorf("second run sent again (exit %d):\n%s", code, out)
	}

	code, out, _ = runCLI(t, "executions", "--state", state, "--status", "succeeded")
	if code != ExitOK || strings.Count(out, "SUCCEEDED") != 2 || !strings.Contains(out, "over-limit") {
		t.Errorf("executions (exit %d):\n%s", code, out)
	}
	code, _, stderr = runCLI(t, "executions", "--state", state, "--status", "DONE")
	if code != ExitUsage || !strings.Contains(stderr, "--status") {
		t.Errorf("bad --status: exit %d, %s", code, stderr)
	}
}

func TestRunConfigErrors(t *testing.T) {
	sandboxEnv(t)
	cfg := writeConfig(t, `
receivers:
  - name: hook
routes:
  - receivers: [nowhere]
`)
	code, _, stderr := runCLI(t, "run", "--config", cfg, "--state", filepath.Join(t.TempDir(), "s.db"))
	if code != ExitUsage || !strings.Contains(stderr, "receivers[0]") || !strings.Contains(stderr, `routes[0].receivers[0]`) {
		t.Errorf("exit %d, stderr:\n%s", code, stderr)
	}
}

// A misspelled template field is a configuration error at load, with its
// place, not a failure when the first message is sent.
func TestRunTemplateFieldErrors(t *testing.T) {
	sandboxEnv(t)
	cfg := writeConfig(t, `
owners: {template: "{{ .Username }}@example.com"}
receivers:
  - name: local
    file: {path: n.jsonl}
    template: "Account {{ .AccountId }} user {{ .UserName }}"
  - name: tickets
    jira: {url: "https://example.atlassian.net", project: SEC, tokenEnv: T, fields: {priority: "{{ .Severity }}"}}
routes:
  - receivers: [local]
`)
	code, _, stderr := runCLI(t, "run", "--config", cfg, "--state", filepath.Join(t.TempDir(), "s.db"))
	for _, want := range []string{"owners.template", "can't evaluate field Username", "receivers[0].template", "can't evaluate field AccountId",
		"receivers[1].jira.fields.priority", "can't evaluate field Severity"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q", want)
		}
	}
	if code != ExitUsage {
		t.Errorf("exit %d, want %d; stderr:\n%s", code, ExitUsage, stderr)
	}
}

// With --org, routes matching on OU paths see each account's OU.
func TestRunRoutesByOU(t *testing.T) {
	sandboxEnv(t)
	dir := t.TempDir()
	cfg := writeConfig(t, `
accounts: {organization: true}
receivers: [{name: prod-team, file: {path: `+filepath.Join(dir, "prod.jsonl")+`}}]
routes: [{match: {ou: Workloads}, receivers: [prod-team]}]
`)
	code, out, stderr := runCLI(t, "run", "--config", cfg, "--state", filepath.Join(dir, "s.db"), "--log-level", "error")
	if code != ExitAccountError { // the fixture's broken account
		t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
	}
	msgs := jsonLines(t, filepath.Join(dir, "prod.jsonl"))
	if len(msgs) != 2 {
		t.Fatalf("OU route got %d messages, want prod's 2 NON_COMPLIANT users", len(msgs))
	}
	for _, m := range msgs {
		item := m["items"].([]any)[0].(map[string]any)
		if item["accountId"] != "222222222222" || item["ou"] != "Workloads/Prod" {
			t.Errorf("OU route item = %v", item)
		}
	}
}

// The owner the state records (the dashboard's owner column and filter) is
// the one owners.tagKey and owners.template find, as notifications use.
func TestRunRecordsConfiguredOwner(t *testing.T) {
	deploySandbox(t, `
managementAccountId: "111111111111"
accounts:
  - id: "111111111111"
    name: master
    users:
      - name: alice
        tags: {team-mail: payments@example.com, email: alice@example.com}
        keys: [{ageDays: 120, status: Active}]
      - name: bob
        keys: [{ageDays: 130, status: Active}]
`)
	cfg := writeConfig(t, `
owners: {tagKey: team-mail, template: "{{ .UserName }}@corp.example"}
receivers:
  - name: local
    file: {path: `+filepath.Join(t.TempDir(), "n.jsonl")+`}
routes:
  - receivers: [local]
`)
	state := filepath.Join(t.TempDir(), "keyage.db")
	mustRun(t, ExitOK, "run", "--config", cfg, "--state", state, "--log-level", "error")
	st, err := store.Open(context.Background(), state, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	keys, err := st.Keys(context.Background(), store.KeyFilter{Stages: []string{"expired"}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, k := range keys {
		got[k.UserName] = k.Owner
	}
	if want := map[string]string{"alice": "payments@example.com", "bob": "bob@corp.example"}; !maps.Equal(got, want) {
		t.Errorf("owners recorded = %v, want %v", got, want)
	}
}
