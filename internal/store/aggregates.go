package store

// The dashboard's counts as rows (migration 16): account_counts, per
// account the users by compliance and the key rows by stage, and
// trend_days, the compliance history's net changes per UTC day. The store
// rewrites the rows of what a transaction changed before it commits: the
// counts of each account whose evaluations or key rows it wrote, recounted
// from that account's rows (a few hundred, over the primary keys); the
// history rows it wrote added to their day's row, and the day it pruned
// recounted. Totals, the accounts, the
// metrics and the trend then read a few hundred rows instead of every
// evaluation, key and history row, also on the first request after a
// write, when the read cache (cache.go) is empty.

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/keyage/keyage/internal/rule"
)

const (
	dayMS = int64(rule.Day / time.Millisecond)
	// Kinds of account_counts rows.
	countUsers    = "user"     // value: compliance
	countKeys     = "stage"    // value: stage
	countKeyUsers = "keyusers" // value: "": users with at least one key row (migration 19)
)

// trendDay is the row of trend_days that counts a history row at ms: day d
// holds (d-1)*dayMS < at <= d*dayMS.
func trendDay(ms int64) int64 {
	d := ms / dayMS
	if ms%dayMS > 0 {
		d++
	}
	return d
}

// recountAccounts rewrites the account_counts rows of accounts from their
// evaluations and key rows, and their exempt_keys rows (reportlists.go). The evaluations are read over the primary key (the
// unary + keeps SQLite from the (resource_type, compliance, account_id)
// index, which it would search by resource_type alone: every user of the
// organization for each account).
func recountAccounts(ctx context.Context, tx *sql.Tx, accounts map[string]bool) error {
	if len(accounts) == 0 {
		return nil
	}
	del, err := tx.PrepareContext(ctx, `DELETE FROM account_counts WHERE account_id = ?`)
	if err != nil {
		return fmt.Errorf("prepare account counts: %w", err)
	}
	defer del.Close()
	ins, err := tx.PrepareContext(ctx, `INSERT INTO account_counts (account_id, kind, value, n)
		SELECT ?1, '`+countUsers+`', compliance, COUNT(*) FROM evaluations WHERE account_id = ?1 AND +resource_type = ?2 GROUP BY compliance
		UNION ALL SELECT ?1, '`+countKeys+`', stage, COUNT(*) FROM evaluation_keys WHERE account_id = ?1 GROUP BY stage
		UNION ALL SELECT ?1, '`+countKeyUsers+`', '', COUNT(DISTINCT resource_id) FROM evaluation_keys WHERE account_id = ?1 HAVING COUNT(*) > 0`)
	if err != nil {
		return fmt.Errorf("prepare account counts: %w", err)
	}
	defer ins.Close()
	delExempt, err := tx.PrepareContext(ctx, `DELETE FROM exempt_keys WHERE account_id = ?`)
	if err != nil {
		return fmt.Errorf("prepare exempt keys: %w", err)
	}
	defer delExempt.Close()
	insExempt, err := tx.PrepareContext(ctx, rewriteExemptKeys)
	if err != nil {
		return fmt.Errorf("prepare exempt keys: %w", err)
	}
	defer insExempt.Close()
	for acct := range accounts {
		if _, err := del.ExecContext(ctx, acct); err != nil {
			return fmt.Errorf("recount account %s: %w", acct, err)
		}
		if _, err := ins.ExecContext(ctx, acct, rule.ResourceTypeUser); err != nil {
			return fmt.Errorf("recount account %s: %w", acct, err)
		}
		if _, err := delExempt.ExecContext(ctx, acct); err != nil {
			return fmt.Errorf("rewrite the exempt keys of account %s: %w", acct, err)
		}
		if _, err := insExempt.ExecContext(ctx, acct); err != nil {
			return fmt.Errorf("rewrite the exempt keys of account %s: %w", acct, err)
		}
	}
	return nil
}

// retotalDays rewrites the trend_days rows of days from evaluation_history
// (one range of its (at, from, to) index each); a day without history rows
// has none.
func retotalDays(ctx context.Context, tx *sql.Tx, days ...int64) error {
	for _, d := range days {
		if _, err := tx.ExecContext(ctx, `DELETE FROM trend_days WHERE day = ?`, d); err != nil {
			return fmt.Errorf("retotal trend day %d: %w", d, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO trend_days (day, compliant, noncompliant)
			SELECT ?1, SUM(to_compliance = 'COMPLIANT') - SUM(from_compliance = 'COMPLIANT'),
				SUM(to_compliance = 'NON_COMPLIANT') - SUM(from_compliance = 'NON_COMPLIANT')
			FROM evaluation_history WHERE at > (?1 - 1) * ?2 AND at <= ?1 * ?2 HAVING COUNT(*) > 0`, d, dayMS); err != nil {
			return fmt.Errorf("retotal trend day %d: %w", d, err)
		}
	}
	return nil
}

// trendDelta is what the history rows a transaction writes, all at one
// time, add to the trend_days row of their day.
type trendDelta struct {
	rows, compliant, noncompliant int
}

// add counts a history row from one compliance to another.
func (d *trendDelta) add(from, to string) {
	d.rows++
	d.compliant += isCompliance(to, rule.Compliant) - isCompliance(from, rule.Compliant)
	d.noncompliant += isCompliance(to, rule.NonCompliant) - isCompliance(from, rule.NonCompliant)
}

func isCompliance(c string, want rule.Compliance) int {
	if c == string(want) {
		return 1
	}
	return 0
}

// addTrendDay adds d, the history rows written at ms, to the trend_days
// row of their day, which it creates for the day's first rows: what
// retotalDays would count, without reading the day's earlier rows (a scan
// recorded account by account writes each account's rows into the same
// day, and re-reading them made its cost grow with the square of the
// accounts).
func addTrendDay(ctx context.Context, tx *sql.Tx, ms int64, d trendDelta) error {
	if d.rows == 0 {
		return nil
	}
	day := trendDay(ms)
	if _, err := tx.ExecContext(ctx, `INSERT INTO trend_days (day, compliant, noncompliant) VALUES (?, ?, ?)
		ON CONFLICT (day) DO UPDATE SET compliant = compliant + excluded.compliant, noncompliant = noncompliant + excluded.noncompliant`,
		day, d.compliant, d.noncompliant); err != nil {
		return fmt.Errorf("add %d history rows to trend day %d: %w", d.rows, day, err)
	}
	return nil
}

// pruneDays drops the trend_days rows of the days before the one holding
// cutoff, whose history rows Prune deleted (at < cutoff), and retotals
// that day.
func pruneDays(ctx context.Context, tx *sql.Tx, cutoff int64) error {
	d := trendDay(cutoff)
	if _, err := tx.ExecContext(ctx, `DELETE FROM trend_days WHERE day < ?`, d); err != nil {
		return fmt.Errorf("prune trend days before %d: %w", d, err)
	}
	return retotalDays(ctx, tx, d)
}

// trendFromDays is complianceTrend over trend_days, for periods that start
// and end at UTC midnights; ok is false for others.
func (s *Store) trendFromDays(ctx context.Context, start time.Time, step time.Duration, n int) (out []CompliancePoint, ok bool, err error) {
	first := start.UnixMilli()
	if first%dayMS != 0 || step%rule.Day != 0 {
		return nil, false, nil
	}
	days, err := s.rangeSums(ctx, `SELECT day, compliant, noncompliant FROM trend_days ORDER BY day`, nil)
	if err != nil {
		return nil, true, fmt.Errorf("read trend days: %w", err)
	}
	startDay, stepDays := first/dayMS, int64(step/rule.Day)
	dc, dn := make([]int, n+1), make([]int, n+1) // [0]: before start
	for _, d := range days {
		// Day d ends at d*dayMS: in period i when it ends after the
		// period's start and not after its end.
		i := 0
		if k := int64(d.i) - startDay; k > 0 {
			i = int((k + stepDays - 1) / stepDays)
		}
		if i > n {
			continue // after the last period
		}
		dc[i] += int(d.x)
		dn[i] += int(d.y)
	}
	return accumulateTrend(start, step, dc, dn), true, nil
}

// accumulateTrend turns the net changes before start (index 0) and in each
// period into the counts at each period's end.
func accumulateTrend(start time.Time, step time.Duration, dc, dn []int) []CompliancePoint {
	out := make([]CompliancePoint, len(dc)-1)
	c, nc := dc[0], dn[0]
	for i := range out {
		c += dc[i+1]
		nc += dn[i+1]
		out[i] = CompliancePoint{Start: start.Add(time.Duration(i) * step).UTC(), Compliant: c, NonCompliant: nc}
	}
	return out
}

// accountCount is one row of account_counts.
type accountCount struct {
	account, kind, value string
	n                    int
}
