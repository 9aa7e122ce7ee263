package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/keyage/keyage/internal/rule"
	"github.com/keyage/keyage/internal/scan"
)

// journalMode reads a SQLite file's header: 2 in bytes 18 and 19 is WAL.
func journalMode(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 20 {
		return "empty"
	}
	if b[18] == 2 && b[19] == 2 {
		return "wal"
	}
	return "rollback"
}

func TestOpenRefusesBeforeWriting(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()

	newer := filepath.Join(dir, "newer.db")
	s, err := Open(ctx, newer, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)`, `PRAGMA journal_mode=DELETE`} {
		if _, err := s.db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()

	corrupt := filepath.Join(dir, "corrupt.db")
	if err := os.WriteFile(corrupt, bytes.Repeat([]byte("not a database, "), 512), 0o600); err != nil {
		t.Fatal(err)
	}
	foreign := filepath.Join(dir, "foreign.db")
	db, err := sql.Open("sqlite", "file:"+foreign)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE photos (id INTEGER PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	db.Close()

	for _, tt := range []struct {
		name, path string
		want       error
	}{
		{"newer schema", newer, ErrNewerSchema},
		{"not SQLite", corrupt, ErrCorrupt},
		{"another program's database", foreign, ErrCorrupt},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before, err := os.ReadFile(tt.path)
			if err != nil {
				t.Fatal(err)
			}
			mode := journalMode(t, tt.path)
			_, err = Open(ctx, tt.path, Options{})
			if !errors.Is(err, tt.want) {
				t.Fatalf("Open(%s) = %v, want %v", tt.name, err, tt.want)
			}
			after, _ := os.ReadFile(tt.path)
			if !bytes.Equal(before, after) {
				t.Errorf("Open(%s) changed the file", tt.name)
			}
			if got := journalMode(t, tt.path); got != mode {
				t.Errorf("Open(%s) switched the journal from %s to %s", tt.name, mode, got)
			}
		})
	}
}

func TestOpenMustExistAndMode(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	missing := filepath.Join(dir, "typo.db")
	if _, err := Open(ctx, missing, Options{MustExist: true}); !errors.Is(err, ErrNoState) {
		t.Errorf("Open(missing, MustExist) = %v, want ErrNoState", err)
	}
	if _, err := os.Stat(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open(missing, MustExist) created %s (stat: %v)", missing, err)
	}

	path := filepath.Join(dir, "keyage.db")
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.RecordScan(ctx, t0, t0, &scan.Result{Rule: rule.Name, EvaluatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if m := fi.Mode().Perm(); m != 0o600 {
			t.Errorf("%s has mode %v, want 0600 (it holds the inventory)", filepath.Base(p), m)
		}
	}
	s.Close()
	if got := journalMode(t, path); got != "wal" {
		t.Errorf("new state journal = %s, want wal", got)
	}
	s, err = Open(ctx, path, Options{MustExist: true})
	if err != nil {
		t.Fatalf("Open(existing, MustExist) = %v", err)
	}
	s.Close()
}

func count(t *testing.T, s *Store, table string) int {
	t.Helper()
	var n int
	if err := s.db.QueryRow(`SELECT count(*) FROM ` + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestPrune(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	day := 24 * time.Hour
	res := func(at time.Time, c rule.Compliance) *scan.Result {
		return &scan.Result{Rule: rule.Name, EvaluatedAt: at,
			Accounts:    []scan.AccountResult{{AccountID: "222222222222", Name: "prod", Status: scan.StatusOK, Users: 1}},
			Evaluations: []rule.Evaluation{{AccountID: "222222222222", ResourceType: rule.ResourceTypeUser, ResourceID: "AIDA1", UserName: "alice", Compliance: c}}}
	}
	// 500 days of daily scans, compliance flipping every 10 days.
	start := t0.Add(-500 * day)
	for d := range 500 {
		at := start.Add(time.Duration(d) * day)
		c := rule.Compliant
		if d/10%2 == 1 {
			c = rule.NonCompliant
		}
		if _, err := s.RecordScan(ctx, at, at, res(at, c)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Audit(ctx, AuditRecord{At: at, AccountID: "222222222222", UserName: "alice", AccessKeyID: "AKIA1", Action: "deactivate", Outcome: "dry-run", DryRun: true}); err != nil {
			t.Fatal(err)
		}
		err := s.Update(ctx, func(tx *Tx) error {
			id, err := tx.PutExecution(ctx, Execution{AccountID: "222222222222", ResourceID: "AIDA1", Rule: rule.Name, State: ExecutionQueued, CreatedAt: at, UpdatedAt: at})
			if err != nil {
				return err
			}
			return tx.Enqueue(ctx, Message{ID: at.Format("20060102"), Receiver: "r", Kind: "finding", GroupKey: "g", ExecutionIDs: []int64{id}, JSON: []byte(`{}`), MaxAttempts: 1, NextAttemptAt: at, CreatedAt: at})
		})
		if err != nil {
			t.Fatal(err)
		}
		if d < 495 { // the last five stay pending
			if err := recordSent(ctx, s, at, at.Format("20060102")); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := s.db.Exec(`UPDATE remediation_executions SET state = 'SUCCEEDED'`); err != nil {
		t.Fatal(err)
	}
	now := start.Add(499 * day)
	before := map[string]int{}
	tables := []string{"scans", "scan_accounts", "evaluation_history", "audit", "outbox", "remediation_executions", "evaluations"}
	for _, tb := range tables {
		before[tb] = count(t, s, tb)
	}
	p, err := s.Prune(ctx, now, DefaultRetention)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{
		"scans":                  400 + 1, // 400 days back, the cutoff day included
		"scan_accounts":          30 + 1,
		"audit":                  400 + 1,
		"outbox":                 30 + 1 + 0, // sent in the last 30 days; the pending ones are among them
		"remediation_executions": 1,          // one per resource, updated by the latest run
		"evaluations":            1,
	}
	for tb, n := range want {
		if got := count(t, s, tb); got != n {
			t.Errorf("after Prune: %d rows in %s, want %d (had %d)", got, tb, n, before[tb])
		}
	}
	if got := count(t, s, "evaluation_history"); got >= before["evaluation_history"] || got == 0 {
		t.Errorf("after Prune: %d compliance changes, had %d: want the older pruned and the recent kept", got, before["evaluation_history"])
	}
	if p.Total() == 0 || p.Outbox != int64(before["outbox"]-count(t, s, "outbox")) {
		t.Errorf("Prune = %+v, does not count what it deleted", p)
	}
	// What is current stays: the account's latest scan, the evaluation, the pending messages.
	if a, err := s.Account(ctx, "222222222222"); err != nil || a == nil {
		t.Errorf("Account after Prune = %v, %v; want the account", a, err)
	}
	var pending int
	if err := s.db.QueryRow(`SELECT count(*) FROM outbox WHERE state = 'PENDING'`).Scan(&pending); err != nil || pending != 5 {
		t.Errorf("pending messages after Prune = %d, %v; want 5", pending, err)
	}
	// Pruning again prunes nothing; zero retention keeps everything.
	if p, err := s.Prune(ctx, now, DefaultRetention); err != nil || p.Total() != 0 {
		t.Errorf("second Prune = %+v, %v; want nothing", p, err)
	}
	if p, err := s.Prune(ctx, now.Add(1000*day), Retention{}); err != nil || p.Total() != 0 {
		t.Errorf("Prune(zero retention) = %+v, %v; want nothing", p, err)
	}
	if err := s.Vacuum(ctx); err != nil {
		t.Errorf("Vacuum = %v", err)
	}
}
