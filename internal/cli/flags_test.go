package cli

import (
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/keyage/keyage/internal/config"
	"github.com/keyage/keyage/internal/rule"
)

// scanCommands are the commands that take the scan flags, each built with a
// runF that captures its scan options instead of running.
var scanCommands = []struct {
	name  string
	build func(ios *IO, got **scanOptions) *cobra.Command
}{
	{"scan", func(ios *IO, got **scanOptions) *cobra.Command {
		return newScanCmd(ios, func(o *scanOptions) error { *got = o; return nil })
	}},
	{"run", func(ios *IO, got **scanOptions) *cobra.Command {
		return newRunCmd(newFactory(ios), func(o *runOptions) error { *got = &o.scan; return nil })
	}},
	{"serve", func(ios *IO, got **scanOptions) *cobra.Command {
		return newServeCmd(newFactory(ios), func(o *serveOptions) error { *got = &o.scan; return nil })
	}},
	{"enforce", func(ios *IO, got **scanOptions) *cobra.Command {
		return newEnforceCmd(newFactory(ios), func(o *enforceOptions) error { *got = &o.scan; return nil })
	}},
	{"remediate", func(ios *IO, got **scanOptions) *cobra.Command {
		return newRemediateCmd(newFactory(ios), func(o *remediateOptions) error { *got = &o.scan; return nil })
	}},
}

// parseScanFlags runs the command with args (flags parsed, arguments
// validated, nothing run) and resolves its scan options.
func parseScanFlags(t *testing.T, build func(*IO, **scanOptions) *cobra.Command, args []string) (*scanJob, error) {
	t.Helper()
	var got *scanOptions
	cmd := build(&IO{Out: io.Discard, ErrOut: io.Discard}, &got)
	cmd.SetArgs(args)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	if err := cmd.Execute(); err != nil {
		t.Fatalf("%s %s: %v", cmd.Name(), strings.Join(args, " "), err)
	}
	return resolveScan(got, cmd.Flags().Changed)
}

// TestFlagsOverConfig: for every command with scan flags and every scan flag
// written into the config, a value in the config alone applies, a flag alone
// applies, a flag wins over the config, and with neither the config's
// default applies.
func TestFlagsOverConfig(t *testing.T) {
	for _, tt := range []struct {
		flag     string // the flag's arguments
		yaml     string // the config's value, as a document
		get      func(*scanJob) any
		fromFlag any
		fromYAML any
		none     any // the default
	}{
		{"--concurrency=8", "scan: {concurrency: 4}", func(j *scanJob) any { return j.scan.Concurrency }, 8, 4, 16},
		{"--account-timeout=1m", "scan: {accountTimeout: 10m}", func(j *scanJob) any { return j.scan.AccountTimeout }, time.Minute, 10 * time.Minute, 5 * time.Minute},
		{"--source=api", "scan: {source: credential-report}", func(j *scanJob) any { return string(j.scan.Source) }, "api", "credential-report", "auto"},
		{"--with-tags=false", "scan: {withTags: true}", func(j *scanJob) any { return j.scan.WithTags }, false, true, false},
		{"--region=eu-west-1", "scan: {region: us-west-2}", func(j *scanJob) any { return j.env.Region }, "eu-west-1", "us-west-2", ""},
		{"--endpoint-url=http://127.0.0.1:1", "scan: {endpointUrl: 'http://127.0.0.1:2'}", func(j *scanJob) any { return j.env.EndpointURL }, "http://127.0.0.1:1", "http://127.0.0.1:2", ""},
		{"--max-age=120", "rule: {maxAccessKeyAge: 60}", func(j *scanJob) any { return j.scan.Policy.MaxAge / rule.Day }, time.Duration(120), time.Duration(60), time.Duration(90)},
		{"--warn-age=70", "rule: {warnAge: 80}", func(j *scanJob) any { return j.scan.Policy.WarnAge / rule.Day }, time.Duration(70), time.Duration(80), time.Duration(0)},
		{"--deactivate-age=200", "lifecycle: {deactivateAge: 100}", func(j *scanJob) any { return j.cfg.Lifecycle.DeactivateAge }, config.Days(200), config.Days(100), config.Days(0)},
		{"--delete-age=300", "lifecycle: {deleteAge: 200}", func(j *scanJob) any { return j.cfg.Lifecycle.DeleteAge }, config.Days(300), config.Days(200), config.Days(0)},
		{"--unused-age=45", "lifecycle: {unusedAge: 30}", func(j *scanJob) any { return j.cfg.Lifecycle.UnusedAge }, config.Days(45), config.Days(30), config.Days(0)},
		{"--never-used-age=14", "lifecycle: {neverUsedAge: 7}", func(j *scanJob) any { return j.cfg.Lifecycle.NeverUsedAge }, config.Days(14), config.Days(7), config.Days(0)},
		{"--role-name=FlagRole", "accounts: {roleName: FileRole}", func(j *scanJob) any { return j.assume.RoleName }, "FlagRole", "FileRole", "KeyageAuditRole"},
		{"--external-id=flag-id", "accounts: {externalId: file-id}", func(j *scanJob) any { return j.assume.ExternalID }, "flag-id", "file-id", ""},
		{"--accounts=111111111111", "accounts: {ids: ['222222222222']}", func(j *scanJob) any { return j.selection.IDs }, []string{"111111111111"}, []string{"222222222222"}, []string(nil)},
		{"--org=false", "accounts: {organization: true}", func(j *scanJob) any { return j.selection.Organization }, false, true, false},
		{"--ou=r-ab12", "accounts: {organization: true, ou: ou-ab12-abcdefgh}", func(j *scanJob) any { return j.selection.OU }, "r-ab12", "ou-ab12-abcdefgh", ""},
	} {
		name := strings.TrimPrefix(strings.SplitN(tt.flag, "=", 2)[0], "--")
		for _, c := range scanCommands {
			for _, k := range []struct {
				name       string
				yaml, flag bool
				want       any
			}{
				{"config alone", true, false, tt.fromYAML},
				{"flag alone", false, true, tt.fromFlag},
				{"both: the flag wins", true, true, tt.fromFlag},
				{"neither: the default", false, false, tt.none},
			} {
				t.Run(c.name+"/"+name+"/"+k.name, func(t *testing.T) {
					doc := ""
					if k.yaml {
						doc = tt.yaml + "\n"
					}
					args := []string{"--config", writeConfig(t, doc)}
					if k.flag {
						args = append(args, tt.flag)
					}
					job, err := parseScanFlags(t, c.build, args)
					if err != nil {
						t.Fatalf("keyage %s %s: %v", c.name, strings.Join(args, " "), err)
					}
					if got := tt.get(job); !cmp.Equal(got, k.want) {
						t.Errorf("keyage %s %s (config %q): %s = %v, want %v", c.name, strings.Join(args[2:], " "), doc, name, got, k.want)
					}
				})
			}
		}
	}
}

// TestScanFlagsInConfig: every scan flag the commands declare is either
// written into the config or listed here as one that is not configuration.
func TestScanFlagsInConfig(t *testing.T) {
	notConfig := []string{"config", "output", "all", "fail-on", "profile"}
	for _, c := range scanCommands {
		var got *scanOptions
		cmd := c.build(&IO{}, &got)
		probe := &cobra.Command{}
		addScanFlags(probe, &scanOptions{})
		probe.Flags().VisitAll(func(f *pflag.Flag) {
			if cmd.Flags().Lookup(f.Name) == nil {
				t.Errorf("keyage %s lacks the scan flag --%s", c.name, f.Name)
			}
			inTable := slices.ContainsFunc(scanConfigFlags, func(cf configFlag) bool { return cf.name == f.Name })
			if inTable == slices.Contains(notConfig, f.Name) {
				t.Errorf("--%s: in scanConfigFlags %v, listed as not configuration %v", f.Name, inTable, !inTable)
			}
		})
	}
}

// TestCodeSetAWSOptions: options set in code (the demo) rather than parsed
// from flags apply when not empty, over the config.
func TestCodeSetAWSOptions(t *testing.T) {
	cfg := writeConfig(t, "scan: {region: us-west-2, endpointUrl: 'http://127.0.0.1:2'}\n")
	for _, tt := range []struct {
		name                 string
		o                    scanOptions
		wantRegion, wantEndp string
	}{
		{"set in code", scanOptions{configPath: cfg, output: "table", region: "eu-west-1", endpointURL: "http://127.0.0.1:1"}, "eu-west-1", "http://127.0.0.1:1"},
		{"not set", scanOptions{configPath: cfg, output: "table"}, "us-west-2", "http://127.0.0.1:2"},
		{"no config file (demo)", scanOptions{output: "table", region: "eu-west-1", endpointURL: "http://127.0.0.1:1"}, "eu-west-1", "http://127.0.0.1:1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			job, err := resolveScan(&tt.o, func(string) bool { return false })
			if err != nil {
				t.Fatal(err)
			}
			if job.env.Region != tt.wantRegion || job.env.EndpointURL != tt.wantEndp {
				t.Errorf("region, endpoint = %q, %q; want %q, %q", job.env.Region, job.env.EndpointURL, tt.wantRegion, tt.wantEndp)
			}
		})
	}
}

// TestFlagErrorsNameTheFlag: a flag's value is checked with the config's
// rule, and the problem names the flag; a value from the file that a flag
// makes invalid keeps its file, line and YAML path. All problems at once.
func TestFlagErrorsNameTheFlag(t *testing.T) {
	for _, tt := range []struct {
		name   string
		config string
		args   []string
		want   []string
		not    []string
	}{
		{"concurrency", "", []string{"--concurrency", "0"}, []string{"--concurrency: 0: must be between 1 and 1024"}, []string{"scan.concurrency"}},
		{"max age", "", []string{"--max-age", "0"}, []string{"--max-age: 0: must be between 1 and 3650 days"}, nil},
		{"warn over max", "", []string{"--warn-age", "95"}, []string{"--warn-age: 95: must be below maxAccessKeyAge (90)"}, nil},
		{"account id", "", []string{"--accounts", "12345"}, []string{`--accounts: "12345": not a 12-digit AWS account id`}, nil},
		{"account ids", "", []string{"--accounts", "1,111111111111,2"}, []string{`--accounts: "1": not a 12-digit`, `--accounts: "2": not a 12-digit`}, nil},
		{"ou id", "", []string{"--ou", "ou-x"}, []string{`--ou: "ou-x": not an OU id (ou-ab12-abcdefgh) or root id (r-ab12)`}, nil},
		{"accounts and org", "", []string{"--accounts", "111111111111", "--org"}, []string{"--accounts: cannot be combined with organization: true"}, nil},
		{"unparsable duration, reported once", "", []string{"--account-timeout", "soon"}, []string{`--account-timeout: "soon"`}, []string{"must be at least 1s"}},
		{"source", "", []string{"--source", "s3"}, []string{`--source: "s3": unknown source`}, nil},
		{"region", "", []string{"--region", "Mars"}, []string{`--region: "Mars": not an AWS region name`}, nil},
		{"endpoint", "", []string{"--endpoint-url", "ftp://127.0.0.1"}, []string{"--endpoint-url: \"ftp://127.0.0.1\": want an http or https URL"}, nil},
		{"role name", "", []string{"--role-name", "arn:aws:iam::1:role/x"}, []string{"--role-name: \"arn:aws:iam::1:role/x\": a role name, not an ARN"}, nil},
		{"file value a flag makes invalid", "rule:\n  warnAge: 80\n", []string{"--max-age", "50"}, []string{"keyage.yaml:2: rule.warnAge: 80: must be below maxAccessKeyAge (50)"}, []string{"--max-age:"}},
		{"flag and file value in one rule", "lifecycle:\n  deactivateAge: 100\n", []string{"--delete-age", "95"}, []string{"--delete-age: 95: must be above deactivateAge (100)"}, nil},
		{"all at once", "", []string{"--concurrency", "2000", "--warn-age", "-1", "--fail-on", "stale"}, []string{
			"--concurrency: 2000: must be between 1 and 1024", "--warn-age: -1: must not be negative", `--fail-on "stale": "stale" is not one of non-compliant, warning, root-keys, any`}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"scan", "--config", writeConfig(t, tt.config)}, tt.args...)
			code, _, stderr := runCLI(t, args...)
			if code != ExitUsage {
				t.Errorf("keyage %s: exit %d, want %d", strings.Join(tt.args, " "), code, ExitUsage)
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("keyage %s: stderr lacks %q:\n%s", strings.Join(tt.args, " "), w, stderr)
				}
			}
			for _, n := range tt.not {
				if strings.Contains(stderr, n) {
					t.Errorf("keyage %s: stderr has %q:\n%s", strings.Join(tt.args, " "), n, stderr)
				}
			}
		})
	}
}

// TestOutputFlag: -o accepts only the formats the command offers, as a usage
// error when flags are parsed.
func TestOutputFlag(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"scan", "-o", "xml"}, `invalid argument "xml" for "-o, --output" flag: want table, json, csv, asff or ocsf`},
		{[]string{"executions", "-o", "xml"}, `invalid argument "xml" for "-o, --output" flag: want table, json or csv`},
		{[]string{"audit", "--output", "xml"}, `invalid argument "xml" for "-o, --output" flag: want table, json or csv`},
		{[]string{"demo", "-o", "yaml"}, `invalid argument "yaml" for "-o, --output" flag: want table, json or csv`},
		{[]string{"deploy", "status", "-o", "yaml"}, `invalid argument "yaml" for "-o, --output" flag: want table, json or csv`},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, _, stderr := runCLI(t, tt.args...)
			if code != ExitUsage || !strings.Contains(stderr, tt.want) {
				t.Errorf("keyage %s: exit %d, want %d with %q; stderr:\n%s", strings.Join(tt.args, " "), code, ExitUsage, tt.want, stderr)
			}
		})
	}
}
