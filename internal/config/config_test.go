package config

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"gopkg.in/yaml.v3"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// TestGolden parses every testdata/*.yaml and compares the outcome (the
// decoded configuration, or every error) with testdata/*.golden.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			got := outcome(t, data, filepath.Base(file))
			golden := strings.TrimSuffix(file, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("Parse(%s) mismatch (-want +got):\n%s", file, diff)
			}
		})
	}
}

func outcome(t *testing.T, data []byte, filename string) string {
	t.Helper()
	c, err := Parse(data, filename)
	if err != nil {
		if c != nil {
			t.Errorf("Parse(%s) returned a config and an error", filename)
		}
		for _, e := range flatten(err) {
			var ce *Error
			if !errors.As(e, &ce) {
				t.Errorf("Parse(%s) error %T (%v) is not a *config.Error", filename, e, e)
			}
			if strings.Contains(e.Error(), "\n") {
				t.Errorf("Parse(%s) error spans lines: %q", filename, e)
			}
		}
		return "error:\n" + err.Error() + "\n"
	}
	out, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return "ok:\n" + string(out)
}

func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// The examples in the issue, verbatim.
func TestErrorMessages(t *testing.T) {
	for _, tt := range []struct {
		name string
		yaml string
		want string
	}{
		{"unknown key", "accounts:\n  organization: true\n\n  rolename: x\n",
			"keyage.yaml:4: accounts.rolename: unknown key (did you mean roleName?)"},
		{"bad account id", "accounts:\n  ids:\n    - \"222222222222\"\n    - \"12345\"\n",
			`keyage.yaml:4: accounts.ids[1]: "12345": not a 12-digit AWS account id`},
		{"bad duration", "scan:\n  accountTimeout: 5 minutes\n",
			`keyage.yaml:2: scan.accountTimeout: "5 minutes": invalid duration (use e.g. 90s, 5m, 2h, 90d, 2w)`},
		{"organization and ids", "accounts:\n  organization: true\n  ids: [\"222222222222\"]\n",
			"keyage.yaml:3: accounts.ids: cannot be combined with organization: true; scan the organization or list ids, not both"},
		{"route naming a missing receiver", "receivers:\n  - {name: local, file: {path: ./n.jsonl}}\nroutes:\n  - receivers: [local]\n  - receivers: [x]\n",
			`keyage.yaml:5: routes[1].receivers[0]: no receiver named "x"`},
		{"receiver without a target", "receivers:\n  - name: x\n",
			`keyage.yaml:2: receivers[0]: receiver "x" has no target (one of sns, sqs, email, slack, jira, webhook, lambda, securityhub, file or stdout)`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml), "keyage.yaml")
			if err == nil || err.Error() != tt.want {
				t.Errorf("Parse() error = %v, want %s", err, tt.want)
			}
		})
	}
}

func TestDefault(t *testing.T) {
	want := &Config{
		Accounts: Accounts{RoleName: "KeyageAuditRole", SessionName: "keyage-scan"},
		Rule:     Rule{MaxAccessKeyAge: 90},
		Scan:     Scan{Source: SourceAuto, Concurrency: 16, AccountTimeout: Duration(5 * time.Minute)},
		Remediation: Remediation{Automatic: ptr(true), MaximumAutomaticAttempts: 5, RetryAttemptSeconds: 60,
			TimeoutSeconds: 30},
		Schedule:  Schedule{MaximumExecutionFrequency: "TwentyFour_Hours"},
		Lifecycle: Lifecycle{RecentUseGuard: Duration(24 * time.Hour), DeleteAfterInactive: 7},
		Enforce:   Enforce{MaxActionsPerRun: 10, MaxActionsPerAccount: 10, RoleName: "KeyageEnforceRole", NoticeDays: 7},
		Owners:    Owners{TagKey: "email"},
		State:     State{Retention: Retention{History: 400, Audit: 400, Outbox: 30, ScanAccounts: 30}},
	}
	got := Default()
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(Config{})); diff != "" {
		t.Errorf("Default() mismatch (-want +got):\n%s", diff)
	}
	if err := got.Validate(); err != nil {
		t.Errorf("Default().Validate() = %v, want nil", err)
	}
	parsed, err := Parse(nil, "empty.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got, parsed, cmpopts.IgnoreUnexported(Config{})); diff != "" {
		t.Errorf("Parse(empty) differs from Default() (-want +got):\n%s", diff)
	}
}

// A configuration changed in code (by flags) is validated without lines.
func TestValidateAfterChange(t *testing.T) {
	c, err := Parse([]byte("accounts:\n  organization: true\n"), "keyage.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c.Accounts.IDs = []string{"222222222222"}
	c.Scan.Concurrency = 0
	want := "keyage.yaml:1: accounts.ids: cannot be combined with organization: true; scan the organization or list ids, not both\n" +
		"keyage.yaml: scan.concurrency: 0: must be between 1 and 1024"
	if err := c.Validate(); err == nil || err.Error() != want {
		t.Errorf("Validate() = %v, want %s", err, want)
	}
	d := Default()
	d.Rule.WarnAge = 90
	if err := d.Validate(); err == nil || err.Error() != "rule.warnAge: 90: must be below maxAccessKeyAge (90)" {
		t.Errorf("Default with warnAge 90: Validate() = %v", err)
	}
}

func TestLoad(t *testing.T) {
	c, err := Load(filepath.Join("testdata", "full.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Scan.AccountTimeout.Duration() != 150*time.Second || c.Accounts.OU != "ou-ab12-abcdefgh" {
		t.Errorf("Load(full.yaml) = %+v", c)
	}
	_, err = Load(filepath.Join("testdata", "bad-durations.yaml"))
	if err == nil || !strings.HasPrefix(err.Error(), filepath.Join("testdata", "bad-durations.yaml")+":2: ") {
		t.Errorf("Load(bad-durations.yaml) error = %v, want it to start with the path and line", err)
	}
	_, err = Load(filepath.Join(t.TempDir(), "missing.yaml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) error = %v, want os.ErrNotExist", err)
	}
}

func TestParseDuration(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want time.Duration
		str  string
	}{
		{"0", 0, "0s"},
		{"90s", 90 * time.Second, "1m30s"},
		{"5m", 5 * time.Minute, "5m"},
		{"2h", 2 * time.Hour, "2h"},
		{"1h30m", 90 * time.Minute, "1h30m"},
		{"90d", 90 * day, "90d"},
		{"2w", 2 * week, "2w"},
		{"14d", 2 * week, "2w"},
		{"1d12h", 36 * time.Hour, "1d12h"},
		{"1.5d", 36 * time.Hour, "1d12h"},
		{"1w2d", 9 * day, "9d"},
		{"500ms", 500 * time.Millisecond, "500ms"},
		{" 5m ", 5 * time.Minute, "5m"},
		{"-1h", -time.Hour, "-1h"},
		{"1d0.5s", day + 500*time.Millisecond, "1d500ms"},
		{"1.d", day, "1d"},
		{".5d", 12 * time.Hour, "12h"},
	} {
		got, err := ParseDuration(tt.in)
		if err != nil || got.Duration() != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v, want %v", tt.in, time.Duration(got), err, tt.want)
			continue
		}
		if got.String() != tt.str {
			t.Errorf("ParseDuration(%q).String() = %q, want %q", tt.in, got.String(), tt.str)
		}
	}
	for _, in := range []string{"", "5", "5 minutes", "d", ".d", "5y", "1m5", ".5.5d", "99999999999w", "--1h", "1h-1m", "P1D"} {
		_, err := ParseDuration(in)
		want := `"` + in + `": invalid duration (use e.g. 90s, 5m, 2h, 90d, 2w)`
		if err == nil || err.Error() != want {
			t.Errorf("ParseDuration(%q) error = %v, want %s", in, err, want)
		}
	}
	if got := Duration(36 * time.Hour).Days(); got != 1.5 {
		t.Errorf("Duration(36h).Days() = %v, want 1.5", got)
	}
}

func TestParseAccountIDs(t *testing.T) {
	for _, tt := range []struct {
		in      string
		want    []string
		wantErr string
	}{
		{"111111111111", []string{"111111111111"}, ""},
		{"111111111111,222222222222", []string{"111111111111", "222222222222"}, ""},
		{" 111111111111 , 222222222222,", []string{"111111111111", "222222222222"}, ""},
		{"", nil, "no account ids"},
		{" , ", nil, "no account ids"},
		{"111111111111,12345", nil, `"12345": not a 12-digit AWS account id`},
		{"111111111111,111111111111", nil, `"111111111111": listed twice`},
		{"abc,1", nil, "\"abc\": not a 12-digit AWS account id\n\"1\": not a 12-digit AWS account id"},
	} {
		got, err := ParseAccountIDs(tt.in)
		gotErr := ""
		if err != nil {
			gotErr = err.Error()
		}
		if gotErr != tt.wantErr || !cmp.Equal(got, tt.want) {
			t.Errorf("ParseAccountIDs(%q) = %q, %q, want %q, %q", tt.in, got, gotErr, tt.want, tt.wantErr)
		}
	}
}

func TestParseSource(t *testing.T) {
	for _, s := range Sources {
		if got, err := ParseSource(string(s)); got != s || err != nil {
			t.Errorf("ParseSource(%q) = %q, %v", s, got, err)
		}
	}
	if _, err := ParseSource("API"); err == nil {
		t.Error(`ParseSource("API") succeeded, want an error`)
	}
}

func TestSuggest(t *testing.T) {
	known := []string{"organization", "ou", "ids", "roleName", "externalId", "sessionName"}
	for _, tt := range []struct{ key, want string }{
		{"rolename", "did you mean roleName?"},
		{"role_name", "did you mean roleName?"},
		{"external-id", "did you mean externalId?"},
		{"organisation", "did you mean organization?"},
		{"sesionName", "did you mean sessionName?"},
		{"id", "did you mean ids?"},
		{"accounts", "known keys: externalId, ids, organization, ou, roleName, sessionName"},
	} {
		if got := suggest(tt.key, known); got != tt.want {
			t.Errorf("suggest(%q) = %q, want %q", tt.key, got, tt.want)
		}
	}
}

// The complete example in docs/configuration.md must parse.
func TestDocsExample(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "configuration.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllSubmatch(doc, -1)
	if len(blocks) == 0 {
		t.Fatal("docs/configuration.md has no yaml block")
	}
	for i, b := range blocks {
		if _, err := Parse(b[1], "configuration.md"); err != nil {
			t.Errorf("yaml block %d of docs/configuration.md:\n%v", i+1, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, "fuzz.yaml")
		if err != nil {
			for _, e := range flatten(err) {
				if !strings.HasPrefix(e.Error(), "fuzz.yaml") {
					t.Fatalf("error %q does not name the file", e)
				}
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Parse succeeded but Validate() = %v", err)
		}
	})
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"90d", "2w", "1d12h", "5m", "1.5s", "-3h", "0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err != nil {
			return
		}
		back, err := ParseDuration(d.String())
		if err != nil || back != d {
			t.Fatalf("ParseDuration(%q) = %v; String %q reads back as %v, %v", s, time.Duration(d), d.String(), time.Duration(back), err)
		}
	})
}
