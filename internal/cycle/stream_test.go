package cycle_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/keyage/keyage/internal/cycle"
	"github.com/keyage/keyage/internal/remediate"
	"github.com/keyage/keyage/internal/store"
)

// messageKeys are a plan's messages as receiver: group, sorted.
func messageKeys(p *remediate.Plan) []string {
	var out []string
	for _, m := range p.Messages {
		out = append(out, m.Message.Receiver+": "+m.Message.GroupKey)
	}
	slices.Sort(out)
	return out
}

// TestRunOnceStreamed: a run records each account as it is scanned and
// plans from what it reads back from the state, the plan a dry run makes
// from the whole result; the scan is the latest only once finished, and
// one that is interrupted never is.
func TestRunOnceStreamed(t *testing.T) {
	for _, tt := range []struct {
		name string
		// cancelAfter ends the cycle's context once that many accounts
		// are done (0: never).
		cancelAfter int
		// whole asks for every evaluation in the result.
		whole      bool
		wantStatus string
	}{
		{"finished", 0, false, store.ScanDone},
		{"finished with the whole result kept", 0, true, store.ScanDone},
		{"interrupted after the first account", 1, false, store.ScanInterrupted},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			st := e.store(t)
			cfg := e.config(t, "")
			ctx := context.Background()
			dry, err := e.runner(t, cfg, cycle.Options{Store: st, DryRun: true}).RunOnce(ctx, time.Now())
			if err != nil {
				t.Fatalf("dry RunOnce: %v", err)
			}
			runCtx, cancel := context.WithCancel(ctx)
			defer cancel()
			var planned []string // the messages of the plans applied, batch by batch
			o := cycle.Options{Store: st, WholeResult: tt.whole, Deliver: true, Planned: func(p *remediate.Plan) error {
				planned = append(planned, messageKeys(p)...)
				return nil
			}}
			if tt.cancelAfter > 0 {
				o.Progress = func(done, _ int) {
					if done >= tt.cancelAfter {
						cancel()
					}
				}
			}
			rep, err := e.runner(t, cfg, o).RunOnce(runCtx, time.Now())
			scans, serr := st.Scans(ctx, 0, 10)
			if serr != nil || len(scans) != 1 || scans[0].Status != tt.wantStatus {
				t.Fatalf("Scans after RunOnce = %+v, %v; want one scan %s", scans, serr, tt.wantStatus)
			}
			latest, lerr := st.LatestScan(ctx)
			if lerr != nil {
				t.Fatal(lerr)
			}
			if tt.wantStatus != store.ScanDone {
				if !errors.Is(err, context.Canceled) {
					t.Errorf("interrupted RunOnce = %v, want context.Canceled", err)
				}
				if latest != nil {
					t.Errorf("LatestScan after an interrupted run = scan %d, want none", latest.ID)
				}
				return
			}
			if err != nil {
				t.Fatalf("RunOnce: %v", err)
			}
			if latest == nil || latest.ID != scans[0].ID || latest.Summary.Users != rep.Result.Summary.Users || latest.Summary.NonCompliant != 2 {
				t.Errorf("LatestScan = %+v, want scan %d with the run's summary (%d users, 2 non-compliant)", latest, scans[0].ID, rep.Result.Summary.Users)
			}
			slices.Sort(planned)
			if got, want := planned, messageKeys(dry.Plan); len(got) != 2 || !slices.Equal(got, want) {
				t.Errorf("streamed plan = %q, want the dry run's %q", got, want)
			}
			if got, want := rep.Plan.Counts().Messages, len(dry.Plan.Messages); got != want {
				t.Errorf("streamed plan counts %d messages, want the dry run's %d", got, want)
			}
			var dryTexts []string
			for _, m := range dry.Plan.Messages {
				dryTexts = append(dryTexts, m.Message.Text)
			}
			slices.Sort(dryTexts)
			if got := e.sentTexts(t); !slices.Equal(got, dryTexts) {
				t.Errorf("streamed run sent %q, want the dry run's plan %q", got, dryTexts)
			}
			if rep.Plan.Counts().NonCompliant != len(dry.Plan.NonCompliant) {
				t.Errorf("streamed plan: %d non-compliant, dry run %d", rep.Plan.Counts().NonCompliant, len(dry.Plan.NonCompliant))
			}
			if tt.whole {
				if n, all := len(rep.Result.Evaluations), len(dry.Result.Evaluations); n != all {
					t.Errorf("WholeResult: the result holds %d evaluations, want the whole scan's %d", n, all)
				}
				return
			}
			// Only what the plan looks at is read back.
			if n, all := len(rep.Result.Evaluations), len(dry.Result.Evaluations); n >= all {
				t.Errorf("streamed result holds %d evaluations, want fewer than the whole scan's %d", n, all)
			}
			for _, ev := range rep.Result.Evaluations {
				if !remediate.Plans(&ev) {
					t.Errorf("streamed result holds %s/%s, which the plan does not look at", ev.AccountID, ev.UserName)
				}
			}
		})
	}
}
