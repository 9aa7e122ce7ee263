package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/keyage/keyage/internal/cycle"
	"github.com/keyage/keyage/internal/notify"
	"github.com/keyage/keyage/internal/output"
	"github.com/keyage/keyage/internal/remediate"
	"github.com/keyage/keyage/internal/scan"
	"github.com/keyage/keyage/internal/store"
)

const defaultStatePath = "keyage.db"

type runOptions struct {
	scan        scanOptions
	statePath   string
	dryRun      bool
	retryFailed bool
	enforce     bool
	auditLog    string
}

// newRunCmd builds the command; runF, when not nil, replaces runRun
// (tests of flag parsing).
func newRunCmd(f *Factory, runF func(*runOptions) error) *cobra.Command {
	o := &runOptions{}
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run one full cycle: scan, evaluate, remediate, notify, record",
		Long: `Run scans like "keyage scan", records the evaluations in the state database,
and remediates every NON_COMPLIANT user as AWS Config's automatic remediation
does: a remediation execution per user, and notifications to the receivers
that the config's routes select (by default the seed's message, once per
user). Notifications go through an outbox in the state database and are
delivered at least once, with retries; what is already notified is not sent
again until its repeat interval passes or its stage changes.

--dry-run prints the plan (which messages to whom) and changes nothing.`,
		Example: `  keyage run --config keyage.yaml --state keyage.db
  keyage run --dry-run
  keyage run --retry-failed
  keyage run -o json | jq .messages            # schema in docs/run-json.md`,
		Args: cobra.NoArgs,
		RunE: runE(f, o, runF, runRun),
	}
	addScanFlags(cmd, &o.scan)
	addFailOnFlag(cmd, &o.scan)
	offerOutput(cmd, false, output.Table, output.JSON)
	addStateFlag(cmd.Flags(), &o.statePath)
	cmd.Flags().BoolVar(&o.dryRun, "dry-run", false, "print what would be sent; send and record nothing")
	cmd.Flags().BoolVar(&o.retryFailed, "retry-failed", false, "retry notifications that failed for good in earlier runs")
	cmd.Flags().BoolVar(&o.enforce, "enforce", false, "also run keyage enforce after remediation (it acts only with enforce.apply: true)")
	cmd.Flags().StringVar(&o.auditLog, "audit-log", "", "with --enforce: append audit records to this file as JSON lines")
	return cmd
}

func runRun(ctx context.Context, f *Factory, o *runOptions, changed func(string) bool) error {
	job, err := f.Config(&o.scan, changed)
	if err != nil {
		return err
	}
	st, err := openRunStore(ctx, f, o.statePath, o.dryRun)
	if err != nil {
		return err
	}
	if st != nil {
		defer st.Close()
	}
	co := cycle.Options{Store: st, DryRun: o.dryRun, Deliver: true, RetryFailed: o.retryFailed}
	co.Progress, co.AfterScan = f.progressBar()
	if job.format == output.Table {
		co.Recorded = func(rep *cycle.Report) error {
			fmt.Fprintln(f.IO.Out, output.SummaryLine(rep.Result))
			return nil
		}
	}
	// Enforcement follows remediation, which a non-automatic config leaves
	// to keyage remediate.
	if o.enforce && job.cfg.Remediation.IsAutomatic() {
		audit, closeAudit, err := openAuditLog(o.auditLog)
		if err != nil {
			return err
		}
		defer closeAudit()
		co.Enforce = &cycle.EnforceOptions{Apply: job.cfg.Enforce.Apply, AuditLog: audit}
	}
	var spill *executionSpill // the executions -o json lists, as they are applied
	if job.format == output.JSON && !o.dryRun && job.cfg.Remediation.IsAutomatic() {
		if spill, err = newExecutionSpill(); err != nil {
			return err
		}
		defer spill.close()
		co.Planned = spill.add
	}
	r, err := f.Cycle(ctx, job, co)
	if err != nil {
		return err
	}
	rep, err := r.RunOnce(ctx, f.Now())
	if err != nil {
		return err
	}
	if job.format == output.JSON {
		if err := writeRunDocument(f.IO.Out, newRunDocument(rep, o.dryRun), spill); err != nil {
			return err
		}
		return runExit(rep, o.dryRun, job.failOn)
	}
	return printRun(f.IO.Out, rep, o.dryRun, job.failOn)
}

// runExit maps a run's report to the exit code: an interrupted delivery or a
// failed notification or account is partial (1).
func runExit(rep *cycle.Report, dryRun bool, fo failOn) error {
	res := rep.Result
	if dryRun || !rep.Automatic {
		return scanExit(res, fo)
	}
	if rep.Interrupted {
		return &ExitError{Code: ExitAccountError}
	}
	if rep.Dispatch.Failed > 0 {
		return &ExitError{Code: ExitAccountError, Err: fmt.Errorf("%s failed; see keyage executions --status FAILED, retry with --retry-failed", output.Count(rep.Dispatch.Failed, "notification"))}
	}
	return scanExit(res, fo)
}

// openRunStore opens the state database. A dry run opens it only when it
// exists (to plan as a real run would) and then may return nil.
func openRunStore(ctx context.Context, f *Factory, path string, dryRun bool) (*store.Store, error) {
	if !dryRun {
		return f.OpenStore(ctx, path)
	}
	_, err := os.Stat(path)
	switch {
	case err == nil:
		return f.OpenStore(ctx, path)
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil
	default:
		return nil, fmt.Errorf("state %s: %w", path, err)
	}
}

// openAuditLog opens path for appending audit records; an empty path is no
// log.
func openAuditLog(path string) (io.Writer, func(), error) {
	if path == "" {
		return nil, func() {}, nil
	}
	fh, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("open audit log: %w", err)
	}
	return fh, func() { fh.Close() }, nil
}

// printRun prints what keyage run did after the scan's summary (printed
// when the scan is recorded) and maps the report to the exit code.
func printRun(w io.Writer, rep *cycle.Report, dryRun bool, fo failOn) error {
	switch {
	case dryRun:
		printPlan(w, rep.Result, rep.Plan, rep.Automatic)
	case !rep.Automatic:
		fmt.Fprintf(w, "Remediation is not automatic (remediation.automatic: false): %d non-compliant users recorded; remediate them with keyage remediate.\n", rep.Plan.Counts().NonCompliant)
	case rep.Interrupted:
		fmt.Fprintln(w, "Interrupted: undelivered notifications stay in the outbox and go out on the next run.")
	default:
		printRunSummary(w, rep.Plan, rep.Dispatch)
		if rep.Enforce != nil {
			printEnforceReport(w, rep.Enforce)
		}
	}
	return runExit(rep, dryRun, fo)
}

func printRunSummary(w io.Writer, p *remediate.Plan, s notify.DispatchStats) {
	c := p.Counts()
	fmt.Fprintf(w, "Remediation:\n  %s (a remediation execution each)\n  %s queued\n  %s sent\n  %s failed\n  %s retried\n  %s already notified and unchanged (not sent again)\n",
		output.Count(c.NonCompliant, "non-compliant user"), output.Count(c.Messages, "notification"),
		output.Count(s.Sent, "notification"), output.Count(s.Failed, "notification"),
		output.Count(s.Retried, "delivery attempt"), output.Count(c.Suppressed, "finding"))
	if b := s.BacklogLine(); b != "" {
		fmt.Fprintln(w, b)
	}
	printOwnerUnknown(w, p)
}

func printOwnerUnknown(w io.Writer, p *remediate.Plan) {
	n := p.Counts().OwnerUnknown
	if n == 0 {
		return
	}
	fmt.Fprintf(w, "Owner unknown (%s; no owner tag; sent to owners.fallback):\n", output.Count(n, "user"))
	for _, it := range p.OwnerUnknown {
		fmt.Fprintf(w, "  %s %s\n", it.AccountID, it.UserName)
	}
	if more := n - len(p.OwnerUnknown); more > 0 {
		fmt.Fprintf(w, "  and %d more\n", more)
	}
}

// printPlan is --dry-run's output: which messages to whom.
func printPlan(w io.Writer, res *scan.Result, p *remediate.Plan, automatic bool) {
	fmt.Fprintln(w, output.SummaryLine(res))
	if !automatic {
		fmt.Fprintln(w, "Remediation is not automatic (remediation.automatic: false): nothing would be sent.")
		return
	}
	fmt.Fprintf(w, "Dry run: %s would be sent; %s already notified and unchanged; nothing was sent or recorded.\n", output.Count(len(p.Messages), "notification"), output.Count(p.Suppressed, "finding"))
	byReceiver := map[string][]remediate.Planned{}
	var names []string
	for _, m := range p.Messages {
		if _, ok := byReceiver[m.Message.Receiver]; !ok {
			names = append(names, m.Message.Receiver)
		}
		byReceiver[m.Message.Receiver] = append(byReceiver[m.Message.Receiver], m)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "\n%s (%d messages):\n", n, len(byReceiver[n]))
		for _, m := range byReceiver[n] {
			to := ""
			if len(m.Message.Recipients) > 0 {
				to = " to " + strings.Join(m.Message.Recipients, ", ")
			}
			fmt.Fprintf(w, "  [%s%s] %s\n", m.Message.Kind, to, strings.ReplaceAll(m.Message.Text, "\n", "\n    "))
		}
	}
	printOwnerUnknown(w, p)
}
