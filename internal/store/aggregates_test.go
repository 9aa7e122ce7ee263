package store

import (
	"context"
	"fmt"
	"math/rand"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/keyage/keyage/internal/lifecycle"
	"github.com/keyage/keyage/internal/rule"
	"github.com/keyage/keyage/internal/scan"
)

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
		{"history by day", `SELECT day, compliant, noncompliant FROM trend_days WHERE compliant <> 0 OR noncompliant <> 0 ORDER BY day`,
			`SELECT * FROM (SELECT (at + 86399999) / 86400000 AS d, SUM(to_compliance = 'COMPLIANT') - SUM(from_compliance = 'COMPLIANT') AS c,
				SUM(to_compliance = 'NON_COMPLIANT') - SUM(from_compliance = 'NON_COMPLIANT') AS n FROM evaluation_history GROUP BY d)
				WHERE c <> 0 OR n <> 0 ORDER BY d`},
	} {
		if diff := cmp.Diff(read(c.counted), read(c.kept)); diff != "" {
			t.Errorf("%s: %s kept differ from those counted (-counted +kept):\n%s", step, c.what, diff)
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
// the store keeps (account_counts, trend_days) equal those of the rows they
// derive from after every kind of write: a first scan, rescans with
// changes and failed accounts, event re-checks and owner changes (with a
// user gone), and a prune of the history; and that migration 16 backfills
// the same rows from an existing state.
func TestAggregatesEqualCounts(t *testing.T) {
	ctx := context.Background()
	for seed := range int64(4) {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
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
				if _, err := s.RecordScan(ctx, at, at, o.scan(at)); err != nil {
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
					UNION ALL SELECT day || ' ' || compliant || ' ' || noncompliant FROM trend_days ORDER BY 1`, scanValue[string])
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
			i := slices.IndexFunc(ms, func(m migration) bool { return m.version == 16 })
			if i < 0 {
				t.Fatal("no migration 16")
			}
			if _, err := s.db.ExecContext(ctx, `DROP TABLE account_counts; DROP TABLE trend_days;`+ms[i].sql); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(before, kept()); diff != "" {
				t.Errorf("migration 16's backfill differs from the rows kept (-kept +backfilled):\n%s", diff)
			}
		})
	}
}
