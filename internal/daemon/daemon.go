// Package daemon runs scans on a schedule and on demand, one at a time:
// the loop behind keyage serve.
package daemon

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// ScanFunc runs one scan, reporting progress; it must stop when ctx ends
// and then record nothing.
type ScanFunc func(ctx context.Context, progress func(done, total int)) error

// Scheduler runs ScanFunc at start, then every Interval, and whenever
// Trigger is called; a scan never overlaps another, and triggers that
// arrive during a scan are coalesced into one more.
type Scheduler struct {
	Interval time.Duration
	// RetryAfter is the pause after a failed scan (default 5 minutes),
	// doubled after each further failure, never longer than Interval: a
	// scan that failed on something passing (throttling, a busy state file)
	// is not left for a whole interval.
	RetryAfter time.Duration
	Scan       ScanFunc
	Logger     *slog.Logger
	// Now reads the clock for the last scan's time and scan durations
	// (default time.Now); the waits use the runtime's timers, which
	// testing/synctest fakes.
	Now func() time.Time
	// Done, when set, is told of each scan that ran to its end (not one
	// that shutdown interrupted): how long it took and its error. keyage
	// serve counts cycles with it (keyage_cycles_total).
	Done func(took time.Duration, err error)

	once    sync.Once
	trigger chan struct{}

	mu       sync.Mutex
	running  bool
	done     int
	total    int
	lastErr  error
	lastScan time.Time
}

func (s *Scheduler) init() {
	s.once.Do(func() {
		s.trigger = make(chan struct{}, 1)
		if s.Logger == nil {
			s.Logger = slog.New(slog.DiscardHandler)
		}
		if s.Now == nil {
			s.Now = time.Now
		}
	})
}

// Trigger asks for a scan now. It reports false when a scan is already
// running (one more runs after it).
func (s *Scheduler) Trigger() bool {
	s.init()
	select {
	case s.trigger <- struct{}{}:
	default:
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.running
}

// Progress reports the running scan's accounts done and total.
func (s *Scheduler) Progress() (done, total int, running bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.done, s.total, s.running
}

// Last reports when the last scan finished and its error.
func (s *Scheduler) Last() (time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastScan, s.lastErr
}

// Run scans until ctx ends.
func (s *Scheduler) Run(ctx context.Context) {
	s.init()
	if s.Interval <= 0 {
		s.Interval = 24 * time.Hour
	}
	if s.RetryAfter <= 0 {
		s.RetryAfter = 5 * time.Minute
	}
	failures := 0
	timer := time.NewTimer(0) // scan at start
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-s.trigger:
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
		}
		next := s.Interval
		if err := s.runOnce(ctx); err != nil {
			failures++
			next = min(s.RetryAfter<<min(failures-1, 20), s.Interval)
			s.Logger.Info("next scan after the failure", "in", next)
		} else {
			failures = 0
		}
		if ctx.Err() != nil {
			return
		}
		timer.Reset(next)
	}
}

// runOnce runs one scan and returns its error (nil when ctx ended it).
func (s *Scheduler) runOnce(ctx context.Context) error {
	s.mu.Lock()
	s.running, s.done, s.total = true, 0, 0
	s.mu.Unlock()
	start := s.Now()
	err := s.Scan(ctx, func(done, total int) {
		s.mu.Lock()
		s.done, s.total = done, total
		s.mu.Unlock()
	})
	end := s.Now()
	s.mu.Lock()
	s.running = false
	if ctx.Err() == nil {
		s.lastScan, s.lastErr = end, err
	}
	s.mu.Unlock()
	if ctx.Err() == nil && s.Done != nil {
		s.Done(end.Sub(start), err)
	}
	switch {
	case ctx.Err() != nil:
		s.Logger.Info("scan interrupted by shutdown; nothing recorded from it")
		return nil
	case err != nil:
		s.Logger.Error("scan failed", "err", err, "took", end.Sub(start).Round(time.Millisecond))
		return err
	}
	s.Logger.Info("scan done", "took", end.Sub(start).Round(time.Millisecond), "next", s.Interval)
	return nil
}
