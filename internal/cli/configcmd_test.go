package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyage/keyage/internal/config"
)

func TestConfigCommands(t *testing.T) {
	good := writeConfig(t, "receivers: [{name: console, stdout: {}}]\nroutes: [{receivers: [console]}]\n")
	bad := writeConfig(t, "acounts: {ids: ['1']}\nrule: {maxAccessKeyAge: 0}\nreceivers: [{name: x}]\n")
	example := filepath.Join(t.TempDir(), "example.yaml")
	if err := os.WriteFile(example, config.Example(), 0o600); err != nil {
		t.Fatal(err)
	}
	schema, err := config.Schema()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string   // stdout, exactly, when not empty
		wantErr  []string // in stderr
	}{
		{"valid file", []string{"config", "validate", good}, ExitOK, "", []string{good + ": valid (1 receiver, 1 route)"}},
		{"the example validates", []string{"config", "validate", example}, ExitOK, "", []string{": valid ("}},
		{"every problem at once", []string{"config", "validate", bad}, ExitUsage, "",
			[]string{bad + ":1: acounts: unknown key", bad + ":2: rule.maxAccessKeyAge", bad + ":3: receivers[0]"}},
		{"missing file", []string{"config", "validate", filepath.Join(t.TempDir(), "nope.yaml")}, ExitUsage, "", []string{"read config"}},
		{"schema", []string{"config", "schema"}, ExitOK, string(schema), nil},
		{"example", []string{"config", "example"}, ExitOK, string(config.Example()), nil},
		{"schema takes no argument", []string{"config", "schema", "x"}, ExitUsage, "", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, out, stderr := runCLI(t, tt.args...)
			if code != tt.wantCode {
				t.Fatalf("keyage %s: exit %d, want %d\n%s", strings.Join(tt.args, " "), code, tt.wantCode, stderr)
			}
			if tt.wantOut != "" && out != tt.wantOut {
				t.Errorf("stdout differs from the package's value:\n%.300s", out)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
		})
	}
}

func TestConfigValidateDefaultFile(t *testing.T) {
	t.Chdir(t.TempDir())
	code, _, stderr := runCLI(t, "config", "validate")
	if code != ExitUsage || !strings.Contains(stderr, "no keyage.yaml in the current directory") {
		t.Errorf("config validate without keyage.yaml: exit %d, %s", code, stderr)
	}
	if err := os.WriteFile("keyage.yaml", []byte("rule: {maxAccessKeyAge: 30}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := runCLI(t, "config", "validate"); code != ExitOK || !strings.Contains(stderr, "keyage.yaml: valid") {
		t.Errorf("config validate with keyage.yaml: exit %d, %s", code, stderr)
	}
}
