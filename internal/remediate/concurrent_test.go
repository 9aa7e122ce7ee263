package remediate

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/keyage/keyage/internal/store"
)

// Two runs on one state file enqueue each finding once (issue 13 row 2):
// "already notified" is decided inside Apply's write transaction, not on
// the state Plan read.
func TestConcurrentRunsEnqueueEachFindingOnce(t *testing.T) {
	cfg := mustConfig(t, "receivers: [{name: topic, file: {path: x.jsonl}}]\nroutes: [{receivers: [topic]}]\n")
	res := org(t0, user{"AIDA1", "alice", "", []float64{120}}, user{"AIDA2", "bob", "", []float64{200}}, user{"AIDA3", "carol", "", []float64{95}})
	for _, tt := range []struct {
		name string
		run  func(t *testing.T, apply [2]func() error)
	}{
		{"both plan, then both apply", func(t *testing.T, apply [2]func() error) {
			for _, f := range apply {
				if err := f(); err != nil {
					t.Fatal(err)
				}
			}
		}},
		{"both apply at once", func(t *testing.T, apply [2]func() error) {
			var wg sync.WaitGroup
			errs := make([]error, 2)
			for i, f := range apply {
				wg.Go(func() { errs[i] = f() })
			}
			wg.Wait()
			for _, err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			path := filepath.Join(t.TempDir(), "keyage.db")
			var apply [2]func() error
			var plans [2]*Plan
			for i := range apply {
				st, err := store.Open(ctx, path, store.Options{}) // one handle per "process"
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { st.Close() })
				e, err := NewEngine(cfg)
				if err != nil {
					t.Fatal(err)
				}
				p, err := e.Plan(ctx, st, res, t0)
				if err != nil {
					t.Fatal(err)
				}
				plans[i] = p
				apply[i] = func() error { return e.Apply(ctx, st, p) }
			}
			tt.run(t, apply)
			st, err := store.Open(ctx, path, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			ms, err := st.Messages(ctx, "", 100)
			if err != nil {
				t.Fatal(err)
			}
			if len(ms) != 3 {
				t.Errorf("outbox holds %d messages after two concurrent runs, want 3 (one per user)", len(ms))
			}
			if got := len(plans[0].Messages) + len(plans[1].Messages); got != 3 {
				t.Errorf("plans report %d + %d messages queued, want 3 in all", len(plans[0].Messages), len(plans[1].Messages))
			}
			if got := plans[0].Suppressed + plans[1].Suppressed; got != 3 {
				t.Errorf("plans report %d + %d already notified, want 3 in all", plans[0].Suppressed, plans[1].Suppressed)
			}
		})
	}
}
