package cli

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyage/keyage/internal/output"
	"github.com/keyage/keyage/internal/sandbox"
	"github.com/keyage/keyage/internal/sandbox/sandboxtest"
)

// sandboxEnv serves testdata/org.yaml and points the standard AWS
// environment variables at it, as a user would with "keyage sandbox".
func sandboxEnv(t *testing.T) *sandbox.Server {
	t.Helper()
	return sandboxEnvWith(t, "testdata/org.yaml")
}

// sandboxEnvWith serves the fixture at path, as sandboxEnv does.
func sandboxEnvWith(t *testing.T, path string) *sandbox.Server {
	t.Helper()
	s := sandboxtest.ServeFile(t, path)
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL": s.URL, "AWS_ACCESS_KEY_ID": s.ID, "AWS_SECRET_ACCESS_KEY": s.Secret,
		"AWS_REGION": sandboxtest.Region, "AWS_PROFILE": "", "AWS_SESSION_TOKEN": "",
		"AWS_CONFIG_FILE": filepath.Join(dir, "config"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
	} {
		t.Setenv(k, v)
	}
	return s.Server
}

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = Main(context.Background(), args, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestScanExitCodes(t *testing.T) {
	sandboxEnv(t)
	for _, tt := range []struct {
		name string
		args []string
		want int
	}{
		{"healthy account", []string{"scan", "--accounts", "111111111111"}, ExitOK},
		{"non-compliant without --fail-on", []string{"scan", "--accounts", "222222222222"}, ExitOK},
		{"non-compliant with --fail-on", []string{"scan", "--accounts", "222222222222", "--fail-on", "non-compliant"}, ExitNonCompliant},
		{"compliant with --fail-on", []string{"scan", "--accounts", "111111111111", "--fail-on", "non-compliant"}, ExitOK},
		{"broken account", []string{"scan", "--org"}, ExitAccountError},
		{"broken account wins over non-compliant", []string{"scan", "--org", "--fail-on", "non-compliant"}, ExitAccountError},
		{"unknown flag", []string{"scan", "--max-agee", "3"}, ExitUsage},
		{"bad account id", []string{"scan", "--accounts", "12345"}, ExitUsage},
		{"bad duration", []string{"scan", "--account-timeout", "soon"}, ExitUsage},
		{"bad fail-on", []string{"scan", "--fail-on", "stale"}, ExitUsage},
		{"bad output", []string{"scan", "-o", "xml"}, ExitUsage},
		{"warn over max", []string{"scan", "--warn-age", "95"}, ExitUsage},
		{"unknown command", []string{"scna"}, ExitUsage},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, append(tt.args, "--log-level", "error")...)
			if code != tt.want {
				t.Errorf("keyage %s: exit %d, want %d; stderr:\n%s", strings.Join(tt.args, " "), code, tt.want, stderr)
			}
		})
	}
}

func TestScanTable(t *testing.T) {
	sandboxEnv(t)
	code, out, stderr := runCLI(t, "scan", "--org", "--warn-age", "80", "--log-level", "error")
	if code != ExitAccountError {
		t.Fatalf("exit %d, want 1 (one account has no audit role); stderr:\n%s", code, stderr)
	}
	for _, want := range []string{
		"ACCOUNT", "LAST USED",
		"222222222222 (prod)  over-limit",
		"expired",
		"Accounts not scanned:\n  444444444444 (broken): assume role arn:aws:iam::444444444444:role/KeyageAuditRole: ",
		"Root user access keys",
		"4 accounts (1 failed), 6 users: 2 non-compliant, 4 compliant, 1 not applicable",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "no-keys") {
		t.Errorf("table lists a user without findings:\n%s", out)
	}
	if strings.Contains(stderr, "[#") {
		t.Errorf("progress bar drawn on a non-terminal stderr: %q", stderr)
	}
}

func TestScanCSV(t *testing.T) {
	sandboxEnv(t)
	code, out, stderr := runCLI(t, "scan", "--accounts", "222222222222", "-o", "csv")
	if code != ExitOK {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr)
	}
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatalf("output is not CSV: %v\n%s", err, out)
	}
	if got := strings.Join(rows[0], ","); got != strings.Join(output.CSVHeader, ",") {
		t.Errorf("csv header = %s", got)
	}
	// 5 users: under-limit, over-limit, inactive-old, two-keys (2 rows), no-keys (1 row without key)
	if len(rows) != 1+6 {
		t.Errorf("csv has %d data rows, want 6:\n%s", len(rows)-1, out)
	}
}

func TestScanJSON(t *testing.T) {
	sandboxEnv(t)
	code, out, stderr := runCLI(t, "scan", "--org", "-o", "json", "--warn-age", "80", "--log-level", "error")
	if code != ExitAccountError {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("output is not JSON: %v", err)
	}
	for _, k := range []string{"rule", "parameters", "evaluatedAt", "source", "accounts", "evaluations", "summary"} {
		if _, ok := doc[k]; !ok {
			t.Errorf("JSON lacks %q", k)
		}
	}
	if doc["rule"] != "access-keys-rotated" || doc["source"] != "auto" {
		t.Errorf("rule/source = %v/%v", doc["rule"], doc["source"])
	}
	params := doc["parameters"].(map[string]any)
	if params["maxAccessKeyAge"] != 90.0 || params["warnAge"] != 80.0 {
		t.Errorf("parameters = %v", params)
	}
}

func TestScanConfigErrors(t *testing.T) {
	sandboxEnv(t)
	code, _, stderr := runCLI(t, "scan", "--config", "testdata/bad-key.yaml")
	if code != ExitUsage {
		t.Errorf("bad config: exit %d, want 2", code)
	}
	if !strings.Contains(stderr, "testdata/bad-key.yaml:3") || !strings.Contains(stderr, "rolename") {
		t.Errorf("bad config error does not name file, line and key:\n%s", stderr)
	}
	code, _, stderr = runCLI(t, "scan", "--config", "testdata/missing.yaml")
	if code != ExitUsage || !strings.Contains(stderr, "missing.yaml") {
		t.Errorf("missing config: exit %d, stderr %q; want 2 naming the file", code, stderr)
	}
	code, out, stderr := runCLI(t, "scan", "--config", "testdata/good.yaml", "--fail-on", "non-compliant", "--log-level", "error")
	if code != ExitNonCompliant {
		t.Errorf("good config scanning prod: exit %d, want 3; stderr:\n%s\n%s", code, stderr, out)
	}
}

func TestDemo(t *testing.T) {
	code, out, stderr := runCLI(t, "demo", "--accounts", "4", "--users", "10", "--once", "--dir", t.TempDir(), "--log-level", "error")
	if code != ExitOK {
		t.Fatalf("demo exit %d; stderr:\n%s", code, stderr)
	}
	// the generated org leaves one account without its audit role
	if !strings.Contains(out, "4 accounts (1 failed), 30 users") {
		t.Errorf("demo output lacks the summary:\n%s", out)
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := runCLI(t, "version")
	if code != ExitOK || !strings.HasPrefix(out, "keyage ") {
		t.Errorf("version: exit %d output %q", code, out)
	}
}

func newTestLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// TestMemProfile: --memprofile writes a heap profile (gzipped pprof) when
// the command ends, whether it succeeded or failed.
func TestMemProfile(t *testing.T) {
	for _, tt := range []struct {
		name     string
		args     []string
		wantCode int
	}{
		{"a command that succeeds", []string{"version"}, 0},
		{"a command that fails", []string{"config", "validate", "does-not-exist.yaml"}, ExitUsage},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "heap.pprof")
			code, _, stderr := runCLI(t, append(tt.args, "--memprofile", path)...)
			if code != tt.wantCode {
				t.Fatalf("keyage %s --memprofile: exit %d, want %d\n%s", strings.Join(tt.args, " "), code, tt.wantCode, stderr)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("read the heap profile: %v", err)
			}
			if len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
				t.Errorf("heap profile %s: %d bytes, not gzip (pprof)", path, len(b))
			}
		})
	}
}
