package daemon

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// The tests run in a synctest bubble: the scheduler's timers and the tests'
// waits use a fake clock that advances only when every goroutine is blocked.

func TestSchedulerNeverOverlapsAndCoalescesTriggers(t *testing.T) {
	synctest.Test(t, testNeverOverlaps)
}

func testNeverOverlaps(t *testing.T) {
	var running, maxRunning, scans atomic.Int32
	release := make(chan struct{})
	s := &Scheduler{Interval: time.Hour, Scan: func(ctx context.Context, progress func(int, int)) error {
		n := running.Add(1)
		if n > maxRunning.Load() {
			maxRunning.Store(n)
		}
		scans.Add(1)
		progress(1, 2)
		<-release
		running.Add(-1)
		return nil
	}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()

	waitFor(t, func() bool { _, _, r := s.Progress(); return r })
	if d, total, _ := s.Progress(); d != 1 || total != 2 {
		t.Errorf("progress = %d/%d, want 1/2", d, total)
	}
	for range 5 {
		if s.Trigger() {
			t.Errorf("Trigger during a scan reported that none was running")
		}
	}
	release <- struct{}{} // first scan ends; one coalesced scan follows
	waitFor(t, func() bool { return scans.Load() == 2 })
	release <- struct{}{}
	waitFor(t, func() bool { _, _, r := s.Progress(); return !r })
	synctest.Wait() // the scheduler is idle: any extra scan would have started
	if got := scans.Load(); got != 2 {
		t.Errorf("scans = %d, want 2 (start + one coalesced trigger)", got)
	}
	if maxRunning.Load() != 1 {
		t.Errorf("%d scans ran at once", maxRunning.Load())
	}
	if last, err := s.Last(); last.IsZero() || err != nil {
		t.Errorf("Last() = %v, %v", last, err)
	}
	cancel()
	<-done
}

func TestSchedulerInterval(t *testing.T) { synctest.Test(t, testInterval) }

func testInterval(t *testing.T) {
	var scans atomic.Int32
	s := &Scheduler{Interval: 30 * time.Millisecond, Scan: func(context.Context, func(int, int)) error { scans.Add(1); return nil }}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)
	waitFor(t, func() bool { return scans.Load() >= 3 })
}

func TestInterruptedScanIsNotRecorded(t *testing.T) { synctest.Test(t, testInterrupted) }

func testInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	s := &Scheduler{Scan: func(ctx context.Context, _ func(int, int)) error { cancel(); <-ctx.Done(); return ctx.Err() }}
	s.Run(ctx)
	if last, _ := s.Last(); !last.IsZero() {
		t.Errorf("an interrupted scan counts as the last scan: %v", last)
	}
}

// waitFor lets the bubble's goroutines run until cond holds, advancing the
// fake clock in steps of 5ms; it fails after 5s of fake time.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for synctest.Wait(); !cond(); synctest.Wait() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(5 * time.Millisecond) // fake time: returns at once
	}
}

// A failed scan is retried after RetryAfter, doubling, not after a whole
// interval; a success goes back to the interval.
func TestFailedScanRetriedSooner(t *testing.T) { synctest.Test(t, testFailedRetriedSooner) }

func testFailedRetriedSooner(t *testing.T) {
	var mu sync.Mutex
	var at []time.Time
	s := &Scheduler{Interval: time.Hour, RetryAfter: 20 * time.Millisecond, Scan: func(context.Context, func(int, int)) error {
		mu.Lock()
		defer mu.Unlock()
		at = append(at, time.Now())
		if len(at) <= 2 {
			return errors.New("list organization accounts: TooManyRequestsException")
		}
		return nil
	}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(at) }
	waitFor(t, func() bool { return count() == 3 })
	time.Sleep(100 * time.Millisecond) // fake time: long enough for a fourth scan, were one due
	synctest.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(at) != 3 {
		t.Fatalf("%d scans, want 3: two failures retried, then the hourly interval", len(at))
	}
	if gap := at[2].Sub(at[1]); gap < 40*time.Millisecond {
		t.Errorf("second retry after %v, want at least 40ms (doubled)", gap)
	}
	if _, err := s.Last(); err != nil {
		t.Errorf("Last() error = %v after the successful retry", err)
	}
}

// Last reports the time of the injected clock, not the wall clock.
func TestLastUsesInjectedClock(t *testing.T) {
	at := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name    string
		scanErr error
	}{
		{"success", nil},
		{"failure", errors.New("list organization accounts: AccessDenied")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			s := &Scheduler{Now: func() time.Time { return at }, Scan: func(context.Context, func(int, int)) error { cancel(); return tt.scanErr }}
			s.Run(ctx)
			// ctx ended during the scan: it is not recorded.
			if last, _ := s.Last(); !last.IsZero() {
				t.Errorf("Last() = %v after an interrupted scan, want zero", last)
			}
			ctx, cancel = context.WithCancel(context.Background())
			defer cancel()
			s.Scan = func(context.Context, func(int, int)) error { return tt.scanErr }
			if err := s.runOnce(ctx); err != tt.scanErr {
				t.Errorf("runOnce() = %v, want %v", err, tt.scanErr)
			}
			if last, err := s.Last(); !last.Equal(at) || err != tt.scanErr {
				t.Errorf("Last() = %v, %v; want %v, %v", last, err, at, tt.scanErr)
			}
		})
	}
}

// Done is told of each scan that ran to its end, with the injected clock's
// duration and the scan's error, and not of one that shutdown interrupted.
func TestDoneReportsFinishedScans(t *testing.T) {
	at := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	failure := errors.New("list organization accounts: AccessDenied")
	for _, tt := range []struct {
		name      string
		scanErr   error
		interrupt bool
		wantCalls int
	}{
		{"success", nil, false, 1},
		{"failure", failure, false, 1},
		{"interrupted by shutdown", nil, true, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			now := at
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var calls int
			var took time.Duration
			var got error
			s := &Scheduler{
				Now: func() time.Time { return now },
				Scan: func(context.Context, func(int, int)) error {
					now = now.Add(90 * time.Second)
					if tt.interrupt {
						cancel()
					}
					return tt.scanErr
				},
				Done: func(d time.Duration, err error) { calls, took, got = calls+1, d, err },
			}
			s.init()
			_ = s.runOnce(ctx)
			if calls != tt.wantCalls {
				t.Fatalf("Done called %d times, want %d", calls, tt.wantCalls)
			}
			if calls == 1 && (took != 90*time.Second || got != tt.scanErr) {
				t.Errorf("Done(%v, %v), want Done(1m30s, %v)", took, got, tt.scanErr)
			}
		})
	}
}
