package cli

import (
	"path/filepath"
	"strings"
	"testing"
)

// A receiver whose secret is unset fails its own notifications with the
// reason; the others are delivered (issue 13 row 4).
func TestRunWithAnUnresolvableSecret(t *testing.T) {
	sandboxEnv(t)
	dir := t.TempDir()
	t.Setenv("KEYAGE_TEST_UNSET_HOOK", "")
	cfg := writeConfig(t, `
accounts: {organization: true}
remediation: {retryAttemptSeconds: 1, maximumAutomaticAttempts: 2}
receivers:
  - name: central
    file: {path: `+filepath.Join(dir, "central.jsonl")+`}
  - name: chat
    slack: {webhookUrlEnv: KEYAGE_TEST_UNSET_HOOK}
routes:
  - receivers: [central, chat]
`)
	state := filepath.Join(dir, "keyage.db")
	code, out, stderr := runCLI(t, "run", "--config", cfg, "--state", state, "--log-level", "error")
	if code != ExitAccountError {
		t.Fatalf("run exit %d, want %d (the failed notifications); stdout:\n%s\nstderr:\n%s", code, ExitAccountError, out, stderr)
	}
	if got := jsonLines(t, filepath.Join(dir, "central.jsonl")); len(got) != 2 {
		t.Errorf("central got %d messages, want 2 despite chat's missing secret", len(got))
	}
	if !strings.Contains(out, "  2 notifications sent\n  2 notifications failed\n") {
		t.Errorf("run summary, want 2 sent and chat's 2 failed:\n%s", out)
	}
	code, out, _ = runCLI(t, "executions", "--state", state, "--status", "FAILED")
	if !strings.Contains(out, "receiver chat (slack)") {
		t.Errorf("executions --status FAILED (exit %d) does not give chat's reason:\n%s", code, out)
	}
}
