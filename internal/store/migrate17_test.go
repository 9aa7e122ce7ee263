package store

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/keyage/keyage/internal/rule"
)

// A state file written at schema 16 migrates to 17 (no
// evaluations_type_compliance): its rows are kept, and each account's user
// counts (Store.Account) are what the same query answered before, now from
// the account's own rows over the primary key.
func TestMigrateRecordFewerIndexes(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "keyage.db")
	db, mustExec := openAtSchema(t, ctx, path, 16)
	mustExec(`INSERT INTO scans (id, started_at, finished_at, evaluated_at, source, max_age, warn_age, status, summary_json) VALUES (1, 0, 0, 0, 'auto', 90, 80, 'done', '{}')`)
	for _, acct := range []string{"111111111111", "222222222222"} {
		mustExec(`INSERT INTO account_latest (account_id, name, scan_id, status, users, last_ok_scan_id) VALUES (?, 'a', 1, 'ok', 3, 1)`, acct)
	}
	mustExec(`INSERT INTO evaluations (account_id, resource_id, resource_type, user_name, compliance, first_seen, changed_at, evaluated_at, scan_id) VALUES
		('111111111111', 'AIDA1', 'AWS::IAM::User', 'alice', 'NON_COMPLIANT', 5, 5, 5, 1),
		('111111111111', 'AIDA2', 'AWS::IAM::User', 'bob', 'COMPLIANT', 5, 5, 5, 1),
		('111111111111', 'AIDA3', 'AWS::IAM::User', 'carl', 'NOT_APPLICABLE', 5, 5, 5, 1),
		('222222222222', 'AIDA4', 'AWS::IAM::User', 'dave', 'NON_COMPLIANT', 5, 5, 5, 1),
		('222222222222', 'ROOT', 'AWS::IAM::Root', '', 'NON_COMPLIANT', 5, 5, 5, 1)`)
	tests := []struct {
		account                string
		users, compliant, nonc int
	}{
		{"111111111111", 3, 1, 1},
		{"222222222222", 1, 0, 1},
		{"333333333333", 0, 0, 0},
	}
	before := map[string][3]int{}
	for _, tt := range tests {
		var c [3]int
		if err := db.QueryRowContext(ctx, accountUserCounts, tt.account, rule.ResourceTypeUser).Scan(&c[0], &c[1], &c[2]); err != nil {
			t.Fatal(err)
		}
		before[tt.account] = c
	}
	rows := dump(t, db, "evaluations", "account_id, resource_id")
	db.Close()

	s := openPath(t, path)
	if diff := cmp.Diff(rows, dump(t, s.db, "evaluations", "account_id, resource_id")); diff != "" {
		t.Errorf("evaluations changed by migration 17 (-before +after):\n%s", diff)
	}
	if _, ok := indexDefs(t, s.db)["evaluations_type_compliance"]; ok {
		t.Error("evaluations_type_compliance after migration 17, want it dropped")
	}
	for _, tt := range tests {
		t.Run(tt.account, func(t *testing.T) {
			a, err := s.Account(ctx, tt.account)
			var got [3]int
			if a != nil {
				got = [3]int{a.Users, a.Compliant, a.NonCompliant}
			}
			want := [3]int{tt.users, tt.compliant, tt.nonc}
			if err != nil || got != want || got != before[tt.account] {
				t.Errorf("Account(%s) users, compliant, non-compliant = %v, %v; want %v (%v at schema 16)", tt.account, got, err, want, before[tt.account])
			}
		})
	}
	plan, err := queryRows(ctx, s.db, `EXPLAIN QUERY PLAN `+accountUserCounts, func(r rowScanner) (string, error) {
		var id, parent, unused int
		var detail string
		err := r.Scan(&id, &parent, &unused, &detail)
		return detail, err
	}, "111111111111", rule.ResourceTypeUser)
	if got := fmt.Sprint(plan); err != nil || !strings.Contains(got, "PRIMARY KEY (account_id=?)") {
		t.Errorf("plan of Account's counts = %s, %v; want a search of the primary key by account_id", got, err)
	}
}
