package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"time"
)

// Dispatcher delivers an outbox at least once: each message is sent until
// its receiver accepts it or its attempts run out (then final, visible, and
// retried by `keyage run --retry-failed`). A receiver that is down or slow
// never blocks the others: each has its own workers.
type Dispatcher struct {
	Outbox    Outbox
	Notifiers map[string]Notifier
	// Workers bounds deliveries in flight overall (default 16);
	// PerReceiver bounds them per receiver (default 3/4 of Workers).
	// Within that, each receiver's attempts in flight or not yet
	// recorded follow an adaptive limit (receiverLimit): a healthy
	// receiver with a deep backlog gets every worker, a failing one few.
	Workers     int
	PerReceiver int
	// Window spreads a message's attempts (RetryAttemptSeconds).
	Window time.Duration
	// Timeout bounds one delivery attempt (TimeoutSeconds).
	Timeout time.Duration
	Now     func() time.Time
	Logger  *slog.Logger
	// Observe, when set, is told of each attempt (metrics).
	Observe func(receiver string, err error)
	// PollInterval is how often a busy dispatcher looks for due messages
	// (default 20ms).
	PollInterval time.Duration
	// Lease is how long a claimed message stays this dispatcher's before
	// another process may claim it (default 2 minutes, at least 4 x
	// Timeout); it is renewed while the dispatcher lives, so only a dead
	// dispatcher's messages pass to another.
	Lease time.Duration
}

// DispatchStats counts one Drain's work. Held and Pending, filled when the
// outbox is a BacklogCounter, count what was left when the Drain ended:
// messages under another live dispatcher's lease, and messages still to be
// sent (due later, or left by a stop).
type DispatchStats struct {
	Sent, Retried, Failed int
	Held, Pending         int
}

// BacklogLine describes what a Drain left undelivered, for a run's
// summary; empty when nothing was left.
func (s DispatchStats) BacklogLine() string {
	if s.Held == 0 && s.Pending == 0 {
		return ""
	}
	return fmt.Sprintf("Not delivered yet: %d notifications held by another keyage process (sent by it, or by the next run once its lease runs out), %d still pending (retried later or by the next run).", s.Held, s.Pending)
}

// BacklogCounter is an Outbox that can count what is left undelivered.
type BacklogCounter interface {
	// Backlog counts pending messages at now: held under another owner's
	// live lease, and the others.
	Backlog(ctx context.Context, owner string, now time.Time) (held, pending int, err error)
}

// maxStoreFailures is how many outbox errors in a row end a Drain.
const maxStoreFailures = 5

// claimLimit is how many messages one poll claims at most: a claim holds
// the state file's write lock, and every other dispatcher's commit waits
// behind it (a claim of 1,000 held it for up to 450 ms under load, while
// deliveries went on unrecorded).
const claimLimit = 128

// maxInflight bounds the messages one dispatcher holds claimed and not yet
// recorded; it is also each receiver queue's capacity, so queueing never
// blocks the loop (which renews the leases).
const maxInflight = 4096

// maxRetryAfterLimit is how long a Retry-After is honoured when the
// dispatcher has no retry window.
const maxRetryAfterLimit = time.Hour

func (d *Dispatcher) defaults() {
	if d.Workers <= 0 {
		d.Workers = 16
	}
	if d.PerReceiver <= 0 {
		d.PerReceiver = max(1, d.Workers*3/4)
	}
	if d.Timeout <= 0 {
		d.Timeout = 30 * time.Second
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.PollInterval <= 0 {
		d.PollInterval = 20 * time.Millisecond
	}
	if d.Lease <= 0 {
		d.Lease = max(2*time.Minute, 4*d.Timeout)
	}
}

// leaseOwner names one dispatcher run in the outbox's leases.
func leaseOwner() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s/%d/%08x", host, os.Getpid(), rand.Uint32())
}

// Drain delivers every pending message, waiting out retry pauses, and
// returns when none is left or ctx ends (what is left stays in the outbox).
func (d *Dispatcher) Drain(ctx context.Context) (DispatchStats, error) {
	return d.run(ctx, true)
}

// Run delivers messages as they become due until ctx ends.
func (d *Dispatcher) Run(ctx context.Context) error {
	_, err := d.run(ctx, false)
	return err
}

func (d *Dispatcher) run(ctx context.Context, untilIdle bool) (DispatchStats, error) {
	d.defaults()
	r := newRun(d)
	// Deliveries in flight finish after ctx ends (graceful stop); their
	// outcomes are recorded.
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	stopRenew := r.renewEvery(workCtx, d.Lease/4)
	stopFlush := r.flushOnDone(ctx)
	err := r.loop(ctx, workCtx, untilIdle)
	return r.stop(ctx, stopFlush, stopRenew), err
}

// flushOnDone records outcomes as soon as deliveries finish (a group
// commit: what finished during one flush goes in the next), apart from the
// loop's poll. Each worker waits for its outcome's commit before it sends
// again, so a process killed at any point has at most one unrecorded
// delivery per worker: the redeliveries a kill causes are bounded by the
// workers, not by the rate of deliveries times a commit stalled behind
// another process's lock. The returned function stops it and waits for it.
func (r *run) flushOnDone(ctx context.Context) (stop func()) {
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-quit:
				return
			case <-r.wake:
				_ = r.flush(ctx) // on error the poll retries and reports it
			}
		}
	}()
	return func() {
		close(quit)
		<-done
	}
}

// renewEvery renews the leases every interval of real time, apart from the
// loop, so that nothing the loop waits on (a busy outbox, a slow flush) lets
// the leases run out while this dispatcher lives. The returned function
// stops it and waits for it.
func (r *run) renewEvery(ctx context.Context, interval time.Duration) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(max(interval, time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				now := r.d.Now()
				if err := r.d.Outbox.RenewLeases(ctx, r.owner, now, r.d.Lease); err != nil {
					if ctx.Err() == nil {
						r.d.Logger.Warn("outbox leases not renewed; retrying", "err", err)
					}
					continue
				}
				r.renewedAt(now)
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

// run is the state of one Drain or Run: the per-receiver queues and their
// workers, the messages in flight, and the outcomes not recorded yet.
type run struct {
	d       *Dispatcher
	owner   string
	renewed time.Time
	global  chan struct{}          // bounds deliveries overall
	queues  map[string]chan Queued // per receiver; used by the loop only
	limits  map[string]*receiverLimit
	wg      sync.WaitGroup
	// claimMu orders claims and flushes: a message whose outcome is being
	// recorded is claimable once the commit is done, and must by then be
	// out of inflight, or take would refuse it and it would stay leased.
	claimMu sync.Mutex

	// quit is closed when the loop has ended: workers send nothing more
	// and no longer wait for commits (stop records what is left).
	quit chan struct{}

	mu       sync.Mutex
	inflight map[string]string // id -> receiver: claimed, queued or being delivered, outcome not recorded
	held     map[string]int    // inflight per receiver
	tokens   map[string]grant  // id -> its receiver's token, until the outcome is recorded
	wake     chan struct{}     // an outcome is waiting to be recorded
	pending  []Outcome         // outcomes to record
	waiting  []chan struct{}   // closed once pending's outcomes are recorded
	stats    DispatchStats
	// leaseUntil is how long every lease this run holds is known to last:
	// the last renewal's end (claims lease each message until its own
	// Queued.claimed + Lease).
	leaseUntil time.Time
}

func newRun(d *Dispatcher) *run {
	return &run{
		d:        d,
		owner:    leaseOwner(),
		renewed:  d.Now(),
		global:   make(chan struct{}, d.Workers),
		queues:   map[string]chan Queued{},
		limits:   map[string]*receiverLimit{},
		tokens:   map[string]grant{},
		inflight: map[string]string{},
		held:     map[string]int{},
		wake:     make(chan struct{}, 1),
		quit:     make(chan struct{}),
	}
}

// loop polls until ctx ends, or, untilIdle, until nothing is left. The
// outbox may be busy (a long scan being recorded by another process) or
// briefly unwritable: the loop keeps going, and only a Drain gives up,
// after maxStoreFailures errors in a row.
func (r *run) loop(ctx, workCtx context.Context, untilIdle bool) error {
	failures := 0
	for {
		if ctx.Err() != nil {
			return nil
		}
		wait, idle, err := r.poll(ctx, workCtx)
		switch {
		case err != nil && ctx.Err() != nil:
			return nil
		case err != nil:
			failures++
			if untilIdle && failures >= maxStoreFailures {
				return err
			}
			wait = min(time.Duration(failures)*time.Second, 30*time.Second)
			r.d.Logger.Warn("outbox not reachable; retrying", "err", err, "in", wait)
		default:
			failures = 0
			if idle && untilIdle {
				return nil
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
	}
}

// stop closes the queues, waits for the workers, records what they did,
// releases the leases left, and returns the stats, read only now that
// every delivery has counted.
func (r *run) stop(ctx context.Context, stopFlush, stopRenew func()) DispatchStats {
	close(r.quit)
	for _, q := range r.queues {
		close(q)
	}
	r.wg.Wait()
	stopFlush()
	_ = r.flush(ctx)
	stopRenew()
	if err := r.d.Outbox.ReleaseLeases(context.WithoutCancel(ctx), r.owner); err != nil {
		r.d.Logger.Warn("outbox leases not released; other processes send those messages once the leases run out", "err", err)
	}
	r.mu.Lock()
	stats := r.stats
	r.mu.Unlock()
	if bc, ok := r.d.Outbox.(BacklogCounter); ok {
		held, pending, err := bc.Backlog(context.WithoutCancel(ctx), r.owner, r.d.Now())
		if err != nil {
			r.d.Logger.Warn("outbox backlog not counted", "err", err)
		}
		stats.Held, stats.Pending = held, pending
	}
	return stats
}

// poll records outcomes, renews leases, claims and queues what is due, and
// says how long to wait before the next poll; idle when nothing is left for
// this dispatcher.
func (r *run) poll(ctx, workCtx context.Context) (wait time.Duration, idle bool, err error) {
	d := r.d
	if err := r.flush(ctx); err != nil {
		return 0, false, err
	}
	now := d.Now()
	if now.Sub(r.renewed) >= d.Lease/4 {
		if err := d.Outbox.RenewLeases(ctx, r.owner, now, d.Lease); err != nil {
			return 0, false, err
		}
		r.renewed = now
		r.renewedAt(now)
	}
	due, err := r.claim(ctx, now)
	if err != nil {
		return 0, false, err
	}
	queued := 0
	for _, m := range due {
		queued++
		r.queue(ctx, workCtx, m.Receiver) <- m
	}
	if queued > 0 || r.busy() {
		return d.PollInterval, false, nil
	}
	now = d.Now()
	next, err := d.Outbox.NextDue(ctx, r.owner, now)
	switch {
	case err != nil:
		return 0, false, err
	case next.IsZero():
		return time.Second, true, nil
	case !next.After(now):
		// Due, and nothing in flight, yet the claim took nothing: a lease
		// of this run's that no worker will send (its release failed).
		// Renewals would keep it from every claim for as long as this
		// run lives; give it back for the next claim.
		if err := r.releaseStray(ctx); err != nil {
			return 0, false, err
		}
	case next.Sub(now) > d.retryLimit():
		// Due beyond any pause this dispatcher sets: parked by an earlier
		// run, for a later one. A Drain does not wait for it (it is
		// counted as pending); Run polls on.
		return time.Second, true, nil
	}
	return max(d.PollInterval, min(next.Sub(d.Now()), time.Second)), false, nil
}

// releaseStray releases this run's leases when nothing is in flight (so
// no worker holds them).
func (r *run) releaseStray(ctx context.Context) error {
	r.claimMu.Lock()
	defer r.claimMu.Unlock()
	if r.busy() {
		return nil
	}
	return r.d.Outbox.ReleaseLeases(ctx, r.owner)
}

// claim claims what is due and fits, and marks it in flight.
func (r *run) claim(ctx context.Context, now time.Time) ([]Queued, error) {
	r.claimMu.Lock()
	defer r.claimMu.Unlock()
	room, full := r.room()
	if room <= 0 {
		return nil, nil
	}
	due, err := r.d.Outbox.ClaimDue(ctx, r.owner, now, r.d.Lease, room, full...)
	if err != nil {
		return nil, err
	}
	out := due[:0]
	for _, m := range due {
		if r.take(m.ID, m.Receiver) {
			m.leaseUntil = now.Add(r.d.Lease)
			out = append(out, m)
		}
	}
	return out, nil
}

// renewedAt notes a renewal of every lease held, at now.
func (r *run) renewedAt(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if until := now.Add(r.d.Lease); until.After(r.leaseUntil) {
		r.leaseUntil = until
	}
}

// leaseCovers reports whether m's lease is known to outlast the start of
// an attempt by a margin (the attempt's timeout, at most a quarter of the
// lease: renewals come every quarter): when it might run out first
// (renewals failing, a process starved of CPU), another dispatcher may
// claim m and send it too, so this one leaves it to the lease's next holder.
func (r *run) leaseCovers(m Queued) bool {
	r.mu.Lock()
	until := r.leaseUntil
	r.mu.Unlock()
	if m.leaseUntil.After(until) {
		until = m.leaseUntil
	}
	return r.d.Now().Add(min(r.d.Timeout, r.d.Lease/4)).Before(until)
}

// take marks a message in flight; false when it already is (claimed again
// before its outcome was recorded).
func (r *run) take(id, receiver string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.inflight[id]; ok {
		return false
	}
	r.inflight[id] = receiver
	r.held[receiver]++
	return true
}

// release marks a message no longer in flight; r.mu is held.
func (r *run) release(id string) {
	if receiver, ok := r.inflight[id]; ok {
		delete(r.inflight, id)
		if r.held[receiver]--; r.held[receiver] <= 0 {
			delete(r.held, receiver)
		}
	}
}

// room is how many messages the next claim may take, and the receivers
// it must leave alone: those this run already holds holdPerReceiver
// messages of. A slow receiver's backlog stays claimable by another
// process, and every claim and probe scans fewer of its leased rows.
func (r *run) room() (int, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var full []string
	for receiver, n := range r.held {
		if n >= r.holdPerReceiver() {
			full = append(full, receiver)
		}
	}
	slices.Sort(full)
	return min(claimLimit, maxInflight-len(r.inflight)), full
}

// holdPerReceiver bounds the messages of one receiver this run holds: its
// workers' run-ahead four times over, at least two claims' worth.
func (r *run) holdPerReceiver() int {
	return max(2*claimLimit, 4*r.d.PerReceiver*runAhead)
}

// busy reports whether deliveries or outcomes are outstanding.
func (r *run) busy() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.inflight) > 0 || len(r.pending) > 0
}

// queue returns receiver's queue, starting its workers the first time.
func (r *run) queue(ctx, workCtx context.Context, receiver string) chan Queued {
	q, ok := r.queues[receiver]
	if ok {
		return q
	}
	q = make(chan Queued, maxInflight)
	r.queues[receiver] = q
	lim := newReceiverLimit(r.d.PerReceiver)
	r.limits[receiver] = lim
	for range r.d.PerReceiver {
		r.wg.Add(1)
		go r.work(ctx, workCtx, q, lim)
	}
	return q
}

// grant is a receiver's token held for one message's attempt.
type grant struct {
	lim   *receiverLimit
	token uint64
}

// work delivers from q until it is closed, one message at a time, running
// at most runAhead outcomes ahead of their commit: before a send that
// would leave more unrecorded, it waits for the oldest commit. Each
// attempt also holds a token of its receiver's adaptive limit (lim) until
// it fails or its delivery is recorded. A process killed at any point has at most
// min(runAhead per worker, the receiver's limit) unrecorded deliveries,
// and a commit's latency is spread over the sends ahead of it. Once ctx
// ends or the loop stops, queued messages are skipped: they stay pending
// for the next dispatcher; so are messages whose lease might run out
// during the attempt.
func (r *run) work(ctx, workCtx context.Context, q <-chan Queued, lim *receiverLimit) {
	defer r.wg.Done()
	var unrecorded []<-chan struct{}
	for m := range q {
		if ctx.Err() != nil || r.stopping() {
			r.skip(m.ID)
			continue
		}
		unrecorded = r.awaitCommits(unrecorded, runAhead-1)
		token, ok := lim.acquire(r.quit)
		if !ok {
			r.skip(m.ID)
			continue
		}
		// The lease is checked after the wait for a token.
		if !r.leaseCovers(m) && !r.extend(ctx, &m) {
			lim.release(token, tokenUnused)
			continue
		}
		r.global <- struct{}{}
		o := r.d.deliver(workCtx, m)
		<-r.global
		g := grant{lim, token}
		if o.Err != "" {
			// Not accepted: nothing a kill would make the receiver see
			// twice, so the token need not wait for the commit.
			lim.release(token, tokenFailed)
			g = grant{}
		}
		unrecorded = append(unrecorded, r.done(o, g))
	}
}

// runAhead is how many delivered outcomes one worker may hold unrecorded:
// the bound on what a kill makes it redeliver.
const runAhead = 4

// awaitCommits drops the recorded outcomes from unrecorded and waits, oldest
// first, until at most keep are left (or the loop stops).
func (r *run) awaitCommits(unrecorded []<-chan struct{}, keep int) []<-chan struct{} {
	for len(unrecorded) > 0 {
		select {
		case <-unrecorded[0]:
			unrecorded = unrecorded[1:]
			continue
		default:
		}
		if len(unrecorded) <= keep {
			break
		}
		select {
		case <-unrecorded[0]:
			unrecorded = unrecorded[1:]
		case <-r.quit:
			return unrecorded[:0]
		}
	}
	return unrecorded
}

// stopping reports whether the loop has ended.
func (r *run) stopping() bool {
	select {
	case <-r.quit:
		return true
	default:
		return false
	}
}

// extend renews m's lease alone before an attempt it might not cover
// (renewals late: a process starved of CPU, a busy state file), and
// reports whether this run still holds it. When it does not (the lease ran
// out, perhaps claimed by another dispatcher) or cannot tell, m is left to
// the next claim. Like a flush, it holds claimMu: a claim between the
// extension and the skip would find m still in flight and leave it leased
// to this run and unsent.
func (r *run) extend(ctx context.Context, m *Queued) bool {
	r.claimMu.Lock()
	defer r.claimMu.Unlock()
	now := r.d.Now()
	ok, err := r.d.Outbox.ExtendLease(context.WithoutCancel(ctx), r.owner, m.ID, now, r.d.Lease)
	if err != nil {
		r.d.Logger.Warn("outbox lease not extended; leaving the message to the next claim", "message", m.ID, "err", err)
		_ = r.d.Outbox.ReleaseLeases(context.WithoutCancel(ctx), r.owner, m.ID)
	}
	if ok {
		m.leaseUntil = now.Add(r.d.Lease)
		return true
	}
	r.skip(m.ID)
	return false
}

func (r *run) skip(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.release(id)
}

// done counts an outcome and keeps it for the next flush, with the token
// it holds (g, zero for none); the message stays in flight until the
// outcome is recorded, and the returned channel is closed then (and the
// token returned).
func (r *run) done(o Outcome, g grant) <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	if g.lim != nil {
		r.tokens[o.ID] = g
	}
	switch {
	case o.Err == "":
		r.stats.Sent++
	case o.Final:
		r.stats.Failed++
	default:
		r.stats.Retried++
	}
	r.pending = append(r.pending, o)
	recorded := make(chan struct{})
	r.waiting = append(r.waiting, recorded)
	select {
	case r.wake <- struct{}{}:
	default:
	}
	return recorded
}

// flush records the outcomes gathered since the last flush in one batch;
// on error they are kept for the next try.
func (r *run) flush(ctx context.Context) error {
	r.claimMu.Lock()
	defer r.claimMu.Unlock()
	r.mu.Lock()
	batch, waiting := r.pending, r.waiting
	r.pending, r.waiting = nil, nil
	r.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	err := r.d.Outbox.RecordOutcomes(context.WithoutCancel(ctx), batch)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.pending = append(batch, r.pending...)
		r.waiting = append(waiting, r.waiting...)
		return err
	}
	for _, o := range batch {
		r.release(o.ID)
		if g, ok := r.tokens[o.ID]; ok {
			delete(r.tokens, o.ID)
			g.lim.release(g.token, tokenAccepted)
		}
	}
	for _, c := range waiting {
		close(c)
	}
	return nil
}

// deliver makes one attempt at one message.
func (d *Dispatcher) deliver(ctx context.Context, m Queued) Outcome {
	log := d.Logger.With("receiver", m.Receiver, "message", m.ID, "attempt", m.Attempts+1)
	fail := func(err error, retry bool) Outcome {
		if d.Observe != nil {
			d.Observe(m.Receiver, err)
		}
		o := Outcome{ID: m.ID, At: d.Now(), Err: err.Error()}
		if !retry || m.Attempts+1 >= m.MaxAttempts {
			o.Final = true
			log.Error("notification failed", "err", err)
			return o
		}
		pause := backoff(d.Window, m.MaxAttempts, m.Attempts+1, rand.Float64())
		var he *HTTPError
		if errors.As(err, &he) && he.RetryAfter > pause {
			// Honoured only within the retry window: a receiver cannot
			// park a message (and the run draining it) for years.
			if limit := d.retryLimit(); he.RetryAfter > limit {
				o.Final = true
				o.Err = fmt.Sprintf("%s; not retried: Retry-After %s is beyond the retry window of %s", o.Err, he.RetryAfter, d.retryLimit())
				log.Error("notification failed", "err", o.Err)
				return o
			}
			pause = he.RetryAfter
		}
		o.NextAttemptAt = o.At.Add(pause)
		log.Warn("notification not delivered; will retry", "err", err, "in", pause.Round(time.Millisecond))
		return o
	}
	n, ok := d.Notifiers[m.Receiver]
	if !ok {
		return fail(fmt.Errorf("receiver %q is not configured", m.Receiver), false)
	}
	msg, err := DecodeMessage(m.Body)
	if err != nil {
		return fail(err, false)
	}
	actx, cancel := context.WithTimeout(ctx, d.Timeout)
	defer cancel()
	retry, err := n.Notify(actx, msg)
	if err != nil {
		return fail(err, retry)
	}
	if d.Observe != nil {
		d.Observe(m.Receiver, nil)
	}
	log.Debug("notification delivered")
	return Outcome{ID: m.ID, At: d.Now()}
}

// retryLimit is the longest pause before a retry: the retry window, or
// maxRetryAfterLimit without one.
func (d *Dispatcher) retryLimit() time.Duration {
	if d.Window > 0 {
		return d.Window
	}
	return maxRetryAfterLimit
}

// backoff is the pause before attempt n+1 after n failed attempts: the
// attempts are spread exponentially over window (AWS Config's
// RetryAttemptSeconds), with +-20% jitter (jitter in [0, 1)).
func backoff(window time.Duration, maxAttempts, failed int, jitter float64) time.Duration {
	if maxAttempts < 2 {
		return 0
	}
	slots := (int64(1) << (maxAttempts - 1)) - 1 // 1 + 2 + 4 + ... for maxAttempts-1 pauses
	base := float64(window) / float64(slots)
	d := base * float64(int64(1)<<(failed-1))
	return time.Duration(d * (0.8 + 0.4*jitter))
}
