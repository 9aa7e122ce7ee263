package remediate

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyage/keyage/internal/notify"
	"github.com/keyage/keyage/internal/outbox"
	"github.com/keyage/keyage/internal/store"
)

// A Drain reports what it left undelivered (issue 13 row 11: a rerun right
// after kill -9 said "0 sent" while a dead process's lease held them).
func TestDrainReportsBacklog(t *testing.T) {
	for _, tt := range []struct {
		name              string
		setup             func(t *testing.T, st *store.Store)
		wantHeld, wantPen int
		wantSent          int
	}{
		{"nothing left", func(*testing.T, *store.Store) {}, 0, 0, 5},
		{"held by a killed process", func(t *testing.T, st *store.Store) {
			if ms, err := outbox.New(st).ClaimDue(context.Background(), "killed-process", time.Now(), 2*time.Minute, 3); err != nil || len(ms) != 3 {
				t.Fatalf("claim: %d, %v", len(ms), err)
			}
		}, 3, 0, 2},
		{"due later", func(t *testing.T, st *store.Store) {
			ms, err := outbox.New(st).ClaimDue(context.Background(), "earlier-run", time.Now(), time.Minute, 2)
			if err != nil || len(ms) != 2 {
				t.Fatalf("claim: %d, %v", len(ms), err)
			}
			var out []notify.Outcome
			for _, m := range ms {
				out = append(out, notify.Outcome{ID: m.ID, At: time.Now(), Err: "HTTP 503", NextAttemptAt: time.Now().Add(time.Hour)})
			}
			if err := outbox.New(st).RecordOutcomes(context.Background(), out); err != nil {
				t.Fatal(err)
			}
		}, 0, 2, 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := openStoreAt(t, filepath.Join(t.TempDir(), "keyage.db"))
			enqueue(t, st, 5, "hook")
			tt.setup(t, st)
			hook, _ := countingHook(t, nil)
			d := &notify.Dispatcher{Outbox: outbox.New(st), Notifiers: map[string]notify.Notifier{"hook": hook}, Window: time.Second}
			stats, err := d.Drain(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if stats.Sent != tt.wantSent || stats.Held != tt.wantHeld || stats.Pending != tt.wantPen {
				t.Errorf("Drain = %+v, want %d sent, %d held, %d pending", stats, tt.wantSent, tt.wantHeld, tt.wantPen)
			}
			if line := stats.BacklogLine(); (line == "") != (tt.wantHeld+tt.wantPen == 0) || (tt.wantHeld > 0 && !strings.Contains(line, "held by another keyage process")) {
				t.Errorf("BacklogLine() = %q", line)
			}
		})
	}
}
