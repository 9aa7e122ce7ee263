package remediate

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyage/keyage/internal/notify"
	"github.com/keyage/keyage/internal/notify/webhook"
	"github.com/keyage/keyage/internal/outbox"
	"github.com/keyage/keyage/internal/store"
)

// countingHook is a webhook server that counts deliveries per message id. It answers each
// delivery once gate is closed (nil: at once).
func countingHook(t *testing.T, gate <-chan struct{}) (notify.Notifier, func() map[string]int) {
	t.Helper()
	var mu sync.Mutex
	counts := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if gate != nil {
			<-gate
		}
		mu.Lock()
		counts[r.Header.Get(webhook.HeaderDelivery)]++
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	hook, err := webhook.New(webhook.Options{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	return hook, func() map[string]int {
		mu.Lock()
		defer mu.Unlock()
		out := make(map[string]int, len(counts))
		for k, v := range counts {
			out[k] = v
		}
		return out
	}
}

func openStoreAt(t *testing.T, path string) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// Two keyage processes on one state file (serve, and a run beside it): each
// message is sent once, by one of them.
func TestTwoDispatchersOneState(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyage.db")
	a, b := openStoreAt(t, path), openStoreAt(t, path)
	const n = 300
	enqueue(t, a, n, "hook")
	// No delivery ends before both dispatchers have claimed once: they compete for the same
	// messages while the first one's deliveries are in flight.
	var claimed sync.WaitGroup
	claimed.Add(2)
	gate := make(chan struct{})
	go func() { claimed.Wait(); close(gate) }()
	hook, counts := countingHook(t, gate)
	var wg sync.WaitGroup
	var sent [2]int
	for i, st := range []*store.Store{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := &notify.Dispatcher{Outbox: &claimSignal{Outbox: outbox.New(st), done: claimed.Done}, Notifiers: map[string]notify.Notifier{"hook": hook}, Workers: 4, Window: time.Second}
			stats, err := d.Drain(context.Background())
			if err != nil {
				t.Errorf("dispatcher %d: %v", i, err)
			}
			sent[i] = stats.Sent
		}()
	}
	wg.Wait()
	got := counts()
	if len(got) != n {
		t.Errorf("%d distinct messages delivered, want %d", len(got), n)
	}
	for id, c := range got {
		if c != 1 {
			t.Errorf("message %s delivered %d times", id, c)
		}
	}
	if sent[0]+sent[1] != n {
		t.Errorf("dispatchers report %d + %d sent, want %d in all", sent[0], sent[1], n)
	}
	if st, _ := a.OutboxStats(context.Background()); st.Pending != 0 || st.Sent != n {
		t.Errorf("outbox after both: %+v", st)
	}
}

// Messages a dead dispatcher had claimed are left to it until its lease runs
// out, then delivered by the next one.
func TestDeadDispatchersLeaseRunsOut(t *testing.T) {
	st := openStoreAt(t, filepath.Join(t.TempDir(), "keyage.db"))
	enqueue(t, st, 5, "hook")
	if ms, err := outbox.New(st).ClaimDue(context.Background(), "dead-process", time.Now(), 2*time.Minute, 10); err != nil || len(ms) != 5 {
		t.Fatalf("claim by the process that dies: %d, %v", len(ms), err)
	}
	hook, counts := countingHook(t, nil)
	d := &notify.Dispatcher{Outbox: outbox.New(st), Notifiers: map[string]notify.Notifier{"hook": hook}, Window: time.Second}
	stats, err := d.Drain(context.Background())
	if err != nil || stats.Sent != 0 || len(counts()) != 0 {
		t.Errorf("Drain while the lease lives = %+v, %v, %d delivered; want nothing sent", stats, err, len(counts()))
	}
	d.Now = func() time.Time { return time.Now().Add(3 * time.Minute) }
	stats, err = d.Drain(context.Background())
	if err != nil || stats.Sent != 5 || len(counts()) != 5 {
		t.Errorf("Drain after the lease ran out = %+v, %v, %d delivered; want 5 sent", stats, err, len(counts()))
	}
}

// A state file kept busy by another process past SQLite's busy timeout (a
// long scan being recorded) does not stop the dispatcher: it retries, then
// delivers.
func TestDispatcherOutlastsBusyState(t *testing.T) {
	if testing.Short() {
		t.Skip("holds the state's write lock past the 10 s busy timeout")
	}
	t.Parallel()
	path := filepath.Join(t.TempDir(), "keyage.db")
	st := openStoreAt(t, path)
	enqueue(t, st, 3, "hook")
	other, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	// The lock is held until the dispatcher logs its retry (however long a
	// loaded machine takes to get there), or, without one, until Drain
	// has given up.
	const retryLogged = "outbox not reachable; retrying"
	logs := syncBuffer{watch: retryLogged, seen: make(chan struct{})}
	released := make(chan struct{})
	go func() {
		defer close(released)
		select {
		case <-logs.seen:
		case <-time.After(2 * time.Minute):
		}
		_, _ = conn.ExecContext(context.Background(), "ROLLBACK")
		conn.Close()
	}()
	hook, counts := countingHook(t, nil)
	d := &notify.Dispatcher{Outbox: outbox.New(st), Notifiers: map[string]notify.Notifier{"hook": hook}, Window: time.Second,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	stats, err := d.Drain(context.Background())
	logs.see() // release the lock now if Drain returned without a retry
	<-released
	if err != nil || stats.Sent != 3 || len(counts()) != 3 {
		t.Errorf("Drain = %+v, %v, %d delivered; want 3 sent once the lock was released", stats, err, len(counts()))
	}
	if !strings.Contains(logs.String(), retryLogged) {
		t.Errorf("no retry logged:\n%s", logs.String())
	}
}

// syncBuffer is a bytes.Buffer safe for a logger's concurrent writes.
// When watch is set, seen is closed once a write contains it.
type syncBuffer struct {
	mu    sync.Mutex
	b     bytes.Buffer
	watch string
	seen  chan struct{}
	once  sync.Once
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.watch != "" && bytes.Contains(p, []byte(s.watch)) {
		s.see()
	}
	return s.b.Write(p)
}

// see closes seen (once).
func (s *syncBuffer) see() {
	if s.seen != nil {
		s.once.Do(func() { close(s.seen) })
	}
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// claimSignal is an Outbox that calls done after its first claim.
type claimSignal struct {
	notify.Outbox
	once sync.Once
	done func()
}

func (c *claimSignal) ClaimDue(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int, skip ...string) ([]notify.Queued, error) {
	defer c.once.Do(c.done)
	return c.Outbox.ClaimDue(ctx, owner, now, lease, limit, skip...)
}

// A dispatcher starved past its leases (a loaded machine: the chaos test's
// stall) finds them lapsed when its workers get to the messages, and leaves
// them to the next claim; a renewal after that must not take them back for
// it unsent. Before the fix the renewal revived the lapsed leases, no
// claim (its own included) could take the messages, and a Drain polled
// them for as long as it lived: 200-400 messages pending for minutes.
func TestStarvedDispatcherReclaimsLapsedLeases(t *testing.T) {
	st := openStoreAt(t, filepath.Join(t.TempDir(), "keyage.db"))
	const n = 20
	enqueue(t, st, n, "hook")
	hook, counts := countingHook(t, nil)
	const lease = time.Minute
	var offset atomic.Int64 // the starvation, on the dispatcher's clock
	now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	ob := &starvedOutbox{Outbox: outbox.New(st), starve: func() { offset.Store(int64(2 * lease)) }}
	d := &notify.Dispatcher{Outbox: ob, Notifiers: map[string]notify.Notifier{"hook": hook}, Window: time.Second, Lease: lease, Now: now}
	// The leases' own renewals come every lease/4 of real time: none in
	// this bound, only the poll's (on the dispatcher's clock).
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stats, err := d.Drain(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ob.lapsed.Load() == 0 {
		t.Fatal("no lease found lapsed: the test did not starve the dispatcher")
	}
	got := counts()
	if stats.Sent != n || len(got) != n {
		t.Errorf("Drain after its leases lapsed = %+v, %d of %d delivered; want every message sent", stats, len(got), n)
	}
	for id, c := range got {
		if c != 1 {
			t.Errorf("message %s delivered %d times, want once", id, c)
		}
	}
}

// starvedOutbox starves its dispatcher right after the first claim: the
// clock jumps past the claimed leases, and lease renewals fail until a
// worker has found a lease lapsed (so the renewal comes after it).
type starvedOutbox struct {
	notify.Outbox
	starve  func()
	claimed atomic.Bool
	lapsed  atomic.Int32
}

func (o *starvedOutbox) ClaimDue(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int, skip ...string) ([]notify.Queued, error) {
	ms, err := o.Outbox.ClaimDue(ctx, owner, now, lease, limit, skip...)
	if len(ms) > 0 && !o.claimed.Swap(true) {
		o.starve()
	}
	return ms, err
}

func (o *starvedOutbox) ExtendLease(ctx context.Context, owner, id string, now time.Time, lease time.Duration) (bool, error) {
	ok, err := o.Outbox.ExtendLease(ctx, owner, id, now, lease)
	if err == nil && !ok {
		o.lapsed.Add(1)
	}
	return ok, err
}

func (o *starvedOutbox) RenewLeases(ctx context.Context, owner string, now time.Time, lease time.Duration) error {
	if o.claimed.Load() && o.lapsed.Load() == 0 {
		return errors.New("state file busy (starved)")
	}
	return o.Outbox.RenewLeases(ctx, owner, now, lease)
}
