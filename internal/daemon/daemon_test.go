package daemon

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestSchedulerNeverOverlapsAndCoalescesTriggers(t *testing.T) {
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
	time.Sleep(50 * time.Millisecond)
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

func TestSchedulerInterval(t *testing.T) {
	var scans atomic.Int32
	s := &Scheduler{Interval: 30 * time.Millisecond, Scan: func(context.Context, func(int, int)) error { scans.Add(1); return nil }}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)
	waitFor(t, func() bool { return scans.Load() >= 3 })
}

func TestInterruptedScanIsNotRecorded(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	s := &Scheduler{Scan: func(ctx context.Context, _ func(int, int)) error { cancel(); <-ctx.Done(); return ctx.Err() }}
	s.Run(ctx)
	if last, _ := s.Last(); !last.IsZero() {
		t.Errorf("an interrupted scan counts as the last scan: %v", last)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A failed scan is retried after RetryAfter, doubling, not after a whole
// interval; a success goes back to the interval.
func TestFailedScanRetriedSooner(t *testing.T) {
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
	time.Sleep(100 * time.Millisecond)
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
