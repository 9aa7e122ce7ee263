package notify

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// The receiver's limit grows while demand waits for it and attempts are
// accepted (by one per attempt in slow start, by one per limit's worth
// after), is cut by limitCut once per limit's worth of failing attempts,
// and stays within [limitFloor, PerReceiver x runAhead].
func TestReceiverLimitAdapts(t *testing.T) {
	type step struct {
		wanted bool        // a worker waited for a token before this release
		res    tokenResult // what the released token's attempt met
		n      int         // this many times
	}
	for _, tt := range []struct {
		name        string
		perReceiver int
		steps       []step
		want        float64
	}{
		{"starts small", 12, nil, limitStart},
		{"slow start: one per accepted delivery while demand waits", 12, []step{{true, tokenAccepted, 5}}, limitStart + 5},
		{"no growth without demand", 12, []step{{false, tokenAccepted, 20}}, limitStart},
		{"unused tokens change nothing", 12, []step{{true, tokenUnused, 5}}, limitStart},
		{"capped at PerReceiver x runAhead", 1, []step{{true, tokenAccepted, 20}}, runAhead},
		{"a failure cuts it", 12, []step{{true, tokenAccepted, 8}, {false, tokenFailed, 1}}, 10 * limitCut},
		{"after a cut, one per limit's worth", 12, []step{{true, tokenAccepted, 8}, {false, tokenFailed, 1}, {true, tokenAccepted, 7}}, 10*limitCut + 1},
		{"never below the floor", 12, []step{{false, tokenFailed, 10}}, limitFloor},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l := newReceiverLimit(tt.perReceiver)
			for _, s := range tt.steps {
				for range s.n {
					l.out++ // a token held, taken after the last cut
					l.issued++
					l.wanted = s.wanted
					l.release(l.issued, s.res)
				}
			}
			if got := l.limit; got < tt.want-0.1 || got > tt.want+0.1 {
				t.Errorf("limit after %v = %.2f, want %.2f", tt.steps, got, tt.want)
			}
		})
	}
}

// Failures of attempts that started before a cut do not cut again: one cut
// per limit's worth of attempts, as TCP cuts once per round trip.
func TestReceiverLimitCutsOncePerWindow(t *testing.T) {
	l := newReceiverLimit(12)
	l.limit = 10
	var tokens []uint64
	for range 10 {
		tok, ok := l.acquire(nil)
		if !ok {
			t.Fatal("acquire under the limit refused")
		}
		tokens = append(tokens, tok)
	}
	for _, tok := range tokens {
		l.release(tok, tokenFailed)
	}
	if l.limit != 10*limitCut {
		t.Errorf("limit after 10 failures of one window = %.2f, want one cut to %.2f", l.limit, 10*limitCut)
	}
}

// acquire waits at the limit until a token returns, or gives up when told
// to quit.
func TestReceiverLimitAcquireWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newReceiverLimit(12)
		var held []uint64
		for range limitStart {
			tok, _ := l.acquire(nil)
			held = append(held, tok)
		}
		got := make(chan bool)
		go func() {
			_, ok := l.acquire(nil)
			got <- ok
		}()
		synctest.Wait()
		select {
		case <-got:
			t.Fatal("acquire beyond the limit did not wait")
		default:
		}
		l.release(held[0], tokenAccepted)
		if !<-got {
			t.Error("acquire after a token returned = false, want a token")
		}
		// The wait was demand, the token an accepted delivery: slow start
		// grew the limit by one, and the next token is free at once.
		if _, ok := l.acquire(nil); !ok || l.bound() != limitStart+1 {
			t.Fatalf("acquire = %v with limit %d, want a token under limit %d", ok, l.bound(), limitStart+1)
		}
		quit := make(chan struct{})
		go func() {
			_, ok := l.acquire(quit)
			got <- ok
		}()
		synctest.Wait()
		close(quit)
		if <-got {
			t.Error("acquire after quit = true, want false")
		}
	})
}

// Through a Drain: a healthy receiver with a deep backlog is soon served by
// every worker; one whose every attempt fails by limitFloor at a time.
func TestDispatcherAdaptsConcurrencyPerReceiver(t *testing.T) {
	const workers = 8
	for _, tt := range []struct {
		name string
		fail bool
		want int // most attempts in flight at once
	}{
		{"healthy receiver, deep backlog", false, workers},
		{"failing receiver", true, limitFloor},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				now := time.Now()
				mem := newMemOutbox(t, now)
				for i := range 200 {
					id := fmt.Sprintf("m%03d", i)
					mem.add(t, id, "hook", mustEncode(t, Message{ID: id, Receiver: "hook", Text: "rotate"}), 0, 1, now)
				}
				var mu sync.Mutex
				inFlight, most := 0, 0
				hook := notifierFunc(func(context.Context, Message) (bool, error) {
					mu.Lock()
					inFlight++
					most = max(most, inFlight)
					mu.Unlock()
					time.Sleep(10 * time.Millisecond) // the receiver's latency (fake time)
					mu.Lock()
					inFlight--
					mu.Unlock()
					if tt.fail {
						return true, errors.New("HTTP 503")
					}
					return false, nil
				})
				d := &Dispatcher{Outbox: mem, Notifiers: map[string]Notifier{"hook": hook}, Workers: workers, PerReceiver: workers, Window: time.Second}
				stats, err := d.Drain(context.Background())
				if err != nil || stats.Sent+stats.Failed != 200 {
					t.Fatalf("Drain = %+v, %v; want 200 attempted", stats, err)
				}
				if most != tt.want {
					t.Errorf("at most %d attempts in flight, want %d", most, tt.want)
				}
			})
		})
	}
}
