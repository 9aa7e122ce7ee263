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

	"github.com/keyage/keyage/internal/lifecycle"
	"github.com/keyage/keyage/internal/rule"
	"github.com/keyage/keyage/internal/scan"
)

// installReference installs the triggers that kept the read models before
// migration 6, writing shadow tables that start as copies of the read
// models.
func installReference(t *testing.T, db *sql.DB) {
	t.Helper()
	for _, q := range []string{
		`CREATE TABLE evaluation_keys_ref AS SELECT * FROM evaluation_keys WHERE 0`,
		`CREATE TABLE account_latest_ref AS SELECT * FROM account_latest WHERE 0`,
		`CREATE UNIQUE INDEX account_latest_ref_pk ON account_latest_ref (account_id)`,
		referenceTriggers(t),
		`INSERT INTO evaluation_keys_ref SELECT * FROM evaluation_keys`,
		`INSERT INTO account_latest_ref SELECT * FROM account_latest`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("install reference triggers: %v", err)
		}
	}
}

// dump reads a table's rows in a canonical order.
func dump(t *testing.T, db *sql.DB, table, order string) [][]any {
	t.Helper()
	rows, err := db.Query(`SELECT * FROM ` + table + ` ORDER BY ` + order)
	if err != nil {
		t.Fatalf("dump %s: %v", table, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out [][]any
	for rows.Next() {
		row := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range row {
			ptrs[i] = &row[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		out = append(out, row)
	}
	return out
}

// checkReadModel compares the read models the store wrote with what the
// reference triggers wrote beside them.
func checkReadModel(t *testing.T, db *sql.DB) {
	t.Helper()
	for _, tb := range []struct{ table, order string }{
		{"evaluation_keys", "account_id, resource_id, idx"},
		{"account_latest", "account_id"},
	} {
		got, want := dump(t, db, tb.table, tb.order), dump(t, db, tb.table+"_ref", tb.order)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s, written in Go (-triggers +Go):\n%s", tb.table, diff)
		}
	}
}

func TestReadModelMatchesTriggers(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	installReference(t, s.db)
	ist := time.FixedZone("IST", 5*3600+1800)
	key := func(id string, created time.Time, stage lifecycle.Stage) rule.KeyResult {
		return rule.KeyResult{Key: rule.Key{AccessKeyID: id, Status: rule.StatusActive, CreateDate: created}, AgeDays: int(t0.Sub(created) / rule.Day), Stage: string(stage)}
	}
	used := func(k rule.KeyResult, at time.Time, service string) rule.KeyResult {
		k.LastUsedDate, k.LastUsedService, k.LastUsedRegion = at, service, "us-east-1"
		return k
	}
	user := func(acct, id, name, email string, c rule.Compliance, keys ...rule.KeyResult) rule.Evaluation {
		ev := rule.Evaluation{AccountID: acct, ResourceType: rule.ResourceTypeUser, ResourceID: id, UserName: name, Compliance: c, Keys: keys}
		if email != "" {
			ev.Tags = map[string]string{"email": email}
			ev.Owner = email
		}
		return ev
	}
	const prod, dev = "222222222222", "333333333333"
	old := t0.Add(-100 * rule.Day)
	alice := user(prod, "AIDA1", "alice", "alice@example.com", rule.NonCompliant,
		key("AKIA1", old.Add(1500*time.Microsecond), lifecycle.Expired), // half a millisecond: rounds up
		used(key("AKIA1B", t0.Add(-10*rule.Day+999500*time.Microsecond), lifecycle.OK), t0.Add(-time.Hour+123456789), "s3"))
	bob := user(prod, "AIDA2", "bob", "", rule.NotApplicable)                  // no keys: "null"
	carol := user(prod, "AIDA3", "carol", "carol@example.com", rule.Compliant) // keys: []
	carol.Keys = []rule.KeyResult{}
	dave := user(prod, "AIDA4", "dave", "dave@example.com", rule.Compliant,
		key("AKIA4", time.Time{}, lifecycle.OK), // unknown creation: year 1
		used(key("AKIA4B", old.In(ist).Add(2500*time.Microsecond), lifecycle.Expired), t0.In(ist).Add(-999*time.Microsecond), ""))
	frank := user(dev, "AIDA9", "frank", "frank@example.com", rule.Compliant, key("AKIA9", t0.Add(-5*rule.Day), lifecycle.OK))
	accounts := func(prodName, prodStatus, devStatus string) []scan.AccountResult {
		return []scan.AccountResult{
			{AccountID: prod, Name: prodName, OU: "ou-prod", Status: prodStatus, Users: 4, DurationMS: 120, RootKeys: []scan.RootKey{{Status: "Active"}}},
			{AccountID: dev, Name: "dev", Status: devStatus, Error: map[bool]string{true: "", false: "AccessDenied"}[devStatus == scan.StatusOK], Users: 1, DurationMS: 80},
		}
	}
	record := func(at time.Time, accts []scan.AccountResult, evs ...rule.Evaluation) error {
		_, err := s.RecordScan(ctx, at, at, &scan.Result{Rule: rule.Name, EvaluatedAt: at, Source: "auto", Accounts: accts, Evaluations: evs})
		return err
	}
	for i, step := range []struct {
		name string
		do   func() error
	}{
		{"first scan", func() error {
			return record(t0, accounts("prod", scan.StatusOK, scan.StatusOK), alice, bob, carol, dave, frank)
		}},
		{"the same scan again", func() error {
			return record(t0.Add(time.Hour), accounts("prod", scan.StatusOK, scan.StatusOK), alice, bob, carol, dave, frank)
		}},
		{"keys, names, compliance and owners change; one user gone, one new, one twice", func() error {
			a, b, c, d := alice, bob, carol, dave
			a.Keys = a.Keys[1:]
			b.UserName = "robert"
			c.Compliance = rule.NonCompliant
			d.Tags = map[string]string{"email": "ops@example.com"}
			d.Owner = "ops@example.com"
			erin := user(prod, "AIDA5", "erin", "", rule.Compliant, key("AKIA5", t0, lifecycle.OK))
			erin2 := erin
			erin2.Keys = append([]rule.KeyResult{key("AKIA5B", t0.Add(-time.Hour), lifecycle.OK)}, erin.Keys...)
			return record(t0.Add(2*time.Hour), accounts("", scan.StatusOK, scan.StatusError), a, b, c, d, erin, erin2)
		}},
		{"a failed account keeps its read model", func() error {
			return record(t0.Add(3*time.Hour), accounts("prod", scan.StatusError, scan.StatusOK), frank)
		}},
		{"single re-evaluations and a deleted user", func() error {
			a := alice
			a.Compliance = rule.Compliant
			gina := user(prod, "AIDA6", "gina", "gina@example.com", rule.NonCompliant, key("AKIA6", old, lifecycle.Expired))
			return s.RecordEvaluations(ctx, t0.Add(4*time.Hour), []rule.Evaluation{a, gina, a}, []rule.ResourceRef{{AccountID: prod, ResourceID: "AIDA3"}, {AccountID: prod, ResourceID: "AIDA-UNKNOWN"}})
		}},
		{"the owner config changes", func() error {
			evs := []rule.Evaluation{alice, dave, frank}
			for i := range evs {
				evs[i].Owner = strings.ToUpper(evs[i].UserName)
			}
			return record(t0.Add(5*time.Hour), accounts("prod", scan.StatusOK, scan.StatusOK), evs...)
		}},
	} {
		t.Run(fmt.Sprintf("%d %s", i, step.name), func(t *testing.T) {
			if err := step.do(); err != nil {
				t.Fatal(err)
			}
			checkReadModel(t, s.db)
		})
	}
}

// keyTimeMS rounds as SQLite's unixepoch did on the JSON time.
func TestKeyTimeMS(t *testing.T) {
	s := open(t)
	base := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name string
		at   time.Time
	}{
		{"whole second", base},
		{"zero time", time.Time{}},
		{"just under half a millisecond", base.Add(499999 * time.Nanosecond)},
		{"half a millisecond", base.Add(500 * time.Microsecond)},
		{"1.5 ms", base.Add(1500 * time.Microsecond)},
		{"2.5 ms", base.Add(2500 * time.Microsecond)},
		{"999.5 ms", base.Add(999500 * time.Microsecond)},
		{"999.9999 ms, capped", base.Add(999999900 * time.Nanosecond)},
		{"59.9995 s", base.Add(59*time.Second + 999500*time.Microsecond)},
		{"nanoseconds in another zone", base.In(time.FixedZone("", -(3*3600 + 1800))).Add(123456789)},
		{"before 1970", time.Date(1969, 12, 31, 23, 59, 59, 999400000, time.UTC)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			js, err := tt.at.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			var want int64
			if err := s.db.QueryRow(`SELECT COALESCE(CAST(round(unixepoch(json_extract(?, '$'), 'subsec') * 1000) AS INTEGER), 0)`, string(js)).Scan(&want); err != nil {
				t.Fatal(err)
			}
			if got := keyTimeMS(tt.at); got != want {
				t.Errorf("keyTimeMS(%s) = %d, want %d (SQLite)", js, got, want)
			}
		})
	}
}

// A state file at schema 5, whose read models the triggers kept, migrates:
// the triggers go, the data and read models stay, and the store keeps them
// from then on as the triggers would have.
func TestMigrateFromTriggers(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "keyage.db")
	db, mustExec := openAtSchema(t, ctx, path, 5)
	// What keyage wrote at schema 5: a scan of two accounts, two users.
	mustExec(`INSERT INTO scans (id, started_at, finished_at, evaluated_at, source, max_age, warn_age, status, summary_json) VALUES (1, 0, 0, 0, 'auto', 90, 80, 'done', '{}')`)
	mustExec(`INSERT INTO scan_accounts (scan_id, account_id, name, status, users) VALUES (1, '222222222222', 'prod', 'ok', 2), (1, '333333333333', 'dev', 'error', 0)`)
	mustExec(`INSERT INTO evaluations (account_id, resource_id, resource_type, user_name, compliance, tags_json, keys_json, first_seen, changed_at, evaluated_at, scan_id, owner) VALUES
		('222222222222', 'AIDA1', 'AWS::IAM::User', 'alice', 'NON_COMPLIANT', '{"email":"alice@example.com"}',
			'[{"accessKeyId":"AKIAAIDA1","status":"Active","createDate":"2026-08-16T10:00:00Z","ageDays":100,"stage":"expired"}]', 0, 0, 0, 1, 'alice@example.com'),
		('222222222222', 'AIDA2', 'AWS::IAM::User', 'bob', 'COMPLIANT', '{}',
			'[{"accessKeyId":"AKIAAIDA2","status":"Active","createDate":"2026-11-14T10:00:00.5Z","lastUsedDate":"2026-11-24T09:00:00Z","lastUsedService":"s3","ageDays":10,"stage":"ok"}]', 0, 0, 0, 1, '')`)
	before := map[string][][]any{"evaluation_keys": dump(t, db, "evaluation_keys", "account_id, resource_id, idx"), "account_latest": dump(t, db, "account_latest", "account_id")}
	if len(before["evaluation_keys"]) != 2 || len(before["account_latest"]) != 2 {
		t.Fatalf("schema 5 read models = %v, want 2 keys and 2 accounts", before)
	}
	db.Close()

	s, err := Open(ctx, path, Options{Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var triggers int
	if err := s.db.QueryRow(`SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger'`).Scan(&triggers); err != nil || triggers != 0 {
		t.Errorf("triggers after migration 6 = %d, %v; want none", triggers, err)
	}
	var appliedAt int64
	if err := s.db.QueryRow(`SELECT applied_at FROM schema_migrations WHERE version = 6`).Scan(&appliedAt); err != nil || appliedAt != t0.UnixMilli() {
		t.Errorf("migration 6 applied at %d, %v; want Options.Now %d", appliedAt, err, t0.UnixMilli())
	}
	for table, order := range map[string]string{"evaluation_keys": "account_id, resource_id, idx", "account_latest": "account_id"} {
		if diff := cmp.Diff(before[table], dump(t, s.db, table, order)); diff != "" {
			t.Errorf("%s changed by the migration (-before +after):\n%s", table, diff)
		}
	}

	// From here the store keeps the read models, as the triggers would have.
	installReference(t, s.db)
	alice := ev("AIDA1", "alice", rule.Compliant)
	alice.Keys[0].Stage = string(lifecycle.OK)
	carol := ev("AIDA3", "carol", rule.NonCompliant)
	res := result(t0, alice, carol)
	res.Accounts[1].Status, res.Accounts[1].Error = scan.StatusOK, ""
	if _, err := s.RecordScan(ctx, t0, t0, res); err != nil {
		t.Fatal(err)
	}
	checkReadModel(t, s.db)
	if diff := cmp.Diff([]string{"alice:ok", "carol:expired"}, keyStages(t, s, KeyFilter{})); diff != "" {
		t.Errorf("keys after a rescan of the migrated file (-want +got):\n%s", diff)
	}
}

// keyStages lists the keys a filter selects as user:stage, in its order.
func keyStages(t *testing.T, s *Store, f KeyFilter) []string {
	t.Helper()
	keys, err := s.Keys(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, k := range keys {
		out = append(out, k.UserName+":"+k.Stage)
	}
	return out
}

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
		"evaluation_keys_created", // migration 15
		// evaluations_type_compliance: dropped by migration 17
		"evaluations_compliance_page", "evaluations_owner"}
	var gotIdx []string
	for n := range indexDefs(t, s.db) {
		gotIdx = append(gotIdx, n)
	}
	if diff := cmp.Diff(wantIdx, gotIdx, cmpSorted); diff != "" {
		t.Errorf("indexes after migration 14 (-want +got):\n%s", diff)
	}

	if diff := cmp.Diff([]string{"alice:expired", "bob:ok"}, keyStages(t, s, KeyFilter{Sort: SortAge})); diff != "" {
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
			for _, q := range []struct{ query, want string }{
				{`SELECT resource_id || ' ' || user_name || ' ' || compliance || ' ' || owner FROM evaluations WHERE account_id = '222222222222' ORDER BY resource_id`,
					"AIDA0 carl NON_COMPLIANT , AIDA1 alice NON_COMPLIANT , AIDA2 bob COMPLIANT bob@example.com"},
				{`SELECT resource_id || ' ' || idx || ' ' || access_key_id || ' ' || stage || ' ' || compliance FROM evaluation_keys WHERE account_id = '222222222222' ORDER BY 1`,
					"AIDA0 0 AKIAAIDA0 expired NON_COMPLIANT, AIDA1 0 AKIAAIDA1 expired NON_COMPLIANT, AIDA2 0 AKIAAIDA2 ok COMPLIANT, AIDA2 1 AKIB2 inactive COMPLIANT"},
				{`SELECT resource_id || ' ' || from_compliance || '>' || to_compliance FROM evaluation_history WHERE account_id = '222222222222' ORDER BY id`,
					"AIDA0 >COMPLIANT, AIDA0 >NON_COMPLIANT, AIDA1 >NON_COMPLIANT, AIDA2 >COMPLIANT"},
				// Each index answers its query.
				{`SELECT resource_id FROM evaluations INDEXED BY evaluations_compliance_page WHERE compliance = 'NON_COMPLIANT' ORDER BY account_id, resource_id`,
					"AIDA0, AIDA1"},
				{`SELECT resource_id FROM evaluations INDEXED BY evaluations_owner WHERE owner = 'bob@example.com'`,
					"AIDA2"},
				{`SELECT access_key_id FROM evaluation_keys INDEXED BY evaluation_keys_stage WHERE stage = 'inactive'`,
					"AKIB2"},
				{`SELECT access_key_id FROM evaluation_keys INDEXED BY evaluation_keys_status WHERE status = 'Active' AND account_id = '222222222222' ORDER BY created_at, access_key_id`,
					"AKIAAIDA0, AKIAAIDA1, AKIAAIDA2"},
			} {
				rows, err := queryRows(ctx, s.db, q.query, scanValue[string])
				if got := strings.Join(rows, ", "); err != nil || got != q.want {
					t.Errorf("%s = %q, %v; want %q", q.query, got, err, q.want)
				}
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
