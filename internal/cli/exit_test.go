package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/keyage/keyage/internal/awsenv"
	"github.com/keyage/keyage/internal/scan"
)

func TestExitCode(t *testing.T) {
	usage := usageError(errors.New("--concurrency: 0: must be between 1 and 1024"))
	partial := &ExitError{Code: ExitAccountError}
	found := &ExitError{Code: ExitNonCompliant}
	for _, tt := range []struct {
		name string
		err  error
		want int
	}{
		{"success", nil, ExitOK},
		{"usage error", usage, ExitUsage},
		{"wrapped usage error", fmt.Errorf("resolve scan: %w", usage), ExitUsage},
		{"an account not scanned", partial, ExitAccountError},
		{"fail-on matched", found, ExitNonCompliant},
		{"untyped error", errors.New("load AWS configuration: no credentials"), ExitAccountError},
		{"usage wins over a failed account", errors.Join(partial, usage), ExitUsage},
		{"a failed account wins over fail-on", errors.Join(found, partial), ExitAccountError},
		{"an exit code outside the table", &ExitError{Code: 5}, 5},
		{"credentials rejected", fmt.Errorf("assemble: %w", &awsenv.CallerError{Err: errors.New("InvalidClientTokenId")}), ExitNothingDone},
		{"organization listing denied", &scan.ListError{Err: errors.New("AccessDeniedException")}, ExitNothingDone},
		{"unknown profile", &awsenv.ProfileError{Profile: "nosuch", Err: errors.New("not found")}, ExitUsage},
		{"usage wins over nothing done", errors.Join(&ExitError{Code: ExitNothingDone}, usage), ExitUsage},
		{"nothing done wins over a failed account", errors.Join(partial, &ExitError{Code: ExitNothingDone}), ExitNothingDone},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := exitCode(tt.err); got != tt.want {
				t.Errorf("exitCode(%v) = %d, want %d", tt.err, got, tt.want)
			}
		})
	}
}

// TestUsageErrorsAreTyped: every usage error cobra detects reaches Main as a
// *UsageError, whatever its words.
func TestUsageErrorsAreTyped(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
		want string // in the message
	}{
		{"unknown command", []string{"scna"}, `unknown command "scna" for "keyage"; did you mean "scan"?`},
		{"unknown subcommand of a group", []string{"deploy", "mastr"}, `unknown command "mastr" for "keyage deploy"`},
		{"unknown subcommand of receivers", []string{"receivers", "tset"}, `unknown command "tset" for "keyage receivers"`},
		{"unknown flag", []string{"scan", "--max-agee", "3"}, "unknown flag: --max-agee"},
		{"unknown shorthand flag", []string{"scan", "-x"}, "unknown shorthand flag: 'x' in -x"},
		{"flag without its value", []string{"scan", "--max-age"}, "flag needs an argument: --max-age"},
		{"flag value of the wrong type", []string{"scan", "--max-age", "ninety"}, `invalid argument "ninety" for "--max-age" flag`},
		{"argument to a command without arguments", []string{"scan", "prod"}, `unknown command "prod" for "keyage scan"`},
		{"missing argument", []string{"iam-policy"}, "accepts 1 arg(s), received 0"},
		{"too many arguments", []string{"iam-policy", "scanner", "deployer"}, "accepts 1 arg(s), received 2"},
		{"global flag value", []string{"version", "--log-level", "loud"}, `--log-level "loud"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			root := newRootCmd(&IO{Out: &out, ErrOut: &errOut})
			root.SetArgs(tt.args)
			err := root.ExecuteContext(context.Background())
			var ue *UsageError
			if !errors.As(err, &ue) {
				t.Fatalf("keyage %s: error %v (%T), want a *UsageError", strings.Join(tt.args, " "), err, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("keyage %s: error %q, want it to say %q", strings.Join(tt.args, " "), err, tt.want)
			}
			if code, _, _ := runCLI(t, tt.args...); code != ExitUsage {
				t.Errorf("keyage %s: exit %d, want %d", strings.Join(tt.args, " "), code, ExitUsage)
			}
		})
	}
}

// TestCommandGroupHelp: a command group without a subcommand prints its help
// and succeeds, as before.
func TestCommandGroupHelp(t *testing.T) {
	for _, args := range [][]string{{}, {"deploy"}, {"destroy"}, {"receivers"}} {
		code, out, stderr := runCLI(t, args...)
		if code != ExitOK || !strings.Contains(out, "Available Commands:") {
			t.Errorf("keyage %s: exit %d, want help and 0; stdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, stderr)
		}
	}
}

// TestExitCodesByFailure: every command that reaches AWS exits with the code
// of the failure kind, over the sandbox: 2 for an unknown profile, 4 when
// nothing could be done.
func TestExitCodesByFailure(t *testing.T) {
	for _, fail := range []struct {
		name  string
		setup func(t *testing.T) // after sandboxEnv
		args  []string           // added to the command's
		want  int
		slow  bool // ten attempts with backoff: scan and run only (two ways to awsenv)
	}{
		{"unknown profile", func(*testing.T) {}, []string{"--profile", "nosuch"}, ExitUsage, false},
		{"credentials rejected", func(t *testing.T) { t.Setenv("AWS_SECRET_ACCESS_KEY", "wrong") }, nil, ExitNothingDone, false},
		{"endpoint unreachable", func(t *testing.T) { t.Setenv("AWS_ENDPOINT_URL", unreachableURL(t)) }, nil, ExitNothingDone, true},
		{"organization listing denied", memberCredentials, []string{"--org"}, ExitNothingDone, false},
		{"OU does not exist", func(*testing.T) {}, []string{"--org", "--ou", "ou-zzzz-nosuchou"}, ExitNothingDone, false},
	} {
		for _, cmd := range []string{"scan", "run", "enforce", "remediate"} {
			t.Run(fail.name+"/"+cmd, func(t *testing.T) {
				if fail.slow && cmd != "scan" && cmd != "run" {
					t.Skip("the same awsenv path as scan and run; ten attempts take seconds")
				}
				sandboxEnvWith(t, "testdata/hub-org.yaml")
				fail.setup(t)
				args := []string{cmd, "--log-level", "error"}
				switch cmd {
				case "run":
					args = append(args, "--state", filepath.Join(t.TempDir(), "keyage.db"))
				case "enforce":
					args = append(args, "--state", filepath.Join(t.TempDir(), "keyage.db"), "--deactivate-age", "100")
				case "remediate":
					args = append(args, "--state", filepath.Join(t.TempDir(), "keyage.db"), "--account", "222222222222", "--resource-id", "AIDANOSUCHUSER000000")
					if !slices.Contains(fail.args, "--org") {
						args = append(args, "--accounts", "222222222222") // the scope
					}
				}
				args = append(args, fail.args...)
				code, out, stderr := runCLI(t, args...)
				if code != fail.want {
					t.Errorf("keyage %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, fail.want, out, stderr)
				}
			})
		}
	}
}

// TestRemediateUnknownResource: a resourceId that AWS Config, IAM and the
// state do not know is said so, and exits 4.
func TestRemediateUnknownResource(t *testing.T) {
	sandboxEnvWith(t, "testdata/hub-org.yaml")
	state := filepath.Join(t.TempDir(), "keyage.db")
	code, out, stderr := runCLI(t, "remediate", "--state", state, "--accounts", "222222222222", "--account", "222222222222", "--resource-id", "AIDANOSUCHUSER000000", "--log-level", "error")
	if code != ExitNothingDone || out != "" || !strings.Contains(stderr, "AIDANOSUCHUSER000000 in 222222222222: no such resource") {
		t.Errorf("remediate an unknown resourceId: exit %d, want %d and a message saying so\nstdout:\n%s\nstderr:\n%s", code, ExitNothingDone, out, stderr)
	}
}

// TestHelpListsExitCodes: keyage --help prints the exit-code table.
func TestHelpListsExitCodes(t *testing.T) {
	code, out, _ := runCLI(t, "--help")
	for _, want := range []string{"  0  done", "  1  partial", "  2  usage or configuration error", "  3  a check found", "  4  nothing could be done"} {
		if code != ExitOK || !strings.Contains(out, want) {
			t.Errorf("keyage --help: exit %d, want the exit-code line %q in:\n%s", code, want, out)
		}
	}
}

// unreachableURL is a loopback URL nothing listens on.
func unreachableURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

// memberCredentials switches the environment to the audit role's
// credentials in a member account, which may not list the organization.
func memberCredentials(t *testing.T) {
	t.Helper()
	cfg, err := assume(sdk(t), "222222222222")
	if err != nil {
		t.Fatal(err)
	}
	c, err := cfg.Credentials.Retrieve(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", c.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", c.SecretAccessKey)
	t.Setenv("AWS_SESSION_TOKEN", c.SessionToken)
}

// TestREADMEExitCodes: the README's exit-code table is the one in exit.go.
func TestREADMEExitCodes(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(exitCodeTable()), "\n") {
		code, meaning, _ := strings.Cut(strings.TrimSpace(line), "  ")
		row := fmt.Sprintf("| %s | %s |", code, meaning)
		if !strings.Contains(string(readme), row) {
			t.Errorf("README.md: no exit-code row %q", row)
		}
	}
}

// TestFailOn: --fail-on takes a comma list; exit 3 when the scan has any of
// it, and 1 still wins.
func TestFailOn(t *testing.T) {
	sandboxEnv(t)
	for _, tt := range []struct {
		name   string
		failOn string
		args   []string
		want   int
	}{
		{"non-compliant found", "non-compliant", []string{"--accounts", "222222222222"}, ExitNonCompliant},
		{"root keys found", "root-keys", []string{"--accounts", "222222222222"}, ExitNonCompliant},
		{"no root keys", "root-keys", []string{"--accounts", "111111111111"}, ExitOK},
		{"no warning stage configured", "warning", []string{"--accounts", "222222222222"}, ExitOK},
		{"warning found", "warning", []string{"--accounts", "222222222222", "--warn-age", "80"}, ExitNonCompliant},
		{"a list", "warning, root-keys", []string{"--accounts", "222222222222"}, ExitNonCompliant},
		{"any", "any", []string{"--accounts", "222222222222"}, ExitNonCompliant},
		{"any, nothing found", "any", []string{"--accounts", "111111111111"}, ExitOK},
		{"a failed account wins", "any", []string{"--org"}, ExitAccountError},
		{"unknown value", "non-compliant,stale", []string{"--accounts", "222222222222"}, ExitUsage},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"scan", "--fail-on", tt.failOn, "--log-level", "error"}, tt.args...)
			if code, _, stderr := runCLI(t, args...); code != tt.want {
				t.Errorf("keyage %s: exit %d, want %d\n%s", strings.Join(args, " "), code, tt.want, stderr)
			}
		})
	}
}
