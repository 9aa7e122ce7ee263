package notify

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// gatedOutbox is a memOutbox whose commits wait until open is closed.
type gatedOutbox struct {
	*memOutbox
	open chan struct{}
}

func (g *gatedOutbox) RecordOutcomes(ctx context.Context, outcomes []Outcome) error {
	<-g.open
	return g.memOutbox.RecordOutcomes(ctx, outcomes)
}

// Workers deliver at most runAhead messages each ahead of their commit, and
// all of them together at most their receiver's limit (limitStart at
// first): with commits stalled (another process holding the state file),
// they stop there, so a kill redelivers at most that many; once commits
// resume, everything is delivered.
func TestWorkerRunsAheadBoundedly(t *testing.T) {
	for _, tt := range []struct {
		name              string
		workers, messages int
	}{
		{"one worker", 1, 20},
		{"three workers", 3, 40},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				now := time.Now()
				mem := newMemOutbox(t, now)
				for i := range tt.messages {
					id := fmt.Sprintf("m%02d", i)
					mem.add(t, id, "hook", mustEncode(t, Message{ID: id, Receiver: "hook", Text: "rotate"}), 0, 3, now)
				}
				g := &gatedOutbox{memOutbox: mem, open: make(chan struct{})}
				var mu sync.Mutex
				sent := 0
				hook := notifierFunc(func(context.Context, Message) (bool, error) {
					mu.Lock()
					defer mu.Unlock()
					sent++
					return false, nil
				})
				d := &Dispatcher{Outbox: g, Notifiers: map[string]Notifier{"hook": hook}, Workers: tt.workers, PerReceiver: tt.workers, Window: time.Second}
				done := make(chan DispatchStats)
				go func() {
					stats, err := d.Drain(context.Background())
					if err != nil {
						t.Errorf("Drain: %v", err)
					}
					done <- stats
				}()
				synctest.Wait()
				mu.Lock()
				got := sent
				mu.Unlock()
				if want := min(tt.workers*runAhead, limitStart); got != want {
					t.Errorf("delivered %d with commits stalled, want %d (%d workers x %d ahead, at most the receiver's starting limit %d)", got, want, tt.workers, runAhead, limitStart)
				}
				close(g.open)
				if stats := <-done; stats.Sent != tt.messages {
					t.Errorf("Drain sent %d once commits resumed, want %d", stats.Sent, tt.messages)
				}
			})
		})
	}
}

// A run claims no more of one receiver than holdPerReceiver, so the
// receiver's backlog stays claimable by another process.
func TestClaimCapsHeldPerReceiver(t *testing.T) {
	now := time.Now()
	for _, tt := range []struct {
		name     string
		held     map[string]int
		wantSkip []string
	}{
		{"nothing held", nil, nil},
		{"under the cap", map[string]int{"slow": 10}, nil},
		{"at the cap", map[string]int{"slow": -1, "fast": 3}, []string{"slow"}},
		{"two at the cap", map[string]int{"b": -1, "a": -1}, []string{"a", "b"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := &Dispatcher{Outbox: newMemOutbox(t, now), Workers: 4}
			d.defaults()
			r := newRun(d)
			for receiver, n := range tt.held {
				if n < 0 {
					n = r.holdPerReceiver()
				}
				for i := range n {
					r.take(fmt.Sprintf("%s-%d", receiver, i), receiver)
				}
			}
			_, skip := r.room()
			if fmt.Sprint(skip) != fmt.Sprint(tt.wantSkip) {
				t.Errorf("room() skips %v, want %v", skip, tt.wantSkip)
			}
		})
	}
}
