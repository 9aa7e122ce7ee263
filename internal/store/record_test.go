package store

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/keyage/keyage/internal/rule"
	"github.com/keyage/keyage/internal/scan"
)

// indexDefs lists the indexes of the tables RecordScan writes, name and
// definition.
func indexDefs(t *testing.T, db *sql.DB) map[string]string {
	t.Helper()
	rows, err := db.Query(`SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN ('evaluations', 'evaluation_keys', 'evaluation_history')`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var n, q string
		if err := rows.Scan(&n, &q); err != nil {
			t.Fatal(err)
		}
		out[n] = q
	}
	return out
}

// A state file written at schema 13 (main before issue 18's migration 14)
// migrates: evaluations and evaluation_keys become WITHOUT ROWID with the
// same rows, the history keeps its rows, and the queries read them as
// before.
func TestMigrateRecordWithoutRowid(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "keyage.db")
	db, mustExec := openAtSchema(t, ctx, path, 13)
	// What keyage wrote at schema 13: a scan of one account, two users,
	// their key rows and history.
	mustExec(`INSERT INTO scans (id, started_at, finished_at, evaluated_at, source, max_age, warn_age, status, summary_json) VALUES (1, 0, 0, 0, 'auto', 90, 80, 'done', '{}')`)
	mustExec(`INSERT INTO scan_accounts (scan_id, account_id, name, status, users) VALUES (1, '222222222222', 'prod', 'ok', 2)`)
	mustExec(`INSERT INTO account_latest (account_id, name, scan_id, status, users, last_ok_scan_id) VALUES ('222222222222', 'prod', 1, 'ok', 2, 1)`)
	mustExec(`INSERT INTO evaluations (account_id, resource_id, resource_type, user_name, compliance, tags_json, keys_json, first_seen, changed_at, evaluated_at, scan_id, owner) VALUES
		('222222222222', 'AIDA2', 'AWS::IAM::User', 'bob', 'COMPLIANT', '{}',
			'[{"accessKeyId":"AKIAAIDA2","status":"Active","createDate":"2026-11-14T10:00:00.5Z","lastUsedDate":"2026-11-24T09:00:00Z","lastUsedService":"s3","ageDays":10,"stage":"ok"}]', 5, 5, 5, 1, ''),
		('222222222222', 'AIDA1', 'AWS::IAM::User', 'alice', 'NON_COMPLIANT', '{"email":"alice@example.com"}',
			'[{"accessKeyId":"AKIAAIDA1","status":"Active","createDate":"2026-08-16T10:00:00Z","ageDays":100,"stage":"expired"}]', 5, 5, 5, 1, 'alice@example.com')`)
	mustExec(`INSERT INTO evaluation_keys (account_id, resource_id, idx, access_key_id, user_name, compliance, owner, status, stage, age_days, created_at, last_used_at, last_used_service) VALUES
		('222222222222', 'AIDA2', 0, 'AKIAAIDA2', 'bob', 'COMPLIANT', '', 'Active', 'ok', 10, 1763114400500, 1763974800000, 's3'),
		('222222222222', 'AIDA1', 0, 'AKIAAIDA1', 'alice', 'NON_COMPLIANT', 'alice@example.com', 'Active', 'expired', 100, 1755338400000, 0, '')`)
	mustExec(`INSERT INTO evaluation_history (account_id, resource_id, user_name, from_compliance, to_compliance, at, scan_id) VALUES
		('222222222222', 'AIDA1', 'alice', '', 'NON_COMPLIANT', 5, 1), ('222222222222', 'AIDA2', 'bob', '', 'COMPLIANT', 5, 1)`)
	tables := map[string]string{"evaluations": "account_id, resource_id", "evaluation_keys": "account_id, resource_id, idx", "evaluation_history": "id"}
	before := map[string][][]any{}
	for table, order := range tables {
		before[table] = dump(t, db, table, order)
	}
	db.Close()

	s, err := Open(ctx, path, Options{Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for table, order := range tables {
		if diff := cmp.Diff(before[table], dump(t, s.db, table, order)); diff != "" {
			t.Errorf("%s changed by migration 14 (-before +after):\n%s", table, diff)
		}
	}
	for _, table := range []string{"evaluations", "evaluation_keys"} {
		var def string
		if err := s.db.QueryRow(`SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?`, table).Scan(&def); err != nil || !strings.HasSuffix(def, "WITHOUT ROWID") {
			t.Errorf("%s after migration 14 = %q, %v; want WITHOUT ROWID", table, def, err)
		}
	}
	wantIdx := []string{"evaluation_history_leaving", "evaluation_history_resource", "evaluation_history_trend",
		"evaluation_keys_account_stage", "evaluation_keys_stage", "evaluation_keys_status",
		"evaluations_compliance_page", "evaluations_owner", "evaluations_type_compliance"}
	var gotIdx []string
	for n := range indexDefs(t, s.db) {
		gotIdx = append(gotIdx, n)
	}
	if diff := cmp.Diff(wantIdx, gotIdx, cmpSorted); diff != "" {
		t.Errorf("indexes after migration 14 (-want +got):\n%s", diff)
	}

	keys, err := s.Keys(ctx, KeyFilter{Sort: SortAge})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, k := range keys {
		got = append(got, k.UserName+":"+k.Stage)
	}
	if diff := cmp.Diff([]string{"alice:expired", "bob:ok"}, got); diff != "" {
		t.Errorf("Keys after migration 14 (-want +got):\n%s", diff)
	}
	page, err := s.ListEvaluations(ctx, EvaluationFilter{Compliance: "NON_COMPLIANT", Limit: 10})
	if err != nil || len(page) != 1 || page[0].UserName != "alice" || len(page[0].Keys) != 1 {
		t.Errorf("ListEvaluations(NON_COMPLIANT) after migration 14 = %+v, %v; want alice with her key", page, err)
	}
	tot, err := s.Totals(ctx)
	if err != nil || tot.Users != 2 || tot.NonCompliant != 1 || tot.Keys["expired"] != 1 || tot.Keys["ok"] != 1 {
		t.Errorf("Totals after migration 14 = %+v, %v; want 2 users, 1 non-compliant, 1 expired and 1 ok key", tot, err)
	}
	// A rescan of the migrated file writes over the primary keys.
	alice := ev("AIDA1", "alice", rule.Compliant)
	alice.Keys[0].Stage = "ok"
	if _, err := s.RecordScan(ctx, t0, t0, result(t0, alice)); err != nil {
		t.Fatal(err)
	}
	if h, err := s.History(ctx, "222222222222", "AIDA2"); err != nil || len(h) != 2 || h[1].To != ComplianceDeleted {
		t.Errorf("History(bob) after a rescan without him = %+v, %v; want his first row and DELETED", h, err)
	}
}

var cmpSorted = cmpopts.SortSlices(func(a, b string) bool { return a < b })

// A scan recorded into empty tables (whose indexes RecordScan builds after
// the rows) stores the same rows, and leaves the same indexes, as one
// recorded into tables that already hold rows (written through the
// indexes).
func TestRecordScanBulkSameAsIncremental(t *testing.T) {
	ctx := context.Background()
	nc := ev("AIDA1", "alice", rule.NonCompliant)
	twoKeys := ev("AIDA2", "bob", rule.Compliant)
	twoKeys.Keys = append(twoKeys.Keys, rule.KeyResult{Key: rule.Key{AccessKeyID: "AKIB2", Status: "Inactive", CreateDate: t0.Add(-200 * rule.Day)}, AgeDays: 200, Stage: "inactive"})
	twoKeys.Keys[0].Stage = "ok"
	twoKeys.Owner = "bob@example.com"
	// Out of primary key order, and one resource twice (the last wins).
	evs := []rule.Evaluation{twoKeys, nc, ev("AIDA0", "carl", rule.Compliant), ev("AIDA0", "carl", rule.NonCompliant)}
	other := rule.Evaluation{AccountID: "111111111111", ResourceType: rule.ResourceTypeUser, ResourceID: "AIDAOTHER", UserName: "o", Compliance: rule.Compliant}
	for _, tt := range []struct {
		name  string
		state []rule.Evaluation // recorded before, in another account
		bulk  bool
	}{
		{"empty state: indexes built after the rows", nil, true},
		{"state with rows: written through the indexes", []rule.Evaluation{other}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			idx := indexDefs(t, s.db)
			if tt.state != nil {
				res := result(t0, tt.state...)
				res.Accounts = []scan.AccountResult{{AccountID: "111111111111", Status: scan.StatusOK, Users: 1}}
				if _, err := s.RecordScan(ctx, t0, t0, res); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := s.RecordScan(ctx, t0, t0, result(t0, evs...)); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(idx, indexDefs(t, s.db)); diff != "" {
				t.Errorf("indexes after RecordScan (-before +after):\n%s", diff)
			}
			var got []string
			for _, q := range []string{
				`SELECT resource_id || ' ' || user_name || ' ' || compliance || ' ' || owner FROM evaluations WHERE account_id = '222222222222' ORDER BY resource_id`,
				`SELECT resource_id || ' ' || idx || ' ' || access_key_id || ' ' || stage || ' ' || compliance FROM evaluation_keys WHERE account_id = '222222222222' ORDER BY 1`,
				`SELECT resource_id || ' ' || from_compliance || '>' || to_compliance FROM evaluation_history WHERE account_id = '222222222222' ORDER BY id`,
				// Each index answers its query.
				`SELECT resource_id FROM evaluations INDEXED BY evaluations_compliance_page WHERE compliance = 'NON_COMPLIANT' ORDER BY account_id, resource_id`,
				`SELECT resource_id FROM evaluations INDEXED BY evaluations_owner WHERE owner = 'bob@example.com'`,
				`SELECT access_key_id FROM evaluation_keys INDEXED BY evaluation_keys_stage WHERE stage = 'inactive'`,
				`SELECT access_key_id FROM evaluation_keys INDEXED BY evaluation_keys_status WHERE status = 'Active' AND account_id = '222222222222' ORDER BY created_at, access_key_id`,
			} {
				rows, err := queryRows(ctx, s.db, q, scanValue[string])
				if err != nil {
					t.Fatalf("%s: %v", q, err)
				}
				got = append(got, strings.Join(rows, ", "))
			}
			want := []string{
				"AIDA0 carl NON_COMPLIANT , AIDA1 alice NON_COMPLIANT , AIDA2 bob COMPLIANT bob@example.com",
				"AIDA0 0 AKIAAIDA0 expired NON_COMPLIANT, AIDA1 0 AKIAAIDA1 expired NON_COMPLIANT, AIDA2 0 AKIAAIDA2 ok COMPLIANT, AIDA2 1 AKIB2 inactive COMPLIANT",
				"AIDA0 >COMPLIANT, AIDA0 >NON_COMPLIANT, AIDA1 >NON_COMPLIANT, AIDA2 >COMPLIANT",
				"AIDA0, AIDA1",
				"AIDA2",
				"AKIB2",
				"AKIAAIDA0, AKIAAIDA1, AKIAAIDA2",
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("rows after RecordScan (-want +got):\n%s", diff)
			}
		})
	}
}

// A rescan that rewrites most key rows (every key changed) stores the same
// rows and indexes whether the indexes are built after the rows (the
// threshold met) or written with them.
func TestRecordScanRewriteSameAsIncremental(t *testing.T) {
	ctx := context.Background()
	scans := func(shift int) *scan.Result {
		var evs []rule.Evaluation
		for i, name := range []string{"alice", "bob", "carol", "dave"} {
			e := ev(fmt.Sprintf("AIDA%d", i), name, rule.Compliant)
			e.Keys[0].AgeDays += shift
			e.Keys[0].CreateDate = e.Keys[0].CreateDate.Add(-time.Duration(shift) * rule.Day)
			if i%2 == shift%2 { // a second key comes and goes
				e.Keys = append(e.Keys, rule.KeyResult{Key: rule.Key{AccessKeyID: "AKIB" + name, Status: "Inactive"}, Stage: "inactive"})
			}
			evs = append(evs, e)
		}
		return result(t0.Add(time.Duration(shift)*rule.Day), evs...)
	}
	dumps := map[string][]any{}
	for _, tt := range []struct {
		name    string
		minRows int
	}{
		{"indexes built after the rows", 1},
		{"rows written through the indexes", 1 << 30},
	} {
		t.Run(tt.name, func(t *testing.T) {
			defer func(was int) { bulkMinRows = was }(bulkMinRows)
			bulkMinRows = tt.minRows
			s := open(t)
			for shift := range 3 {
				if _, err := s.RecordScan(ctx, t0, t0, scans(shift)); err != nil {
					t.Fatal(err)
				}
			}
			var got []any
			for _, table := range []struct{ name, order string }{{"evaluations", "account_id, resource_id"}, {"evaluation_keys", "account_id, resource_id, idx"}, {"evaluation_history", "id"}} {
				got = append(got, table.name, dump(t, s.db, table.name, table.order))
			}
			got = append(got, indexDefs(t, s.db))
			dumps[tt.name] = got
		})
	}
	if diff := cmp.Diff(dumps["rows written through the indexes"], dumps["indexes built after the rows"]); diff != "" {
		t.Errorf("state after three scans (-through the indexes +built after):\n%s", diff)
	}
}
