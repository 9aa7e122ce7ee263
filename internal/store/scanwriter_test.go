package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/keyage/keyage/internal/rule"
	"github.com/keyage/keyage/internal/scan"
)

// recordByAccount records res through a ScanWriter, account by account in
// reverse order (accounts finish in any order), and finishes it.
func recordByAccount(ctx context.Context, s *Store, started, finished time.Time, res *scan.Result) (int64, error) {
	w, err := s.BeginScan(ctx, started, res)
	if err != nil {
		return 0, err
	}
	for i := len(res.Accounts) - 1; i >= 0; i-- {
		a := &res.Accounts[i]
		var evs []rule.Evaluation
		for _, ev := range res.Evaluations {
			if ev.AccountID == a.AccountID {
				evs = append(evs, ev)
			}
		}
		if err := w.Account(ctx, a, evs); err != nil {
			return 0, err
		}
	}
	return w.ID(), w.Finish(ctx, finished, res.Summary)
}

// TestScanWriterRecordsAsRecordScan: a scan recorded account by account
// leaves the state RecordScan leaves (history, deleted users, the
// evaluations of a failed account kept).
func TestScanWriterRecordsAsRecordScan(t *testing.T) {
	for _, tt := range []struct {
		name   string
		record func(ctx context.Context, s *Store, started, finished time.Time, res *scan.Result) (int64, error)
	}{
		{"RecordScan", func(ctx context.Context, s *Store, started, finished time.Time, res *scan.Result) (int64, error) {
			return s.RecordScan(ctx, started, finished, res)
		}},
		{"ScanWriter", recordByAccount},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			s := open(t)
			other := rule.Evaluation{AccountID: "333333333333", ResourceType: rule.ResourceTypeUser, ResourceID: "AIDAOTHER", UserName: "o", Compliance: rule.Compliant}
			first := result(t0, ev("AIDA1", "alice", rule.NonCompliant), ev("AIDA2", "bob", rule.Compliant), other)
			first.Accounts[1].Status = scan.StatusOK
			if _, err := tt.record(ctx, s, t0, t0, first); err != nil {
				t.Fatal(err)
			}
			later := t0.Add(time.Hour)
			second := result(later, ev("AIDA1", "alice", rule.Compliant))
			second.Summary = scan.Summary{Accounts: 2, AccountsFailed: 1, Users: 1, Compliant: 1}
			id, err := tt.record(ctx, s, later, later, second)
			if err != nil {
				t.Fatal(err)
			}
			latest, err := s.LatestScan(ctx)
			if err != nil || latest == nil || latest.ID != id || latest.Status != ScanDone || !latest.FinishedAt.Equal(later) || latest.Summary.Compliant != 1 {
				t.Fatalf("LatestScan = %+v, %v; want scan %d done at %v with 1 compliant", latest, err, id, later)
			}
			if h, _ := s.History(ctx, "222222222222", "AIDA1"); len(h) != 2 || h[1].From != "NON_COMPLIANT" || h[1].To != "COMPLIANT" || h[1].ScanID != id {
				t.Errorf("alice history = %+v, want '' -> NON_COMPLIANT -> COMPLIANT in scan %d", h, id)
			}
			if h, _ := s.History(ctx, "222222222222", "AIDA2"); len(h) != 2 || h[1].To != ComplianceDeleted {
				t.Errorf("bob history = %+v, want a DELETED transition", h)
			}
			if got, _ := s.Evaluation(ctx, "333333333333", "AIDAOTHER"); got == nil {
				t.Errorf("evaluation of an account that failed this scan was dropped")
			}
			scans, err := s.AccountScans(ctx, "333333333333", true, 10)
			if err != nil || len(scans) != 1 || scans[0].ScanID != id || scans[0].Error != "AccessDenied" {
				t.Errorf("AccountScans(333333333333, failed) = %+v, %v; want the failure in scan %d", scans, err, id)
			}
		})
	}
}

// TestScanWriterStatus: a scan is running until it finishes, readers see
// the last finished one, an aborted scan never becomes the latest, and a
// scan left running (its process died) is interrupted by the next one.
func TestScanWriterStatus(t *testing.T) {
	ctx := context.Background()
	later := t0.Add(time.Hour)
	for _, tt := range []struct {
		name string
		// end ends the second scan; wantLatest says whether it is then the latest.
		end        func(w *ScanWriter) error
		wantLatest bool
		wantStatus string
	}{
		{"finished", func(w *ScanWriter) error { return w.Finish(ctx, later, scan.Summary{}) }, true, ScanDone},
		{"aborted", func(w *ScanWriter) error { return w.Abort(ctx, later) }, false, ScanInterrupted},
		{"crashed, then another scan began", func(w *ScanWriter) error {
			_, err := w.s.BeginScan(ctx, later, result(later))
			return err
		}, false, ScanInterrupted},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			first, err := s.RecordScan(ctx, t0, t0, result(t0, ev("AIDA1", "alice", rule.NonCompliant)))
			if err != nil {
				t.Fatal(err)
			}
			res := result(later, ev("AIDA1", "alice", rule.Compliant))
			w, err := s.BeginScan(ctx, later, res)
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Account(ctx, &res.Accounts[0], res.Evaluations); err != nil {
				t.Fatal(err)
			}
			if l, err := s.LatestScan(ctx); err != nil || l == nil || l.ID != first {
				t.Fatalf("LatestScan while scan %d runs = %+v, %v; want the finished scan %d", w.ID(), l, err, first)
			}
			if scans, err := s.Scans(ctx, 0, 10); err != nil || len(scans) != 1 || scans[0].ID != first {
				t.Errorf("Scans while scan %d runs = %+v, %v; want only the finished scan %d", w.ID(), scans, err, first)
			}
			if err := tt.end(w); err != nil {
				t.Fatal(err)
			}
			want := first
			if tt.wantLatest {
				want = w.ID()
			}
			if l, err := s.LatestScan(ctx); err != nil || l == nil || l.ID != want {
				t.Errorf("LatestScan = %+v, %v; want scan %d", l, err, want)
			}
			scans, err := s.Scans(ctx, 0, 10)
			if err != nil {
				t.Fatal(err)
			}
			for _, sc := range scans {
				if sc.ID == w.ID() && sc.Status != tt.wantStatus {
					t.Errorf("scan %d status = %q, want %q", sc.ID, sc.Status, tt.wantStatus)
				}
			}
			// What an account recorded stays recorded whatever the scan became.
			if got, _ := s.Evaluation(ctx, "222222222222", "AIDA1"); got == nil || got.Compliance != rule.Compliant {
				t.Errorf("alice after the scan's account was recorded = %+v, want COMPLIANT", got)
			}
		})
	}
}

func TestScanEvaluations(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	res := result(t0, ev("AIDA2", "bob", rule.Compliant), ev("AIDA1", "alice", rule.NonCompliant), ev("AIDA3", "carol", rule.NonCompliant))
	id, err := recordByAccount(ctx, s, t0, t0, res)
	if err != nil {
		t.Fatal(err)
	}
	nonCompliant := func(ev *rule.Evaluation) bool { return ev.Compliance == rule.NonCompliant }
	for _, tt := range []struct {
		name    string
		scanID  int64
		account string
		keep    func(*rule.Evaluation) bool
		want    []string
	}{
		{"all, by user name", id, "222222222222", nil, []string{"alice", "bob", "carol"}},
		{"kept only", id, "222222222222", nonCompliant, []string{"alice", "carol"}},
		{"another scan's", id + 1, "222222222222", nil, nil},
		{"an account without any", id, "333333333333", nil, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.ScanEvaluations(ctx, tt.scanID, tt.account, tt.keep)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, ev := range got {
				names = append(names, ev.UserName)
				if len(ev.Keys) != 1 || ev.Keys[0].Stage != "expired" || !ev.Keys[0].CreateDate.Equal(t0.Add(-100*rule.Day)) {
					t.Errorf("ScanEvaluations: %s keys = %+v, want its expired key back", ev.UserName, ev.Keys)
				}
			}
			if len(names) != len(tt.want) || (len(names) > 0 && fmt.Sprint(names) != fmt.Sprint(tt.want)) {
				t.Errorf("ScanEvaluations(scan %d, %s) = %v, want %v", tt.scanID, tt.account, names, tt.want)
			}
		})
	}
}
