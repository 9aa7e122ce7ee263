package store

import (
	"context"
	"fmt"
	"testing"
)

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
