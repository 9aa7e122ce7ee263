package outbox

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/keyage/keyage/internal/notify"
	"github.com/keyage/keyage/internal/rule"
	"github.com/keyage/keyage/internal/store"
)

var t0 = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)

// open returns a new state file and its outbox.
func open(t *testing.T) (*store.Store, *Outbox) {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "keyage.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st, New(st)
}

func TestOutboxAndExecutions(t *testing.T) {
	ctx := context.Background()
	st, s := open(t)
	var execID int64
	err := st.Update(ctx, func(tx *store.Tx) error {
		var err error
		execID, err = tx.PutExecution(ctx, store.Execution{AccountID: "222222222222", ResourceID: "AIDA1", Rule: rule.Name, UserName: "alice", State: store.ExecutionQueued,
			Steps: []store.Step{{Name: "ResolveUserName", State: store.ExecutionSucceeded}, {Name: store.PublishStep, State: store.ExecutionQueued}}, CreatedAt: t0, UpdatedAt: t0})
		if err != nil {
			return err
		}
		for _, id := range []string{"m1", "m2"} {
			if err := tx.Enqueue(ctx, store.Message{ID: id, Receiver: "r-" + id, Kind: "finding", GroupKey: "g", ExecutionIDs: []int64{execID}, JSON: []byte(`{}`), MaxAttempts: 3, NextAttemptAt: t0, CreatedAt: t0}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if due, _ := s.ClaimDue(ctx, "d1", t0.Add(-time.Second), time.Minute, 10); len(due) != 0 {
		t.Errorf("messages due before their time: %d", len(due))
	}
	due, err := s.ClaimDue(ctx, "d1", t0, time.Minute, 10)
	if err != nil || len(due) != 2 {
		t.Fatalf("ClaimDue = %d, %v; want 2", len(due), err)
	}
	// m1 sent, m2 fails once and is retried later.
	if err := s.RecordOutcomes(ctx, []notify.Outcome{{ID: "m1", At: t0}, {ID: "m2", At: t0, Err: "500", NextAttemptAt: t0.Add(time.Minute)}}); err != nil {
		t.Fatal(err)
	}
	execs, _ := st.Executions(ctx, "")
	if len(execs) != 1 || execs[0].State != store.ExecutionInProgress {
		t.Fatalf("execution after partial delivery = %+v, want IN_PROGRESS", execs)
	}
	if due, _ := s.ClaimDue(ctx, "d1", t0.Add(30*time.Second), time.Minute, 10); len(due) != 0 {
		t.Errorf("retried message due before its backoff: %+v", due)
	}
	if err := s.RecordOutcomes(ctx, []notify.Outcome{{ID: "m2", At: t0.Add(time.Minute), Err: "400 bad request", Final: true}}); err != nil {
		t.Fatal(err)
	}
	execs, _ = st.Executions(ctx, store.ExecutionFailed)
	if len(execs) != 1 || execs[0].LastError != "r-m2: 400 bad request" || execs[0].Attempts != 2 {
		t.Fatalf("execution after a final failure = %+v, want FAILED naming the receiver and error, 2 attempts", execs)
	}
	if st, _ := st.OutboxStats(ctx); st.Sent != 1 || st.Failed != 1 || st.Pending != 0 {
		t.Errorf("OutboxStats = %+v", st)
	}
	n, err := s.RequeueFailed(ctx, t0.Add(2*time.Minute))
	if err != nil || n != 1 {
		t.Fatalf("RequeueFailed = %d, %v", n, err)
	}
	if err := s.RecordOutcomes(ctx, []notify.Outcome{{ID: "m2", At: t0.Add(2 * time.Minute)}}); err != nil {
		t.Fatal(err)
	}
	execs, _ = st.Executions(ctx, "")
	if execs[0].State != store.ExecutionSucceeded || execs[0].Steps[1].State != store.ExecutionSucceeded || execs[0].LastError != "" {
		t.Errorf("execution after retry = %+v, want SUCCEEDED", execs[0])
	}
}

// Leases: a message one dispatcher claimed is not claimed by another until
// the lease runs out or is released; renewing keeps it; an outcome frees it.
func TestOutboxLeases(t *testing.T) {
	ctx := context.Background()
	st, s := open(t)
	enqueueDue(t, st, "m1", "m2", "m3")
	claim := func(owner string, at time.Time, limit int) []string {
		t.Helper()
		ms, err := s.ClaimDue(ctx, owner, at, time.Minute, limit)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, m := range ms {
			ids = append(ids, m.ID)
		}
		return ids
	}
	next := func(owner string, at time.Time) time.Time {
		t.Helper()
		n, err := s.NextDue(ctx, owner, at)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if got := claim("a", t0, 2); !slices.Equal(got, []string{"m1", "m2"}) {
		t.Fatalf("a claims %v, want m1 m2", got)
	}
	if got := claim("b", t0, 10); !slices.Equal(got, []string{"m3"}) {
		t.Fatalf("b claims %v, want only m3 (a holds m1 and m2)", got)
	}
	if got := claim("a", t0.Add(time.Second), 10); len(got) != 0 {
		t.Errorf("a claims %v again, want nothing (it holds them already)", got)
	}
	if n := next("c", t0); !n.IsZero() {
		t.Errorf("NextDue for c = %v, want none: every message is held by a live lease", n)
	}
	// a renews at 50 s: at 90 s its messages are still its own; b's lapsed one passes to c.
	if n, err := s.renew(ctx, "a", t0.Add(50*time.Second), time.Minute); err != nil || n != 2 {
		t.Fatalf("RenewLeases(a) = %d, %v; want 2", n, err)
	}
	if got := claim("c", t0.Add(90*time.Second), 10); !slices.Equal(got, []string{"m3"}) {
		t.Errorf("c claims %v at 90 s, want m3 (b's lease ran out, a's was renewed)", got)
	}
	// m1 sent; m2 retried: free for anyone once due; a releases nothing else.
	if err := s.RecordOutcomes(ctx, []notify.Outcome{{ID: "m1", At: t0}, {ID: "m2", At: t0, Err: "503", NextAttemptAt: t0.Add(2 * time.Minute)}}); err != nil {
		t.Fatal(err)
	}
	if n := next("b", t0.Add(100*time.Second)); !n.Equal(t0.Add(2 * time.Minute)) {
		t.Errorf("NextDue for b = %v, want m2's retry at %v", n, t0.Add(2*time.Minute))
	}
	if got := claim("b", t0.Add(2*time.Minute), 10); !slices.Equal(got, []string{"m2"}) {
		t.Errorf("b claims %v after m2's retry is due, want m2", got)
	}
	if err := s.ReleaseLeases(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if got := claim("a", t0.Add(2*time.Minute), 10); !slices.Equal(got, []string{"m2"}) {
		t.Errorf("a claims %v after b released, want m2", got)
	}
}

// ExtendLease renews one message's lease only for the owner of a live lease:
// a dispatcher whose renewals fell behind learns whether it may still send.
func TestExtendLease(t *testing.T) {
	ctx := context.Background()
	st, s := open(t)
	enqueueDue(t, st, "m1", "m2", "m3")
	// a holds every message until t0+1m.
	if _, err := s.ClaimDue(ctx, "a", t0, time.Minute, 3); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, owner, id string
		at              time.Time
		want            bool
	}{
		{"live lease of its owner", "a", "m1", t0.Add(30 * time.Second), true},
		{"another owner's live lease", "b", "m2", t0.Add(30 * time.Second), false},
		{"owner's lapsed lease", "a", "m3", t0.Add(2 * time.Minute), false},
		{"unknown message", "a", "m9", t0, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.ExtendLease(ctx, tt.owner, tt.id, tt.at, time.Minute)
			if err != nil || got != tt.want {
				t.Errorf("ExtendLease(%s, %s, %v) = %v, %v; want %v", tt.owner, tt.id, tt.at, got, err, tt.want)
			}
		})
	}
	// a's lapsed lease on m3 was released: a renewal does not take it back,
	// and b claims it at once.
	at := t0.Add(2 * time.Minute)
	if err := s.RenewLeases(ctx, "a", at, time.Minute); err != nil {
		t.Fatal(err)
	}
	ms, err := s.ClaimDue(ctx, "b", at, time.Minute, 3)
	if err != nil || len(ms) != 1 || ms[0].ID != "m3" {
		t.Errorf("ClaimDue(b) after a's renewal = %v, %v; want m3 alone (a renewed m1 and m2)", ms, err)
	}
}

// enqueueDue enqueues messages with ids for receiver r, due at t0.
func enqueueDue(t *testing.T, st *store.Store, ids ...string) {
	t.Helper()
	ctx := context.Background()
	err := st.Update(ctx, func(tx *store.Tx) error {
		for _, id := range ids {
			if err := tx.Enqueue(ctx, store.Message{ID: id, Receiver: "r", Kind: "finding", GroupKey: id, JSON: []byte(`{}`), MaxAttempts: 3, NextAttemptAt: t0, CreatedAt: t0}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
