package store

// The overview's numbers that are not plain counts (queries.go): keys by due
// window, the compliance trend by calendar day or week, active root keys and
// non-compliant users per account, and what enforcement did lately.

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/keyage/keyage/internal/rule"
)

// DueCounts counts active keys by when they are due for rotation.
type DueCounts struct {
	// Overdue are keys past the limit (stage expired).
	Overdue int `json:"overdue"`
	// Within7 and Within30 are keys not yet past the limit (stage ok or
	// warning) that reach it in the next 7 and 30 days (Within30 includes
	// Within7).
	Within7  int `json:"dueIn7Days"`
	Within30 int `json:"dueIn30Days"`
}

// Due counts the keys by due window at now, for a limit of maxAge: a key
// is due maxAge after its creation. The overdue keys are counted in
// account_counts (aggregates.go); the others are the few ok and warning keys
// within 30 days of the limit, a range of the (stage, created_at) index.
func (s *Store) Due(ctx context.Context, now time.Time, maxAge time.Duration) (DueCounts, error) {
	var d DueCounts
	limit := now.Add(-maxAge)
	err := s.db.QueryRowContext(ctx, `SELECT
			(SELECT COALESCE(SUM(n), 0) FROM account_counts WHERE kind = '`+countKeys+`' AND value = 'expired'),
			(SELECT COALESCE(SUM(created_at <= ?1), 0) FROM evaluation_keys WHERE stage IN ('ok', 'warning') AND created_at <= ?2),
			(SELECT COUNT(*) FROM evaluation_keys WHERE stage IN ('ok', 'warning') AND created_at <= ?2)`,
		ms64(limit.Add(7*rule.Day)), ms64(limit.Add(30*rule.Day))).Scan(&d.Overdue, &d.Within7, &d.Within30)
	if err != nil {
		return d, fmt.Errorf("count keys by due window: %w", err)
	}
	return d, nil
}

// CompliancePoint is the number of compliant and non-compliant users at
// the end of a period.
type CompliancePoint struct {
	// Start is the period's start; the counts are those at its end (or
	// at the time asked for, for the current period).
	Start        time.Time
	Compliant    int
	NonCompliant int
}

// ComplianceTrend replays the evaluation history into n consecutive periods
// of length step, the last one ending at end: the compliant and
// non-compliant users at the end of each.
//
// The result depends only on the history and the arguments (the current
// period ends in the future, past every row): the overview asks for periods
// ending at the end of today, so it is cached until the data changes.
func (s *Store) ComplianceTrend(ctx context.Context, end time.Time, step time.Duration, n int) ([]CompliancePoint, error) {
	return cachedRead(ctx, s, cacheKey("complianceTrend", end.UnixMilli(), step, n), func() ([]CompliancePoint, error) {
		return s.complianceTrend(ctx, end, step, n)
	}, slices.Clone)
}

func (s *Store) complianceTrend(ctx context.Context, end time.Time, step time.Duration, n int) ([]CompliancePoint, error) {
	if n < 1 || step <= 0 {
		return nil, fmt.Errorf("compliance trend: %d periods of %v", n, step)
	}
	start := end.Add(-time.Duration(n) * step)
	if out, ok, err := s.trendFromDays(ctx, start, step, n); ok {
		return out, err
	}
	return s.trendFromHistory(ctx, start, step, n)
}

// trendFromHistory is complianceTrend over evaluation_history, for periods
// not at UTC midnights: one range of the (at, from, to) index per period,
// and one for the baseline before start; no sort of the whole history.
func (s *Store) trendFromHistory(ctx context.Context, start time.Time, step time.Duration, n int) ([]CompliancePoint, error) {
	var q strings.Builder
	args := []any{}
	lower := int64(math.MinInt64)
	for i := 0; i <= n; i++ {
		if i > 0 {
			q.WriteString(` UNION ALL `)
		}
		upper := ms64(start.Add(time.Duration(i) * step))
		fmt.Fprintf(&q, `SELECT %d, COALESCE(SUM(to_compliance = 'COMPLIANT') - SUM(from_compliance = 'COMPLIANT'), 0),
			COALESCE(SUM(to_compliance = 'NON_COMPLIANT') - SUM(from_compliance = 'NON_COMPLIANT'), 0)
			FROM evaluation_history WHERE at > ? AND at <= ?`, i-1)
		args = append(args, lower, upper)
		lower = upper
	}
	rows, err := s.rangeSums(ctx, q.String(), args)
	if err != nil {
		return nil, fmt.Errorf("read compliance trend: %w", err)
	}
	dc, dn := make([]int, n+1), make([]int, n+1) // [0]: before start
	for _, b := range rows {
		i := min(b.i+1, n)
		dc[i] += int(b.x)
		dn[i] += int(b.y)
	}
	return accumulateTrend(start, step, dc, dn), nil
}

// rangeSum is one row of a query made of one SELECT per index range: the
// range's number and two sums.
type rangeSum struct {
	i    int
	x, y int64
}

func (s *Store) rangeSums(ctx context.Context, query string, args []any) ([]rangeSum, error) {
	return queryRows(ctx, s.db, query, func(r rowScanner) (rangeSum, error) {
		var x rangeSum
		err := r.Scan(&x.i, &x.x, &x.y)
		return x, err
	}, args...)
}

// AccountState is what the metrics and the overview need of every account:
// its non-compliant users and active root access keys.
type AccountState struct {
	AccountID      string
	Name           string
	Status         string
	Error          string
	NonCompliant   int
	ActiveRootKeys int
}

// AccountStates lists every scanned account, in account order, with its
// non-compliant users and active root keys. It is cheaper than Accounts: it
// counts only non-compliant users.
func (s *Store) AccountStates(ctx context.Context) ([]AccountState, error) {
	return cachedRead(ctx, s, "accountStates", func() ([]AccountState, error) { return s.accountStates(ctx) }, slices.Clone)
}

func (s *Store) accountStates(ctx context.Context) ([]AccountState, error) {
	out, err := queryRows(ctx, s.db, `WITH c AS (
			SELECT account_id, n FROM account_counts WHERE kind = ? AND value = 'NON_COMPLIANT')
		SELECT a.account_id, a.name, a.status, a.error, COALESCE(c.n, 0),
			(SELECT COUNT(*) FROM json_each(a.root_keys_json) j WHERE json_extract(j.value, '$.status') = ?)
		FROM account_latest a LEFT JOIN c ON c.account_id = a.account_id ORDER BY a.account_id`, func(r rowScanner) (AccountState, error) {
		var a AccountState
		err := r.Scan(&a.AccountID, &a.Name, &a.Status, &a.Error, &a.NonCompliant, &a.ActiveRootKeys)
		return a, err
	}, countUsers, rule.StatusActive)
	if err != nil {
		return nil, fmt.Errorf("read account states: %w", err)
	}
	return out, nil
}

const enforcementCountsQuery = `WITH RECURSIVE o(v) AS (
		SELECT MIN(outcome) FROM audit
		UNION ALL SELECT (SELECT MIN(outcome) FROM audit WHERE outcome > o.v) FROM o WHERE o.v IS NOT NULL)
	SELECT v, (SELECT COUNT(*) FROM audit a WHERE a.outcome = o.v AND a.at >= ?) AS n FROM o WHERE v IS NOT NULL AND n > 0`

// EnforcementCounts counts audit records (keyage enforce) since a time, by
// outcome: applied, dry-run, refused, escalated, failed. The outcomes are
// found by skipping through the (outcome, at) index, each counted on its
// range of it: no sort of the window's records.
func (s *Store) EnforcementCounts(ctx context.Context, since time.Time) (map[string]int, error) {
	rows, err := queryRows(ctx, s.db, enforcementCountsQuery, scanCounted, ms64(since))
	if err != nil {
		return nil, fmt.Errorf("count enforcement since %s: %w", since.UTC().Format(time.RFC3339), err)
	}
	out := map[string]int{}
	for _, c := range rows {
		out[c.key] = c.n
	}
	return out, nil
}
