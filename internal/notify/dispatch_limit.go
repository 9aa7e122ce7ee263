package notify

import (
	"sync"
)

// receiverLimit bounds one receiver's attempts that are in flight or
// delivered and not yet recorded, across all of a run's workers: what a
// kill of the process makes it redeliver. The bound adapts as TCP's
// congestion window does (AIMD): it starts small, grows while workers wait
// for it (the backlog is deep and the receiver keeps up) by one per
// accepted delivery until the first failure (slow start: it doubles per
// bound's worth), then by one per bound's worth, and is cut by limitCut, at most once per bound's
// worth of attempts, when an attempt fails (an error, a timeout, a
// Retry-After). A fast, healthy receiver (the benchmark's local webhook) is
// soon served by every worker with runAhead outcomes each, as before; a
// failing or overloaded one by a few, so a kill redelivers a few of its
// messages instead of one or more per worker.
type receiverLimit struct {
	mu       sync.Mutex
	limit    float64 // the bound, between lo and hi
	lo, hi   float64
	out      int           // tokens held
	issued   uint64        // tokens handed out so far (each token's number)
	cutAfter uint64        // the last token issued when the bound was last cut
	wanted   bool          // a worker waited for a token since the last increase
	slow     bool          // slow start: no attempt has failed yet
	changed  chan struct{} // closed (and replaced) when a token returns
}

// Bounds of a receiver's limit: it starts at limitStart and never drops
// below limitFloor (a dead receiver still has its messages tried, and
// failed, two at a time); it grows up to the workers' own bound, PerReceiver
// x runAhead.
const (
	limitStart = 2
	limitFloor = 2
)

// limitCut is what a failure leaves of the bound: 0.7, as TCP CUBIC cuts
// (Reno's 0.5 starves a receiver with a steady share of transient
// failures, like the chaos test's flaky one, without fewer duplicates).
const limitCut = 0.7

func newReceiverLimit(perReceiver int) *receiverLimit {
	hi := float64(max(1, perReceiver*runAhead))
	lo := min(limitFloor, hi)
	return &receiverLimit{limit: min(limitStart, hi), lo: lo, hi: hi, slow: true, changed: make(chan struct{})}
}

// acquire waits for a token, or for quit (false); the token's number goes
// back to release.
func (l *receiverLimit) acquire(quit <-chan struct{}) (uint64, bool) {
	for {
		l.mu.Lock()
		if l.out < int(l.limit) {
			l.out++
			l.issued++
			token := l.issued
			l.mu.Unlock()
			return token, true
		}
		l.wanted = true
		changed := l.changed
		l.mu.Unlock()
		select {
		case <-changed:
		case <-quit:
			return 0, false
		}
	}
}

// tokenResult is what became of the attempt a token was taken for.
type tokenResult int

const (
	tokenUnused   tokenResult = iota // no attempt made (the lease could not be kept)
	tokenAccepted                    // delivered, and recorded
	tokenFailed                      // failed (retried later, or final), and recorded
)

// release returns a token and adapts the bound to what its attempt met.
func (l *receiverLimit) release(token uint64, res tokenResult) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.out--
	switch res {
	case tokenFailed:
		// Attempts started before the last cut met the same trouble:
		// one cut per bound's worth of attempts, as TCP cuts once per
		// round trip.
		if token > l.cutAfter {
			l.limit = max(l.lo, l.limit*limitCut)
			l.cutAfter = l.issued
			l.slow = false
		}
	case tokenAccepted:
		if l.wanted {
			step := 1 / l.limit
			if l.slow {
				step = 1
			}
			l.limit = min(l.hi, l.limit+step)
			l.wanted = false
		}
	}
	close(l.changed)
	l.changed = make(chan struct{})
}

// bound is the current bound, for tests.
func (l *receiverLimit) bound() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return int(l.limit)
}
