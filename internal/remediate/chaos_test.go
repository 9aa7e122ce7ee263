package remediate

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyage/keyage/internal/notify"
	"github.com/keyage/keyage/internal/notify/webhook"
	"github.com/keyage/keyage/internal/outbox"
	"github.com/keyage/keyage/internal/store"
)

// Chaos parameters shared by the test and its dispatcher processes.
const (
	// chaosDefaultMessages is the size `go test ./...` runs: a few seconds
	// idle, well within a minute on a loaded machine.
	chaosDefaultMessages = 2000
	chaosWindow          = 2 * time.Second        // remediation.retryAttemptSeconds
	chaosTimeout         = 250 * time.Millisecond // remediation.timeoutSeconds
	chaosLease           = time.Second
	chaosMaxAttempts     = 8
	// chaosStall bounds how long a run-like dispatcher may take, and how
	// long a serve-like one may take to stop once told to.
	chaosStall = 60 * time.Second
)

// TestChaosHelper is a dispatcher process of TestChaosDelivery: run-like
// (Drain) or serve-like (Run for a while), on the state file and receivers
// the environment names. Without KEYAGE_CHAOS_ROLE it does nothing.
func TestChaosHelper(t *testing.T) {
	role := os.Getenv("KEYAGE_CHAOS_ROLE")
	if role == "" {
		t.Skip("a dispatcher process of TestChaosDelivery")
	}
	ctx := context.Background()
	st, err := store.Open(ctx, os.Getenv("KEYAGE_CHAOS_STATE"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	notifiers := map[string]notify.Notifier{}
	for _, name := range []string{"flaky", "hostile"} {
		n, err := webhook.New(webhook.Options{URL: os.Getenv("KEYAGE_CHAOS_" + strings.ToUpper(name)), HTTPOptions: notify.HTTPOptions{Timeout: chaosTimeout}})
		if err != nil {
			t.Fatal(err)
		}
		notifiers[name] = n
	}
	d := &notify.Dispatcher{Outbox: outbox.New(st), Notifiers: notifiers, Window: chaosWindow, Timeout: chaosTimeout, Lease: chaosLease}
	switch role {
	case "run":
		if _, err := d.Drain(ctx); err != nil {
			t.Fatal(err)
		}
	case "serve":
		life, _ := time.ParseDuration(os.Getenv("KEYAGE_CHAOS_LIFE"))
		ctx, cancel := context.WithTimeout(ctx, life)
		defer cancel()
		if err := d.Run(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// chaosReceivers are the two webhook servers of the chaos test: flaky
// (500s, hangs, short Retry-After; every message must get through) and
// hostile (huge Retry-After, hangs, 10 MB bodies, connection resets; every
// message must end FAILED with its reason, without holding up flaky).
type chaosReceivers struct {
	flaky, hostile *httptest.Server
	mu             sync.Mutex
	accepted       map[string]int // flaky: delivery id -> 2xx answers
	attempts       int
	hostileSeen    int
}

func newChaosReceivers(t *testing.T, seed uint64) *chaosReceivers {
	c := &chaosReceivers{accepted: map[string]int{}}
	stop := make(chan struct{})
	rng := rand.New(rand.NewPCG(seed, 1))
	var rngMu sync.Mutex
	roll := func() float64 {
		rngMu.Lock()
		defer rngMu.Unlock()
		return rng.Float64()
	}
	hang := func(r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}
	c.flaky = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.attempts++
		c.mu.Unlock()
		switch p := roll(); {
		case p < 0.08:
			w.WriteHeader(http.StatusInternalServerError)
		case p < 0.10:
			hang(r)
		case p < 0.12:
			w.Header().Set("Retry-After", "1") // within the window: honoured
			w.WriteHeader(http.StatusTooManyRequests)
		default:
			time.Sleep(time.Millisecond) // a receiver's own work
			c.mu.Lock()
			c.accepted[r.Header.Get(webhook.HeaderDelivery)]++
			c.mu.Unlock()
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	c.hostile = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.hostileSeen++
		n := c.hostileSeen
		c.mu.Unlock()
		switch n % 4 {
		case 0:
			w.Header().Set("Retry-After", "999999999")
			w.WriteHeader(http.StatusTooManyRequests)
		case 1:
			hang(r)
		case 2:
			w.WriteHeader(http.StatusInternalServerError)
			chunk := make([]byte, 1<<20)
			for range 10 {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		case 3:
			conn, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				return
			}
			if tc, ok := conn.(*net.TCPConn); ok {
				_ = tc.SetLinger(0) // RST
			}
			conn.Close()
		}
	}))
	t.Cleanup(c.flaky.Close)
	t.Cleanup(c.hostile.Close)
	t.Cleanup(func() { close(stop) })
	return c
}

// chaosProc is one dispatcher process.
type chaosProc struct {
	role    string
	cmd     *exec.Cmd
	started time.Time
	life    time.Duration // serve-like: how long it runs before stopping
	done    chan error
}

// TestChaosDelivery kills run-like and serve-like dispatcher processes at
// random points while two of them at a time deliver one state file's outbox
// to a flaky and a hostile receiver (issue 13, "Done when"). Every message
// for the flaky receiver is delivered at least once, duplicates carry the
// same delivery id and stay under 1%, every hostile message ends FAILED with
// its reason, and no process stalls past its window.
//
// It runs with chaosDefaultMessages in the default suite (-short skips it);
// KEYAGE_CHAOS_MESSAGES=10000 is the full run of BENCHMARKS.md.
func TestChaosDelivery(t *testing.T) {
	if os.Getenv("KEYAGE_CHAOS_ROLE") != "" {
		t.Skip("inside a helper process")
	}
	if testing.Short() {
		t.Skip("starts dispatcher processes and kills them")
	}
	n := chaosDefaultMessages
	if v, err := strconv.Atoi(os.Getenv("KEYAGE_CHAOS_MESSAGES")); err == nil && v > 0 {
		n = v
	}
	hostileN := max(1, n/100)
	kills := max(6, n/400)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d: %d messages to flaky, %d to hostile, %d kills", seed, n, hostileN, kills)
	rng := rand.New(rand.NewPCG(seed, 2))

	state := filepath.Join(t.TempDir(), "keyage.db")
	st := openStoreAt(t, state)
	enqueueChaos(t, st, n, hostileN)
	recv := newChaosReceivers(t, seed)

	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	start := func(role string) *chaosProc {
		p := &chaosProc{role: role, done: make(chan error, 1)}
		if role == "serve" {
			p.life = time.Duration(500+rng.IntN(2500)) * time.Millisecond
		}
		p.cmd = exec.Command(self, "-test.run=^TestChaosHelper$", "-test.count=1")
		p.cmd.Env = append(os.Environ(), "KEYAGE_CHAOS_ROLE="+role, "KEYAGE_CHAOS_STATE="+state,
			"KEYAGE_CHAOS_FLAKY="+recv.flaky.URL, "KEYAGE_CHAOS_HOSTILE="+recv.hostile.URL, "KEYAGE_CHAOS_LIFE="+p.life.String())
		var out strings.Builder
		p.cmd.Stdout, p.cmd.Stderr = &out, &out
		if err := p.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		p.started = time.Now()
		go func() {
			err := p.cmd.Wait()
			if err != nil && !strings.Contains(err.Error(), "killed") {
				err = fmt.Errorf("%w: %s", err, out.String())
			}
			p.done <- err
		}()
		return p
	}

	deadline := time.Now().Add(5 * time.Minute)
	procs := []*chaosProc{start("run"), start("serve")}
	killed, exited := 0, 0
	var longestRun, longestStop time.Duration
	killGap := func() time.Duration { return time.Duration(30+rng.IntN(270)) * time.Millisecond }
	nextKill := time.Now().Add(killGap())
	pending := func() int {
		s, err := st.OutboxStats(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return s.Pending
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if time.Now().After(deadline) {
			for _, p := range procs {
				_ = p.cmd.Process.Kill()
			}
			t.Fatalf("outbox not drained within 5 minutes: %d pending; %s", pending(), stuckSummary(t, st))
		}
		for i, p := range procs {
			select {
			case err := <-p.done:
				took := time.Since(p.started)
				if err != nil && !strings.Contains(err.Error(), "killed") {
					t.Errorf("%s process: %v", p.role, err)
				}
				if err == nil {
					exited++
					if p.role == "run" {
						longestRun = max(longestRun, took)
					} else {
						longestStop = max(longestStop, took-p.life)
					}
				}
				procs[i] = start(p.role)
			default:
			}
		}
		left := pending()
		if left == 0 {
			break
		}
		if killed < kills && time.Now().After(nextKill) {
			p := procs[rng.IntN(len(procs))]
			if err := p.cmd.Process.Kill(); err == nil { // SIGKILL: no lease released, no outcome flushed
				killed++
			}
			nextKill = time.Now().Add(killGap())
		}
		<-tick.C // a supervisor's poll of real processes
	}
	for _, p := range procs {
		_ = p.cmd.Process.Kill()
		<-p.done
	}

	// Every flaky message delivered at least once; duplicates only under
	// the message's own id; every hostile one FAILED with its reason.
	recv.mu.Lock()
	accepted := recv.accepted
	attempts := recv.attempts
	recv.mu.Unlock()
	dups, missing, unknown := 0, 0, 0
	for i := range n {
		c := accepted[chaosID("flaky", i)]
		if c == 0 {
			missing++
		}
		if c > 1 {
			dups += c - 1
		}
	}
	for id := range accepted {
		if !strings.HasPrefix(id, "flaky-") {
			unknown++
		}
	}
	failed, err := st.Messages(context.Background(), store.MessageFailed, 2*n)
	if err != nil {
		t.Fatal(err)
	}
	hostileFailed := 0
	reasons := map[string]int{}
	for _, m := range failed {
		if m.Receiver != "hostile" {
			t.Errorf("flaky message %s FAILED: %s", m.ID, m.LastError)
			continue
		}
		hostileFailed++
		if m.LastError == "" {
			t.Errorf("hostile message %s FAILED without a reason", m.ID)
		}
		reasons[chaosReason(m.LastError)]++
	}
	t.Logf("chaos: %d flaky messages, %d attempts, %d delivered, %d duplicates (%.2f%%, all under their own delivery id), %d missing; %d/%d hostile FAILED %v; %d processes killed during delivery, %d exited by themselves; longest run-like %v, longest serve-like stop %v",
		n, attempts, len(accepted), dups, 100*float64(dups)/float64(n), missing, hostileFailed, hostileN, reasons, killed, exited, longestRun.Round(time.Millisecond), longestStop.Round(time.Millisecond))
	if missing > 0 {
		t.Errorf("%d of %d flaky messages never delivered", missing, n)
	}
	if unknown > 0 {
		t.Errorf("%d deliveries under an id no message has", unknown)
	}
	// A kill redelivers at most what its workers had sent and not yet
	// recorded: each of the dispatcher's default 16 workers holds at most
	// notify's runAhead (4) outcomes ahead of their commit (and all of a
	// receiver's together at most its adaptive limit, a few here).
	const workers, runAhead = 16, 4
	if limit := killed * workers * runAhead; dups > limit {
		t.Errorf("%d duplicate deliveries after %d kills, want at most %d per worker per kill (%d)", dups, killed, runAhead, limit)
	}
	if os.Getenv("KEYAGE_CHAOS_MESSAGES") != "" && float64(dups) >= 0.01*float64(n) {
		// The target, for the full run of BENCHMARKS.md.
		t.Errorf("%d duplicate deliveries, want under 1%% of %d", dups, n)
	}
	if hostileFailed != hostileN {
		t.Errorf("%d of %d hostile messages FAILED, want all", hostileFailed, hostileN)
	}
	if killed == 0 {
		t.Errorf("no process killed during delivery: the outbox drained before the first kill")
	}
	if longestRun > chaosStall || longestStop > chaosStall {
		t.Errorf("a process stalled: longest run-like %v, longest serve-like stop %v, want within %v", longestRun, longestStop, chaosStall)
	}
}

func chaosID(receiver string, i int) string { return fmt.Sprintf("%s-%06d", receiver, i) }

// chaosReason names the kind of a hostile failure for the summary.
func chaosReason(err string) string {
	switch {
	case strings.Contains(err, "beyond the retry window"):
		return "retry-after"
	case strings.Contains(err, "timeout"), strings.Contains(err, "deadline"):
		return "timeout"
	case strings.Contains(err, "HTTP 500"):
		return "500"
	case strings.Contains(err, "reset"), strings.Contains(err, "EOF"):
		return "reset"
	}
	return "other"
}

// enqueueChaos adds n messages for flaky and hostileN for hostile.
func enqueueChaos(t *testing.T, st *store.Store, n, hostileN int) {
	t.Helper()
	now := time.Now()
	err := st.Update(context.Background(), func(tx *store.Tx) error {
		for _, r := range []struct {
			receiver string
			count    int
		}{{"flaky", n}, {"hostile", hostileN}} {
			for i := range r.count {
				id := chaosID(r.receiver, i)
				body, err := notify.EncodeMessage(notify.Message{ID: id, Kind: notify.KindFinding, Receiver: r.receiver, Text: SeedText("222222222222", "alice")})
				if err != nil {
					return err
				}
				if err := tx.Enqueue(context.Background(), store.Message{ID: id, Receiver: r.receiver, Kind: notify.KindFinding, GroupKey: id,
					JSON: body, MaxAttempts: chaosMaxAttempts, NextAttemptAt: now, CreatedAt: now}); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// stuckSummary describes the messages left pending by their lease and due
// time relative to now, for a chaos run that did not drain.
func stuckSummary(t *testing.T, st *store.Store) string {
	t.Helper()
	now := time.Now().UnixMilli()
	rows, err := st.DB().Query(`SELECT receiver, attempts, lease_owner != '', lease_until > ?1, lease_until > 0, next_attempt_at > ?1, COUNT(*)
		FROM outbox WHERE state = 'PENDING' GROUP BY 1, 2, 3, 4, 5, 6`, now)
	if err != nil {
		return err.Error()
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var receiver string
		var attempts, n int
		var owned, live, leased, later bool
		if err := rows.Scan(&receiver, &attempts, &owned, &live, &leased, &later, &n); err != nil {
			return err.Error()
		}
		fmt.Fprintf(&b, "\n  %s attempts=%d owned=%v live=%v leased=%v later=%v: %d", receiver, attempts, owned, live, leased, later, n)
	}
	return b.String()
}
