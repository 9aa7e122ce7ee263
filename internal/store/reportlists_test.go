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

	"github.com/keyage/keyage/internal/rule"
)

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
// index in its order, with no sort of the rows they skip (migration 17).
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

// TestExemptKeysKept: over random scans and re-checks (exemptions added,
// changed, dropped, users gone), exempt_keys equals the exemptions read
// from the evaluations, and migration 17 backfills the same rows.
func TestExemptKeysKept(t *testing.T) {
	ctx := context.Background()
	for seed := range int64(3) {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			s := open(t)
			o := &randomOrg{r: rand.New(rand.NewSource(seed)), users: map[rule.ResourceRef]rule.Evaluation{}}
			read := func(q string) []string {
				t.Helper()
				rows, err := queryRows(ctx, s.db, `SELECT account_id || ' ' || resource_id || ' ' || idx || ' ' || access_key_id || ' ' || user_name || ' ' || arn || ' ' ||
					until || ' ' || reason || ' ' || source FROM (`+q+`) ORDER BY 1`, scanValue[string])
				if err != nil {
					t.Fatal(err)
				}
				return rows
			}
			check := func(step string) {
				t.Helper()
				derived := read(fmt.Sprintf(exemptKeysSelect, "1"))
				if diff := cmp.Diff(derived, read(`SELECT * FROM exempt_keys`)); diff != "" {
					t.Errorf("%s: exempt_keys differs from the evaluations' exemptions (-derived +kept):\n%s", step, diff)
				}
			}
			at, listed := t0, 0
			for i := range 8 {
				at = at.Add(time.Duration(6+o.r.Intn(30)) * time.Hour)
				if _, err := s.RecordScan(ctx, at, at, o.scan(at)); err != nil {
					t.Fatal(err)
				}
				check(fmt.Sprint("scan ", i))
				evs, gone := o.recheck()
				at = at.Add(time.Hour)
				if err := s.RecordEvaluations(ctx, at, evs, gone); err != nil {
					t.Fatal(err)
				}
				check(fmt.Sprint("re-check ", i))
				keys, err := s.ExemptKeys(ctx)
				if err != nil {
					t.Fatal(err)
				}
				listed += len(keys)
			}
			if listed == 0 {
				t.Fatal("the random org had no exempt keys: the test checked nothing")
			}
			before := read(`SELECT * FROM exempt_keys`)
			ms, err := loadMigrations()
			if err != nil {
				t.Fatal(err)
			}
			i := slices.IndexFunc(ms, func(m migration) bool { return m.version == 17 })
			if i < 0 {
				t.Fatal("no migration 17")
			}
			if _, err := s.db.ExecContext(ctx, `DROP TABLE exempt_keys; DROP INDEX audit_outcome_at;`+ms[i].sql); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(before, read(`SELECT * FROM exempt_keys`)); diff != "" {
				t.Errorf("migration 17's backfill differs from the rows kept (-kept +backfilled):\n%s", diff)
			}
		})
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
