package store

import (
	"context"
	"fmt"
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
