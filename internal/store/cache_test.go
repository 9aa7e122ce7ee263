package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/keyage/keyage/internal/rule"
)

// TestReadCacheFollowsWrites checks that a cached read is read again after
// a write by each way the state changes: a scan recorded by this store, a
// statement on its pool, and another process's store on the same file.
func TestReadCacheFollowsWrites(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	s, other := openPath(t, path), openPath(t, path)
	users := func() []rule.Evaluation {
		return []rule.Evaluation{ev("AIDA1", "alice", rule.NonCompliant)}
	}
	if _, err := s.RecordScan(ctx, t0, t0, result(t0, users()...)); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name  string
		write func(t *testing.T, n int)
	}{
		{"a scan recorded by the same store", func(t *testing.T, n int) {
			evs := users()
			for i := 1; i < n; i++ {
				evs = append(evs, ev("AIDAX"+string(rune('A'+i)), "u"+string(rune('a'+i)), rule.Compliant))
			}
			at := t0.Add(time.Duration(n) * time.Hour)
			if _, err := s.RecordScan(ctx, at, at, result(at, evs...)); err != nil {
				t.Fatal(err)
			}
		}},
		{"a statement on the store's pool", func(t *testing.T, n int) {
			if _, err := s.DB().ExecContext(ctx, dropCompliantUser); err != nil {
				t.Fatal(err)
			}
		}},
		{"another process's store on the same file", func(t *testing.T, n int) {
			if _, err := other.DB().ExecContext(ctx, dropCompliantUser); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before, err := s.Totals(ctx)
			if err != nil {
				t.Fatal(err)
			}
			cached, err := s.Totals(ctx)
			if err != nil || cached.Users != before.Users {
				t.Fatalf("Totals again = %d users, %v; want %d (unchanged data)", cached.Users, err, before.Users)
			}
			tt.write(t, before.Users+2)
			uncached, err := s.totals(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if uncached.Users == before.Users {
				t.Fatalf("the write left %d users: it changed nothing to check", before.Users)
			}
			got, err := s.Totals(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if got.Users != uncached.Users {
				t.Errorf("Totals after the write = %d users, want %d (the cached %d)", got.Users, uncached.Users, before.Users)
			}
		})
	}
}

// dropCompliantUser is a write of the counts Totals reads (account_counts)
// made by a statement, not by the store: one compliant user less.
const dropCompliantUser = `UPDATE account_counts SET n = n - 1 WHERE kind = 'user' AND value = 'COMPLIANT'
	AND account_id = (SELECT MIN(account_id) FROM account_counts WHERE kind = 'user' AND value = 'COMPLIANT' AND n > 0)`

// TestReadCacheCopies checks that a caller changing what it got does not
// change what the next caller gets.
func TestReadCacheCopies(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	if _, err := s.RecordScan(ctx, t0, t0, result(t0, ev("AIDA1", "alice", rule.NonCompliant))); err != nil {
		t.Fatal(err)
	}
	first, err := s.Totals(ctx)
	if err != nil {
		t.Fatal(err)
	}
	first.Keys["expired"] = 99
	as, err := s.Accounts(ctx, 0)
	if err != nil || len(as) == 0 {
		t.Fatalf("Accounts = %v, %v; want accounts", as, err)
	}
	as[0].AccountID = "changed"
	second, err := s.Totals(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if second.Keys["expired"] != 1 {
		t.Errorf("Totals after a caller changed its copy: expired keys = %d, want 1", second.Keys["expired"])
	}
	if as2, err := s.Accounts(ctx, 0); err != nil || as2[0].AccountID == "changed" {
		t.Errorf("Accounts after a caller changed its copy = %+v, %v; want the stored account", as2[0], err)
	}
}
