package outbox

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyage/keyage/internal/store"
)

// ClaimDue leaves out the receivers it is told to skip (those the
// dispatcher already holds enough of).
func TestClaimDueSkipsReceivers(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name string
		skip []string
		want []string
	}{
		{"nothing skipped", nil, []string{"a1", "a2", "b1", "c1"}},
		{"one receiver skipped", []string{"a"}, []string{"b1", "c1"}},
		{"two receivers skipped", []string{"a", "c"}, []string{"b1"}},
		{"every receiver skipped", []string{"a", "b", "c"}, nil},
		{"unknown receiver skipped", []string{"z"}, []string{"a1", "a2", "b1", "c1"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st, o := open(t)
			enqueueFor(t, st, map[string]string{"a1": "a", "a2": "a", "b1": "b", "c1": "c"})
			qs, err := o.ClaimDue(ctx, "d", t0, time.Minute, 10, tt.skip...)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, q := range qs {
				got = append(got, q.ID)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("ClaimDue(skip %v) = %v, want %v", tt.skip, got, tt.want)
			}
		})
	}
}

// Claims, probes, renewals and NextDue read the outbox through its partial
// indexes: another dispatcher's live leases are never read.
func TestOutboxQueriesUseIndexes(t *testing.T) {
	ctx := context.Background()
	st, _ := open(t)
	for _, tt := range []struct {
		name, query string
		args        []any
		want        []string
	}{
		{"claim", claimableIDs, []any{1, 10, "[]"}, []string{"outbox_leased", "outbox_free"}},
		{"renew", renewQuery, []any{1, "a"}, []string{"outbox_lease_owner"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rows, err := st.DB().QueryContext(ctx, "EXPLAIN QUERY PLAN "+tt.query, tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var plan []string
			for rows.Next() {
				var id, parent, unused int
				var detail string
				if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, detail)
			}
			text := strings.Join(plan, "\n")
			for _, idx := range tt.want {
				if !strings.Contains(text, "INDEX "+idx) {
					t.Errorf("plan of %s does not use %s:\n%s", tt.name, idx, text)
				}
			}
			if strings.Contains(text, "SCAN outbox") && !strings.Contains(text, "USING") {
				t.Errorf("plan of %s scans the outbox table:\n%s", tt.name, text)
			}
		})
	}
}

// enqueueFor enqueues messages (id -> receiver), due at t0.
func enqueueFor(t *testing.T, st *store.Store, receivers map[string]string) {
	t.Helper()
	ctx := context.Background()
	err := st.Update(ctx, func(tx *store.Tx) error {
		for _, id := range slices.Sorted(maps.Keys(receivers)) {
			if err := tx.Enqueue(ctx, store.Message{ID: id, Receiver: receivers[id], Kind: "finding", GroupKey: id, JSON: []byte(`{}`), MaxAttempts: 3, NextAttemptAt: t0, CreatedAt: t0}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
