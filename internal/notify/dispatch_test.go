package notify

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// memOutbox is an Outbox in memory, with the store's lease rules.
type memOutbox struct {
	mu       sync.Mutex
	msgs     map[string]*memMessage
	outcomes []Outcome
	renewals int
	released []string
	// recorded, when set, is called after outcomes are recorded.
	recorded func()
}

type memMessage struct {
	q          Queued
	due        time.Time
	owner      string
	leaseUntil time.Time
	done       bool
}

func newMemOutbox(t *testing.T, now time.Time, ms ...Message) *memOutbox {
	t.Helper()
	o := &memOutbox{msgs: map[string]*memMessage{}}
	for _, m := range ms {
		o.add(t, m.ID, m.Receiver, mustEncode(t, m), 0, 3, now)
	}
	return o
}

func mustEncode(t *testing.T, m Message) []byte {
	t.Helper()
	b, err := EncodeMessage(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (o *memOutbox) add(t *testing.T, id, receiver string, body []byte, attempts, maxAttempts int, due time.Time) {
	t.Helper()
	o.msgs[id] = &memMessage{q: Queued{ID: id, Receiver: receiver, Attempts: attempts, MaxAttempts: maxAttempts, Body: body}, due: due}
}

func (o *memOutbox) ClaimDue(_ context.Context, owner string, now time.Time, lease time.Duration, limit int, skip ...string) ([]Queued, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []Queued
	for _, m := range o.msgs {
		if m.done || m.due.After(now) || m.leaseUntil.After(now) || len(out) == limit || slices.Contains(skip, m.q.Receiver) {
			continue
		}
		m.owner, m.leaseUntil = owner, now.Add(lease)
		out = append(out, m.q)
	}
	slices.SortFunc(out, func(a, b Queued) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

func (o *memOutbox) ExtendLease(_ context.Context, owner, id string, now time.Time, lease time.Duration) (bool, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	m, ok := o.msgs[id]
	if !ok || m.done || m.owner != owner {
		return false, nil
	}
	if !m.leaseUntil.After(now) {
		m.owner, m.leaseUntil = "", time.Time{}
		return false, nil
	}
	m.leaseUntil = now.Add(lease)
	return true, nil
}

func (o *memOutbox) RenewLeases(_ context.Context, owner string, now time.Time, lease time.Duration) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.renewals++
	for _, m := range o.msgs {
		if m.owner == owner && !m.done {
			m.leaseUntil = now.Add(lease)
		}
	}
	return nil
}

func (o *memOutbox) ReleaseLeases(_ context.Context, owner string, ids ...string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.released = append(o.released, owner)
	for id, m := range o.msgs {
		if m.owner == owner && (len(ids) == 0 || slices.Contains(ids, id)) {
			m.owner, m.leaseUntil = "", time.Time{}
		}
	}
	return nil
}

func (o *memOutbox) NextDue(_ context.Context, owner string, now time.Time) (time.Time, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	var next time.Time
	for _, m := range o.msgs {
		if !m.done && (m.owner == owner || !m.leaseUntil.After(now)) && (next.IsZero() || m.due.Before(next)) {
			next = m.due
		}
	}
	return next, nil
}

func (o *memOutbox) RecordOutcomes(_ context.Context, outcomes []Outcome) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, x := range outcomes {
		o.outcomes = append(o.outcomes, x)
		m := o.msgs[x.ID]
		m.q.Attempts++
		if x.Err == "" || x.Final {
			m.done = true
		} else {
			m.due = x.NextAttemptAt
		}
		m.owner, m.leaseUntil = "", time.Time{}
	}
	if o.recorded != nil {
		o.recorded()
	}
	return nil
}

// notifierFunc adapts a function to Notifier.
type notifierFunc func(context.Context, Message) (bool, error)

func (f notifierFunc) Notify(ctx context.Context, m Message) (bool, error) { return f(ctx, m) }

// TestDispatcherOutcomes makes one attempt at one message and checks the
// outcome the dispatcher records; the Drain stops once it is recorded (the
// clock does not move, so a retried message would never be due again).
func TestDispatcherOutcomes(t *testing.T) {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	msg := Message{ID: "m1", Kind: KindFinding, Receiver: "hook", Text: "rotate", JSON: true}
	for _, tt := range []struct {
		name      string
		receiver  string
		body      []byte
		attempts  int
		notify    func(context.Context, Message) (bool, error)
		wantErr   string // "" for success
		wantFinal bool
		// wantPause bounds NextAttemptAt - At for a retry.
		minPause, maxPause time.Duration
		wantStats          DispatchStats
	}{
		{name: "delivered", receiver: "hook", notify: func(_ context.Context, m Message) (bool, error) {
			if !m.JSON || m.Text != "rotate" {
				return false, errors.New("message changed on its way through the outbox")
			}
			return false, nil
		}, wantStats: DispatchStats{Sent: 1}},
		{name: "transient failure retries within the window", receiver: "hook", notify: func(context.Context, Message) (bool, error) {
			return true, errors.New("HTTP 500")
		}, wantErr: "HTTP 500", minPause: 16 * time.Second, maxPause: 24 * time.Second, wantStats: DispatchStats{Retried: 1}},
		{name: "Retry-After longer than the pause wins", receiver: "hook", notify: func(context.Context, Message) (bool, error) {
			return true, &HTTPError{Endpoint: "https://example.com", StatusCode: 429, RetryAfter: 50 * time.Second}
		}, wantErr: "HTTP 429", minPause: 50 * time.Second, maxPause: 50 * time.Second, wantStats: DispatchStats{Retried: 1}},
		{name: "Retry-After beyond the retry window fails the message", receiver: "hook", notify: func(context.Context, Message) (bool, error) {
			return true, &HTTPError{Endpoint: "https://example.com", StatusCode: 429, RetryAfter: 999999999 * time.Second}
		}, wantErr: "beyond the retry window of 1m0s", wantFinal: true, wantStats: DispatchStats{Failed: 1}},
		{name: "permanent failure is final", receiver: "hook", notify: func(context.Context, Message) (bool, error) {
			return false, errors.New("HTTP 404")
		}, wantErr: "HTTP 404", wantFinal: true, wantStats: DispatchStats{Failed: 1}},
		{name: "last attempt is final", receiver: "hook", attempts: 2, notify: func(context.Context, Message) (bool, error) {
			return true, errors.New("HTTP 503")
		}, wantErr: "HTTP 503", wantFinal: true, wantStats: DispatchStats{Failed: 1}},
		{name: "attempt times out", receiver: "hook", notify: func(ctx context.Context, _ Message) (bool, error) {
			<-ctx.Done()
			return true, ctx.Err()
		}, wantErr: "context deadline exceeded", minPause: 16 * time.Second, maxPause: 24 * time.Second, wantStats: DispatchStats{Retried: 1}},
		{name: "unknown receiver", receiver: "gone", wantErr: `receiver "gone" is not configured`, wantFinal: true, wantStats: DispatchStats{Failed: 1}},
		{name: "undecodable message", receiver: "hook", body: []byte("{"), notify: func(context.Context, Message) (bool, error) {
			return false, nil
		}, wantErr: "decode message", wantFinal: true, wantStats: DispatchStats{Failed: 1}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			body := tt.body
			if body == nil {
				body = mustEncode(t, msg)
			}
			ob := &memOutbox{msgs: map[string]*memMessage{}}
			ob.add(t, "m1", tt.receiver, body, tt.attempts, 3, now)
			ctx, stop := context.WithCancel(context.Background())
			defer stop()
			ob.recorded = stop
			var observed []error
			d := &Dispatcher{Outbox: ob, Notifiers: map[string]Notifier{"hook": notifierFunc(tt.notify)},
				Window: time.Minute, Timeout: 10 * time.Millisecond, Now: func() time.Time { return now },
				Observe: func(_ string, err error) { observed = append(observed, err) }}
			stats, err := d.Drain(ctx)
			if err != nil {
				t.Fatalf("Drain: %v", err)
			}
			if stats != tt.wantStats {
				t.Errorf("Drain stats = %+v, want %+v", stats, tt.wantStats)
			}
			if len(ob.outcomes) != 1 {
				t.Fatalf("recorded %d outcomes, want 1: %+v", len(ob.outcomes), ob.outcomes)
			}
			o := ob.outcomes[0]
			if (tt.wantErr == "") != (o.Err == "") || !strings.Contains(o.Err, tt.wantErr) {
				t.Errorf("outcome error = %q, want one containing %q", o.Err, tt.wantErr)
			}
			if o.Final != tt.wantFinal {
				t.Errorf("outcome final = %v, want %v", o.Final, tt.wantFinal)
			}
			if pause := o.NextAttemptAt.Sub(o.At); tt.maxPause > 0 && (pause < tt.minPause || pause > tt.maxPause) {
				t.Errorf("next attempt in %v, want between %v and %v", pause, tt.minPause, tt.maxPause)
			}
			if len(observed) != 1 || (observed[0] == nil) != (tt.wantErr == "") {
				t.Errorf("observed %v, want one attempt", observed)
			}
			if len(ob.released) != 1 {
				t.Errorf("leases released %d times, want once when the dispatcher stops", len(ob.released))
			}
		})
	}
}

// A dispatcher that lives longer than a quarter of its lease renews its
// leases; a retried message is delivered once due.
func TestDispatcherRenewsLeasesAndRetries(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(time.Second) // every reading moves the clock on
		return now
	}
	ob := newMemOutbox(t, now, Message{ID: "m1", Receiver: "hook"})
	calls := 0
	d := &Dispatcher{Outbox: ob, Window: 10 * time.Second, Lease: 8 * time.Second, Now: clock, PollInterval: time.Millisecond,
		Notifiers: map[string]Notifier{"hook": notifierFunc(func(context.Context, Message) (bool, error) {
			calls++
			if calls == 1 {
				return true, errors.New("HTTP 502")
			}
			return false, nil
		})}}
	stats, err := d.Drain(context.Background())
	if err != nil || stats != (DispatchStats{Sent: 1, Retried: 1}) {
		t.Errorf("Drain = %+v, %v; want 1 sent after 1 retry", stats, err)
	}
	if ob.renewals == 0 {
		t.Errorf("leases never renewed over %d clock readings", calls)
	}
}

// A receiver that hangs with more messages due than a dispatcher holds in
// flight does not stop the dispatcher renewing its leases (issue 13 row 3:
// the loop blocked on a full queue, the leases ran out, and another
// process sent the same messages again).
func TestDispatcherRenewsLeasesWhileAReceiverHangs(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(time.Second)
		return now
	}
	ob := &memOutbox{msgs: map[string]*memMessage{}}
	for i := range maxInflight + 1000 {
		id := fmt.Sprintf("m%05d", i)
		ob.add(t, id, "slow", mustEncode(t, Message{ID: id, Receiver: "slow"}), 0, 3, now)
	}
	release := make(chan struct{})
	var calls atomic.Int32
	d := &Dispatcher{Outbox: ob, Workers: 2, PerReceiver: 2, Lease: 8 * time.Second, Now: clock, PollInterval: time.Millisecond,
		Notifiers: map[string]Notifier{"slow": notifierFunc(func(ctx context.Context, _ Message) (bool, error) {
			calls.Add(1)
			<-release
			return false, nil
		})}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	renewals := func() int {
		ob.mu.Lock()
		defer ob.mu.Unlock()
		return ob.renewals
	}
	deadline := time.Now().Add(10 * time.Second)
	for calls.Load() < 2 && time.Now().Before(deadline) {
		runtime.Gosched()
	}
	before := renewals()
	for renewals() < before+5 && time.Now().Before(deadline) {
		runtime.Gosched()
	}
	got := renewals() - before
	close(release)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got < 5 {
		t.Errorf("leases renewed %d times while the receiver hung with %d messages due, want them renewed on (at least 5)", got, maxInflight+1000)
	}
}

// Stopping a dispatcher leaves what it had not started pending, and
// releases its leases for the next one.
func TestDispatcherStopLeavesRestPending(t *testing.T) {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	var ms []Message
	for _, id := range []string{"m1", "m2", "m3", "m4"} {
		ms = append(ms, Message{ID: id, Receiver: "hook"})
	}
	ob := newMemOutbox(t, now, ms...)
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	d := &Dispatcher{Outbox: ob, Workers: 1, PerReceiver: 1, Now: func() time.Time { return now },
		Notifiers: map[string]Notifier{"hook": notifierFunc(func(context.Context, Message) (bool, error) {
			first := false
			once.Do(func() { first = true })
			if first {
				close(started)
				<-release // the first delivery is in flight when the dispatcher stops
			}
			return false, nil
		})}}
	go func() {
		<-started
		cancel()
		close(release)
	}()
	if err := d.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if len(ob.outcomes) != 1 || ob.outcomes[0].ID != "m1" || ob.outcomes[0].Err != "" {
		t.Errorf("outcomes after stop = %+v, want m1 sent (it was in flight)", ob.outcomes)
	}
	for id, m := range ob.msgs {
		if m.owner != "" {
			t.Errorf("message %s still leased to %s after stop", id, m.owner)
		}
	}
	stats, err := (&Dispatcher{Outbox: ob, Now: func() time.Time { return now },
		Notifiers: map[string]Notifier{"hook": notifierFunc(func(context.Context, Message) (bool, error) { return false, nil })}}).Drain(context.Background())
	if err != nil || stats.Sent != 3 {
		t.Errorf("next Drain = %+v, %v; want the 3 left sent", stats, err)
	}
}

func TestEncodeMessageRoundTrip(t *testing.T) {
	for _, m := range []Message{
		{ID: "text", Kind: KindFinding, Receiver: "r", Text: "rotate", Items: []Item{{AccountID: "222222222222", UserName: "alice"}}},
		{ID: "json", Kind: KindResolved, Receiver: "r", JSON: true, Recipients: []string{"alice@example.com"}},
	} {
		b, err := EncodeMessage(m)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeMessage(b)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != m.ID || got.JSON != m.JSON || got.Text != m.Text || len(got.Items) != len(m.Items) || len(got.Recipients) != len(m.Recipients) {
			t.Errorf("DecodeMessage(EncodeMessage(%+v)) = %+v", m, got)
		}
	}
}
func TestBackoffSpreadsAttemptsOverWindow(t *testing.T) {
	window := 60 * time.Second
	var total time.Duration
	for failed := 1; failed < 5; failed++ {
		total += backoff(window, 5, failed, 0.5)
	}
	if total != window {
		t.Errorf("pauses of 5 attempts sum to %v, want the whole window %v", total, window)
	}
	if backoff(window, 1, 1, 0.5) != 0 {
		t.Errorf("one attempt must not pause")
	}
}

// A Drain does not wait for a message due beyond its retry window (issue 13
// row 1: a message parked until 2058 kept every later run from exiting).
func TestDrainDoesNotWaitPastTheWindow(t *testing.T) {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name     string
		due      time.Time
		wantSent int
	}{
		{"parked until 2058 by an old Retry-After", time.Date(2058, 1, 1, 0, 0, 0, 0, time.UTC), 0},
		{"due just past the window", now.Add(time.Minute + time.Second), 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ob := &memOutbox{msgs: map[string]*memMessage{}}
			ob.add(t, "m1", "hook", mustEncode(t, Message{ID: "m1", Receiver: "hook"}), 1, 3, tt.due)
			d := &Dispatcher{Outbox: ob, Window: time.Minute, Now: func() time.Time { return now },
				Notifiers: map[string]Notifier{"hook": notifierFunc(func(context.Context, Message) (bool, error) { return false, nil })}}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			stats, err := d.Drain(ctx)
			if err != nil || ctx.Err() != nil {
				t.Fatalf("Drain = %+v, %v (ctx %v); want it to return at once", stats, err, ctx.Err())
			}
			if stats.Sent != tt.wantSent {
				t.Errorf("Drain sent %d, want %d", stats.Sent, tt.wantSent)
			}
		})
	}
}
