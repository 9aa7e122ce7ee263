package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
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
		{"an exit code outside the table", &ExitError{Code: 4}, 4},
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
		{"missing argument", []string{"receivers", "test"}, "accepts 1 arg(s), received 0"},
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
