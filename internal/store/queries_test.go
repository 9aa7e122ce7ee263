package store

import (
	"context"
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/keyage/keyage/internal/lifecycle"
	"github.com/keyage/keyage/internal/rule"
	"github.com/keyage/keyage/internal/scan"
)

func TestQueriesReadModels(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	alice := ev("AIDA1", "alice", rule.NonCompliant)
	alice.Tags = map[string]string{"email": "alice@example.com"}
	alice.Owner = "alice@example.com" // as lifecycle.Evaluator finds it, by the email tag
	bob := ev("AIDA2", "bob", rule.Compliant)
	bob.Keys[0].Stage, bob.Keys[0].AgeDays = "ok", 10
	first := result(t0, alice, bob)
	first.Accounts[0].Name = "prod"
	if _, err := s.RecordScan(ctx, t0, t0, first); err != nil {
		t.Fatal(err)
	}
	tot, err := s.Totals(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if tot.Users != 2 || tot.NonCompliant != 1 || tot.Compliant != 1 || tot.Keys["expired"] != 1 || tot.Keys["ok"] != 1 || tot.Accounts != 2 || tot.AccountsFailed != 1 {
		t.Errorf("Totals = %+v, want 2 users (1 non-compliant), keys expired 1 ok 1, 2 accounts (1 failed)", tot)
	}
	keys, err := s.Keys(ctx, KeyFilter{Stages: []string{"expired"}})
	if err != nil {
		t.Fatal(err)
	}
	want := []KeyRow{{AccountID: "222222222222", AccountName: "prod", ResourceID: "AIDA1", UserName: "alice", Compliance: "NON_COMPLIANT", Owner: "alice@example.com",
		AccessKeyID: "AKIAAIDA1", Status: "Active", Stage: "expired", AgeDays: 100, CreatedAt: t0.Add(-100 * rule.Day)}}
	if diff := cmp.Diff(want, keys); diff != "" {
		t.Errorf("Keys(expired) (-want +got):\n%s", diff)
	}

	// alice rotates: her key row follows the evaluation (update trigger), bob
	// is deleted (delete trigger).
	alice.Compliance = rule.Compliant
	alice.Keys[0].Stage = "ok"
	second := result(t0.Add(time.Hour), alice)
	if _, err := s.RecordScan(ctx, t0.Add(time.Hour), t0.Add(time.Hour), second); err != nil {
		t.Fatal(err)
	}
	n, users, err := s.CountKeys(ctx, KeyFilter{})
	if err != nil || n != 1 || users != 1 {
		t.Errorf("CountKeys(all) = %d, %d, %v; want 1 key of 1 user", n, users, err)
	}
	a, err := s.Account(ctx, "222222222222")
	if err != nil || a == nil || a.Name != "prod" || a.Users != 1 || a.ScanID != 2 {
		t.Errorf("Account = %+v, %v; want prod, 1 user, scan 2", a, err)
	}
	trend, err := s.NonCompliantTrend(ctx, t0.Add(-time.Hour), t0.Add(2*time.Hour), 3)
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	for _, p := range trend {
		got = append(got, p.NonCompliant)
	}
	if diff := cmp.Diff([]int{0, 1, 0, 0}, got); diff != "" {
		t.Errorf("NonCompliantTrend (-want +got):\n%s", diff)
	}
	h, err := s.ActiveKeyAges(ctx, t0, []float64{30, 90, 365})
	if err != nil {
		t.Fatal(err)
	}
	if h.Count != 1 || !cmp.Equal(h.Cumulative, []uint64{0, 0, 1}) {
		t.Errorf("ActiveKeyAges = %+v, want 1 key in the 365-day bucket", h)
	}
	failed, err := s.AccountScans(ctx, "333333333333", true, 10)
	if err != nil || len(failed) != 2 || failed[0].Error != "AccessDenied" {
		t.Errorf("AccountScans(failed) = %+v, %v; want 2 AccessDenied", failed, err)
	}
	_ = scan.StatusOK
}

func TestListEvaluationsCursor(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	var evs []rule.Evaluation
	for _, id := range []string{"AIDA1", "AIDA2", "AIDA3", "AIDA4", "AIDA5"} {
		evs = append(evs, ev(id, "u"+id, rule.NonCompliant))
	}
	if _, err := s.RecordScan(ctx, t0, t0, result(t0, evs...)); err != nil {
		t.Fatal(err)
	}
	var ids []string
	f := EvaluationFilter{Compliance: "NON_COMPLIANT", Limit: 2}
	for range 5 {
		page, err := s.ListEvaluations(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, r := range page {
			ids = append(ids, r.ResourceID)
		}
		last := page[len(page)-1]
		f.AfterAccount, f.AfterResource = last.AccountID, last.ResourceID
	}
	if diff := cmp.Diff([]string{"AIDA1", "AIDA2", "AIDA3", "AIDA4", "AIDA5"}, ids); diff != "" {
		t.Errorf("ListEvaluations pages (-want +got):\n%s", diff)
	}
}

// TestTotalsBySubtraction: Totals counts compliant users and ok keys as the
// total less the others; every mix must give what a plain GROUP BY gives.
func TestTotalsBySubtraction(t *testing.T) {
	user := func(id string, c rule.Compliance, stages ...string) rule.Evaluation {
		e := ev(id, id, c)
		e.Keys = nil
		for i, st := range stages {
			e.Keys = append(e.Keys, rule.KeyResult{Key: rule.Key{AccessKeyID: fmt.Sprintf("AKIA%s%d", id, i), Status: "Active", CreateDate: t0}, Stage: st})
		}
		return e
	}
	for _, tt := range []struct {
		name  string
		users []rule.Evaluation
	}{
		{"no evaluations", nil},
		{"only compliant users with ok keys", []rule.Evaluation{user("A", rule.Compliant, "ok"), user("B", rule.Compliant, "ok", "ok")}},
		{"no compliant user, no ok key", []rule.Evaluation{user("A", rule.NonCompliant, "expired", "inactive"), user("B", rule.NotApplicable)}},
		{"every compliance and stage", []rule.Evaluation{user("A", rule.NonCompliant, "expired", "ok"), user("B", rule.Compliant, "warning", "exempt"),
			user("C", rule.NotApplicable), user("D", rule.Compliant, "ok", "inactive"), user("E", rule.Compliant, "ok")}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			s := open(t)
			if _, err := s.RecordScan(ctx, t0, t0, result(t0, tt.users...)); err != nil {
				t.Fatal(err)
			}
			got, err := s.Totals(ctx)
			if err != nil {
				t.Fatal(err)
			}
			want := Totals{Keys: map[string]int{}, Accounts: 2, AccountsFailed: 1}
			for _, st := range lifecycle.Stages {
				want.Keys[string(st)] = 0
			}
			for _, u := range tt.users {
				want.Users++
				switch u.Compliance {
				case rule.Compliant:
					want.Compliant++
				case rule.NonCompliant:
					want.NonCompliant++
				case rule.NotApplicable:
					want.NotApplicable++
				}
				for _, k := range u.Keys {
					want.Keys[k.Stage]++
				}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Totals (-want +got):\n%s", diff)
			}
		})
	}
}

// randomOrg is a random organization whose users change between scans.
type randomOrg struct {
	r     *rand.Rand
	users map[rule.ResourceRef]rule.Evaluation
	next  int
}

var aggAccounts = []string{"111111111111", "222222222222", "333333333333"}

func (o *randomOrg) user(acct string) rule.Evaluation {
	o.next++
	id := fmt.Sprintf("AIDA%04d", o.next)
	e := rule.Evaluation{AccountID: acct, ResourceType: rule.ResourceTypeUser, ResourceID: id, UserName: "u" + id}
	if o.r.Intn(6) == 0 {
		e.ResourceType = "AWS::IAM::Role" // not a user: not in the user counts
	}
	o.mutate(&e)
	return e
}

// mutate changes an evaluation's compliance, keys and owner at random.
func (o *randomOrg) mutate(e *rule.Evaluation) {
	e.Compliance = []rule.Compliance{rule.Compliant, rule.NonCompliant, rule.NotApplicable}[o.r.Intn(3)]
	e.Owner = []string{"", "alice@example.com", "bob@example.com"}[o.r.Intn(3)]
	e.Keys = nil
	for i := range o.r.Intn(3) {
		st := lifecycle.Stages[o.r.Intn(len(lifecycle.Stages))]
		e.Keys = append(e.Keys, rule.KeyResult{Key: rule.Key{AccessKeyID: fmt.Sprintf("AKIA%s%d", e.ResourceID, i), Status: "Active",
			CreateDate: t0.Add(-time.Duration(o.r.Intn(400)) * rule.Day)}, Stage: string(st)})
		if st == lifecycle.Exempt && o.r.Intn(4) > 0 { // exempt keys carry their exemption (exempt_keys), most of them
			e.Keys[i].Lifecycle = &rule.KeyLifecycle{Exemption: &rule.Exemption{Until: t0.Add(time.Duration(o.r.Intn(90)) * rule.Day),
				Reason: []string{"vendor", "break-glass"}[o.r.Intn(2)], Source: []string{"tag", "config"}[o.r.Intn(2)]}}
		}
	}
}

// scan changes some users, adds and removes others, and returns the scan
// result; an account may fail (its evaluations stay).
func (o *randomOrg) scan(at time.Time) *scan.Result {
	for k, e := range o.users {
		switch o.r.Intn(5) {
		case 0:
			delete(o.users, k)
		case 1:
			o.mutate(&e)
			o.users[k] = e
		}
	}
	for range 1 + o.r.Intn(6) {
		e := o.user(aggAccounts[o.r.Intn(len(aggAccounts))])
		o.users[rule.ResourceRef{AccountID: e.AccountID, ResourceID: e.ResourceID}] = e
	}
	failed := aggAccounts[o.r.Intn(len(aggAccounts)+1)%len(aggAccounts)]
	if o.r.Intn(3) > 0 {
		failed = ""
	}
	res := &scan.Result{Rule: rule.Name, EvaluatedAt: at, Source: "auto", Parameters: scan.Parameters{MaxAccessKeyAge: 90}}
	for _, a := range aggAccounts {
		ar := scan.AccountResult{AccountID: a, Status: scan.StatusOK}
		if a == failed {
			ar.Status, ar.Error = scan.StatusError, "AccessDenied"
		}
		res.Accounts = append(res.Accounts, ar)
	}
	for _, e := range o.users {
		if e.AccountID != failed {
			res.Evaluations = append(res.Evaluations, e)
		}
	}
	return res
}

// recheck re-evaluates a few users outside a scan (an event's re-check,
// an owner change) and drops one as gone.
func (o *randomOrg) recheck() (evs []rule.Evaluation, gone []rule.ResourceRef) {
	for k, e := range o.users {
		switch o.r.Intn(4) {
		case 0:
			o.mutate(&e)
			o.users[k] = e
			evs = append(evs, e)
		case 1:
			e.Owner = "carol@example.com"
			o.users[k] = e
			evs = append(evs, e)
		}
		if len(gone) == 0 && o.r.Intn(8) == 0 {
			delete(o.users, k)
			gone = append(gone, k)
		}
	}
	return evs, gone
}

// checkAggregates compares account_counts and trend_days with the counts
// of the rows they derive from, and the trend read from trend_days with
// the one replayed from the history.
func checkAggregates(t *testing.T, s *Store, step string, end time.Time) {
	t.Helper()
	ctx := context.Background()
	read := func(q string) []string {
		t.Helper()
		rows, err := queryRows(ctx, s.db, q, func(r rowScanner) (string, error) {
			var a, b, c string
			err := r.Scan(&a, &b, &c)
			return a + " " + b + " " + c, err
		})
		if err != nil {
			t.Fatalf("%s: %.50s: %v", step, q, err)
		}
		return rows
	}
	for _, c := range []struct{ what, kept, counted string }{
		{"users by compliance", `SELECT account_id || ' ' || value, n, '' FROM account_counts WHERE kind = 'user' AND n > 0 ORDER BY 1`,
			`SELECT account_id || ' ' || compliance, COUNT(*), '' FROM evaluations WHERE resource_type = 'AWS::IAM::User' GROUP BY account_id, compliance ORDER BY 1`},
		{"keys by stage", `SELECT account_id || ' ' || value, n, '' FROM account_counts WHERE kind = 'stage' AND n > 0 ORDER BY 1`,
			`SELECT account_id || ' ' || stage, COUNT(*), '' FROM evaluation_keys GROUP BY account_id, stage ORDER BY 1`},
		{"users with keys", `SELECT account_id, n, '' FROM account_counts WHERE kind = 'keyusers' AND n > 0 ORDER BY 1`,
			`SELECT account_id, COUNT(DISTINCT resource_id), '' FROM evaluation_keys GROUP BY account_id ORDER BY 1`},
		{"exempt keys", `SELECT account_id || ' ' || resource_id || ' ' || idx, access_key_id || ' ' || user_name || ' ' || arn, until || ' ' || reason || ' ' || source
			FROM exempt_keys ORDER BY 1`, `SELECT account_id || ' ' || resource_id || ' ' || idx, access_key_id || ' ' || user_name || ' ' || arn, until || ' ' || reason || ' ' || source
			FROM (` + fmt.Sprintf(exemptKeysSelect, "1") + `) ORDER BY 1`},
		{"history by day", `SELECT day, compliant, noncompliant FROM trend_days WHERE compliant <> 0 OR noncompliant <> 0 ORDER BY day`,
			`SELECT * FROM (SELECT (at + 86399999) / 86400000 AS d, SUM(to_compliance = 'COMPLIANT') - SUM(from_compliance = 'COMPLIANT') AS c,
				SUM(to_compliance = 'NON_COMPLIANT') - SUM(from_compliance = 'NON_COMPLIANT') AS n FROM evaluation_history GROUP BY d)
				WHERE c <> 0 OR n <> 0 ORDER BY d`},
	} {
		if diff := cmp.Diff(read(c.counted), read(c.kept)); diff != "" {
			t.Errorf("%s: %s kept differ from those counted (-counted +kept):\n%s", step, c.what, diff)
		}
	}
	// The keys table's count without a filter, or by account alone, reads
	// the kept counts: it equals the one over the key rows.
	for _, acct := range append(read(`SELECT DISTINCT account_id, '', '' FROM evaluation_keys ORDER BY 1 LIMIT 2`), "  ") {
		acct = strings.TrimSpace(acct)
		f := KeyFilter{AccountID: acct}
		keys, users, err := s.CountKeys(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		where, args := KeyFilter{ResourceID: "", AccountID: acct, Owner: ""}.where()
		if acct == "" {
			where = " WHERE k.account_id <> ''" // the general query, not the kept counts
		}
		var wantKeys, wantUsers int
		if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*), COUNT(DISTINCT k.account_id || ' ' || k.resource_id) FROM evaluation_keys k`+where, args...).Scan(&wantKeys, &wantUsers); err != nil {
			t.Fatal(err)
		}
		if keys != wantKeys || users != wantUsers {
			t.Errorf("%s: CountKeys(account %q) = %d keys of %d users, the key rows hold %d of %d", step, acct, keys, users, wantKeys, wantUsers)
		}
	}
	// The report's trend: the non-compliant users at each point, replayed
	// from every history row up to it.
	pts, err := s.NonCompliantTrend(ctx, end.Add(-10*rule.Day+7*time.Hour+13*time.Minute), end, 7)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pts {
		var want int
		if err := s.db.QueryRowContext(ctx, `SELECT COALESCE(SUM(to_compliance = 'NON_COMPLIANT') - SUM(from_compliance = 'NON_COMPLIANT'), 0)
			FROM evaluation_history WHERE at <= ?`, ms64(p.At)).Scan(&want); err != nil {
			t.Fatal(err)
		}
		if p.NonCompliant != want {
			t.Errorf("%s: NonCompliantTrend at %v = %d non-compliant, want %d (replayed from the history)", step, p.At, p.NonCompliant, want)
		}
	}
	for _, p := range []struct {
		step time.Duration
		n    int
	}{{rule.Day, 1}, {rule.Day, 12}, {7 * rule.Day, 3}, {7 * rule.Day, 1}} {
		start := end.Add(-time.Duration(p.n) * p.step)
		want, err := s.trendFromHistory(ctx, start, p.step, p.n)
		if err != nil {
			t.Fatal(err)
		}
		got, ok, err := s.trendFromDays(ctx, start, p.step, p.n)
		if !ok || err != nil {
			t.Fatalf("%s: trendFromDays(%d periods of %v) = %v, %v; want the trend", step, p.n, p.step, ok, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: trend of %d periods of %v from trend_days differs from the history's (-history +days):\n%s", step, p.n, p.step, diff)
		}
	}
}

// TestAggregatesEqualCounts checks, over random changes, that the counts
// the store keeps (account_counts, trend_days, exempt_keys) equal those of the rows they
// derive from after every kind of write: a first scan, rescans with
// changes and failed accounts, event re-checks and owner changes (with a
// user gone), and a prune of the history; and that migrations 16 and 18
// backfill the same rows from an existing state. Scans are recorded in one
// transaction (RecordScan) and account by account (ScanWriter).
func TestAggregatesEqualCounts(t *testing.T) {
	ctx := context.Background()
	for _, rec := range []struct {
		name   string
		record func(context.Context, *Store, *scan.Result) error
	}{
		{"one transaction", recordOnce},
		{"account by account", recordStreamed},
	} {
		for seed := range int64(4) {
			t.Run(fmt.Sprint(rec.name, " seed ", seed), func(t *testing.T) {
				testAggregatesEqualCounts(t, ctx, seed, rec.record)
			})
		}
	}
}

func testAggregatesEqualCounts(t *testing.T, ctx context.Context, seed int64, record func(context.Context, *Store, *scan.Result) error) {
	s := open(t)
	o := &randomOrg{r: rand.New(rand.NewSource(seed)), users: map[rule.ResourceRef]rule.Evaluation{}}
	at := t0
	end := time.Date(t0.Year(), t0.Month(), t0.Day(), 0, 0, 0, 0, time.UTC).Add(rule.Day)
	for i := range 12 {
		// Some scans land at midnight exactly: the row counts in the
		// day it ends.
		at = at.Add(time.Duration(6+o.r.Intn(30)) * time.Hour)
		if i%4 == 3 {
			at = at.Truncate(rule.Day)
		}
		if err := record(ctx, s, o.scan(at)); err != nil {
			t.Fatal(err)
		}
		checkAggregates(t, s, fmt.Sprint("scan ", i), end.Add(time.Duration(i)*rule.Day))
		evs, gone := o.recheck()
		at = at.Add(time.Hour)
		if err := s.RecordEvaluations(ctx, at, evs, gone); err != nil {
			t.Fatal(err)
		}
		checkAggregates(t, s, fmt.Sprint("re-check ", i), end.Add(time.Duration(i)*rule.Day))
	}
	if _, err := s.Prune(ctx, at, Retention{History: 4*rule.Day + 5*time.Hour}); err != nil {
		t.Fatal(err)
	}
	checkAggregates(t, s, "prune", end.Add(12*rule.Day))

	// The migration's backfill gives the rows kept so far.
	kept := func() []string {
		rows, err := queryRows(ctx, s.db, `SELECT account_id || ' ' || kind || ' ' || value || ' ' || n FROM account_counts WHERE n > 0
			UNION ALL SELECT day || ' ' || compliant || ' ' || noncompliant FROM trend_days
			UNION ALL SELECT account_id || ' ' || resource_id || ' ' || idx || ' ' || access_key_id || ' ' || until || ' ' || reason || ' ' || source FROM exempt_keys ORDER BY 1`, scanValue[string])
		if err != nil {
			t.Fatal(err)
		}
		return rows
	}
	before := kept()
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []struct {
		versions []int
		drop     string
	}{{[]int{16, 19}, `DROP TABLE account_counts; DROP TABLE trend_days;`}, {[]int{18}, `DROP TABLE exempt_keys; DROP INDEX audit_outcome_at;`}} {
		run := m.drop
		for _, v := range m.versions {
			i := slices.IndexFunc(ms, func(mi migration) bool { return mi.version == v })
			if i < 0 {
				t.Fatalf("no migration %d", v)
			}
			run += ms[i].sql
		}
		if _, err := s.db.ExecContext(ctx, run); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(before, kept()); diff != "" {
			t.Errorf("migrations %v's backfill differs from the rows kept (-kept +backfilled):\n%s", m.versions, diff)
		}
	}
}

// The audit report's lists (reportlists.go).

func TestOverdueKeys(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	expired := func(id, name string, age int) rule.Evaluation {
		e := ev(id, name, rule.NonCompliant)
		e.Keys[0].Key.CreateDate, e.Keys[0].AgeDays = t0.Add(-time.Duration(age)*rule.Day), age
		e.Owner = name + "@example.com"
		return e
	}
	ok := ev("AIDAOK", "fresh", rule.Compliant)
	ok.Keys[0].Stage, ok.Keys[0].Key.CreateDate = "ok", t0.Add(-10*rule.Day)
	res := result(t0, expired("AIDA1", "ann", 100), expired("AIDA2", "ben", 300), expired("AIDA3", "cid", 150), expired("AIDA4", "abe", 150), ok)
	res.Accounts[0].Name = "prod"
	if _, err := s.RecordScan(ctx, t0, t0, res); err != nil {
		t.Fatal(err)
	}
	key := func(id, name string, age int) OverdueKey {
		return OverdueKey{AccountID: "222222222222", AccountName: "prod", ResourceID: id, UserName: name, Owner: name + "@example.com",
			AccessKeyID: "AKIA" + id, CreatedAt: t0.Add(-time.Duration(age) * rule.Day)}
	}
	all := []OverdueKey{key("AIDA2", "ben", 300), key("AIDA4", "abe", 150), key("AIDA3", "cid", 150), key("AIDA1", "ann", 100)}
	for _, tt := range []struct {
		name  string
		limit int
		want  []OverdueKey
	}{
		{"all, the oldest first, equal ages by user name", 0, all},
		{"the two most overdue", 2, all[:2]},
		{"more than there are", 10, all},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for range 2 { // the second read is the cache's copy
				got, err := s.OverdueKeys(ctx, tt.limit)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("OverdueKeys(%d) (-want +got):\n%s", tt.limit, diff)
				}
			}
		})
	}
}

func TestEnforcementCounts(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	for i, r := range []struct {
		ago     time.Duration
		outcome string
	}{
		{200 * rule.Day, "applied"}, {5 * rule.Day, "dry-run"}, {3 * rule.Day, "dry-run"}, {2 * rule.Day, "refused"},
		{time.Hour, "applied"}, {time.Hour, "escalated"}, {time.Minute, OutcomePending},
	} {
		if _, err := s.Audit(ctx, AuditRecord{At: t0.Add(-r.ago), AccountID: "222222222222", UserName: "ann", AccessKeyID: "AKIA1",
			Action: "deactivate", Outcome: r.outcome, Reason: strings.Repeat("x", i)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct {
		name  string
		since time.Duration
		want  map[string]int
	}{
		{"every record", 365 * rule.Day, map[string]int{"applied": 2, "dry-run": 2, "refused": 1, "escalated": 1, OutcomePending: 1}},
		{"an outcome only before the window is left out", 4 * rule.Day, map[string]int{"applied": 1, "dry-run": 1, "refused": 1, "escalated": 1, OutcomePending: 1}},
		{"the window's start is included", time.Hour, map[string]int{"applied": 1, "escalated": 1, OutcomePending: 1}},
		{"nothing", time.Second, map[string]int{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.EnforcementCounts(ctx, t0.Add(-tt.since))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("EnforcementCounts(since %v) (-want +got):\n%s", tt.since, diff)
			}
		})
	}
}

// TestReportQueryPlans: the report's lists and counts read ranges of an
// index in its order, with no sort of the rows they skip (migration 18).
func TestReportQueryPlans(t *testing.T) {
	s := open(t)
	for _, tt := range []struct {
		name, query, index string
		args               []any
	}{
		{"audit newest first", auditSinceQuery, "audit_at", []any{0, 1000}},
		{"enforcement counts", enforcementCountsQuery, "audit_outcome_at", []any{0}},
		{"overdue keys", overdueKeysQuery, "evaluation_keys_stage", []any{1000}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rows, err := queryRows(context.Background(), s.db, `EXPLAIN QUERY PLAN `+tt.query, func(r rowScanner) (string, error) {
				var id, parent, unused int
				var detail string
				err := r.Scan(&id, &parent, &unused, &detail)
				return detail, err
			}, tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			plan := strings.Join(rows, "\n")
			if strings.Contains(plan, "TEMP B-TREE") || !strings.Contains(plan, "INDEX "+tt.index) {
				t.Errorf("plan of %s:\n%s\nwant index %s and no sort", tt.name, plan, tt.index)
			}
		})
	}
}

// TestExemptKeys: each exempt key with the exemption the lifecycle applied,
// read from its user's keys_json at the key's position.
func TestExemptKeys(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	vendor := &rule.Exemption{Until: t0.Add(10*rule.Day + 1500*time.Millisecond), Reason: `vendor "migration"`, Source: "tag"}
	breakGlass := &rule.Exemption{Until: t0.Add(40 * rule.Day), Reason: "break-glass", Source: "config"}
	key := func(id, stage string, ex *rule.Exemption) rule.KeyResult {
		k := rule.KeyResult{Key: rule.Key{AccessKeyID: id, Status: "Active", CreateDate: t0.Add(-200 * rule.Day)}, AgeDays: 200, Stage: stage}
		if ex != nil {
			k.Lifecycle = &rule.KeyLifecycle{Exemption: ex}
		}
		return k
	}
	user := func(id, name string, keys ...rule.KeyResult) rule.Evaluation {
		e := ev(id, name, rule.Compliant)
		e.ARN, e.Keys = "arn:aws:iam::222222222222:user/"+name, keys
		return e
	}
	res := result(t0,
		user("AIDA2", "ben", key("AKIAB1", "ok", nil), key("AKIAB2", "exempt", breakGlass), key("AKIAB3", "exempt", vendor)),
		user("AIDA1", "ann", key("AKIAA1", "exempt", vendor), key("AKIAA2", "exempt", vendor)),
		user("AIDA3", "cid", key("AKIAC1", "exempt", nil)), // exempt without a recorded exemption: not listed
		user("AIDA4", "dee", key("AKIAD1", "expired", nil)))
	res.Accounts[0].Name = "prod"
	if _, err := s.RecordScan(ctx, t0, t0, res); err != nil {
		t.Fatal(err)
	}
	ex := func(id, name, keyID string, e *rule.Exemption) ExemptKey {
		return ExemptKey{AccountID: "222222222222", AccountName: "prod", UserName: name, ResourceID: id, ARN: "arn:aws:iam::222222222222:user/" + name,
			AccessKeyID: keyID, Until: e.Until, Reason: e.Reason, Source: e.Source}
	}
	want := []ExemptKey{ex("AIDA1", "ann", "AKIAA1", vendor), ex("AIDA1", "ann", "AKIAA2", vendor), ex("AIDA2", "ben", "AKIAB2", breakGlass), ex("AIDA2", "ben", "AKIAB3", vendor)}
	for _, read := range []string{"first", "cached"} {
		got, err := s.ExemptKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got, cmp.Comparer(time.Time.Equal)); diff != "" {
			t.Errorf("ExemptKeys, %s read (-want +got):\n%s", read, diff)
		}
	}
}

// TestAuditSince: the newest records first, those at or after since, at
// most limit; the same from the cached newest records as from the query,
// and a new record is seen at once.
func TestAuditSince(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	add := func(ago time.Duration, key string) {
		t.Helper()
		if _, err := s.Audit(ctx, AuditRecord{At: t0.Add(-ago), AccountID: "222222222222", UserName: "ann", AccessKeyID: key, Action: "deactivate", Outcome: "dry-run"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range []struct {
		ago time.Duration
		key string
	}{{30 * rule.Day, "K1"}, {2 * rule.Day, "K2"}, {rule.Day, "K3"}, {rule.Day, "K4"}, {time.Hour, "K5"}} {
		add(r.ago, r.key)
	}
	keys := func(since time.Time, limit int) string {
		t.Helper()
		rs, err := s.AuditSince(ctx, since, limit)
		if err != nil {
			t.Fatal(err)
		}
		var ks []string
		for _, r := range rs {
			ks = append(ks, r.AccessKeyID)
		}
		return strings.Join(ks, " ")
	}
	for _, tt := range []struct {
		name  string
		since time.Duration
		limit int
		want  string
	}{
		{"all, newest first, equal times newest id first", 365 * rule.Day, 0, "K5 K4 K3 K2 K1"},
		{"a record at since is included", rule.Day, 10, "K5 K4 K3"},
		{"the limit cuts the newest", 365 * rule.Day, 2, "K5 K4"},
		{"the limit cuts records of one time", rule.Day, 2, "K5 K4"},
		{"nothing since", time.Minute, 3, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, read := range []string{"first", "cached"} {
				if got := keys(t0.Add(-tt.since), tt.limit); got != tt.want {
					t.Errorf("AuditSince(since %v, limit %d), %s read = %q, want %q", tt.since, tt.limit, read, got, tt.want)
				}
			}
		})
	}
	add(time.Minute, "K6")
	if got, want := keys(t0.Add(-rule.Day), 2), "K6 K5"; got != want {
		t.Errorf("AuditSince after a new record = %q, want %q", got, want)
	}
}

// TestDeactivationNoticeList: the earliest deactivation first.
func TestDeactivationNoticeList(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	for _, n := range []struct {
		key  string
		days int
	}{{"K2", 5}, {"K3", 1}, {"K1", 5}} {
		if err := s.RecordDeactivationNotice(ctx, DeactivationNotice{AccountID: "222222222222", AccessKeyID: n.key, UserName: "ann", NoticedAt: t0,
			DeactivateAt: t0.Add(time.Duration(n.days) * rule.Day)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, read := range []string{"first", "cached"} {
		ns, err := s.DeactivationNoticeList(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, n := range ns {
			got = append(got, n.AccessKeyID)
		}
		if want := []string{"K3", "K1", "K2"}; !slices.Equal(got, want) {
			t.Errorf("DeactivationNoticeList, %s read = %v, want %v", read, got, want)
		}
	}
}

// NonCompliantTrend is the tests' replay of the evaluation history (the
// report read it before its trend came from trend_days): the number of
// non-compliant users at the end of each of n equal intervals from from to
// to (n+1 points, the first at from).
func (s *Store) NonCompliantTrend(ctx context.Context, from, to time.Time, n int) ([]TrendPoint, error) {
	if n < 1 || !to.After(from) {
		return nil, fmt.Errorf("non-compliant trend: empty range %v..%v", from, to)
	}
	start, end := ms64(from), ms64(to)
	width := max((end-start+int64(n)-1)/int64(n), 1)
	// Transitions at or before start form the baseline (bucket -1): the
	// days that end by start from trend_days (aggregates.go), the rest of
	// start's day from the history, as the window is.
	type bucket struct {
		b int64
		d int
	}
	dayStart := start - start%dayMS
	buckets, err := queryRows(ctx, s.db, `SELECT -1 AS b, COALESCE(SUM(noncompliant), 0) FROM trend_days WHERE day <= ?4 / ?5
		UNION ALL SELECT CASE WHEN at <= ?1 THEN -1 ELSE (at - ?1 - 1) / ?2 END AS b,
			SUM(to_compliance = 'NON_COMPLIANT') - SUM(from_compliance = 'NON_COMPLIANT')
		FROM evaluation_history WHERE (from_compliance = 'NON_COMPLIANT' OR to_compliance = 'NON_COMPLIANT') AND at > ?4 AND at <= ?3
		GROUP BY b`, func(r rowScanner) (bucket, error) {
		var b bucket
		err := r.Scan(&b.b, &b.d)
		return b, err
	}, start, width, end, dayStart, dayMS)
	if err != nil {
		return nil, fmt.Errorf("read non-compliant trend: %w", err)
	}
	delta := make([]int, n+1) // delta[0]: baseline, delta[i]: bucket i-1
	for _, b := range buckets {
		delta[min(int(b.b)+1, n)] += b.d
	}
	out := make([]TrendPoint, n+1)
	v := 0
	for i := range out {
		v += delta[i]
		at := from.Add(time.Duration(int64(i)*width) * time.Millisecond)
		if i == n {
			at = to
		}
		out[i] = TrendPoint{At: at.UTC(), NonCompliant: v}
	}
	return out, nil
}
