package remediate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"sync"
	"time"

	"github.com/keyage/keyage/internal/notify"
	"github.com/keyage/keyage/internal/store"
)

// Dispatcher delivers the outbox at least once: each message is sent until
// its receiver accepts it or its attempts run out (then FAILED, visible, and
// retried by `keyage run --retry-failed`). A receiver that is down or slow
// never blocks the others: each has its own workers.
type Dispatcher struct {
	Store     *store.Store
	Notifiers map[string]notify.Notifier
	// Workers bounds deliveries in flight overall (default 16);
	// PerReceiver bounds them per receiver (default 3/4 of Workers).
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

// DispatchStats counts one Drain's work.
type DispatchStats struct {
	Sent, Retried, Failed int
}

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

// Drain delivers every PENDING message, waiting out retry pauses, and
// returns when none is left or ctx ends (what is left stays in the outbox).
func (d *Dispatcher) Drain(ctx context.Context) (DispatchStats, error) {
	return d.run(ctx, true)
}

// Run delivers messages as they become due until ctx ends.
func (d *Dispatcher) Run(ctx context.Context) error {
	_, err := d.run(ctx, false)
	return err
}

type delivery struct {
	msg  store.Message
	done func(store.Outcome)
	skip func() // shutting down: the message stays PENDING
}

func (d *Dispatcher) run(ctx context.Context, untilIdle bool) (out DispatchStats, _ error) {
	d.defaults()
	var (
		mu       sync.Mutex
		inflight = map[string]bool{}
		pending  []store.Outcome
		stats    DispatchStats
		wg       sync.WaitGroup
	)
	global := make(chan struct{}, d.Workers)
	queues := map[string]chan delivery{}
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	queueFor := func(receiver string) chan delivery {
		q, ok := queues[receiver]
		if ok {
			return q
		}
		q = make(chan delivery, 4096)
		queues[receiver] = q
		for range d.PerReceiver {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for dl := range q {
					if ctx.Err() != nil {
						dl.skip()
						continue
					}
					global <- struct{}{}
					dl.done(d.deliver(workCtx, dl.msg))
					<-global
				}
			}()
		}
		return q
	}
	flush := func() error {
		mu.Lock()
		batch := pending
		pending = nil
		mu.Unlock()
		if len(batch) == 0 {
			return nil
		}
		err := d.Store.RecordOutcomes(context.WithoutCancel(ctx), batch)
		mu.Lock()
		if err != nil {
			pending = append(batch, pending...) // recorded on the next try
		} else {
			for _, o := range batch {
				delete(inflight, o.ID)
			}
		}
		mu.Unlock()
		return err
	}
	owner := leaseOwner()
	renewed := d.Now()
	defer func() {
		for _, q := range queues {
			close(q)
		}
		wg.Wait()
		_ = flush()
		if err := d.Store.ReleaseLeases(context.WithoutCancel(ctx), owner); err != nil {
			d.Logger.Warn("outbox leases not released; other processes send those messages once the leases run out", "err", err)
		}
		mu.Lock()
		out = stats // with the deliveries that finished after the loop
		mu.Unlock()
	}()

	// poll records outcomes, renews leases, claims and queues what is due,
	// and says how long to wait before the next poll; idle when nothing is
	// left for this dispatcher.
	poll := func() (wait time.Duration, idle bool, err error) {
		if err := flush(); err != nil {
			return 0, false, err
		}
		now := d.Now()
		if now.Sub(renewed) >= d.Lease/4 {
			if _, err := d.Store.RenewLeases(ctx, owner, now, d.Lease); err != nil {
				return 0, false, err
			}
			renewed = now
		}
		due, err := d.Store.ClaimDue(ctx, owner, now, d.Lease, 1000)
		if err != nil {
			return 0, false, err
		}
		queued := 0
		for _, m := range due {
			mu.Lock()
			busy := inflight[m.ID]
			if !busy {
				inflight[m.ID] = true
			}
			mu.Unlock()
			if busy {
				continue
			}
			queued++
			queueFor(m.Receiver) <- delivery{msg: m, done: func(o store.Outcome) {
				mu.Lock()
				switch {
				case o.Err == "":
					stats.Sent++
				case o.Final:
					stats.Failed++
				default:
					stats.Retried++
				}
				pending = append(pending, o)
				mu.Unlock()
			}, skip: func() {
				mu.Lock()
				delete(inflight, m.ID)
				mu.Unlock()
			}}
		}
		mu.Lock()
		busy := len(inflight) > 0 || len(pending) > 0
		mu.Unlock()
		if queued > 0 || busy {
			return d.PollInterval, false, nil
		}
		next, err := d.Store.NextDue(ctx, owner, d.Now())
		switch {
		case err != nil:
			return 0, false, err
		case next.IsZero():
			return time.Second, true, nil
		}
		return max(d.PollInterval, min(next.Sub(d.Now()), time.Second)), false, nil
	}

	failures := 0
	for {
		if ctx.Err() != nil {
			return out, nil
		}
		wait, idle, err := poll()
		switch {
		case err != nil && ctx.Err() != nil:
			return out, nil
		case err != nil:
			// The state file may be busy (a long scan being recorded by
			// another process) or briefly unwritable: keep going, and only
			// a Drain gives up, after a few tries.
			failures++
			if untilIdle && failures >= maxStoreFailures {
				return out, err
			}
			wait = min(time.Duration(failures)*time.Second, 30*time.Second)
			d.Logger.Warn("outbox not reachable; retrying", "err", err, "in", wait)
		default:
			failures = 0
			if idle && untilIdle {
				return out, nil
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

// maxStoreFailures is how many store errors in a row end a Drain.
const maxStoreFailures = 5

// deliver makes one attempt at one message.
func (d *Dispatcher) deliver(ctx context.Context, m store.Message) store.Outcome {
	log := d.Logger.With("receiver", m.Receiver, "message", m.ID, "attempt", m.Attempts+1)
	fail := func(err error, retry bool) store.Outcome {
		if d.Observe != nil {
			d.Observe(m.Receiver, err)
		}
		o := store.Outcome{ID: m.ID, At: d.Now(), Err: err.Error()}
		if !retry || m.Attempts+1 >= m.MaxAttempts {
			o.Final = true
			log.Error("notification failed", "err", err)
			return o
		}
		pause := backoff(d.Window, m.MaxAttempts, m.Attempts+1, rand.Float64())
		var he *notify.HTTPError
		if errors.As(err, &he) && he.RetryAfter > pause {
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
	msg, err := decodeMessage(m.JSON)
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
	return store.Outcome{ID: m.ID, At: d.Now()}
}

// stored is a message as the outbox keeps it: notify.Message does not
// serialise its JSON flag.
type stored struct {
	notify.Message
	Format string `json:"format,omitempty"`
}

func encodeMessage(m notify.Message) ([]byte, error) {
	s := stored{Message: m}
	if m.JSON {
		s.Format = "json"
	}
	b, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("encode message %s: %w", m.ID, err)
	}
	return b, nil
}

func decodeMessage(b []byte) (notify.Message, error) {
	var s stored
	if err := json.Unmarshal(b, &s); err != nil {
		return notify.Message{}, fmt.Errorf("decode message: %w", err)
	}
	s.Message.JSON = s.Format == "json"
	return s.Message, nil
}
