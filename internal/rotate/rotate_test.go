package rotate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/keyage/keyage/internal/awsenv"
	"github.com/keyage/keyage/internal/config"
	"github.com/keyage/keyage/internal/enforce"
	"github.com/keyage/keyage/internal/inventory"
	"github.com/keyage/keyage/internal/rule"
	"github.com/keyage/keyage/internal/sandbox"
	"github.com/keyage/keyage/internal/sandbox/sandboxtest"
	"github.com/keyage/keyage/internal/scan"
	"github.com/keyage/keyage/internal/store"
)

const prod = "222222222222"

type env struct {
	url            string
	srv            *sandbox.Server
	audit, enforce *awsenv.Assumer
	reader         aws.Config
	store          *store.Store
	dbPath         string
	cfg            *config.Config
	logs, auditLog bytes.Buffer
}

func newEnv(t *testing.T, yaml string) *env {
	t.Helper()
	// The enforcement role has exactly the policy "keyage iam-policy enforcer" prints.
	org, cfg := sandboxtest.StartConfig(t, "testdata/org.yaml", yaml)
	ctx := context.Background()
	e := &env{url: org.URL, srv: org.Server, cfg: cfg, dbPath: filepath.Join(t.TempDir(), "keyage.db"), audit: org.Audit, enforce: org.Enforce}
	readers, err := awsenv.NewAssumer(ctx, org.Base, awsenv.AssumerOptions{RoleName: "Reader"})
	if err != nil {
		t.Fatal(err)
	}
	if e.reader, err = readers.ForAccount(ctx, prod); err != nil {
		t.Fatal(err)
	}
	if e.store, err = store.Open(ctx, e.dbPath, store.Options{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.store.Close() })
	return e
}

func (e *env) scan(t *testing.T, now time.Time) *scan.Result {
	t.Helper()
	res := scan.Run(context.Background(), e.audit, []inventory.Account{{ID: prod}}, scan.Options{Policy: rule.PolicyDays(90, 80), Now: now})
	if res.Summary.AccountsFailed != 0 {
		t.Fatalf("scan failed: %+v", res.Accounts)
	}
	return res
}

func (e *env) rotator(apply bool, now time.Time) *Rotator {
	return &Rotator{Actor: enforce.Actor{Config: e.cfg, Store: e.store, Accounts: e.enforce, CallerARN: e.audit.CallerARN(), Apply: apply,
		AuditLog: &e.auditLog, Now: func() time.Time { return now }, Logger: slog.New(slog.NewTextHandler(&e.logs, nil))}}
}

func (e *env) run(t *testing.T, apply bool, now time.Time, mod func(*Rotator)) (*Report, *scan.Result) {
	t.Helper()
	res := e.scan(t, now)
	r := e.rotator(apply, now)
	if mod != nil {
		mod(r)
	}
	rep, err := r.Run(context.Background(), res)
	if err != nil {
		t.Fatal(err)
	}
	return rep, res
}

// keys returns "user key-status" lines, keys in creation order.
func (e *env) keys(t *testing.T, user string) []string {
	t.Helper()
	cfg, err := e.audit.ForAccount(context.Background(), prod)
	if err != nil {
		t.Fatal(err)
	}
	u, err := inventory.User(context.Background(), cfg, prod, user)
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(u.Keys, func(i, j int) bool { return u.Keys[i].CreateDate.Before(u.Keys[j].CreateDate) })
	var out []string
	for _, k := range u.Keys {
		out = append(out, k.AccessKeyID+" "+k.Status)
	}
	return out
}

const rotateConfig = `
rule: {maxAccessKeyAge: 90, warnAge: 80}
lifecycle:
  deactivateAge: 120
  deleteAge: 130
  rotate:
    enabled: true
    match: {userPath: [/ci/]}
    deactivateAfter: 14d
    deleteAfter: 30d
`

func steps(rep *Report) []string {
	var out []string
	for _, s := range rep.Steps {
		out = append(out, s.UserName+" "+s.Action+" "+s.Outcome)
	}
	sort.Strings(out)
	return out
}

// TestRotateEndToEnd is issue 17's done-when, against the sandbox through the deployed
// enforcement role.
func TestRotateEndToEnd(t *testing.T) {
	e := newEnv(t, rotateConfig)
	ctx := context.Background()
	now := time.Now().UTC()
	before := e.keys(t, "ci")
	personBefore := e.keys(t, "person")

	// A dry run plans and changes nothing.
	rep, _ := e.run(t, false, now, nil)
	if got, want := strings.Join(steps(rep), "; "), "ci rotate-create-key dry-run; deploy,bot rotate-create-key refused"; got != want {
		t.Errorf("dry run steps = %s, want %s", got, want)
	}
	if got := e.keys(t, "ci"); strings.Join(got, ",") != strings.Join(before, ",") {
		t.Errorf("dry run changed keys: %v, want %v", got, before)
	}

	// A crash between CreateAccessKey and PutSecretValue ...
	r := e.rotator(true, now)
	r.afterCreate = func() error { return errors.New("injected crash") }
	if _, err := r.Run(ctx, e.scan(t, now)); !errors.Is(err, errCrash) {
		t.Fatalf("Run with a crash after CreateAccessKey = %v, want the injected crash", err)
	}
	if got := e.keys(t, "ci"); len(got) != 2 {
		t.Fatalf("after the crash ci has keys %v, want the old one and the orphan", got)
	}
	// ... is recovered on rerun: the orphan deleted, a new key created and stored.
	rep, res := e.run(t, true, now, nil)
	var ciStep *Step
	for i := range rep.Steps {
		if rep.Steps[i].UserName == "ci" {
			ciStep = &rep.Steps[i]
		}
	}
	if ciStep == nil || ciStep.Outcome != enforce.OutcomeApplied || ciStep.State.Phase != PhaseStored {
		t.Fatalf("rerun after the crash: %+v, want ci's key created and stored", rep.Steps)
	}
	st := ciStep.State
	keys := e.keys(t, "ci")
	if want := []string{before[0], st.NewKeyID + " Active"}; strings.Join(keys, ",") != strings.Join(want, ",") {
		t.Errorf("ci keys after rotation = %v, want %v (orphan gone)", keys, want)
	}

	// The secret holds a key that works.
	sv, err := secretsmanager.NewFromConfig(e.reader).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(st.SecretARN)})
	if err != nil {
		t.Fatalf("GetSecretValue(%s): %v", st.SecretARN, err)
	}
	var value struct{ AccessKeyId, SecretAccessKey, CreateDate, UserName string }
	if err := json.Unmarshal([]byte(aws.ToString(sv.SecretString)), &value); err != nil {
		t.Fatal(err)
	}
	if value.AccessKeyId != st.NewKeyID || value.UserName != "ci" || value.SecretAccessKey == "" {
		t.Errorf("secret value holds key %s of %s, want %s of ci", value.AccessKeyId, value.UserName, st.NewKeyID)
	}
	userCfg := aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(e.url), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(value.AccessKeyId, value.SecretAccessKey, "")}
	who, err := sts.NewFromConfig(userCfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || !strings.HasSuffix(aws.ToString(who.Arn), ":user/ci/ci") {
		t.Errorf("GetCallerIdentity signed with the stored key = %v, %v; want user ci", who, err)
	}

	// Owner notices carry the ARN, the command and the deactivation date.
	notices := Notices(e.cfg, res, rep)
	noticeJSON, _ := json.Marshal(notices)
	for _, want := range []string{st.SecretARN, "aws secretsmanager get-secret-value --secret-id " + st.SecretARN, st.DeactivateAt.Format(time.DateOnly), "keyage:exempt-until"} {
		if !strings.Contains(string(noticeJSON), want) {
			t.Errorf("notices %s lack %q", noticeJSON, want)
		}
	}

	// Not deactivated before deactivateAfter; then deactivated (the new key was used).
	rep, _ = e.run(t, true, now.Add(10*24*time.Hour), nil)
	if got := steps(rep); !contains(got, "ci rotate-deactivate-old scheduled") {
		t.Errorf("day 10 steps = %v, want ci's deactivation scheduled", got)
	}
	rep, _ = e.run(t, true, now.Add(15*24*time.Hour), nil)
	if got := steps(rep); !contains(got, "ci rotate-deactivate-old applied") {
		t.Errorf("day 15 steps = %v, want ci's old key deactivated", got)
	}
	if keys := e.keys(t, "ci"); keys[0] != strings.Fields(before[0])[0]+" Inactive" {
		t.Errorf("ci keys on day 15 = %v, want the old one inactive", keys)
	}
	rep, _ = e.run(t, true, now.Add(46*24*time.Hour), nil)
	if got := steps(rep); !contains(got, "ci rotate-delete-old applied") {
		t.Errorf("day 46 steps = %v, want ci's old key deleted", got)
	}
	if keys := e.keys(t, "ci"); len(keys) != 1 || keys[0] != st.NewKeyID+" Active" {
		t.Errorf("ci keys on day 46 = %v, want only the new key", keys)
	}
	// A user not opted in is untouched.
	if got := e.keys(t, "person"); strings.Join(got, ",") != strings.Join(personBefore, ",") {
		t.Errorf("person's keys = %v, want %v untouched", got, personBefore)
	}

	// The secret access key is in none of keyage's outputs.
	states, err := States(ctx, e.store)
	if err != nil {
		t.Fatal(err)
	}
	apiJSON, _ := json.Marshal(states)
	audit, _ := e.store.AuditRecords(ctx, prod, "")
	auditJSON, _ := json.Marshal(audit)
	db, err := os.ReadFile(e.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	wal, _ := os.ReadFile(e.dbPath + "-wal")
	for name, out := range map[string][]byte{"state DB": db, "state DB WAL": wal, "logs": e.logs.Bytes(), "audit log": e.auditLog.Bytes(),
		"audit records": auditJSON, "notices": noticeJSON, "rotation states (API)": apiJSON} {
		if bytes.Contains(out, []byte(value.SecretAccessKey)) {
			t.Errorf("the secret access key appears in the %s", name)
		}
	}
	if !bytes.Contains(apiJSON, []byte(st.NewKeyID)) || !strings.Contains(e.auditLog.String(), ActCreate) {
		t.Errorf("rotation state %s or audit log lacks the rotation", apiJSON)
	}
}

func contains(l []string, s string) bool {
	for _, v := range l {
		if v == s {
			return true
		}
	}
	return false
}
