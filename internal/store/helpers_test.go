package store

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/keyage/keyage/internal/rule"
	"github.com/keyage/keyage/internal/scan"
)

// openAtSchema creates a state file at path with the migrations up to and
// including version, as an older keyage left it, and returns it open
// without the store; exec runs a statement on it or fails the test.
func openAtSchema(t *testing.T, ctx context.Context, path string, version int) (db *sql.DB, exec func(q string, args ...any)) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	exec = func(q string, args ...any) {
		t.Helper()
		if _, err := db.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%.60s: %v", q, err)
		}
	}
	exec(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`)
	for _, m := range ms {
		if m.version > version {
			break
		}
		exec(m.sql)
		exec(`INSERT INTO schema_migrations VALUES (?, ?, 0)`, m.version, m.name)
	}
	return db, exec
}

var triggerRE = regexp.MustCompile(`(?s)CREATE TRIGGER (\w+) .*?\nEND;`)

// referenceTriggers returns the triggers that kept the read models before
// migration 6, in their last version (a later migration replaces a trigger
// of the same name), rewritten to write the shadow tables
// evaluation_keys_ref and account_latest_ref.
func referenceTriggers(t *testing.T) string {
	t.Helper()
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	last := map[string]string{}
	var names []string
	for _, m := range ms {
		if m.version > 5 {
			break
		}
		for _, sm := range triggerRE.FindAllStringSubmatch(m.sql, -1) {
			if _, ok := last[sm[1]]; !ok {
				names = append(names, sm[1])
			}
			last[sm[1]] = sm[0]
		}
	}
	if len(names) == 0 {
		t.Fatal("no triggers in migrations 1 to 5")
	}
	shadow := strings.NewReplacer("evaluation_keys", "evaluation_keys_ref", "account_latest", "account_latest_ref")
	var b strings.Builder
	for _, n := range names {
		b.WriteString(shadow.Replace(last[n]))
		b.WriteString("\n")
	}
	return b.String()
}

// recordSent marks outbox messages sent at at and refreshes their
// executions, as internal/outbox records a delivery.
func recordSent(ctx context.Context, s *Store, at time.Time, ids ...string) error {
	return s.Update(ctx, func(t *Tx) error {
		for _, id := range ids {
			if _, err := t.tx.ExecContext(ctx, `UPDATE outbox SET state = 'SENT', attempts = attempts + 1, sent_at = ?, lease_owner = '', lease_until = 0 WHERE id = ?`, ms64(at), id); err != nil {
				return fmt.Errorf("mark message %s sent: %w", id, err)
			}
			execs, err := t.ExecutionsOfMessage(ctx, id)
			if err != nil {
				return err
			}
			for _, e := range execs {
				if err := t.RefreshExecution(ctx, e, at); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// recordOnce records res in one transaction (RecordScan), started and
// finished at its evaluation time.
func recordOnce(ctx context.Context, s *Store, res *scan.Result) error {
	_, err := s.RecordScan(ctx, res.EvaluatedAt, res.EvaluatedAt, res)
	return err
}

// recordStreamed records res account by account (ScanWriter), as keyage
// run does: each account of res with its evaluations, in the order of its
// accounts, started and finished at its evaluation time.
func recordStreamed(ctx context.Context, s *Store, res *scan.Result) error {
	w, err := s.BeginScan(ctx, res.EvaluatedAt, res)
	if err != nil {
		return err
	}
	byAccount := map[string][]rule.Evaluation{}
	for _, ev := range res.Evaluations {
		byAccount[ev.AccountID] = append(byAccount[ev.AccountID], ev)
	}
	for i := range res.Accounts {
		a := &res.Accounts[i]
		if err := w.Account(ctx, a, byAccount[a.AccountID]); err != nil {
			return err
		}
	}
	return w.Finish(ctx, res.EvaluatedAt, res.Summary)
}
