package store

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keyage/keyage/internal/rule"
)

func TestSummarizeRemediation(t *testing.T) {
	h := time.Hour
	for _, tt := range []struct {
		name      string
		ds        []time.Duration
		mean, p90 time.Duration
	}{
		{"none", nil, 0, 0},
		{"one", []time.Duration{5 * h}, 5 * h, 5 * h},
		{"ten: p90 is the 9th", []time.Duration{10 * h, 1 * h, 2 * h, 3 * h, 4 * h, 5 * h, 6 * h, 7 * h, 8 * h, 9 * h}, 55 * h / 10, 9 * h},
		{"eleven: p90 is the 10th", []time.Duration{1 * h, 2 * h, 3 * h, 4 * h, 5 * h, 6 * h, 7 * h, 8 * h, 9 * h, 10 * h, 100 * h}, 155 * h / 11, 10 * h},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := summarizeRemediation(30*rule.Day, tt.ds)
			if r.Count != len(tt.ds) || r.Mean != tt.mean || r.P90 != tt.p90 {
				t.Errorf("summarizeRemediation(%v) = count %d mean %v p90 %v, want %d, %v, %v", tt.ds, r.Count, r.Mean, r.P90, len(tt.ds), tt.mean, tt.p90)
			}
		})
	}
}

// TestTimeToRemediate records a history through the store's writers and
// reads the spells that ended in 30 and 90 days.
func TestTimeToRemediate(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	now := t0.Add(100 * rule.Day)
	at := func(days int) time.Time { return now.Add(-time.Duration(days) * rule.Day) }
	record := func(when time.Time, evs ...rule.Evaluation) {
		t.Helper()
		if err := s.RecordEvaluations(ctx, when, evs, nil); err != nil {
			t.Fatal(err)
		}
	}
	// alice: expired 60 days ago, rotated 40 days ago (20 d, ended outside 30 d).
	record(at(60), ev("AIDA1", "alice", rule.NonCompliant))
	record(at(40), ev("AIDA1", "alice", rule.Compliant))
	// bob: compliant, expired 12 days ago, deactivated 10 days ago (2 d).
	record(at(50), ev("AIDA2", "bob", rule.Compliant))
	record(at(12), ev("AIDA2", "bob", rule.NonCompliant))
	record(at(10), ev("AIDA2", "bob", rule.Compliant))
	// carol: expired 8 days ago, deleted 2 days ago (6 d).
	record(at(8), ev("AIDA3", "carol", rule.NonCompliant))
	if err := s.RecordEvaluations(ctx, at(2), nil, []rule.ResourceRef{{AccountID: "222222222222", ResourceID: "AIDA3"}}); err != nil {
		t.Fatal(err)
	}
	// dave: still expired (no spell ended).
	record(at(5), ev("AIDA4", "dave", rule.NonCompliant))

	for _, tt := range []struct {
		name   string
		window time.Duration
		want   []time.Duration
	}{
		{"30 days", 30 * rule.Day, []time.Duration{2 * rule.Day, 6 * rule.Day}},
		{"90 days", 90 * rule.Day, []time.Duration{2 * rule.Day, 6 * rule.Day, 20 * rule.Day}},
		{"1 day", rule.Day, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, err := s.TimeToRemediate(ctx, now, tt.window)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, r.Durations); diff != "" {
				t.Errorf("TimeToRemediate(%v) durations (-want +got):\n%s", tt.window, diff)
			}
		})
	}
}

func TestComplianceTrendAndDue(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	now := t0
	alice := ev("AIDA1", "alice", rule.NonCompliant) // expired, 100 d
	bob := ev("AIDA2", "bob", rule.Compliant)
	bob.Keys[0].Stage, bob.Keys[0].CreateDate = "warning", now.Add(-85*rule.Day) // due in 5 days
	carol := ev("AIDA3", "carol", rule.Compliant)
	carol.Keys[0].Stage, carol.Keys[0].CreateDate = "ok", now.Add(-70*rule.Day) // due in 20 days
	if err := s.RecordEvaluations(ctx, now.Add(-3*rule.Day+time.Hour), []rule.Evaluation{alice, bob, carol}, nil); err != nil {
		t.Fatal(err)
	}
	alice.Compliance = rule.Compliant
	alice.Keys[0].Stage = "inactive"
	if err := s.RecordEvaluations(ctx, now.Add(-rule.Day-time.Hour), []rule.Evaluation{alice}, nil); err != nil {
		t.Fatal(err)
	}
	got, err := s.ComplianceTrend(ctx, now, rule.Day, 4)
	if err != nil {
		t.Fatal(err)
	}
	want := []CompliancePoint{
		{Start: now.Add(-4 * rule.Day), Compliant: 0, NonCompliant: 0},
		{Start: now.Add(-3 * rule.Day), Compliant: 2, NonCompliant: 1},
		{Start: now.Add(-2 * rule.Day), Compliant: 3, NonCompliant: 0}, // alice rotated at -1 d -1 h
		{Start: now.Add(-1 * rule.Day), Compliant: 3, NonCompliant: 0},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ComplianceTrend (-want +got):\n%s", diff)
	}
	d, err := s.Due(ctx, now, 90*rule.Day)
	if err != nil {
		t.Fatal(err)
	}
	if d != (DueCounts{Overdue: 0, Within7: 1, Within30: 2}) {
		t.Errorf("Due = %+v, want 0 overdue, 1 in 7 days, 2 in 30", d)
	}
}
