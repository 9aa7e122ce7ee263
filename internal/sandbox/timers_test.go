package sandbox

import (
	"sync"
	"testing"
	"time"
)

// heldTimers is an Options.After the tests drive: every wait lasts until release, whatever
// its duration, so that a test sees each step of an operation and never sleeps.
type heldTimers struct {
	mu      sync.Mutex
	pending []chan time.Time
	started chan struct{} // closed and replaced when a wait starts
}

func newHeldTimers() *heldTimers { return &heldTimers{started: make(chan struct{})} }

func (h *heldTimers) After(time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.pending = append(h.pending, ch)
	close(h.started)
	h.started = make(chan struct{})
	return ch
}

// next returns a channel closed when the next wait starts.
func (h *heldTimers) next() <-chan struct{} {
	if h == nil {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.started
}

// release ends every wait started so far.
func (h *heldTimers) release() {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, ch := range h.pending {
		ch <- time.Now()
	}
	h.pending = nil
}

// newHeldSandbox is newTestSandbox with its waits held until the test releases them.
func newHeldSandbox(t *testing.T, opts Options) *testSandbox {
	t.Helper()
	h := newHeldTimers()
	opts.After = h.After
	ts := newTestSandbox(t, opts)
	ts.timers = h
	return ts
}

// await calls done until it reports true. Between calls it releases the sandbox's held waits
// and waits until CloudFormation's state changes or a new wait starts: on the sandbox, never
// on wall time. The 10 seconds are a guard against a hang, not a timing assertion.
func (ts *testSandbox) await(t *testing.T, what string, done func() bool) {
	t.Helper()
	guard := time.NewTimer(10 * time.Second)
	defer guard.Stop()
	for {
		changed, started := ts.CloudFormationChanged(), ts.timers.next()
		if done() {
			return
		}
		ts.timers.release()
		select {
		case <-changed:
		case <-started:
		case <-guard.C:
			t.Fatalf("%s: no progress within 10s", what)
		}
	}
}

// TestHeldTimers checks the test clock itself: a wait ends at release, not before.
func TestHeldTimers(t *testing.T) {
	h := newHeldTimers()
	started := h.next()
	w := h.After(time.Hour)
	select {
	case <-started:
	default:
		t.Fatal("After did not signal that a wait started")
	}
	select {
	case <-w:
		t.Fatal("a held wait ended before release")
	default:
	}
	h.release()
	select {
	case <-w:
	default:
		t.Error("a held wait did not end at release")
	}
}
