package inventory

import (
	"context"
	"sync"
)

// Workers is a set of long-lived goroutines that run the per-user calls
// (ListAccessKeys, GetAccessKeyLastUsed, ListUserTags) of every account
// collected with it. A goroutine started per call grows its stack through
// the SDK's deep middleware chain every time (runtime.newstack and
// copystack were 5-12% of the scan's CPU); a worker grows it once and keeps
// it. Workers start on demand, up to the bound given to NewWorkers, and
// end with Close.
type Workers struct {
	tasks chan func()
	mu    sync.Mutex
	n     int // started
	max   int
	wg    sync.WaitGroup
}

// NewWorkers returns a pool of at most n workers (at least 1).
func NewWorkers(n int) *Workers {
	return &Workers{tasks: make(chan func()), max: max(n, 1)}
}

// run hands f to an idle worker, starts one when none is idle and the
// bound allows, and otherwise waits for one to be free.
func (w *Workers) run(f func()) {
	select {
	case w.tasks <- f:
		return
	default:
	}
	w.mu.Lock()
	if w.n < w.max {
		w.n++
		w.wg.Add(1)
		w.mu.Unlock()
		go w.work(f)
		return
	}
	w.mu.Unlock()
	w.tasks <- f
}

func (w *Workers) work(f func()) {
	defer w.wg.Done()
	for ; f != nil; f = <-w.tasks {
		f()
	}
}

// Close ends the workers once their tasks are done. No task may be handed
// to w after Close.
func (w *Workers) Close() {
	close(w.tasks)
	w.wg.Wait()
}

// group runs tasks on Workers as errgroup.Group runs them on goroutines of
// their own: at most limit at once (Go waits for a free place), and the
// first error cancels the group's context and is what Wait returns.
type group struct {
	w      *Workers
	cancel context.CancelCauseFunc
	sem    chan struct{}
	wg     sync.WaitGroup
	once   sync.Once
	err    error
}

// newGroup is errgroup.WithContext on w.
func newGroup(ctx context.Context, w *Workers) (*group, context.Context) {
	ctx, cancel := context.WithCancelCause(ctx)
	return &group{w: w, cancel: cancel}, ctx
}

// SetLimit bounds the tasks of g in flight at once; call it before Go.
func (g *group) SetLimit(n int) { g.sem = make(chan struct{}, max(n, 1)) }

// Go runs f on one of the workers.
func (g *group) Go(f func() error) {
	if g.sem != nil {
		g.sem <- struct{}{}
	}
	g.wg.Add(1)
	g.w.run(func() {
		defer func() {
			if g.sem != nil {
				<-g.sem
			}
			g.wg.Done()
		}()
		if err := f(); err != nil {
			g.once.Do(func() { g.err = err; g.cancel(err) })
		}
	})
}

// Wait waits for every task of g and returns the first error.
func (g *group) Wait() error {
	g.wg.Wait()
	g.cancel(g.err)
	return g.err
}
