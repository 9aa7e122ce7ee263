package sandbox

import (
	"context"
	"math"
	"math/rand/v2"
	"sync"
	"time"
)

// faults injects latency, throttling and failures, in that order, into every API request.
type faults struct {
	latency time.Duration
	after   func(time.Duration) <-chan time.Time // Options.After

	mu       sync.Mutex
	rps      float64 // 0: no throttling
	burst    float64
	tokens   float64
	last     time.Time
	failRate float64
	rng      *rand.Rand
}

func newFaults(o Options) *faults {
	f := &faults{
		latency:  o.Latency,
		after:    o.After,
		rps:      o.ThrottleRPS,
		failRate: o.FailRate,
		rng:      rand.New(rand.NewPCG(uint64(o.Seed), 0x6b65796167650001)),
	}
	if f.after == nil {
		f.after = time.After
	}
	if f.rps > 0 {
		f.burst = math.Max(1, math.Ceil(f.rps))
		f.tokens = f.burst
	}
	return f
}

// wait sleeps for the configured latency, returning early when ctx ends.
func (f *faults) wait(ctx context.Context) error {
	if f.latency <= 0 {
		return nil
	}
	select {
	case <-f.after(f.latency):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// allow takes a token from the bucket (refilled at rps per second of wall time, up to burst),
// reporting false when the request must be throttled.
func (f *faults) allow(now time.Time) bool {
	if f.rps <= 0 {
		return true
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.last.IsZero() {
		f.tokens = math.Min(f.burst, f.tokens+now.Sub(f.last).Seconds()*f.rps)
	}
	f.last = now
	if f.tokens < 1 {
		return false
	}
	f.tokens--
	return true
}

// fail reports whether this request gets an injected server error.
func (f *faults) fail() bool {
	if f.failRate <= 0 {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rng.Float64() < f.failRate
}
