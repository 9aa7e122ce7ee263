package store

import (
	"context"
	"fmt"
	"testing"

	"github.com/keyage/keyage/internal/rule"
)

// TestRecordScanBatches records scans whose row counts fall on and around
// the batch sizes (66 evaluations, 124 history rows, 76 key rows, 499 key
// removals a statement), then a rescan in which every third user changed
// compliance, every fifth user's keys changed and the last user is gone,
// and checks every row the record path writes.
func TestRecordScanBatches(t *testing.T) {
	ctx := context.Background()
	for _, n := range []int{1, 2, 65, 66, 67, 124, 125, 500, 1001} {
		t.Run(fmt.Sprintf("%d users", n), func(t *testing.T) {
			s := open(t)
			users := func(rescan bool) []rule.Evaluation {
				var evs []rule.Evaluation
				for i := range n {
					if rescan && i == n-1 {
						break // gone
					}
					e := ev(fmt.Sprintf("AIDA%06d", i), fmt.Sprintf("user-%d", i), rule.NonCompliant)
					if i%2 == 0 { // a second key
						e.Keys = append(e.Keys, rule.KeyResult{Key: rule.Key{AccessKeyID: fmt.Sprintf("AKIB%06d", i), Status: "Inactive", CreateDate: t0.Add(-10 * rule.Day)}, AgeDays: 10, Stage: "inactive"})
					}
					if rescan && i%3 == 0 {
						e.Compliance = rule.Compliant
					}
					if rescan && i%5 == 0 {
						e.Keys = e.Keys[:1]
						e.Keys[0].AgeDays++
					}
					evs = append(evs, e)
				}
				return evs
			}
			count := func(q string, args ...any) int {
				t.Helper()
				var c int
				if err := s.db.QueryRowContext(ctx, q, args...).Scan(&c); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
				return c
			}
			keyRows := func(evs []rule.Evaluation) (k int) {
				for _, e := range evs {
					k += len(e.Keys)
				}
				return k
			}
			first := users(false)
			if _, err := s.RecordScan(ctx, t0, t0, result(t0, first...)); err != nil {
				t.Fatal(err)
			}
			if got := count(`SELECT COUNT(*) FROM evaluations`); got != n {
				t.Errorf("first scan: %d evaluations, want %d", got, n)
			}
			if got, want := count(`SELECT COUNT(*) FROM evaluation_keys`), keyRows(first); got != want {
				t.Errorf("first scan: %d key rows, want %d", got, want)
			}
			if got := count(`SELECT COUNT(*) FROM evaluation_history`); got != n {
				t.Errorf("first scan: %d history rows, want %d", got, n)
			}

			at := t0.Add(rule.Day)
			again := users(true)
			id, err := s.RecordScan(ctx, at, at, result(at, again...))
			if err != nil {
				t.Fatal(err)
			}
			if got := count(`SELECT COUNT(*) FROM evaluations WHERE scan_id = ? AND evaluated_at = ?`, id, ms64(at)); got != n-1 {
				t.Errorf("rescan: %d evaluations of scan %d, want %d", got, id, n-1)
			}
			if got := count(`SELECT COUNT(*) FROM evaluations`); got != n-1 {
				t.Errorf("rescan: %d evaluations, want %d", got, n-1)
			}
			if got, want := count(`SELECT COUNT(*) FROM evaluation_keys`), keyRows(again); got != want {
				t.Errorf("rescan: %d key rows, want %d", got, want)
			}
			changed := 1 // the gone user
			for i := 0; i < n-1; i += 3 {
				changed++
			}
			if got := count(`SELECT COUNT(*) FROM evaluation_history WHERE scan_id = ?`, id); got != changed {
				t.Errorf("rescan: %d history rows, want %d", got, changed)
			}
			for _, e := range again {
				got, err := s.Evaluation(ctx, e.AccountID, e.ResourceID)
				if err != nil || got == nil {
					t.Fatalf("Evaluation(%s) = %v, %v", e.ResourceID, got, err)
				}
				if got.Compliance != e.Compliance || len(got.Keys) != len(e.Keys) || got.Keys[0].AgeDays != e.Keys[0].AgeDays {
					t.Fatalf("Evaluation(%s) = %s with %d keys (age %d), want %s with %d (age %d)", e.ResourceID, got.Compliance, len(got.Keys), got.Keys[0].AgeDays, e.Compliance, len(e.Keys), e.Keys[0].AgeDays)
				}
				var stage string
				if err := s.db.QueryRowContext(ctx, `SELECT compliance FROM evaluation_keys WHERE account_id = ? AND resource_id = ? AND idx = 0`, e.AccountID, e.ResourceID).Scan(&stage); err != nil || stage != string(e.Compliance) {
					t.Fatalf("key row 0 of %s: compliance %q (%v), want %s", e.ResourceID, stage, err, e.Compliance)
				}
			}
		})
	}
}
