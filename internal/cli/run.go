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
	"time"

	"github.com/spf13/cobra"

	"github.com/keyage/keyage/internal/notify"
	"github.com/keyage/keyage/internal/notify/receivers"
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
	// showScan writes the scan's output (-o) before the summary (demo).
	showScan bool
}

// newRunCmd builds the command; runF, when not nil, replaces runRun
// (tests of flag parsing).
func newRunCmd(ios *IO, runF func(*runOptions) error) *cobra.Command {
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
  keyage run --retry-failed`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(o)
			}
			return runRun(cmd.Context(), ios, o, cmd.Flags().Changed)
		},
	}
	addScanFlags(cmd, &o.scan)
	cmd.Flags().StringVar(&o.statePath, "state", defaultStatePath, "SQLite state database")
	cmd.Flags().BoolVar(&o.dryRun, "dry-run", false, "print what would be sent; send and record nothing")
	cmd.Flags().BoolVar(&o.retryFailed, "retry-failed", false, "retry notifications that failed for good in earlier runs")
	cmd.Flags().BoolVar(&o.enforce, "enforce", false, "also run keyage enforce after remediation (it acts only with enforce.apply: true)")
	cmd.Flags().StringVar(&o.auditLog, "audit-log", "", "with --enforce: append audit records to this file as JSON lines")
	return cmd
}

func runRun(ctx context.Context, ios *IO, o *runOptions, changed func(string) bool) error {
	job, err := resolveScan(&o.scan, changed)
	if err != nil {
		return err
	}
	job.scan.WithTags = true // owners come from tags, read for flagged users only
	engine, err := remediate.NewEngine(job.cfg)
	if err != nil {
		return usageError(err)
	}

	var st *store.Store
	if !o.dryRun {
		if st, err = store.Open(ctx, o.statePath, store.Options{}); err != nil {
			return err
		}
		defer st.Close()
	} else if _, statErr := os.Stat(o.statePath); statErr == nil {
		// Read what was notified before, to plan as a real run would.
		if st, err = store.Open(ctx, o.statePath, store.Options{}); err != nil {
			return err
		}
		defer st.Close()
	} else if !errors.Is(statErr, fs.ErrNotExist) {
		return fmt.Errorf("state %s: %w", o.statePath, statErr)
	}

	started := time.Now()
	res, assumer, err := executeScan(ctx, ios, job)
	if err != nil {
		return err
	}
	finished := time.Now()
	plan, err := engine.Plan(ctx, st, res, finished)
	if err != nil {
		return err
	}
	if o.dryRun {
		printPlan(ios.Out, res, plan, job.cfg.Remediation.IsAutomatic())
		return scanExit(res, false)
	}

	if _, err := st.RecordScan(ctx, started, finished, res); err != nil {
		return err
	}
	if o.showScan {
		if err := output.Write(ios.Out, job.format, res, job.table); err != nil {
			return err
		}
	} else {
		fmt.Fprintln(ios.Out, output.SummaryLine(res))
	}
	if !job.cfg.Remediation.IsAutomatic() {
		fmt.Fprintf(ios.Out, "Remediation is not automatic (remediation.automatic: false): %d non-compliant users recorded; remediate them with keyage remediate.\n", len(plan.NonCompliant))
		return scanExit(res, false)
	}
	if err := engine.Apply(ctx, st, plan); err != nil {
		return err
	}
	if o.retryFailed {
		n, err := st.RequeueFailed(ctx, time.Now())
		if err != nil {
			return err
		}
		ios.Logger.Info("requeued failed notifications", "count", n)
	}
	notifiers, err := receivers.Build(job.cfg, receivers.Env{AWS: assumer.Base(), Stdout: ios.Out, Version: version(), TemplateData: remediate.TemplateData})
	if err != nil {
		ios.Logger.Warn("receiver unavailable: its notifications fail with this reason; the others are sent", "err", err)
	}
	d := &notify.Dispatcher{
		Outbox: remediate.NewOutbox(st), Notifiers: notifiers, Logger: ios.Logger,
		Window:  time.Duration(job.cfg.Remediation.RetryAttemptSeconds) * time.Second,
		Timeout: time.Duration(job.cfg.Remediation.TimeoutSeconds) * time.Second,
	}
	stats, err := d.Drain(ctx)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		fmt.Fprintln(ios.Out, "Interrupted: undelivered notifications stay in the outbox and go out on the next run.")
		return &ExitError{Code: ExitAccountError}
	}
	printRunSummary(ios.Out, plan, stats)
	if o.enforce {
		var audit io.Writer
		if o.auditLog != "" {
			f, err := os.OpenFile(o.auditLog, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
			if err != nil {
				return fmt.Errorf("open audit log: %w", err)
			}
			defer f.Close()
			audit = f
		}
		if _, err := enforceScan(ctx, ios, job.cfg, job, st, res, assumer, job.cfg.Enforce.Apply, audit, true); err != nil {
			return err
		}
	}
	if stats.Failed > 0 {
		return &ExitError{Code: ExitAccountError, Err: fmt.Errorf("%d notifications failed; see keyage executions --status FAILED, retry with --retry-failed", stats.Failed)}
	}
	return scanExit(res, false)
}

func printRunSummary(w io.Writer, p *remediate.Plan, s notify.DispatchStats) {
	fmt.Fprintf(w, "Remediation: %d non-compliant users; %d notifications queued, %d sent, %d failed (%d attempts retried); %d findings already notified and unchanged.\n",
		len(p.NonCompliant), len(p.Messages), s.Sent, s.Failed, s.Retried, p.Suppressed)
	if b := s.BacklogLine(); b != "" {
		fmt.Fprintln(w, b)
	}
	printOwnerUnknown(w, p)
}

func printOwnerUnknown(w io.Writer, p *remediate.Plan) {
	if len(p.OwnerUnknown) == 0 {
		return
	}
	fmt.Fprintf(w, "Owner unknown (%d users; no owner tag; sent to owners.fallback):\n", len(p.OwnerUnknown))
	for _, it := range p.OwnerUnknown {
		fmt.Fprintf(w, "  %s %s\n", it.AccountID, it.UserName)
	}
}

// printPlan is --dry-run's output: which messages to whom.
func printPlan(w io.Writer, res *scan.Result, p *remediate.Plan, automatic bool) {
	fmt.Fprintln(w, output.SummaryLine(res))
	if !automatic {
		fmt.Fprintln(w, "Remediation is not automatic (remediation.automatic: false): nothing would be sent.")
		return
	}
	fmt.Fprintf(w, "Dry run: %d notifications would be sent; %d findings already notified and unchanged; nothing was sent or recorded.\n", len(p.Messages), p.Suppressed)
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
