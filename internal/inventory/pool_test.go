package inventory

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A group on Workers keeps errgroup's rules: at most the limit in flight,
// never more workers than the pool's bound, the first error cancels the
// others and is what Wait returns.
func TestGroupOnWorkers(t *testing.T) {
	fail := errors.New("task failed")
	for _, tt := range []struct {
		name                  string
		workers, limit, tasks int
		groups                int // run at once on the same workers
		failAt                int // task that fails first (-1: none)
	}{
		{name: "one group, limit below the pool", workers: 8, groups: 1, limit: 3, tasks: 50, failAt: -1},
		{name: "groups share a small pool", workers: 2, groups: 4, limit: 3, tasks: 20, failAt: -1},
		{name: "one worker", workers: 1, groups: 3, limit: 16, tasks: 10, failAt: -1},
		{name: "first error cancels the rest", workers: 4, groups: 1, limit: 2, tasks: 40, failAt: 5},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := NewWorkers(tt.workers)
			var inPool atomic.Int64
			var peakPool atomic.Int64
			var outer sync.WaitGroup
			errs := make([]error, tt.groups)
			ran := make([]atomic.Int64, tt.groups)
			for gi := range tt.groups {
				outer.Add(1)
				go func() {
					defer outer.Done()
					g, gctx := newGroup(context.Background(), w)
					g.SetLimit(tt.limit)
					var inGroup, peakGroup atomic.Int64
					for i := range tt.tasks {
						g.Go(func() error {
							defer inGroup.Add(-1)
							defer inPool.Add(-1)
							raise(&peakGroup, inGroup.Add(1))
							raise(&peakPool, inPool.Add(1))
							if tt.failAt >= 0 && i > tt.failAt {
								// The scheduler may run the failing task's worker after
								// every later task (a new goroutine can wait while two
								// others hand each other the processor), so a later task
								// waits for the failure, bounded: without the
								// cancellation they all run and the check below fails.
								select {
								case <-gctx.Done():
								case <-time.After(5 * time.Second):
								}
							}
							if gctx.Err() != nil {
								return gctx.Err()
							}
							ran[gi].Add(1)
							if i == tt.failAt {
								return fmt.Errorf("task %d: %w", i, fail)
							}
							return nil
						})
					}
					errs[gi] = g.Wait()
					if gctx.Err() == nil {
						t.Errorf("group %d: context not done after Wait", gi)
					}
					if p := peakGroup.Load(); p > int64(tt.limit) {
						t.Errorf("group %d: %d tasks in flight at once, want at most %d", gi, p, tt.limit)
					}
					if tt.failAt >= 0 && !errors.Is(errs[gi], fail) {
						t.Errorf("group %d: Wait() = %v, want the task's error", gi, errs[gi])
					}
				}()
			}
			outer.Wait()
			w.Close()
			if p := peakPool.Load(); p > int64(tt.workers) {
				t.Errorf("%d tasks in flight on %d workers", p, tt.workers)
			}
			if w.n > tt.workers {
				t.Errorf("%d workers started, want at most %d", w.n, tt.workers)
			}
			for gi := range tt.groups {
				switch {
				case tt.failAt < 0 && (errs[gi] != nil || ran[gi].Load() != int64(tt.tasks)):
					t.Errorf("group %d: Wait() = %v after %d of %d tasks, want nil after all", gi, errs[gi], ran[gi].Load(), tt.tasks)
				case tt.failAt >= 0 && ran[gi].Load() == int64(tt.tasks):
					t.Errorf("group %d: all %d tasks ran after task %d failed, want the rest cancelled", gi, tt.tasks, tt.failAt)
				}
			}
		})
	}
}

// raise sets peak to v if v is larger.
func raise(peak *atomic.Int64, v int64) {
	for p := peak.Load(); v > p && !peak.CompareAndSwap(p, v); p = peak.Load() {
	}
}
