package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/keyage/keyage/internal/rule"
	"github.com/keyage/keyage/internal/scan"
)

var t0 = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)

func open(t *testing.T) *Store {
	t.Helper()
	return openPath(t, filepath.Join(t.TempDir(), "keyage.db"))
}

// openPath opens the store at path, closed when the test ends.
func openPath(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(context.Background(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "keyage.db")
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err = Open(ctx, path, Options{})
	if !errors.Is(err, ErrNewerSchema) {
		t.Fatalf("Open(newer schema) = %v, want ErrNewerSchema", err)
	}
	// Reopening twice at the current version is a no-op.
	if SchemaVersion() < 1 {
		t.Errorf("SchemaVersion() = %d, want >= 1", SchemaVersion())
	}
}

func result(at time.Time, evs ...rule.Evaluation) *scan.Result {
	return &scan.Result{
		Rule: rule.Name, EvaluatedAt: at, Source: "auto", Parameters: scan.Parameters{MaxAccessKeyAge: 90},
		Accounts:    []scan.AccountResult{{AccountID: "222222222222", Status: scan.StatusOK, Users: len(evs)}, {AccountID: "333333333333", Status: scan.StatusError, Error: "AccessDenied"}},
		Evaluations: evs,
	}
}

func ev(id, name string, c rule.Compliance) rule.Evaluation {
	return rule.Evaluation{AccountID: "222222222222", ResourceType: rule.ResourceTypeUser, ResourceID: id, UserName: name, Compliance: c,
		Keys: []rule.KeyResult{{Key: rule.Key{AccessKeyID: "AKIA" + id, Status: "Active", CreateDate: t0.Add(-100 * rule.Day)}, AgeDays: 100, Stage: "expired"}}}
}

func TestRecordScanHistory(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	// A failed account's earlier evaluations are kept.
	other := rule.Evaluation{AccountID: "333333333333", ResourceType: rule.ResourceTypeUser, ResourceID: "AIDAOTHER", UserName: "o", Compliance: rule.Compliant}
	first := result(t0, ev("AIDA1", "alice", rule.NonCompliant), ev("AIDA2", "bob", rule.Compliant), other)
	first.Accounts[1].Status = scan.StatusOK
	if _, err := s.RecordScan(ctx, t0, t0, first); err != nil {
		t.Fatal(err)
	}
	// alice rotates, bob is deleted, the other account fails this time.
	second := result(t0.Add(time.Hour), ev("AIDA1", "alice", rule.Compliant))
	id, err := s.RecordScan(ctx, t0.Add(time.Hour), t0.Add(time.Hour), second)
	if err != nil {
		t.Fatal(err)
	}
	latest, err := s.LatestScan(ctx)
	if err != nil || latest == nil || latest.ID != id {
		t.Fatalf("LatestScan = %+v, %v; want scan %d", latest, err, id)
	}
	h, err := s.History(ctx, "222222222222", "AIDA1")
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 2 || h[0].To != "NON_COMPLIANT" || h[1].From != "NON_COMPLIANT" || h[1].To != "COMPLIANT" {
		t.Errorf("alice history = %+v, want '' -> NON_COMPLIANT -> COMPLIANT", h)
	}
	if got, _ := s.Evaluation(ctx, "222222222222", "AIDA2"); got != nil {
		t.Errorf("deleted bob still has a current evaluation: %+v", got)
	}
	if h, _ := s.History(ctx, "222222222222", "AIDA2"); len(h) != 2 || h[1].To != ComplianceDeleted {
		t.Errorf("bob history = %+v, want a DELETED transition", h)
	}
	if got, _ := s.Evaluation(ctx, "333333333333", "AIDAOTHER"); got == nil {
		t.Errorf("evaluation of an account that failed this scan was dropped")
	}
	got, err := s.Evaluation(ctx, "222222222222", "AIDA1")
	if err != nil || got == nil || got.Compliance != rule.Compliant || len(got.Keys) != 1 || got.Keys[0].AccessKeyID != "AKIAAIDA1" {
		t.Errorf("alice current = %+v, %v", got, err)
	}
}

func TestNotifyState(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	n := Notified{Receiver: "r", Route: 1, ItemKey: "222222222222/AIDA1/AKIA1", AccountID: "222222222222", ResourceID: "AIDA1", Stage: "warning", NotifiedAt: t0, ItemJSON: []byte(`{"a":1}`)}
	if err := s.Update(ctx, func(tx *Tx) error { return tx.SetNotified(ctx, n) }); err != nil {
		t.Fatal(err)
	}
	n.Stage = "expired"
	if err := s.Update(ctx, func(tx *Tx) error { return tx.SetNotified(ctx, n) }); err != nil {
		t.Fatal(err)
	}
	got, err := s.NotifiedItems(ctx)
	if err != nil || len(got) != 1 || got[0].Stage != "expired" || !got[0].NotifiedAt.Equal(t0) {
		t.Fatalf("NotifiedItems = %+v, %v", got, err)
	}
	if err := s.Update(ctx, func(tx *Tx) error { return tx.ForgetNotified(ctx, "r", 1, n.ItemKey) }); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.NotifiedItems(ctx); len(got) != 0 {
		t.Errorf("ForgetNotified left %+v", got)
	}
}

// An aborted transaction leaves nothing behind.
func TestUpdateRollsBack(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	err := s.Update(ctx, func(tx *Tx) error {
		if err := tx.Enqueue(ctx, Message{ID: "m", Receiver: "r", Kind: "finding", GroupKey: "g", JSON: []byte(`{}`), MaxAttempts: 1, NextAttemptAt: t0, CreatedAt: t0}); err != nil {
			return err
		}
		return errors.New("boom")
	})
	if err == nil {
		t.Fatal("Update returned nil for a failing function")
	}
	if st, _ := s.OutboxStats(ctx); st.Pending != 0 {
		t.Errorf("rolled-back message is in the outbox: %+v", st)
	}
}

// A statement that fails gives its error whichever way it runs.
func TestTxStatementErrors(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	for _, tt := range []struct {
		name string
		run  func(tx *Tx) error
	}{
		{"Exec", func(tx *Tx) error { _, err := tx.Exec(ctx, `UPDATE no_such_table SET x = 1`); return err }},
		{"QueryRowContext", func(tx *Tx) error {
			var n int
			return tx.tx.QueryRowContext(ctx, `SELECT x FROM no_such_table`).Scan(&n)
		}},
		{"QueryContext", func(tx *Tx) error { _, err := tx.tx.QueryContext(ctx, `SELECT x FROM no_such_table`); return err }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.Update(ctx, tt.run); err == nil {
				t.Errorf("%s on a missing table: no error", tt.name)
			}
		})
	}
}

// A transaction prepares each statement text once, however often it runs,
// and the statements give the same rows and errors as unprepared ones.
func TestTxPreparesEachStatementOnce(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name      string
		messages  int
		wantStmts int // the outbox INSERT, the link to the execution, the execution's upsert
	}{
		{"one message", 1, 3},
		{"a hundred messages", 100, 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			var stmts int
			err := s.Update(ctx, func(tx *Tx) error {
				for i := range tt.messages {
					id, err := tx.PutExecution(ctx, Execution{AccountID: "111111111111", ResourceID: fmt.Sprintf("AIDA%d", i), Rule: "r", State: ExecutionQueued, CreatedAt: t0, UpdatedAt: t0})
					if err != nil {
						return err
					}
					if err := tx.Enqueue(ctx, Message{ID: fmt.Sprint("m", i), Receiver: "r", Kind: "finding", GroupKey: "g", ExecutionIDs: []int64{id},
						JSON: []byte(`{}`), MaxAttempts: 1, NextAttemptAt: t0, CreatedAt: t0}); err != nil {
						return err
					}
				}
				stmts = len(tx.tx.stmts)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if stmts != tt.wantStmts {
				t.Errorf("%d messages prepared %d statements, want %d", tt.messages, stmts, tt.wantStmts)
			}
			if st, _ := s.OutboxStats(ctx); st.Pending != tt.messages {
				t.Errorf("OutboxStats().Pending = %d, want %d", st.Pending, tt.messages)
			}
		})
	}
}
