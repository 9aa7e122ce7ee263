package cli

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestNewLogger(t *testing.T) {
	for _, tt := range []struct {
		name, level, format string
		wantErr             string
		check               func(t *testing.T, out string)
	}{
		{name: "text", level: "info", format: "text", check: func(t *testing.T, out string) {
			if !strings.Contains(out, `level=INFO msg=hello account=111111111111`) {
				t.Errorf("text log = %q, want key=value pairs", out)
			}
		}},
		{name: "json", level: "info", format: "json", check: func(t *testing.T, out string) {
			var rec map[string]any
			if err := json.Unmarshal([]byte(out), &rec); err != nil {
				t.Fatalf("json log %q is not one JSON object: %v", out, err)
			}
			if rec["msg"] != "hello" || rec["level"] != "INFO" || rec["account"] != "111111111111" {
				t.Errorf("json log = %v, want msg, level and account", rec)
			}
		}},
		{name: "level filters", level: "error", format: "json", check: func(t *testing.T, out string) {
			if out != "" {
				t.Errorf("log at level error printed an info record: %q", out)
			}
		}},
		{name: "unknown format", level: "info", format: "logfmt", wantErr: `--log-format "logfmt": want text or json`},
		{name: "unknown level", level: "loud", format: "text", wantErr: `--log-level "loud"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			logger, err := newLogger(&buf, tt.level, tt.format)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("newLogger(%q, %q) error = %v, want %q", tt.level, tt.format, err, tt.wantErr)
				}
				if exitCode(err) != ExitUsage {
					t.Errorf("newLogger(%q, %q) error is not a usage error: %#v", tt.level, tt.format, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("newLogger(%q, %q): %v", tt.level, tt.format, err)
			}
			logger.Info("hello", "account", "111111111111")
			tt.check(t, strings.TrimSpace(buf.String()))
		})
	}
}

// TestLogFormatFlag checks --log-format end to end: a command's log lines
// on stderr are JSON objects, and a bad value is a usage error.
func TestLogFormatFlag(t *testing.T) {
	sandboxEnv(t)
	code, _, stderr := runCLI(t, "scan", "--accounts", "111111111111", "--log-format", "json")
	if code != ExitOK {
		t.Fatalf("keyage scan --log-format json: exit %d; stderr:\n%s", code, stderr)
	}
	var msgs []string
	for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
		var rec struct{ Msg string }
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("stderr line %q is not JSON: %v", line, err)
		}
		msgs = append(msgs, rec.Msg)
	}
	if !strings.Contains(strings.Join(msgs, "\n"), "scanning") {
		t.Errorf("JSON log messages = %q, want the scan's \"scanning\" record", msgs)
	}
	code, _, stderr = runCLI(t, "version", "--log-format", "yaml")
	if code != ExitUsage || !strings.Contains(stderr, "--log-format") {
		t.Errorf("keyage version --log-format yaml: exit %d, stderr %q; want exit 2 naming the flag", code, stderr)
	}
}
