package cli

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyage/keyage/internal/enforce"
)

// enforceOrg serves testdata/enforce-org.yaml and writes a config that
// deactivates and deletes in account 222222222222 without a notice period,
// with extra YAML after it; it returns the config's path and a directory
// for the test's files.
func enforceOrg(t *testing.T, extra string) (cfg, dir string) {
	t.Helper()
	sandboxEnvWith(t, "testdata/enforce-org.yaml")
	return writeConfig(t, `accounts: {ids: ["222222222222"]}
lifecycle: {deactivateAge: 100, deleteAge: 110}
enforce: {noticeDays: 0}
`+extra), t.TempDir()
}

func TestEnforceCLI(t *testing.T) {
	notices := filepath.Join(t.TempDir(), "notices.jsonl")
	cfg, dir := enforceOrg(t, `receivers: [{name: owners, file: {path: `+notices+`}}]
routes: [{match: {stage: [deactivated, escalated, deleted]}, receivers: [owners]}]
`)
	state, auditLog := filepath.Join(dir, "keyage.db"), filepath.Join(dir, "audit.jsonl")

	code, out, stderr := runCLI(t, "enforce", "--config", cfg, "--state", state, "--log-level", "error")
	if code != ExitOK || !strings.Contains(out, "Dry run (nothing changed; --apply to act): 3 planned") || !strings.Contains(out, "two-keys") {
		t.Fatalf("dry run: exit %d\n%s\n%s", code, out, stderr)
	}
	code, out, stderr = runCLI(t, "enforce", "--config", cfg, "--state", state, "--apply", "--audit-log", auditLog, "--log-level", "error")
	if code != ExitOK || !strings.Contains(out, "Applied: 0 planned, 3 applied, 0 refused, 1 escalated") {
		t.Fatalf("apply: exit %d\n%s\n%s", code, out, stderr)
	}
	var told []string
	for _, m := range jsonLines(t, notices) {
		told = append(told, m["text"].(string))
	}
	if len(told) != 4 || !strings.Contains(strings.Join(told, "\n"), `Account "222222222222" User "two-keys": access key AKIA`) ||
		!strings.Contains(strings.Join(told, "\n"), `User "busy": access key`) || !strings.Contains(strings.Join(told, "\n"), "still in use") {
		t.Errorf("owner notices after apply:\n%s", strings.Join(told, "\n"))
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
	code, out, stderr = runCLI(t, "reactivate", "--state", state, "--config", cfg, "--account", "222222222222", "--key", key, "--audit-log", auditLog)
	if code != ExitOK || !strings.Contains(out, "already Active: nothing changed") {
		t.Fatalf("second reactivate: exit %d\n%s\n%s", code, out, stderr)
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

// After a stop, the output says exactly what was changed before it.
func TestPrintEnforceAfterStop(t *testing.T) {
	for _, tt := range []struct {
		name string
		rep  *enforce.Report
		want []string
		not  string
	}{
		{"stopped before any action", &enforce.Report{Stopped: "kill switch file STOP exists"},
			[]string{"Enforcement stopped: kill switch file STOP exists. Nothing was changed."}, "ACCOUNT"},
		{"stopped after a deactivation", &enforce.Report{Stopped: "kill switch file STOP exists", Applied: 1, Actions: []enforce.Action{
			{AccountID: "222222222222", UserName: "two-keys", AccessKeyID: "AKIA1", Action: "deactivate", Outcome: enforce.OutcomeApplied, Before: "Active", After: "Inactive"},
			{AccountID: "222222222222", UserName: "busy", AccessKeyID: "AKIA2", Action: "deactivate", Outcome: enforce.OutcomeEscalated, Before: "Active", After: "Active"}}},
			[]string{"Changed before the stop (1 keys):", "deactivate key AKIA1 of two-keys in 222222222222: Active -> Inactive"}, "Nothing was changed"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			printEnforce(&b, tt.rep, true)
			for _, w := range tt.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("printEnforce output lacks %q:\n%s", w, b.String())
				}
			}
			if strings.Contains(b.String(), tt.not) || strings.Contains(b.String(), "AKIA2:") {
				t.Errorf("printEnforce output has %q:\n%s", tt.not, b.String())
			}
		})
	}
}

// Exemptions and lifecycle findings show in the scan's JSON.
func TestScanShowsExemptions(t *testing.T) {
	sandboxEnvWith(t, "testdata/enforce-org.yaml")
	cfg := writeConfig(t, "lifecycle: {deactivateAge: 100, neverUsedAge: 3}\nexemptions: [{path: /nobody/, until: \"2099-01-01\", reason: unused}]\n")
	code, out, stderr := runCLI(t, "scan", "--config", cfg, "--accounts", "222222222222", "--with-tags", "-o", "json", "--log-level", "error")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var doc struct {
		Evaluations []struct {
			UserName string
			Keys     []struct {
				Stage     string
				Lifecycle *struct {
					Due       string
					NeverUsed bool
					Exemption *struct{ Reason, Source string }
				}
			}
		}
		Summary struct{ Keys map[string]int }
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, ev := range doc.Evaluations {
		for _, k := range ev.Keys {
			s := k.Stage
			if l := k.Lifecycle; l != nil {
				if l.Due != "" {
					s += " due:" + l.Due
				}
				if l.NeverUsed {
					s += " neverUsed"
				}
				if l.Exemption != nil {
					s += " exempt(" + l.Exemption.Source + "):" + l.Exemption.Reason
				}
			}
			got[ev.UserName] += s + ";"
		}
	}
	for user, want := range map[string]string{
		"exempt-now":         "exempt exempt(tag):vendor integration;",
		"exempt-expired":     "expired due:deactivate;",
		"tag-without-reason": "expired due:deactivate;",
		"fresh":              "ok neverUsed;",
	} {
		if got[user] != want {
			t.Errorf("%s keys = %q, want %q", user, got[user], want)
		}
	}
	if doc.Summary.Keys["exempt"] != 1 {
		t.Errorf("summary exempt keys = %d, want 1", doc.Summary.Keys["exempt"])
	}
}

func TestScanLifecycleFlags(t *testing.T) {
	sandboxEnvWith(t, "testdata/enforce-org.yaml")
	code, out, stderr := runCLI(t, "scan", "--accounts", "222222222222", "--deactivate-age", "100", "-o", "json", "--log-level", "error")
	if code != ExitOK || strings.Count(out, `"due": "deactivate"`) != 5 {
		t.Errorf("--deactivate-age 100: exit %d, %d keys due (want 5)\n%s", code, strings.Count(out, `"due": "deactivate"`), stderr)
	}
	code, _, stderr = runCLI(t, "scan", "--accounts", "222222222222", "--deactivate-age", "50")
	if code != ExitUsage || !strings.Contains(stderr, "--deactivate-age: 50: must be at least rule.maxAccessKeyAge (90)") {
		t.Errorf("--deactivate-age 50: exit %d %s", code, stderr)
	}
}
