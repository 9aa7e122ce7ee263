package cli

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// TestRotateOutput runs keyage rotate as a dry run and applied, as a table
// and as JSON: the JSON carries each step with the new key, the secret's ARN
// and the dates, and no output carries the new key's secret.
func TestRotateOutput(t *testing.T) {
	srv := sandboxEnvWith(t, "../rotate/testdata/org.yaml")
	dir := t.TempDir()
	cfg := writeConfig(t, `accounts: {ids: ["222222222222"]}
rule: {maxAccessKeyAge: 90, warnAge: 80}
lifecycle:
  deactivateAge: 120
  deleteAge: 130
  rotate: {enabled: true, match: {userPath: [/ci/]}, deactivateAfter: 14d, deleteAfter: 30d}
`)
	state := filepath.Join(dir, "keyage.db")
	type doc struct {
		Applied bool
		Steps   []struct {
			UserName, Action, Outcome string
			Rotation                  struct {
				NewAccessKeyID string `json:"newAccessKeyId"`
				SecretARN      string `json:"secretArn"`
				Phase          string `json:"phase"`
				CreatedAt      string `json:"createdAt"`
				DeactivateAt   string `json:"deactivateAt"`
			}
		}
	}
	for _, tt := range []struct {
		name     string
		args     []string
		applied  bool
		wantStep string // ci's step: action outcome phase
	}{
		{"dry run", nil, false, "rotate-create-key dry-run "},
		{"apply", []string{"--apply"}, true, "rotate-create-key applied stored"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"rotate", "--config", cfg, "--state", state, "--log-level", "error", "-o", "json"}, tt.args...)
			code, out, stderr := runCLI(t, args...)
			var d doc
			if err := json.Unmarshal([]byte(out), &d); code != ExitOK || err != nil {
				t.Fatalf("keyage %s: exit %d, %v\n%s\n%s", strings.Join(args, " "), code, err, out, stderr)
			}
			var ci string
			for _, s := range d.Steps {
				if s.UserName == "ci" {
					ci = s.Action + " " + s.Outcome + " " + s.Rotation.Phase
					if tt.applied && (!strings.HasPrefix(s.Rotation.NewAccessKeyID, "AKIA") || !strings.Contains(s.Rotation.SecretARN, ":secret:keyage/access-keys/ci") ||
						s.Rotation.CreatedAt == "" || s.Rotation.DeactivateAt == "") {
						t.Errorf("ci's applied step = %+v, want the new key, the secret's ARN and the dates", s)
					}
					if secret, ok := srv.AccessKeySecret(s.Rotation.NewAccessKeyID); ok && strings.Contains(out+stderr, secret) {
						t.Errorf("keyage rotate -o json printed the new key's secret")
					}
				}
			}
			if ci != tt.wantStep || d.Applied != tt.applied {
				t.Errorf("keyage rotate -o json: ci's step %q, applied %v; want %q, %v\n%s", ci, d.Applied, tt.wantStep, tt.applied, out)
			}
		})
	}
	code, out, stderr := runCLI(t, "rotate", "--config", cfg, "--state", state, "--log-level", "error")
	if code != ExitOK || !strings.Contains(out, "rotate-deactivate-old  scheduled") || !strings.Contains(out, "Dry run (nothing changed; --apply to act).") {
		t.Errorf("keyage rotate (table): exit %d\n%s\n%s", code, out, stderr)
	}
	if code, _, stderr := runCLI(t, "rotate", "--config", cfg, "--state", state, "-o", "csv"); code != ExitUsage {
		t.Errorf("keyage rotate -o csv: exit %d, want a usage error\n%s", code, stderr)
	}
}
