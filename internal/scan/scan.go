// Package scan runs the inventory and the rule over many accounts at once:
// bounded concurrency, a timeout per account, and an error recorded per
// account so that one broken account never hides the others.
package scan

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/keyage/keyage/internal/inventory"
	"github.com/keyage/keyage/internal/lifecycle"
	"github.com/keyage/keyage/internal/rule"
)

// ConfigSource hands out an aws.Config acting in an account (awsenv.Assumer).
type ConfigSource interface {
	ForAccount(ctx context.Context, accountID string) (aws.Config, error)
}

// Options tunes a scan.
type Options struct {
	Source   inventory.Source
	Policy   rule.Policy
	WithTags bool
	// Concurrency bounds the accounts in flight (default 16).
	Concurrency int
	// AccountTimeout bounds one account's work (default 5m).
	AccountTimeout time.Duration
	// Now is the evaluation time: one instant for the whole scan.
	Now    time.Time
	Logger *slog.Logger
	// Progress, when set, is called after each account with the number of
	// accounts done and the total.
	Progress func(done, total int)
	// Evaluator builds each user's evaluation (stages, the lifecycle
	// policy, exemptions, the owner); nil evaluates by Policy alone.
	Evaluator *lifecycle.Evaluator
	// Inventory is passed to inventory.Collect (Source, Policy, Now and
	// WithTags are set from the fields above).
	Inventory inventory.Options
}

// ListError means the accounts to scan could not be listed (the
// organization listing was denied or failed, the OU does not exist):
// nothing was scanned (keyage exits 4).
type ListError struct{ Err error }

func (e *ListError) Error() string { return "list the accounts to scan: " + e.Err.Error() }

func (e *ListError) Unwrap() error { return e.Err }

// AsListError marks err, when it is not one already, as a *ListError.
func AsListError(err error) error {
	var le *ListError
	if err == nil || errors.As(err, &le) {
		return err
	}
	return &ListError{Err: err}
}

// Run scans accounts and returns every account's outcome in the order given,
// evaluations ordered by account and user name.
func Run(ctx context.Context, src ConfigSource, accounts []inventory.Account, o Options) *Result {
	res, _ := RunSeq(ctx, src, func(yield func(inventory.Account, error) bool) {
		for _, a := range accounts {
			if !yield(a, nil) {
				return
			}
		}
	}, o)
	return res
}

// RunSeq is Run over accounts that are still being listed (an organization
// read page by page): scanning starts with the first account, and the
// listing goes on beside it. An error from the listing stops the scan and is
// returned; accounts are reported in the order listed.
func RunSeq(ctx context.Context, src ConfigSource, accounts iter.Seq2[inventory.Account, error], o Options) (*Result, error) {
	var (
		mu  sync.Mutex
		evs [][]rule.Evaluation // by listing order
	)
	res, err := Stream(ctx, src, accounts, o, func(i int, _ AccountResult, e []rule.Evaluation) error {
		mu.Lock()
		defer mu.Unlock()
		if i >= len(evs) {
			evs = append(evs, make([][]rule.Evaluation, i+1-len(evs))...)
		}
		evs[i] = e
		return nil
	})
	if err != nil {
		return nil, err
	}
	n := 0
	for _, e := range evs {
		n += len(e)
	}
	res.Evaluations = make([]rule.Evaluation, 0, n)
	for i := range evs {
		res.Evaluations = append(res.Evaluations, evs[i]...)
		evs[i] = nil
	}
	return res, nil
}

// Sink takes one account's outcome as soon as the account is done: i is
// the account's place in the listing order. It is called from several
// goroutines at once, in the order accounts finish; an error stops the
// scan and is returned by Stream.
type Sink func(i int, a AccountResult, evs []rule.Evaluation) error

// NewResult is the head of a scan's result under o: rule, parameters,
// evaluation time and source, with no accounts yet.
func NewResult(o Options) *Result {
	o = o.withDefaults() // the source's default
	return &Result{
		Rule:        rule.Name,
		Parameters:  Parameters{MaxAccessKeyAge: int(o.Policy.MaxAge / rule.Day), WarnAge: int(o.Policy.WarnAge / rule.Day)},
		EvaluatedAt: o.Now.UTC(),
		Source:      string(o.Source),
		Accounts:    []AccountResult{},
		Summary:     newSummary(),
	}
}

// Stream scans accounts as RunSeq does but hands each account's
// evaluations to sink instead of keeping them, so that memory depends on
// the concurrency, not on the number of accounts. The Result it returns
// has the accounts, in listing order, and the summary, but no
// evaluations.
func Stream(ctx context.Context, src ConfigSource, accounts iter.Seq2[inventory.Account, error], o Options, sink Sink) (*Result, error) {
	o = o.withDefaults()
	inv := o.Inventory
	inv.Source, inv.Policy, inv.Now, inv.WithTags = o.Source, o.Policy, o.Now, o.WithTags
	if inv.Logger == nil {
		inv.Logger = o.Logger
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu          sync.Mutex
		done, total int
		stopErr     error // the listing's or the sink's
	)
	stop := func(err error) {
		mu.Lock()
		if stopErr == nil {
			stopErr = err
		}
		mu.Unlock()
		cancel()
	}
	// The listing runs ahead of the scan in its own goroutine, so that its
	// pages are not fetched only when a worker asks for the next account.
	feed := make(chan inventory.Account, 1024)
	go func() {
		defer close(feed)
		for a, err := range accounts {
			if err != nil {
				stop(AsListError(err))
				return
			}
			mu.Lock()
			total++
			mu.Unlock()
			select {
			case feed <- a:
			case <-ctx.Done():
				return
			}
		}
	}()

	res := NewResult(o)
	// sem holds the slots of the accounts at work. An account waiting for
	// its credential report lends its slot to the next account, whose
	// report generation then starts meanwhile; the account workers,
	// lendFactor per slot, bound the accounts begun and not done (at work
	// or waiting), and so the memory.
	sem := make(chan struct{}, o.Concurrency)
	sleep := inv.Pause
	if sleep == nil {
		sleep = inventory.Sleep
	}
	inv.Pause = func(ctx context.Context, d time.Duration) error {
		<-sem
		err := sleep(ctx, d)
		sem <- struct{}{} // taken back even when ctx is done: the worker gives it back when it is done
		return err
	}
	if inv.Workers == nil {
		// One pool for every account's per-user calls: long-lived
		// workers keep the stacks the SDK's calls grew.
		w := inventory.NewWorkers(o.Concurrency * cmp.Or(max(inv.UserConcurrency, 0), 16))
		defer w.Close()
		inv.Workers = w
	}
	var (
		wg   sync.WaitGroup
		next sync.Mutex // an account and its place in the listing order are taken at once
	)
	take := func() (inventory.Account, int, bool) {
		next.Lock()
		defer next.Unlock()
		a, ok := <-feed
		if !ok {
			return a, 0, false
		}
		mu.Lock() // the workers write res.Accounts[i]
		defer mu.Unlock()
		res.Accounts = append(res.Accounts, AccountResult{})
		return a, len(res.Accounts) - 1, true
	}
	// Long-lived account workers rather than a goroutine per account, for
	// the same reason as inventory.Workers.
	for range o.Concurrency * lendFactor {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				a, i, ok := take()
				if !ok {
					return
				}
				sem <- struct{}{}
				ar, evs := scanAccount(ctx, src, a, inv, o)
				if err := sink(i, ar, evs); err != nil {
					stop(err)
				}
				mu.Lock()
				res.Accounts[i] = ar
				res.Summary.add(ar, evs)
				done++
				if o.Progress != nil {
					o.Progress(done, total)
				}
				mu.Unlock()
				<-sem
			}
		}()
	}
	wg.Wait()
	if stopErr != nil {
		return nil, stopErr
	}
	return res, nil
}

// lendFactor bounds the accounts begun to this many times the concurrency:
// an account waiting for its credential report holds no slot, but its
// memory and its place in the AWS account's report generation.
const lendFactor = 4

func (o Options) withDefaults() Options {
	o.Concurrency = cmp.Or(max(o.Concurrency, 0), 16)
	o.AccountTimeout = cmp.Or(max(o.AccountTimeout, 0), 5*time.Minute)
	o.Logger = cmp.Or(o.Logger, slog.New(slog.DiscardHandler))
	o.Source = cmp.Or(o.Source, inventory.SourceAuto)
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	return o
}

func scanAccount(ctx context.Context, src ConfigSource, a inventory.Account, inv inventory.Options, o Options) (AccountResult, []rule.Evaluation) {
	start := time.Now()
	log := o.Logger.With("account", a.ID)
	ar := AccountResult{AccountID: a.ID, Name: a.Name, OU: a.OU, Status: StatusOK, RootKeys: []RootKey{}}
	ctx, cancel := context.WithTimeout(ctx, o.AccountTimeout)
	defer cancel()
	fail := func(err error) (AccountResult, []rule.Evaluation) {
		if ctx.Err() == context.DeadlineExceeded {
			err = fmt.Errorf("account timed out after %v: %w", o.AccountTimeout, err)
		}
		ar.Status, ar.Error = StatusError, err.Error()
		ar.DurationMS = time.Since(start).Milliseconds()
		log.Warn("account not scanned", "err", err)
		return ar, nil
	}

	cfg, err := src.ForAccount(ctx, a.ID)
	if err != nil {
		return fail(err)
	}
	got, err := inventory.Collect(ctx, cfg, a.ID, inv)
	if err != nil {
		return fail(err)
	}
	ar.Users = len(got.Users)
	for _, rk := range got.RootKeys {
		k := RootKey{Status: rk.Status}
		if !rk.CreateDate.IsZero() {
			age := rule.AgeDays(rk.CreateDate, o.Now)
			k.AgeDays = &age
		}
		ar.RootKeys = append(ar.RootKeys, k)
	}
	var evs []rule.Evaluation
	if len(got.Users) == 0 {
		evs = []rule.Evaluation{rule.NotApplicableAccount(a.ID)}
	} else {
		slices.SortFunc(got.Users, func(x, y rule.User) int { return cmp.Compare(x.UserName, y.UserName) })
		evs = make([]rule.Evaluation, len(got.Users))
		ev := o.Evaluator
		if ev == nil {
			ev = lifecycle.RuleOnly(o.Policy)
		}
		for i, u := range got.Users {
			evs[i] = ev.Evaluate(u, a.OU, o.Now)
		}
	}
	ar.DurationMS = time.Since(start).Milliseconds()
	log.Debug("account scanned", "users", ar.Users, "ms", ar.DurationMS)
	return ar, evs
}
