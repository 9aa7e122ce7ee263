package cli

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/keyage/keyage/internal/awsenv"
	"github.com/keyage/keyage/internal/scan"
	"github.com/keyage/keyage/internal/store"
)

// Exit codes. exitCodes maps errors to them.
const (
	ExitOK           = 0
	ExitAccountError = 1 // partial: an account or a delivery failed, the rest was done
	ExitUsage        = 2 // bad flags, arguments or config
	ExitNonCompliant = 3 // a check found what it looks for (--fail-on matched)
	ExitNothingDone  = 4 // nothing could be done
	// ExitState: the state file is corrupt or of a newer keyage; it was not
	// changed. One of the ways nothing could be done.
	ExitState = ExitNothingDone
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

// UsageError is a usage or configuration error: an unknown command or flag, a
// bad argument or flag value, a configuration that does not validate. Every
// such error is made one where it is detected (cobra's flag parsing, argument
// validators and command lookup included), never recognised by its words.
type UsageError struct {
	Err error
}

func (e *UsageError) Error() string { return e.Err.Error() }

func (e *UsageError) Unwrap() error { return e.Err }

// usageError marks err as a usage or configuration error (exit 2).
func usageError(err error) error { return &UsageError{Err: err} }

// Meanings of the exit codes, one per code, for the table in --help and the
// README.
const (
	meaningOK          = "done"
	meaningPartial     = "partial: some accounts or deliveries failed, the rest was done"
	meaningUsage       = "usage or configuration error (flags, arguments, config file, unknown AWS profile, a --state that does not exist for a command that only reads it)"
	meaningFound       = "a check found what it looks for (--fail-on matched)"
	meaningNothingDone = "nothing could be done (credentials rejected, endpoint unreachable, organization listing denied or failed, state file corrupt or from a newer keyage (not changed), the one resource asked for does not exist)"
)

// exitCodes is the one table from errors to exit codes. The first row that
// matches an error, or any error joined or wrapped in it, decides: a usage
// error wins over everything, then nothing done, then partial (an account
// that could not be scanned, a delivery that failed), then a check that
// found something. An ExitError with a code not in the table exits with its
// code; an error of no kind at all exits 1.
var exitCodes = []struct {
	code    int
	meaning string // for the table of exit codes in the docs and --help
	match   func(error) bool
}{
	{ExitUsage, meaningUsage, func(err error) bool { var u *UsageError; return errors.As(err, &u) }},
	{ExitUsage, meaningUsage, func(err error) bool { var p *awsenv.ProfileError; return errors.As(err, &p) }},
	{ExitUsage, meaningUsage, exitCodeIs(ExitUsage)},
	{ExitUsage, meaningUsage, func(err error) bool { return errors.Is(err, store.ErrNoState) }},
	{ExitNothingDone, meaningNothingDone, func(err error) bool { var c *awsenv.CallerError; return errors.As(err, &c) }},
	{ExitNothingDone, meaningNothingDone, func(err error) bool { var l *scan.ListError; return errors.As(err, &l) }},
	{ExitNothingDone, meaningNothingDone, func(err error) bool {
		return errors.Is(err, store.ErrCorrupt) || errors.Is(err, store.ErrNewerSchema)
	}},
	{ExitNothingDone, meaningNothingDone, exitCodeIs(ExitNothingDone)},
	{ExitAccountError, meaningPartial, exitCodeIs(ExitAccountError)},
	{ExitNonCompliant, meaningFound, exitCodeIs(ExitNonCompliant)},
}

// exitCodeTable is the table of exit codes, one line per code in order, as
// printed by keyage --help.
func exitCodeTable() string {
	meanings := map[int]string{ExitOK: meaningOK}
	codes := []int{ExitOK}
	for _, row := range exitCodes {
		if _, ok := meanings[row.code]; !ok {
			meanings[row.code] = row.meaning
			codes = append(codes, row.code)
		}
	}
	slices.Sort(codes)
	var b strings.Builder
	for _, c := range codes {
		fmt.Fprintf(&b, "  %d  %s\n", c, meanings[c])
	}
	return b.String()
}

func exitCodeIs(code int) func(error) bool {
	return func(err error) bool { var e *ExitError; return errors.As(err, &e) && e.Code == code }
}

// exitCode is the process exit code for the outcome of a command.
func exitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	for _, row := range exitCodes {
		if anyError(err, row.match) {
			return row.code
		}
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return ExitAccountError
}

// anyError reports whether match holds for err or for any error in its tree
// (errors.Join and wrapping followed).
func anyError(err error, match func(error) bool) bool {
	if err == nil {
		return false
	}
	if match(err) {
		return true
	}
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		return anyError(u.Unwrap(), match)
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			if anyError(e, match) {
				return true
			}
		}
	}
	return false
}

// errorMessage is what Main prints for err: nothing for an ExitError without
// a message (the command has said what happened).
func errorMessage(err error) string {
	var ee *ExitError
	if errors.As(err, &ee) && ee.Err == nil && err == error(ee) {
		return ""
	}
	return err.Error()
}

// typeUsageErrors makes every usage error cobra itself detects in the tree
// under root a *UsageError at its source: flag parsing (SetFlagErrorFunc),
// each command's argument validator, required and grouped flags, and unknown
// commands, including an unknown subcommand of a command group, which cobra
// would otherwise answer with the group's help and exit 0.
func typeUsageErrors(root *cobra.Command) {
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError(err) })
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		switch {
		case c.HasSubCommands() && !c.Runnable():
			c.Args = cobra.ArbitraryArgs
			c.RunE = unknownCommand
		case c.Args != nil:
			args := c.Args
			c.Args = func(cmd *cobra.Command, a []string) error {
				if err := args(cmd, a); err != nil {
					return usageError(err)
				}
				return nil
			}
		}
		preRunE, preRun := c.PreRunE, c.PreRun
		c.PreRunE = func(cmd *cobra.Command, a []string) error {
			// cobra checks these after PreRunE and returns its errors as they are.
			if err := cmd.ValidateRequiredFlags(); err != nil {
				return usageError(err)
			}
			if err := cmd.ValidateFlagGroups(); err != nil {
				return usageError(err)
			}
			switch {
			case preRunE != nil:
				return preRunE(cmd, a)
			case preRun != nil:
				preRun(cmd, a)
			}
			return nil
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// unknownCommand runs a command group: its help without arguments, a usage
// error naming the unknown command with them.
func unknownCommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return cmd.Help()
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2 // cobra's default, which SuggestionsFor does not apply
	}
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += fmt.Sprintf("; did you mean %q?", s[0])
	}
	return usageError(errors.New(msg))
}

// asExit reports whether err is an *ExitError, setting *target.
func asExit(err error, target **ExitError) bool { return errors.As(err, target) }
