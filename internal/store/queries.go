package store

// Read queries of the dashboard, the JSON API and the metrics
// (internal/server). They aggregate in SQL over the read models of
// migration 2 (evaluation_keys, account_latest) so a page costs a handful of
// indexed queries whatever the size of the organization.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/keyage/keyage/internal/lifecycle"
	"github.com/keyage/keyage/internal/rule"
	"github.com/keyage/keyage/internal/scan"
)

// Totals counts the current evaluations and their keys.
type Totals struct {
	// Users counts IAM users (evaluations of AWS::IAM::User).
	Users         int
	Compliant     int
	NonCompliant  int
	NotApplicable int
	// Keys counts access keys per stage (every stage of lifecycle.Stages is present).
	Keys map[string]int
	// Accounts counts the accounts keyage has scanned; AccountsFailed those
	// whose latest scan failed.
	Accounts       int
	AccountsFailed int
}

// Totals reads the organization-wide counts: the sums of account_counts
// (aggregates.go), a few rows per account.
func (s *Store) Totals(ctx context.Context) (Totals, error) {
	return cachedRead(ctx, s, "totals", func() (Totals, error) { return s.totals(ctx) }, func(t Totals) Totals {
		t.Keys = maps.Clone(t.Keys)
		return t
	})
}

func (s *Store) totals(ctx context.Context) (Totals, error) {
	t := Totals{Keys: map[string]int{}}
	for _, st := range lifecycle.Stages {
		t.Keys[string(st)] = 0
	}
	sums, err := queryRows(ctx, s.db, `SELECT kind, value, SUM(n) FROM account_counts GROUP BY kind, value`, func(r rowScanner) (accountCount, error) {
		var c accountCount
		err := r.Scan(&c.kind, &c.value, &c.n)
		return c, err
	})
	if err != nil {
		return t, fmt.Errorf("count evaluations and keys: %w", err)
	}
	for _, c := range sums {
		switch c.kind {
		case countKeys:
			t.Keys[c.value] = c.n
			continue
		case countKeyUsers:
			continue
		}
		t.Users += c.n
		switch rule.Compliance(c.value) {
		case rule.Compliant:
			t.Compliant = c.n
		case rule.NonCompliant:
			t.NonCompliant = c.n
		case rule.NotApplicable:
			t.NotApplicable = c.n
		}
	}
	err = s.db.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(status <> 'ok'), 0) FROM account_latest`).Scan(&t.Accounts, &t.AccountsFailed)
	if err != nil {
		return t, fmt.Errorf("count accounts: %w", err)
	}
	return t, nil
}

// AccountSummary is one account as keyage last saw it, with the counts of
// its current evaluations.
type AccountSummary struct {
	AccountID string
	Name      string
	OU        string
	// Status and Error are those of the account's latest scan.
	Status     string
	Error      string
	ScanID     int64
	LastOKScan int64
	DurationMS int64
	RootKeys   []scan.RootKey
	// Users counts the account's IAM users among the current evaluations.
	Users        int
	Compliant    int
	NonCompliant int
}

const accountColumns = `a.account_id, a.name, a.ou, a.status, a.error, a.scan_id, COALESCE(a.last_ok_scan_id, 0), a.duration_ms, a.root_keys_json`

func scanAccount(sc rowScanner, a *AccountSummary, extra ...any) error {
	var rk string
	dest := append([]any{&a.AccountID, &a.Name, &a.OU, &a.Status, &a.Error, &a.ScanID, &a.LastOKScan, &a.DurationMS, &rk}, extra...)
	if err := sc.Scan(dest...); err != nil {
		return err
	}
	if err := json.Unmarshal([]byte(rk), &a.RootKeys); err != nil {
		return fmt.Errorf("decode root keys of %s: %w", a.AccountID, err)
	}
	return nil
}

// Accounts lists every account keyage has scanned with its user counts,
// most non-compliant users first (then by id); limit <= 0 lists all.
func (s *Store) Accounts(ctx context.Context, limit int) ([]AccountSummary, error) {
	return cachedRead(ctx, s, cacheKey("accounts", limit), func() ([]AccountSummary, error) { return s.accounts(ctx, limit) }, cloneAccounts)
}

// cloneAccounts copies accounts and their root keys.
func cloneAccounts(as []AccountSummary) []AccountSummary {
	out := slices.Clone(as)
	for i := range out {
		out[i].RootKeys = slices.Clone(out[i].RootKeys)
	}
	return out
}

func (s *Store) accounts(ctx context.Context, limit int) ([]AccountSummary, error) {
	if limit <= 0 {
		limit = -1
	}
	out, err := queryRows(ctx, s.db, `WITH c AS (
			SELECT account_id, SUM(n) AS users, SUM(CASE value WHEN 'COMPLIANT' THEN n ELSE 0 END) AS compliant,
				SUM(CASE value WHEN 'NON_COMPLIANT' THEN n ELSE 0 END) AS noncompliant
			FROM account_counts WHERE kind = ? GROUP BY account_id)
		SELECT `+accountColumns+`, COALESCE(c.users, 0), COALESCE(c.compliant, 0), COALESCE(c.noncompliant, 0)
		FROM account_latest a LEFT JOIN c ON c.account_id = a.account_id
		ORDER BY COALESCE(c.noncompliant, 0) DESC, a.account_id LIMIT ?`, func(r rowScanner) (AccountSummary, error) {
		var a AccountSummary
		err := scanAccount(r, &a, &a.Users, &a.Compliant, &a.NonCompliant)
		return a, err
	}, countUsers, limit)
	if err != nil {
		return nil, fmt.Errorf("read accounts: %w", err)
	}
	return out, nil
}

// TopNonCompliant lists the accounts with the most non-compliant users,
// most first, at most limit of them; accounts without one are left out.
func (s *Store) TopNonCompliant(ctx context.Context, limit int) ([]AccountSummary, error) {
	return cachedRead(ctx, s, cacheKey("top", limit), func() ([]AccountSummary, error) { return s.topNonCompliant(ctx, limit) }, cloneAccounts)
}

func (s *Store) topNonCompliant(ctx context.Context, limit int) ([]AccountSummary, error) {
	out, err := queryRows(ctx, s.db, `WITH c AS (
			SELECT account_id, n FROM account_counts WHERE kind = ? AND value = 'NON_COMPLIANT' AND n > 0
			ORDER BY n DESC, account_id LIMIT ?)
		SELECT c.account_id, COALESCE(a.name, ''), c.n FROM c LEFT JOIN account_latest a ON a.account_id = c.account_id
		ORDER BY c.n DESC, c.account_id`, func(r rowScanner) (AccountSummary, error) {
		var a AccountSummary
		err := r.Scan(&a.AccountID, &a.Name, &a.NonCompliant)
		return a, err
	}, countUsers, limit)
	if err != nil {
		return nil, fmt.Errorf("rank accounts: %w", err)
	}
	return out, nil
}

// accountUserCounts counts the users of one account (?1), all, compliant
// and non-compliant, of resource type ?2: a range of the primary key.
const accountUserCounts = `SELECT COUNT(*), COALESCE(SUM(compliance = 'COMPLIANT'), 0), COALESCE(SUM(compliance = 'NON_COMPLIANT'), 0)
		FROM evaluations WHERE account_id = ? AND resource_type = ?`

// Account returns one account, or nil when keyage has neither scanned it
// nor evaluated a resource of it.
func (s *Store) Account(ctx context.Context, accountID string) (*AccountSummary, error) {
	a := AccountSummary{}
	err := scanAccount(s.db.QueryRowContext(ctx, `SELECT `+accountColumns+` FROM account_latest a WHERE a.account_id = ?`, accountID), &a)
	found := err == nil
	if err != nil && err != sql.ErrNoRows {
		return nil, fmt.Errorf("read account %s: %w", accountID, err)
	}
	a.AccountID = accountID
	err = s.db.QueryRowContext(ctx, accountUserCounts, accountID, rule.ResourceTypeUser).Scan(&a.Users, &a.Compliant, &a.NonCompliant)
	if err != nil {
		return nil, fmt.Errorf("count users of %s: %w", accountID, err)
	}
	if !found && a.Users == 0 {
		return nil, nil
	}
	return &a, nil
}

// AccountScan is one account's outcome in one scan.
type AccountScan struct {
	ScanID     int64
	StartedAt  time.Time
	Status     string
	Error      string
	Users      int
	DurationMS int64
}

// AccountScans lists an account's scans, newest first; failedOnly keeps
// those whose account failed.
func (s *Store) AccountScans(ctx context.Context, accountID string, failedOnly bool, limit int) ([]AccountScan, error) {
	q := `SELECT sa.scan_id, s.started_at, sa.status, sa.error, sa.users, sa.duration_ms FROM scan_accounts sa JOIN scans s ON s.id = sa.scan_id
		WHERE sa.account_id = ?`
	if failedOnly {
		q += ` AND sa.status <> 'ok'`
	}
	out, err := queryRows(ctx, s.db, q+` ORDER BY sa.scan_id DESC LIMIT ?`, func(r rowScanner) (AccountScan, error) {
		var a AccountScan
		var started int64
		err := r.Scan(&a.ScanID, &started, &a.Status, &a.Error, &a.Users, &a.DurationMS)
		a.StartedAt = fromMS(started)
		return a, err
	}, accountID, limit)
	if err != nil {
		return nil, fmt.Errorf("read scans of %s: %w", accountID, err)
	}
	return out, nil
}

// Key sort orders of KeyFilter.
const (
	SortAge      = "age" // oldest key first
	SortAccount  = "account"
	SortUser     = "user"
	SortOwner    = "owner"
	SortLastUsed = "lastused" // most recently used first
	SortStage    = "stage"
)

var keySorts = map[string]string{
	SortAge:      `k.created_at, k.account_id, k.user_name, k.idx`,
	SortAccount:  `k.account_id, k.user_name, k.resource_id, k.idx`,
	SortUser:     `k.user_name, k.account_id, k.resource_id, k.idx`,
	SortOwner:    `k.owner, k.account_id, k.user_name, k.idx`,
	SortLastUsed: `k.last_used_at DESC, k.account_id, k.user_name, k.idx`,
	SortStage:    `k.stage, k.created_at, k.account_id, k.idx`,
}

// KeyFilter selects access keys of the current evaluations.
type KeyFilter struct {
	// Stages keeps keys in one of these stages; empty keeps all.
	Stages []string
	// AccountID, ResourceID and Owner ("" for any) keep one account, one
	// user, one owner (as recorded with the evaluation: rule.Evaluation.Owner).
	AccountID  string
	ResourceID string
	Owner      string
	// OU keeps the accounts in an OU path or below it (Workloads keeps
	// Workloads and Workloads/Prod); PathPrefix keeps users whose IAM path
	// starts with it ("/ci/").
	OU         string
	PathPrefix string
	// CreatedBefore, when set, keeps keys created at or before it (keys due
	// by a date, for a limit).
	CreatedBefore time.Time
	// Sort is one of the Sort constants (default SortAge); Desc reverses it.
	Sort string
	Desc bool
	// Limit (<= 0: all) and Offset page the rows.
	Limit, Offset int
}

// KeyRow is one access key with its user, account, remediation and
// notification state.
type KeyRow struct {
	AccountID       string
	AccountName     string
	OU              string
	ResourceID      string
	UserName        string
	Compliance      string
	Owner           string
	AccessKeyID     string
	Status          string
	Stage           string
	AgeDays         int // at the evaluation
	CreatedAt       time.Time
	LastUsedAt      time.Time
	LastUsedService string
	// ExecutionState is the state of the user's latest remediation
	// execution, "" when there is none.
	ExecutionState string
	// LastNotified is when a receiver was last told about this key (zero
	// when never).
	LastNotified time.Time
}

func (f KeyFilter) where() (string, []any) {
	var conds []string
	var args []any
	if len(f.Stages) > 0 {
		conds = append(conds, `k.stage IN (`+strings.TrimSuffix(strings.Repeat("?, ", len(f.Stages)), ", ")+`)`)
		for _, st := range f.Stages {
			args = append(args, st)
		}
	}
	if f.AccountID != "" {
		conds = append(conds, `k.account_id = ?`)
		args = append(args, f.AccountID)
	}
	if f.ResourceID != "" {
		conds = append(conds, `k.resource_id = ?`)
		args = append(args, f.ResourceID)
	}
	if f.Owner != "" {
		conds = append(conds, `k.owner = ?`)
		args = append(args, f.Owner)
	}
	if f.OU != "" {
		ou := strings.Trim(f.OU, "/")
		conds = append(conds, `k.account_id IN (SELECT o.account_id FROM account_latest o WHERE o.ou = ? OR substr(o.ou, 1, length(?)) = ?)`)
		args = append(args, ou, ou+"/", ou+"/")
	}
	if f.PathPrefix != "" {
		conds = append(conds, `EXISTS (SELECT 1 FROM evaluations e WHERE e.account_id = k.account_id AND e.resource_id = k.resource_id AND substr(e.path, 1, length(?)) = ?)`)
		args = append(args, f.PathPrefix, f.PathPrefix)
	}
	if !f.CreatedBefore.IsZero() {
		conds = append(conds, `k.created_at <= ?`)
		args = append(args, ms64(f.CreatedBefore))
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// accountOnly reports whether f selects every key, or every key of one
// account (returned), whatever its sort and page.
func (f KeyFilter) accountOnly() (string, bool) {
	g := f
	g.AccountID = ""
	where, _ := g.where()
	return f.AccountID, where == ""
}

// CountKeys counts the keys a filter selects and their distinct users.
// The counts are cached until the data changes: paging through a filter
// counts once.
func (s *Store) CountKeys(ctx context.Context, f KeyFilter) (keys, users int, err error) {
	where, args := f.where()
	n, err := cachedRead(ctx, s, cacheKey("countKeys"+where, args...), func() ([2]int, error) {
		k, u, err := s.countKeys(ctx, f, where, args)
		return [2]int{k, u}, err
	}, identity)
	return n[0], n[1], err
}

func (s *Store) countKeys(ctx context.Context, f KeyFilter, where string, args []any) (keys, users int, err error) {
	if acct, ok := f.accountOnly(); ok {
		// Every key, or one account's: the maintained counts (aggregates.go),
		// a few rows per account instead of every key row.
		err = s.db.QueryRowContext(ctx, `SELECT COALESCE(SUM(n) FILTER (WHERE kind = ?1), 0), COALESCE(SUM(n) FILTER (WHERE kind = ?2), 0)
			FROM account_counts WHERE ?3 = '' OR account_id = ?3`, countKeys, countKeyUsers, acct).Scan(&keys, &users)
		if err != nil {
			return 0, 0, fmt.Errorf("count keys from account counts: %w", err)
		}
		return keys, users, nil
	}
	// One group per user: unfiltered, the groups are runs of the primary
	// key's index, with no sort and no table row read.
	err = s.db.QueryRowContext(ctx, `SELECT COALESCE(SUM(n), 0), COUNT(*) FROM (SELECT COUNT(*) AS n FROM evaluation_keys k`+where+`
		GROUP BY k.account_id, k.resource_id)`, args...).Scan(&keys, &users)
	if err != nil {
		return 0, 0, fmt.Errorf("count keys: %w", err)
	}
	return keys, users, nil
}

// Keys lists the keys a filter selects, sorted and paged. The execution and
// notification state is read for the page's rows only, and so are the
// rows themselves: the sort reads only the page's primary keys (from a
// covering index where the filter has one: every index of the table holds
// the primary key).
func (s *Store) Keys(ctx context.Context, f KeyFilter) ([]KeyRow, error) {
	order, ok := keySorts[f.Sort]
	if !ok {
		order = keySorts[SortAge]
	}
	if f.Desc {
		order = reverseOrder(order)
	}
	where, args := f.where()
	limit := f.Limit
	if limit <= 0 {
		limit = -1
	}
	args = append(args, limit, max(f.Offset, 0))
	q := `SELECT k.account_id, COALESCE(a.name, ''), COALESCE(a.ou, ''), k.resource_id, k.user_name, k.compliance, k.owner, k.access_key_id, k.status, k.stage, k.age_days,
			k.created_at, k.last_used_at, k.last_used_service,
			COALESCE((SELECT x.state FROM remediation_executions x WHERE x.account_id = k.account_id AND x.resource_id = k.resource_id ORDER BY x.updated_at DESC LIMIT 1), ''),
			COALESCE((SELECT MAX(n.notified_at) FROM notify_state n WHERE n.account_id = k.account_id AND n.resource_id = k.resource_id
				AND (n.item_key = k.account_id || '/' || k.resource_id || '/' || k.access_key_id OR n.item_key LIKE k.account_id || '/' || k.resource_id || '/' || k.access_key_id || '#%')), 0)
		FROM (SELECT k.account_id AS a, k.resource_id AS r, k.idx AS i FROM evaluation_keys k` + where + ` ORDER BY ` + order + ` LIMIT ? OFFSET ?) p
		JOIN evaluation_keys k ON k.account_id = p.a AND k.resource_id = p.r AND k.idx = p.i
		LEFT JOIN account_latest a ON a.account_id = k.account_id
		ORDER BY ` + order
	out, err := queryRows(ctx, s.db, q, func(row rowScanner) (KeyRow, error) {
		var r KeyRow
		var created, used, notified int64
		err := row.Scan(&r.AccountID, &r.AccountName, &r.OU, &r.ResourceID, &r.UserName, &r.Compliance, &r.Owner, &r.AccessKeyID, &r.Status, &r.Stage, &r.AgeDays,
			&created, &used, &r.LastUsedService, &r.ExecutionState, &notified)
		r.CreatedAt, r.LastUsedAt, r.LastNotified = fromMS(created), fromMS(used), fromMS(notified)
		return r, err
	}, args...)
	if err != nil {
		return nil, fmt.Errorf("read keys: %w", err)
	}
	return out, nil
}

// reverseOrder flips every term of an ORDER BY list.
func reverseOrder(order string) string {
	terms := strings.Split(order, ", ")
	for i, t := range terms {
		if rest, ok := strings.CutSuffix(t, " DESC"); ok {
			terms[i] = rest
		} else {
			terms[i] = t + " DESC"
		}
	}
	return strings.Join(terms, ", ")
}

// KeyCount is the number of keys of one account in one stage.
type KeyCount struct {
	AccountID string
	Stage     string
	Keys      int
}

// KeysByAccountStage counts the keys of every account per stage.
func (s *Store) KeysByAccountStage(ctx context.Context) ([]KeyCount, error) {
	return cachedRead(ctx, s, "keysByAccountStage", func() ([]KeyCount, error) { return s.keysByAccountStage(ctx) }, slices.Clone)
}

func (s *Store) keysByAccountStage(ctx context.Context) ([]KeyCount, error) {
	out, err := queryRows(ctx, s.db, `SELECT account_id, value, n FROM account_counts WHERE kind = ? AND n > 0 ORDER BY account_id, value`, func(r rowScanner) (KeyCount, error) {
		var c KeyCount
		err := r.Scan(&c.AccountID, &c.Stage, &c.Keys)
		return c, err
	}, countKeys)
	if err != nil {
		return nil, fmt.Errorf("count keys by account: %w", err)
	}
	return out, nil
}

// AgeHistogram is the age distribution of active keys at a time:
// Cumulative[i] counts keys at most Bounds[i] days old.
type AgeHistogram struct {
	Bounds     []float64
	Cumulative []uint64
	Count      uint64
	SumDays    float64
}

// ActiveKeyAges builds the age histogram of active keys at now, ages in
// (fractional) days, with the given upper bounds in days (ascending). It
// counts each bucket as one range of the (status, created_at) index: a
// count and a sum per entry, no comparison.
func (s *Store) ActiveKeyAges(ctx context.Context, now time.Time, bounds []float64) (AgeHistogram, error) {
	h := AgeHistogram{Bounds: bounds, Cumulative: make([]uint64, len(bounds))}
	day := float64(rule.Day / time.Millisecond)
	var b strings.Builder
	args := []any{rule.StatusActive}
	// Buckets from the youngest: created_at >= now - bound, below the
	// previous (younger) bound's limit.
	upper := int64(math.MaxInt64)
	for i, d := range append(slices.Clone(bounds), math.Inf(1)) {
		if i > 0 {
			b.WriteString(` UNION ALL `)
		}
		lower := int64(math.MinInt64)
		if !math.IsInf(d, 1) {
			lower = ms64(now) - int64(d*day)
		}
		fmt.Fprintf(&b, `SELECT %d, COUNT(*), COALESCE(SUM(created_at), 0) FROM evaluation_keys WHERE status = ?1 AND created_at >= ? AND created_at < ?`, i)
		args = append(args, lower, upper)
		upper = lower
	}
	rows, err := s.rangeSums(ctx, b.String(), args)
	if err != nil {
		return h, fmt.Errorf("read key ages: %w", err)
	}
	var sumCreated float64
	counts := make([]uint64, len(bounds)+1)
	for _, x := range rows {
		counts[x.i] = uint64(x.x)
		h.Count += uint64(x.x)
		sumCreated += float64(x.y)
	}
	var cum uint64
	for i := range bounds {
		cum += counts[i]
		h.Cumulative[i] = cum
	}
	h.SumDays = (float64(h.Count)*float64(ms64(now)) - sumCreated) / day
	return h, nil
}

// TrendPoint is the number of non-compliant users at a time.
type TrendPoint struct {
	At           time.Time
	NonCompliant int
}

// FirstActivity is the time of the first evaluation history row (zero when
// there is none).
func (s *Store) FirstActivity(ctx context.Context) (time.Time, error) {
	return cachedRead(ctx, s, "firstActivity", func() (time.Time, error) { return s.firstActivity(ctx) }, identity)
}

func (s *Store) firstActivity(ctx context.Context) (time.Time, error) {
	var v sql.NullInt64
	if err := s.db.QueryRowContext(ctx, `SELECT MIN(at) FROM evaluation_history`).Scan(&v); err != nil {
		return time.Time{}, fmt.Errorf("read first history: %w", err)
	}
	return nullMS(v), nil
}

// Scans lists finished scans (done or interrupted, not running), newest
// first, with ids below beforeID (0: from the newest).
func (s *Store) Scans(ctx context.Context, beforeID int64, limit int) ([]Scan, error) {
	q := `SELECT ` + scanColumns + ` FROM scans WHERE status != '` + ScanRunning + `'`
	var args []any
	if beforeID > 0 {
		q += ` AND id < ?`
		args = append(args, beforeID)
	}
	args = append(args, limit)
	out, err := queryRows(ctx, s.db, q+` ORDER BY id DESC LIMIT ?`, scanScan, args...)
	if err != nil {
		return nil, fmt.Errorf("read scans: %w", err)
	}
	return out, nil
}

// EvaluationFilter selects current evaluations for the API.
type EvaluationFilter struct {
	AccountID  string
	Compliance string
	// Stage keeps users with at least one key in that stage.
	Stage string
	// Owner keeps users of this owner (as recorded: rule.Evaluation.Owner).
	Owner string
	// After is the keyset cursor: rows strictly after (account, resource).
	AfterAccount, AfterResource string
	Limit                       int
}

// EvaluationRow is a current evaluation with its bookkeeping times.
type EvaluationRow struct {
	rule.Evaluation
	AccountName string
	FirstSeen   time.Time
	ChangedAt   time.Time
	EvaluatedAt time.Time
	ScanID      int64
}

// ListEvaluations lists current evaluations in (account, resource) order,
// after the filter's cursor, at most Limit of them.
func (s *Store) ListEvaluations(ctx context.Context, f EvaluationFilter) ([]EvaluationRow, error) {
	var conds []string
	var args []any
	if f.Compliance != "" {
		conds = append(conds, `e.compliance = ?`)
		args = append(args, f.Compliance)
	}
	if f.AccountID != "" {
		conds = append(conds, `e.account_id = ?`)
		args = append(args, f.AccountID)
	}
	if f.Owner != "" {
		conds = append(conds, `e.owner = ?`)
		args = append(args, f.Owner)
	}
	if f.Stage != "" {
		conds = append(conds, `EXISTS (SELECT 1 FROM evaluation_keys k WHERE k.account_id = e.account_id AND k.resource_id = e.resource_id AND k.stage = ?)`)
		args = append(args, f.Stage)
	}
	if f.AfterAccount != "" || f.AfterResource != "" {
		conds = append(conds, `(e.account_id, e.resource_id) > (?, ?)`)
		args = append(args, f.AfterAccount, f.AfterResource)
	}
	q := `SELECT ` + evaluationRowColumns + ` FROM evaluations e LEFT JOIN account_latest a ON a.account_id = e.account_id`
	if len(conds) > 0 {
		q += ` WHERE ` + strings.Join(conds, " AND ")
	}
	q += ` ORDER BY e.account_id, e.resource_id LIMIT ?`
	args = append(args, f.Limit)
	out, err := queryRows(ctx, s.db, q, scanEvaluationRow, args...)
	if err != nil {
		return nil, fmt.Errorf("read evaluations: %w", err)
	}
	return out, nil
}

// evaluationRowColumns are the columns of scanEvaluationRow, from
// evaluations e joined with account_latest a.
const evaluationRowColumns = `e.account_id, e.resource_id, e.resource_type, e.user_name, e.path, e.arn, e.compliance, e.annotation, e.tags_json, e.keys_json,
			e.first_seen, e.changed_at, e.evaluated_at, COALESCE(e.scan_id, 0), COALESCE(a.name, ''), e.owner`

func scanEvaluationRow(row rowScanner) (EvaluationRow, error) {
	var r EvaluationRow
	var tags, keys string
	var first, changed, evaluated int64
	if err := row.Scan(&r.AccountID, &r.ResourceID, &r.ResourceType, &r.UserName, &r.Path, &r.ARN, &r.Compliance, &r.Annotation, &tags, &keys,
		&first, &changed, &evaluated, &r.ScanID, &r.AccountName, &r.Owner); err != nil {
		return r, err
	}
	if err := json.Unmarshal([]byte(tags), &r.Tags); err != nil {
		return r, fmt.Errorf("decode tags of %s: %w", r.ResourceID, err)
	}
	if err := json.Unmarshal([]byte(keys), &r.Keys); err != nil {
		return r, fmt.Errorf("decode keys of %s: %w", r.ResourceID, err)
	}
	if r.Keys == nil {
		r.Keys = []rule.KeyResult{}
	}
	r.FirstSeen, r.ChangedAt, r.EvaluatedAt = fromMS(first), fromMS(changed), fromMS(evaluated)
	return r, nil
}

// AccountEvaluations lists the current evaluations of one account, by user name.
func (s *Store) AccountEvaluations(ctx context.Context, accountID string) ([]EvaluationRow, error) {
	out, err := queryRows(ctx, s.db, `SELECT `+evaluationRowColumns+`
		FROM evaluations e LEFT JOIN account_latest a ON a.account_id = e.account_id WHERE e.account_id = ? ORDER BY e.compliance DESC, e.user_name, e.resource_id`,
		scanEvaluationRow, accountID)
	if err != nil {
		return nil, fmt.Errorf("read evaluations of %s: %w", accountID, err)
	}
	return out, nil
}

// EvaluationOf returns the current evaluation of one resource, nil when none.
func (s *Store) EvaluationOf(ctx context.Context, accountID, resourceID string) (*EvaluationRow, error) {
	r, err := scanEvaluationRow(s.db.QueryRowContext(ctx, `SELECT `+evaluationRowColumns+`
		FROM evaluations e LEFT JOIN account_latest a ON a.account_id = e.account_id WHERE e.account_id = ? AND e.resource_id = ?`, accountID, resourceID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read evaluation of %s in %s: %w", resourceID, accountID, err)
	}
	return &r, nil
}

// ExecutionFilter selects remediation executions.
type ExecutionFilter struct {
	State                 string
	AccountID, ResourceID string
	AfterID               int64 // keyset cursor: ids above
	Limit                 int
}

// ListExecutions lists executions in id order.
func (s *Store) ListExecutions(ctx context.Context, f ExecutionFilter) ([]Execution, error) {
	q := `SELECT ` + executionColumns + ` FROM remediation_executions WHERE id > ?`
	args := []any{f.AfterID}
	if f.State != "" {
		q += ` AND state = ?`
		args = append(args, strings.ToUpper(f.State))
	}
	if f.AccountID != "" {
		q += ` AND account_id = ?`
		args = append(args, f.AccountID)
	}
	if f.ResourceID != "" {
		q += ` AND resource_id = ?`
		args = append(args, f.ResourceID)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = -1
	}
	args = append(args, limit)
	out, err := queryRows(ctx, s.db, q+` ORDER BY id LIMIT ?`, scanExecution, args...)
	if err != nil {
		return nil, fmt.Errorf("read executions: %w", err)
	}
	return out, nil
}

// MessagesOf lists the outbox messages about one resource, newest first:
// those serving one of its executions (digests included) and those grouped
// by the user.
func (s *Store) MessagesOf(ctx context.Context, accountID, resourceID string, limit int) ([]Message, error) {
	out, err := queryRows(ctx, s.db, `SELECT `+messageColumns+`
		FROM outbox WHERE id IN (
			SELECT oe.message_id FROM outbox_executions oe JOIN remediation_executions x ON x.id = oe.execution_id WHERE x.account_id = ?1 AND x.resource_id = ?2
			UNION SELECT id FROM outbox WHERE group_key = 'user:' || ?1 || '/' || ?2)
		ORDER BY created_at DESC, id LIMIT ?3`, scanMessage, accountID, resourceID, limit)
	if err != nil {
		return nil, fmt.Errorf("read messages of %s in %s: %w", resourceID, accountID, err)
	}
	return out, nil
}

// NotifiedOf lists the notify state of one resource's items.
func (s *Store) NotifiedOf(ctx context.Context, accountID, resourceID string) ([]Notified, error) {
	out, err := queryRows(ctx, s.db, `SELECT `+notifiedColumns+` FROM notify_state
		WHERE account_id = ? AND resource_id = ? ORDER BY notified_at DESC, receiver`, scanNotified, accountID, resourceID)
	if err != nil {
		return nil, fmt.Errorf("read notify state of %s in %s: %w", resourceID, accountID, err)
	}
	return out, nil
}
