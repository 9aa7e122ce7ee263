package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/keyage/keyage/internal/rule"
)

// The owner the dashboard shows and filters on is the one the evaluation
// was built with (lifecycle.Evaluator, from the config), and it follows a
// change of the config on the next scan.
func TestOwnerFromConfig(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	alice := ev("AIDA1", "alice", rule.NonCompliant)
	alice.Tags = map[string]string{"team-mail": "payments@example.com", "email": "alice@example.com"}
	alice.Owner = alice.Tags["team-mail"]
	if _, err := s.RecordScan(ctx, t0, t0, result(t0, alice)); err != nil {
		t.Fatal(err)
	}
	owners := func(owner string) (keyOwners, evalUsers []string) {
		t.Helper()
		keys, err := s.Keys(ctx, KeyFilter{Owner: owner})
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			keyOwners = append(keyOwners, k.UserName+"="+k.Owner)
		}
		evs, err := s.ListEvaluations(ctx, EvaluationFilter{Owner: owner, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			evalUsers = append(evalUsers, e.UserName)
		}
		return keyOwners, evalUsers
	}
	if k, e := owners("payments@example.com"); len(k) != 1 || k[0] != "alice=payments@example.com" || len(e) != 1 || e[0] != "alice" {
		t.Errorf("owner payments@: keys %v, evaluations %v; want alice's, from the team-mail tag", k, e)
	}
	if k, e := owners("alice@example.com"); len(k)+len(e) != 0 {
		t.Errorf("owner alice@ (the email tag the config does not use): keys %v, evaluations %v; want none", k, e)
	}

	// The config changes to a template; the same scan again rewrites the owner.
	alice.Owner = alice.UserName + "@corp.example"
	if _, err := s.RecordScan(ctx, t0.Add(time.Hour), t0.Add(time.Hour), result(t0.Add(time.Hour), alice)); err != nil {
		t.Fatal(err)
	}
	if k, e := owners("alice@corp.example"); len(k) != 1 || len(e) != 1 {
		t.Errorf("after the owner config changed: keys %v, evaluations %v; want alice's", k, e)
	}
}

// A state file of schema 3 gets the owner column filled from the email tag,
// which is what the dashboard showed before.
func TestMigrationFillsOwner(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "keyage.db")
	db, mustExec := openAtSchema(t, ctx, path, 3)
	mustExec(`INSERT INTO evaluations (account_id, resource_id, resource_type, user_name, path, arn, compliance, annotation, tags_json, keys_json, first_seen, changed_at, evaluated_at)
		VALUES ('222222222222', 'AIDA1', 'AWS::IAM::User', 'alice', '/', '', 'NON_COMPLIANT', '', '{"email":"alice@example.com"}',
		'[{"accessKeyId":"AKIA1","status":"Active","stage":"expired","ageDays":100}]', 0, 0, 0)`)
	db.Close()

	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	keys, err := s.Keys(ctx, KeyFilter{Owner: "alice@example.com"})
	if err != nil || len(keys) != 1 || keys[0].Owner != "alice@example.com" {
		t.Errorf("keys of alice@ after the migration = %+v, %v", keys, err)
	}
	evs, err := s.ListEvaluations(ctx, EvaluationFilter{Owner: "alice@example.com", Limit: 10})
	if err != nil || len(evs) != 1 {
		t.Errorf("evaluations of alice@ after the migration = %+v, %v", evs, err)
	}
}
