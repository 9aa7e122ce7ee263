// Package cli is keyage's command line: one file per command, each an
// options struct, a newXCmd constructor and a runX function.
package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/pprof"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/keyage/keyage/internal/progress"
)

// IO is what every command writes to and reads from.
type IO struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
	// ErrIsTerminal is true when stderr is a terminal: progress bars are drawn.
	ErrIsTerminal bool
	Logger        *slog.Logger
	// Progress is stderr for logs and progress bars: log lines go above a
	// live bar. Nil means ErrOut, with bars when ErrIsTerminal.
	Progress *progress.Display

	cleanup []func() // run by Main after the command, whatever its outcome
}

// Main runs keyage with args and returns the process exit code.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ios := &IO{In: stdin, Out: stdout, ErrOut: stderr}
	if f, ok := stderr.(*os.File); ok {
		ios.ErrIsTerminal = term.IsTerminal(int(f.Fd()))
	}
	ios.Progress = progress.New(stderr, ios.ErrIsTerminal)
	root := newRootCmd(ios)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	for _, f := range ios.cleanup {
		f()
	}
	if err == nil {
		return ExitOK
	}
	if msg := errorMessage(err); msg != "" {
		fmt.Fprintln(stderr, "keyage:", msg)
	}
	return exitCode(err)
}

// display is where logs and progress bars go.
func (ios *IO) display() *progress.Display {
	if ios.Progress == nil {
		ios.Progress = progress.New(ios.ErrOut, ios.ErrIsTerminal)
	}
	return ios.Progress
}

func newRootCmd(ios *IO) *cobra.Command {
	var logLevel, logFormat, cpuProfile, memProfile string
	root := &cobra.Command{
		Use:   "keyage",
		Short: "Find aged AWS IAM access keys across an organization",
		Example: `  # try it without AWS: a sandbox organization in this process
  keyage demo --once
  # scan every account of the organization
  keyage scan --org
  # scan, notify owners and record remediation executions
  keyage run --config keyage.yaml`,
		Long: `keyage finds IAM users whose active access keys are older than the limit, in
every account of an AWS organization, with the verdicts of the AWS Config rule
access-keys-rotated.

Start with "keyage demo" (no AWS account needed) or "keyage scan --org".

Exit codes (when several apply: 2, then 4, then 1, then 3):
` + exitCodeTable(),
		Version:       currentBuild().String(),
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			logger, err := newLogger(ios.display(), logLevel, logFormat)
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
			if memProfile != "" {
				ios.cleanup = append(ios.cleanup, startMemProfile(memProfile, ios.Logger))
			}
			return nil
		},
	}
	root.SetIn(ios.In)
	root.SetOut(ios.Out)
	root.SetErr(ios.ErrOut)
	root.SetVersionTemplate("{{.Version}}")
	root.PersistentFlags().StringVar(&logLevel, "log-level", "info", "log level on stderr: debug, info, warn or error")
	root.PersistentFlags().StringVar(&logFormat, "log-format", "text", "log format on stderr: text, or json for log shippers")
	root.PersistentFlags().StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile to this file (for development)")
	_ = root.PersistentFlags().MarkHidden("cpuprofile")
	root.PersistentFlags().StringVar(&memProfile, "memprofile", "", "write a heap profile to this file at the largest live heap seen (for development)")
	_ = root.PersistentFlags().MarkHidden("memprofile")
	f := newFactory(ios)
	root.AddCommand(
		newScanCmd(ios, nil),
		newRunCmd(f, nil),
		newRemediateCmd(f, nil),
		newServeCmd(f, nil),
		newExecutionsCmd(ios),
		newStateCmd(ios),
		newReceiversCmd(ios),
		newConfigCmd(ios),
		newEnforceCmd(f, nil),
		newRotateCmd(f, nil),
		newAuditCmd(ios),
		newReportCmd(f, nil),
		newReactivateCmd(ios),
		newDeployCmd(ios),
		newDestroyCmd(ios),
		newIAMPolicyCmd(ios),
		newSandboxCmd(ios),
		newDemoCmd(f),
		newVersionCmd(ios),
		newHealthCmd(ios),
	)
	typeUsageErrors(root)
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
