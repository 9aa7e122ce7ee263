package cli

import (
	"path/filepath"
	"strings"
	"testing"
)

// A config exemption whose until has passed is warned of, with where it
// is written and whom it named; one still running is not.
func TestExpiredExemptionWarned(t *testing.T) {
	sandboxEnvWith(t, "testdata/enforce-org.yaml")
	for _, tt := range []struct {
		name, until string
		want        []string // in stderr; nil: no warning
	}{
		{"expired", "2020-01-01", []string{"level=WARN", "exemption expired", "keyage.yaml:4", "user=\"path /nobody/\"", "until=2020-01-01", "reason=\"old migration\""}},
		{"running", "2099-01-01", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := writeConfig(t, "exemptions:\n- path: /nobody/\n  reason: old migration\n  until: \""+tt.until+"\"\n")
			for _, cmd := range [][]string{{"scan"}, {"run"}} {
				args := append(cmd, "--config", cfg, "--accounts", "222222222222", "-o", "json", "--log-level", "warn")
				if cmd[0] == "run" { // not the default ./keyage.db in the source tree
					args = append(args, "--state", filepath.Join(t.TempDir(), "keyage.db"))
				}
				code, _, stderr := runCLI(t, args...)
				if code != ExitOK {
					t.Fatalf("%s: exit %d: %s", cmd[0], code, stderr)
				}
				for _, w := range tt.want {
					if !strings.Contains(stderr, w) {
						t.Errorf("keyage %s with an exemption until %s: stderr lacks %q:\n%s", cmd[0], tt.until, w, stderr)
					}
				}
				if tt.want == nil && strings.Contains(stderr, "exemption expired") {
					t.Errorf("keyage %s with an exemption until %s warned:\n%s", cmd[0], tt.until, stderr)
				}
			}
		})
	}
}
