package cli

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestEnforceCLI(t *testing.T) {
	sandboxEnvWith(t, "testdata/enforce-org.yaml")
	dir := t.TempDir()
	cfg := writeConfig(t, "accounts: {ids: [\"222222222222\"]}\nlifecycle: {deactivateAge: 100, deleteAge: 110}\n")
	state, auditLog := filepath.Join(dir, "keyage.db"), filepath.Join(dir, "audit.jsonl")

	code, out, stderr := runCLI(t, "enforce", "--config", cfg, "--state", state, "--log-level", "error")
	if code != ExitOK || !strings.Contains(out, "Dry run (nothing changed; --apply to act): 3 planned") || !strings.Contains(out, "two-keys") {
		t.Fatalf("dry run: exit %d\n%s\n%s", code, out, stderr)
	}
	code, out, stderr = runCLI(t, "enforce", "--config", cfg, "--state", state, "--apply", "--audit-log", auditLog, "--log-level", "error")
	if code != ExitOK || !strings.Contains(out, "Applied: 0 planned, 3 applied, 0 refused, 1 escalated") {
		t.Fatalf("apply: exit %d\n%s\n%s", code, out, stderr)
	}
	lines := jsonLines(t, auditLog)
	if len(lines) != 4 || lines[0]["dryRun"] != false || lines[0]["caller"] == "" {
		t.Errorf("audit log lines = %v", lines)
	}
	var key string
	for _, l := range lines {
		if l["userName"] == "two-keys" {
			key = l["accessKeyId"].(string)
		}
	}
	code, out, stderr = runCLI(t, "reactivate", "--state", state, "--config", cfg, "--account", "222222222222", "--key", key, "--audit-log", auditLog)
	if code != ExitOK || !strings.Contains(out, "reactivated key "+key+" of two-keys") {
		t.Fatalf("reactivate: exit %d\n%s\n%s", code, out, stderr)
	}
	code, out, _ = runCLI(t, "audit", "--state", state, "--key", key)
	if code != ExitOK || strings.Count(out, key) != 3 || !strings.Contains(out, "reactivate  applied  Inactive  Active") {
		t.Errorf("audit trail of %s (dry run, deactivate, reactivate):\n%s", key, out)
	}
	if n := len(jsonLines(t, auditLog)); n != 5 {
		t.Errorf("audit log has %d lines after reactivate, want 5", n)
	}
	code, _, stderr = runCLI(t, "enforce", "--state", state, "--config", writeConfig(t, "rule: {maxAccessKeyAge: 90}\n"))
	if code != ExitUsage || !strings.Contains(stderr, "nothing to enforce") {
		t.Errorf("enforce without lifecycle: exit %d %s", code, stderr)
	}
}
