package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReportCLI(t *testing.T) {
	sandboxEnv(t)
	dir := t.TempDir()
	const hook = "https://hooks.slack.example/services/T0/B0/report-test-secret"
	cfg := writeConfig(t, `accounts: {ids: ["222222222222"]}
receivers: [{name: chat, slack: {webhookUrl: "`+hook+`"}}]
routes: [{receivers: [chat], match: {stage: [inactive]}}]
`)
	state := filepath.Join(dir, "keyage.db")
	if code, out, stderr := runCLI(t, "run", "--config", cfg, "--state", state, "--log-level", "error"); code != ExitOK {
		t.Fatalf("run: exit %d\n%s\n%s", code, out, stderr)
	}
	html := filepath.Join(dir, "report.html")
	code, out, stderr := runCLI(t, "report", "--config", cfg, "--state", state, "--since", "30d", "--out", html)
	if code != ExitOK || out != "" || !strings.Contains(stderr, "wrote "+html) {
		t.Fatalf("report --out: exit %d, stdout %q\n%s", code, out, stderr)
	}
	b, err := os.ReadFile(html)
	if err != nil {
		t.Fatal(err)
	}
	if page := string(b); !strings.Contains(page, "Content-Security-Policy") || !strings.Contains(page, "Overdue keys") || strings.Contains(page, "report-test-secret") ||
		!strings.Contains(page, "[REDACTED]") {
		t.Errorf("report.html lacks its CSP, its overdue list or the redaction of the webhook URL:\n%.2000s", page)
	}
	code, out, stderr = runCLI(t, "report", "--config", cfg, "--state", state, "--format", "json")
	var rep struct {
		Summary      struct{ Users, NonCompliant int }
		OverdueTotal int
	}
	if code != ExitOK || json.Unmarshal([]byte(out), &rep) != nil || rep.Summary.Users == 0 || rep.OverdueTotal == 0 {
		t.Errorf("report --format json: exit %d, %+v\n%s\n%s", code, rep, out, stderr)
	}
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"bad window", []string{"report", "--state", state, "--since", "soon"}, `--since "soon"`},
		{"bad format", []string{"report", "--state", state, "--format", "pdf"}, "want html or json"},
		{"no state", []string{"report", "--state", filepath.Join(dir, "none.db")}, "none.db"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, tt.args...)
			if code == ExitOK || !strings.Contains(stderr, tt.want) {
				t.Errorf("keyage %s: exit %d, stderr %q, want an error with %q", strings.Join(tt.args, " "), code, stderr, tt.want)
			}
		})
	}
}
