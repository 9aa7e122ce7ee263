// Package cycle owns keyage's cycle: scan the accounts, record the
// evaluations, plan and apply the remediation, dispatch the notifications
// and, when enabled, enforce. A Runner is assembled once from the config and
// explicit dependencies; keyage run, serve, remediate, enforce and demo are
// thin commands over it.
package cycle

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/keyage/keyage/internal/awsenv"
	"github.com/keyage/keyage/internal/config"
	"github.com/keyage/keyage/internal/enforce"
	"github.com/keyage/keyage/internal/inventory"
	"github.com/keyage/keyage/internal/lifecycle"
	"github.com/keyage/keyage/internal/notify"
	"github.com/keyage/keyage/internal/notify/receivers"
	"github.com/keyage/keyage/internal/outbox"
	"github.com/keyage/keyage/internal/remediate"
	"github.com/keyage/keyage/internal/rotate"
	"github.com/keyage/keyage/internal/rule"
	"github.com/keyage/keyage/internal/scan"
	"github.com/keyage/keyage/internal/store"
)

// AWSSource loads the caller's own AWS config. The Runner fills the
// region, the endpoint and the metrics hook of o from the config; the
// source adds what the config does not hold (a profile, static
// credentials). awsenv.Load is the default.
type AWSSource func(ctx context.Context, o awsenv.Options) (aws.Config, error)

// Metrics is told what the cycle does (server.Server implements it).
type Metrics interface {
	ObserveScan(res *scan.Result, took time.Duration)
	ObserveNotification(receiver string, err error)
	ObserveAWSCall(service, operation string, throttled bool)
}

// Options are the Runner's dependencies and the steps it takes.
type Options struct {
	// AWS loads the caller's AWS config (default awsenv.Load).
	AWS AWSSource
	// Store is the state database; it may be nil only with DryRun.
	Store *store.Store
	// Now is the clock (default time.Now).
	Now    func() time.Time
	Logger *slog.Logger
	// Metrics, when set, is told of scans, notifications and AWS calls.
	Metrics Metrics
	// Stdout is where the stdout receiver writes; Version goes into
	// messages that carry it.
	Stdout  io.Writer
	Version string
	// Progress, when set, is told of the accounts scanned; AfterScan is
	// called once the scan ends (a progress bar's end).
	Progress  func(done, total int)
	AfterScan func()
	// Recorded, when set, is called once the scan is recorded, before the
	// remediation (Report.Plan may be nil there): a command prints the scan there, so that it precedes
	// what a stdout receiver writes. Its error ends the cycle.
	Recorded func(*Report) error
	// Planned, when set, is given each plan the cycle records (not in a
	// dry run), after it is applied when remediation is automatic: every
	// batch's when the cycle plans a batch of accounts at a time (then
	// Report.Plan only counts them, remediate.Plan.Counts), else the whole
	// plan. Its messages and NON_COMPLIANT users are there in full (keyage
	// run -o json lists the executions from them). Its error ends the cycle.
	Planned func(*remediate.Plan) error
	// WholeResult keeps every evaluation of a recorded scan in
	// Report.Result (keyage demo prints them); otherwise it holds only
	// those the cycle acts on (see scanInto), so that memory does not grow
	// with the organization's compliant users.
	WholeResult bool

	// DryRun plans and stops: nothing is recorded, applied or sent.
	DryRun bool
	// Deliver drains the outbox after each step that fills it; without
	// it the messages wait for Dispatch running elsewhere (keyage serve).
	Deliver bool
	// RetryFailed requeues notifications that failed for good before
	// delivering.
	RetryFailed bool
	// Enforce, when not nil, runs enforcement after the remediation.
	Enforce *EnforceOptions
}

// EnforceOptions say how enforcement acts.
type EnforceOptions struct {
	// Apply changes IAM; without it enforcement is a dry run.
	Apply bool
	// AuditLog, when set, gets every audit record as a JSON line.
	AuditLog io.Writer
	// RotateOnly runs only the rotation (keyage rotate), not deactivation and deletion.
	RotateOnly bool
}

// ConfigError is a problem with the configuration found while assembling
// the Runner (a route's template, a receiver that cannot be built).
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// Runner runs the cycle. Its methods may be called concurrently (the
// scheduler, the event consumer and the dispatcher of keyage serve).
type Runner struct {
	cfg     *config.Config
	opts    Options
	scan    scan.Options
	engine  *remediate.Engine
	base    aws.Config
	assumer *awsenv.Assumer
	disp    *notify.Dispatcher // nil in a dry run
	single  *remediate.Single
}

// ScanOptions derives the scan's options from a validated config: the
// rule's policy, the lifecycle evaluator (owners included), the source and
// the limits.
func ScanOptions(cfg *config.Config) (scan.Options, error) {
	policy := rule.PolicyDays(int(cfg.Rule.MaxAccessKeyAge), int(cfg.Rule.WarnAge))
	evaluator, err := lifecycle.NewEvaluator(cfg, policy)
	if err != nil {
		return scan.Options{}, err
	}
	sc := cfg.Scan
	return scan.Options{
		Source: sc.Source, Policy: policy, WithTags: sc.WithTags,
		Concurrency: sc.Concurrency, AccountTimeout: sc.AccountTimeout.Duration(),
		Evaluator: evaluator,
	}, nil
}

// New assembles a Runner from a validated config: the remediation engine,
// the caller's AWS config and the role assumer, and (unless a dry run) the
// receivers and the dispatcher over the store's outbox.
func New(ctx context.Context, cfg *config.Config, o Options) (*Runner, error) {
	if o.AWS == nil {
		o.AWS = awsenv.Load
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Stdout == nil {
		o.Stdout = io.Discard
	}
	if o.Store == nil && !o.DryRun {
		return nil, errors.New("assemble the cycle: a state store is required unless dry-running")
	}
	so, err := ScanOptions(cfg)
	if err != nil {
		return nil, &ConfigError{err}
	}
	engine, err := remediate.NewEngine(cfg)
	if err != nil {
		return nil, &ConfigError{err}
	}
	env := awsenv.Options{Region: cfg.Scan.Region, EndpointURL: cfg.Scan.EndpointURL}
	if o.Metrics != nil {
		env.Observe = o.Metrics.ObserveAWSCall
	}
	base, err := o.AWS(ctx, env)
	if err != nil {
		return nil, err
	}
	assumer, err := awsenv.NewAssumer(ctx, base, awsenv.AssumerOptions{
		RoleName: cfg.Accounts.RoleName, ExternalID: cfg.Accounts.ExternalID, SessionName: cfg.Accounts.SessionName})
	if err != nil {
		return nil, err
	}
	r := &Runner{cfg: cfg, opts: o, scan: so, engine: engine, base: base, assumer: assumer}
	if !o.DryRun {
		notifiers, err := receivers.Build(cfg, receivers.Env{AWS: base, Stdout: o.Stdout, Version: o.Version})
		if err != nil { // issue 13: that receiver's deliveries fail with the reason; the others go out
			o.Logger.Warn("receiver unavailable: its notifications fail with this reason; the others are sent", "err", err)
		}
		r.disp = &notify.Dispatcher{
			Outbox: outbox.New(o.Store), Notifiers: notifiers, Logger: o.Logger, Now: o.Now,
			Window:  time.Duration(cfg.Remediation.RetryAttemptSeconds) * time.Second,
			Timeout: time.Duration(cfg.Remediation.TimeoutSeconds) * time.Second,
		}
		if o.Metrics != nil {
			r.disp.Observe = o.Metrics.ObserveNotification
		}
	}
	r.single = &remediate.Single{Engine: engine, Store: o.Store, Accounts: assumer, Evaluator: so.Evaluator,
		Dispatcher: r.disp, Now: o.Now, Logger: o.Logger}
	return r, nil
}

// Config is the configuration the Runner was assembled from.
func (r *Runner) Config() *config.Config { return r.cfg }

// Report is what one cycle found and did; the commands print it.
type Report struct {
	// Result is the scan's; Started and Finished bound it. Once recorded
	// (not a dry run) it holds no evaluations, or those the plan looked at
	// when it was made over every account at once (remediate.Plans), or
	// all with Options.WholeResult or enforcement.
	Result            *scan.Result
	Started, Finished time.Time
	// Plan is the remediation planned from the result (nil when only
	// enforcing). When the cycle planned a batch of accounts at a time it
	// is the batches' sum: read it through Plan.Counts (its messages and
	// NON_COMPLIANT users went to Options.Planned).
	Plan *remediate.Plan
	// Automatic is the config's remediation.automatic: without it the
	// plan is recorded but not applied.
	Automatic bool
	// Requeued counts failed notifications requeued (RetryFailed).
	Requeued int
	// Dispatch counts deliveries when Deliver is set.
	Dispatch notify.DispatchStats
	// Interrupted is set when ctx ended while delivering: what was not
	// sent stays in the outbox, and enforcement did not run.
	Interrupted bool
	// Enforce is enforcement's report, when it ran.
	Enforce *EnforceReport
}

// EnforceReport is what enforcement did and told owners.
type EnforceReport struct {
	*enforce.Report
	// Applied reports whether IAM was changed (not a dry run).
	Applied bool
	// Notices counts the owner notices planned; NoticesPlanned is false
	// when there were none or no routes.
	Notices        int
	NoticesPlanned bool
	// NoticeStats counts their delivery, when delivered here.
	NoticeStats *notify.DispatchStats
	// Rotation is keyage rotate's report, when lifecycle.rotate is enabled.
	Rotation *rotate.Report
}

// RunOnce runs one cycle evaluated at now: scan -> record -> plan -> apply
// -> dispatch (when Deliver) -> enforce (when enabled). With DryRun it
// returns after planning.
func (r *Runner) RunOnce(ctx context.Context, now time.Time) (*Report, error) {
	return r.runOnce(ctx, now, r.opts.Progress)
}

// Scheduled runs one cycle now with the scheduler's progress; it has
// daemon.ScanFunc's signature (keyage serve).
func (r *Runner) Scheduled(ctx context.Context, progress func(done, total int)) error {
	_, err := r.runOnce(ctx, r.opts.Now(), progress)
	return err
}

func (r *Runner) runOnce(ctx context.Context, now time.Time, progress func(done, total int)) (*Report, error) {
	so := r.scan
	so.WithTags = true // owners come from tags, read for flagged users only
	if r.opts.DryRun {
		res, err := r.scanAt(ctx, so, now, progress)
		if err != nil {
			return nil, err
		}
		rep := &Report{Result: res, Started: now, Finished: r.opts.Now(), Automatic: r.cfg.Remediation.IsAutomatic()}
		if rep.Plan, err = r.engine.Plan(ctx, r.opts.Store, res, rep.Finished); err != nil {
			return nil, err
		}
		return rep, nil
	}
	st := r.opts.Store
	res, scanID, finished, err := r.scanInto(ctx, so, now, progress)
	if err != nil {
		return nil, err
	}
	rep := &Report{Result: res, Started: now, Finished: finished, Automatic: r.cfg.Remediation.IsAutomatic()}
	// A batch of accounts at a time when the routes allow it; else the
	// plan over every account from what it looks at (enforcement and
	// WholeResult: every evaluation).
	byAccount := r.opts.Enforce == nil && !r.opts.WholeResult && r.engine.PlansByAccount()
	if !byAccount {
		keep := remediate.Plans
		if r.opts.Enforce != nil || r.opts.WholeResult {
			keep = nil // enforcement and rotation look at every user
		}
		if err := r.readBack(ctx, res, scanID, keep); err != nil {
			return nil, err
		}
		if rep.Plan, err = r.engine.Plan(ctx, st, res, rep.Finished); err != nil {
			return nil, err
		}
	}
	r.prune(ctx, rep.Finished)
	if r.opts.Metrics != nil {
		r.opts.Metrics.ObserveScan(res, rep.Finished.Sub(rep.Started))
	}
	if r.opts.Recorded != nil {
		if err := r.opts.Recorded(rep); err != nil {
			return nil, err
		}
	}
	if byAccount {
		if rep.Plan, err = r.planByAccount(ctx, res, scanID, rep.Finished, rep.Automatic); err != nil {
			return nil, err
		}
	} else {
		if rep.Automatic {
			if err := r.engine.Apply(ctx, st, rep.Plan); err != nil {
				return nil, err
			}
		}
		if err := r.planned(rep.Plan); err != nil {
			return nil, err
		}
	}
	if rep.Automatic {
		if r.opts.RetryFailed {
			if rep.Requeued, err = outbox.New(st).RequeueFailed(ctx, r.opts.Now()); err != nil {
				return nil, err
			}
			r.opts.Logger.Info("requeued failed notifications", "count", rep.Requeued)
		}
		if r.opts.Deliver {
			if rep.Dispatch, err = r.disp.Drain(ctx); err != nil {
				return nil, err
			}
			if ctx.Err() != nil {
				rep.Interrupted = true
				return rep, nil
			}
		}
	}
	if r.opts.Enforce != nil {
		if rep.Enforce, err = r.enforce(ctx, res); err != nil {
			return nil, fmt.Errorf("enforce: %w", err)
		}
	}
	return rep, nil
}

// Enforce scans at now and enforces on the result, without recording the
// scan or remediating (keyage enforce). Options.Enforce must be set.
func (r *Runner) Enforce(ctx context.Context, now time.Time) (*Report, error) {
	if r.opts.Enforce == nil {
		return nil, errors.New("enforce: the cycle was assembled without enforcement options")
	}
	res, err := r.scanAt(ctx, r.scan, now, r.opts.Progress)
	if err != nil {
		return nil, err
	}
	rep := &Report{Result: res, Started: now, Finished: r.opts.Now(), Automatic: r.cfg.Remediation.IsAutomatic()}
	if rep.Enforce, err = r.enforce(ctx, res); err != nil {
		return nil, err
	}
	return rep, nil
}

// scanInto scans at now and records each account into the store as it
// is done (store.ScanWriter), so that memory does not grow with the
// organization, and then finishes the scan (its summary; it is then the
// latest). The result has the accounts and the summary, no evaluations:
// the cycle reads back what it acts on (readBack). A scan that ctx
// interrupted is marked so and is an error: the accounts recorded keep
// their evaluations, the scan never becomes the latest.
func (r *Runner) scanInto(ctx context.Context, so scan.Options, now time.Time, progress func(done, total int)) (res *scan.Result, scanID int64, finished time.Time, err error) {
	w, err := r.opts.Store.BeginScan(ctx, now, scan.NewResult(scan.Options{Policy: so.Policy, Now: now, Source: so.Source}))
	if err != nil {
		return nil, 0, finished, err
	}
	var mu sync.Mutex // one account's transaction at a time: SQLite has one writer
	res, err = r.scanWith(ctx, so, now, progress, func(accounts iter.Seq2[inventory.Account, error], so scan.Options) (*scan.Result, error) {
		return scan.Stream(ctx, r.assumer, accounts, so, func(_ int, a scan.AccountResult, evs []rule.Evaluation) error {
			mu.Lock()
			defer mu.Unlock()
			return w.Account(ctx, &a, evs)
		})
	})
	if err != nil {
		if aerr := w.Abort(context.WithoutCancel(ctx), r.opts.Now()); aerr != nil {
			r.opts.Logger.Error("mark the scan interrupted", "scan", w.ID(), "err", aerr)
		}
		return nil, 0, finished, err
	}
	finished = r.opts.Now()
	if err := w.Finish(ctx, finished, res.Summary); err != nil {
		return nil, 0, finished, err
	}
	res.Evaluations = []rule.Evaluation{}
	return res, w.ID(), finished, nil
}

// readBack appends to res.Evaluations the evaluations of res's scanned
// accounts that scan scanID recorded and keep accepts (nil: all), account
// by account in res's order.
func (r *Runner) readBack(ctx context.Context, res *scan.Result, scanID int64, keep func(*rule.Evaluation) bool) error {
	for _, a := range res.Accounts {
		if a.Status != scan.StatusOK {
			continue
		}
		evs, err := r.opts.Store.ScanEvaluations(ctx, scanID, a.AccountID, keep)
		if err != nil {
			return err
		}
		res.Evaluations = append(res.Evaluations, evs...)
	}
	return nil
}

// planBatch is how many accounts a run plans and applies at once when the
// routes allow it (remediate.Engine.PlansByAccount).
const planBatch = 100

// planByAccount plans, and applies when apply is set, planBatch accounts
// of res at a time from what scan scanID recorded for them, hands each
// batch's plan to Options.Planned, and returns the sum of the plans
// (remediate.Plan.Add, counts): what it holds at once is one batch's
// findings and messages, not the organization's.
func (r *Runner) planByAccount(ctx context.Context, res *scan.Result, scanID int64, now time.Time, apply bool) (*remediate.Plan, error) {
	st := r.opts.Store
	total := &remediate.Plan{}
	for batch := range slices.Chunk(res.Accounts, planBatch) {
		part := *res
		part.Accounts, part.Evaluations = batch, nil
		if err := r.readBack(ctx, &part, scanID, remediate.Plans); err != nil {
			return nil, err
		}
		p, err := r.engine.PlanAccounts(ctx, st, &part, now)
		if err != nil {
			return nil, err
		}
		if apply {
			if err := r.engine.Apply(ctx, st, p); err != nil {
				return nil, err
			}
		}
		if err := r.planned(p); err != nil {
			return nil, err
		}
		total.Add(p)
	}
	return total, nil
}

// planned hands p to Options.Planned, when set.
func (r *Runner) planned(p *remediate.Plan) error {
	if r.opts.Planned == nil {
		return nil
	}
	return r.opts.Planned(p)
}

// scanAt resolves the accounts and scans them at now, keeping the whole
// result. A scan that ctx interrupted is an error: nothing of it is
// recorded.
func (r *Runner) scanAt(ctx context.Context, so scan.Options, now time.Time, progress func(done, total int)) (*scan.Result, error) {
	return r.scanWith(ctx, so, now, progress, func(accounts iter.Seq2[inventory.Account, error], so scan.Options) (*scan.Result, error) {
		return scan.RunSeq(ctx, r.assumer, accounts, so)
	})
}

// scanWith resolves the accounts and scans them at now with run (which
// keeps the result or streams it).
func (r *Runner) scanWith(ctx context.Context, so scan.Options, now time.Time, progress func(done, total int),
	run func(iter.Seq2[inventory.Account, error], scan.Options) (*scan.Result, error)) (*scan.Result, error) {
	accounts, err := AccountSeq(ctx, r.assumer, r.cfg.Accounts, UsesOUs(r.cfg))
	if err != nil {
		return nil, err
	}
	r.opts.Logger.Info("scanning", "source", so.Source, "caller", r.assumer.CallerARN())
	so.Now, so.Logger, so.Progress = now, r.opts.Logger, progress
	res, err := run(accounts, so)
	if r.opts.AfterScan != nil {
		r.opts.AfterScan()
	}
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("scan interrupted: %w", err)
	}
	return res, nil
}

// Dispatch delivers the outbox until ctx ends (keyage serve).
func (r *Runner) Dispatch(ctx context.Context) error {
	if r.disp == nil {
		return errors.New("dispatch: a dry-run cycle has no dispatcher")
	}
	return r.disp.Run(ctx)
}

// Retention is the config's state.retention for the store.
func Retention(cfg *config.Config) store.Retention {
	rt := cfg.State.Retention
	return store.Retention{History: rt.History.Duration(), Audit: rt.Audit.Duration(), Outbox: rt.Outbox.Duration(), ScanAccounts: rt.ScanAccounts.Duration()}
}

// prune applies state.retention after a scan is recorded. A failure is
// logged, not returned: the scan is recorded, and the next one prunes again.
func (r *Runner) prune(ctx context.Context, now time.Time) {
	st := r.opts.Store
	p, err := st.Prune(ctx, now, Retention(r.cfg))
	if err != nil {
		r.opts.Logger.Error("prune the state", "state", st.Path(), "err", err)
		return
	}
	if n := p.Total(); n > 0 {
		r.opts.Logger.Info("pruned the state", "state", st.Path(), "rows", n)
	}
}
