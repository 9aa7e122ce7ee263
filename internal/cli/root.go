// Package cli is keyage's command line: one file per command, each an
// options struct, a newXCmd constructor and a runX function.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/pprof"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// Exit codes.
const (
	ExitOK           = 0
	ExitAccountError = 1 // an account could not be scanned
	ExitUsage        = 2 // bad flags, arguments or config
	ExitNonCompliant = 3 // --fail-on non-compliant and a user is NON_COMPLIANT
)

// ExitError carries an exit code out of a command. Its message, if any, is
// printed on stderr.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// usageError marks err as a usage or configuration error (exit 2).
func usageError(err error) error { return &ExitError{Code: ExitUsage, Err: err} }

// IO is what every command writes to and reads from.
type IO struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
	// ErrIsTerminal is true when stderr is a terminal: progress bars are drawn.
	ErrIsTerminal bool
	Logger        *slog.Logger

	cleanup []func() // run by Main after the command, whatever its outcome
}

// Main runs keyage with args and returns the process exit code.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ios := &IO{In: stdin, Out: stdout, ErrOut: stderr}
	if f, ok := stderr.(*os.File); ok {
		ios.ErrIsTerminal = term.IsTerminal(int(f.Fd()))
	}
	root := newRootCmd(ios)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	for _, f := range ios.cleanup {
		f()
	}
	if err == nil {
		return ExitOK
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		if ee.Err != nil {
			fmt.Fprintln(stderr, "keyage:", ee.Err)
		}
		return ee.Code
	}
	fmt.Fprintln(stderr, "keyage:", err)
	if isUsage(err) {
		return ExitUsage
	}
	return ExitAccountError
}

// isUsage recognises cobra's own argument and command errors.
func isUsage(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "accepts ", "requires ", "invalid argument", "flag needs an argument", "required flag"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

func newRootCmd(ios *IO) *cobra.Command {
	var logLevel, logFormat, cpuProfile string
	root := &cobra.Command{
		Use:   "keyage",
		Short: "Find aged AWS IAM access keys across an organization",
		Long: `keyage finds IAM users whose active access keys are older than the limit, in
every account of an AWS organization, with the verdicts of the AWS Config rule
access-keys-rotated.

Start with "keyage demo" (no AWS account needed) or "keyage scan --org".`,
		Version:       currentBuild().String(),
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			logger, err := newLogger(ios.ErrOut, logLevel, logFormat)
			if err != nil {
				return err
			}
			ios.Logger = logger
			if cpuProfile != "" {
				stop, err := startCPUProfile(cpuProfile)
				if err != nil {
					return err
				}
				ios.cleanup = append(ios.cleanup, stop)
			}
			return nil
		},
	}
	root.SetIn(ios.In)
	root.SetOut(ios.Out)
	root.SetErr(ios.ErrOut)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError(err) })
	root.SetVersionTemplate("{{.Version}}")
	root.PersistentFlags().StringVar(&logLevel, "log-level", "info", "log level on stderr: debug, info, warn or error")
	root.PersistentFlags().StringVar(&logFormat, "log-format", "text", "log format on stderr: text, or json for log shippers")
	root.PersistentFlags().StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile to this file (for development)")
	_ = root.PersistentFlags().MarkHidden("cpuprofile")
	root.AddCommand(
		newScanCmd(ios),
		newRunCmd(ios),
		newRemediateCmd(ios),
		newServeCmd(ios),
		newExecutionsCmd(ios),
		newReceiversCmd(ios),
		newEnforceCmd(ios),
		newAuditCmd(ios),
		newReactivateCmd(ios),
		newDeployCmd(ios),
		newDestroyCmd(ios),
		newIAMPolicyCmd(ios),
		newSandboxCmd(ios),
		newDemoCmd(ios),
		newVersionCmd(ios),
		newHealthCmd(ios),
	)
	return root
}

// startCPUProfile profiles the process into path until the returned function
// is called.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("create CPU profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("start CPU profile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// asExit reports whether err is an *ExitError, setting *target.
func asExit(err error, target **ExitError) bool { return errors.As(err, target) }
