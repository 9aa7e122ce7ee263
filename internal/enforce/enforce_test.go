package enforce

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/keyage/keyage/internal/awsenv"
	"github.com/keyage/keyage/internal/config"
	"github.com/keyage/keyage/internal/deploy"
	"github.com/keyage/keyage/internal/inventory"
	"github.com/keyage/keyage/internal/rule"
	"github.com/keyage/keyage/internal/sandbox"
	"github.com/keyage/keyage/internal/scan"
	"github.com/keyage/keyage/internal/store"
)

type env struct {
	audit, enforce *awsenv.Assumer
	store          *store.Store
	cfg            *config.Config
}

func newEnv(t *testing.T, yaml string) *env {
	t.Helper()
	fx, err := sandbox.LoadFixture("testdata/org.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// The roles have exactly the policies "keyage iam-policy" prints for them.
	policies, err := deploy.RolePolicies(deploy.PolicyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sandbox.New(sandbox.Options{Fixture: fx, DefaultRolePolicies: policies})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	id, secret := srv.ManagementCredentials()
	ctx := context.Background()
	base, err := awsenv.Load(ctx, awsenv.Options{Region: "us-east-1", EndpointURL: hs.URL, StaticCredentials: &aws.Credentials{AccessKeyID: id, SecretAccessKey: secret}})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse([]byte(yaml), "keyage.yaml")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{cfg: cfg}
	if e.audit, err = awsenv.NewAssumer(ctx, base, awsenv.AssumerOptions{}); err != nil {
		t.Fatal(err)
	}
	if e.enforce, err = awsenv.NewAssumer(ctx, base, awsenv.AssumerOptions{RoleName: cfg.Enforce.RoleName}); err != nil {
		t.Fatal(err)
	}
	if e.store, err = store.Open(ctx, filepath.Join(t.TempDir(), "keyage.db"), store.Options{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.store.Close() })
	return e
}

const policy = `
rule: {maxAccessKeyAge: 90}
lifecycle: {deactivateAge: 100, deleteAge: 110, deleteAfterInactive: 7}
`

func (e *env) run(t *testing.T, apply bool, now time.Time, mod func(*Enforcer)) *Report {
	t.Helper()
	res := scan.Run(context.Background(), e.audit, []inventory.Account{{ID: "222222222222"}}, scan.Options{Policy: rule.PolicyDays(90, 0), Now: now})
	if res.Summary.AccountsFailed != 0 {
		t.Fatalf("scan failed: %+v", res.Accounts)
	}
	en := &Enforcer{Config: e.cfg, Store: e.store, Accounts: e.enforce, CallerARN: e.audit.CallerARN(), Apply: apply, Now: func() time.Time { return now }, Logger: discard()}
	if mod != nil {
		mod(en)
	}
	rep, err := en.Run(context.Background(), res)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// keys returns "user key status" lines of the account, sorted.
func (e *env) keys(t *testing.T) []string {
	t.Helper()
	cfg, err := e.audit.ForAccount(context.Background(), "222222222222") // the enforcer may not list users
	if err != nil {
		t.Fatal(err)
	}
	client := iam.NewFromConfig(cfg)
	users, err := client.ListUsers(context.Background(), &iam.ListUsersInput{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, u := range users.Users {
		ks, err := client.ListAccessKeys(context.Background(), &iam.ListAccessKeysInput{UserName: u.UserName})
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range ks.AccessKeyMetadata {
			out = append(out, aws.ToString(u.UserName)+" "+aws.ToString(k.AccessKeyId)+" "+string(k.Status))
		}
	}
	sort.Strings(out)
	return out
}

func find(rep *Report, user string) []Action {
	var out []Action
	for _, a := range rep.Actions {
		if a.UserName == user {
			out = append(out, a)
		}
	}
	return out
}

func TestDryRunChangesNothing(t *testing.T) {
	e := newEnv(t, policy)
	before := e.keys(t)
	rep := e.run(t, false, time.Now(), nil)
	if got := e.keys(t); strings.Join(got, "\n") != strings.Join(before, "\n") {
		t.Errorf("dry run changed IAM:\nbefore %v\nafter  %v", before, got)
	}
	if rep.DryRun == 0 || rep.Applied != 0 {
		t.Errorf("dry run report: %+v", rep)
	}
	audit, _ := e.store.AuditRecords(context.Background(), "", "")
	if len(audit) != len(rep.Actions) || !audit[0].DryRun {
		t.Errorf("audit has %d records for %d planned actions: %+v", len(audit), len(rep.Actions), audit)
	}
}

func TestApply(t *testing.T) {
	e := newEnv(t, policy)
	rep := e.run(t, true, time.Now(), nil)

	two := find(rep, "two-keys")
	if len(two) != 1 || two[0].Outcome != OutcomeApplied || two[0].AgeDays != 120 {
		t.Fatalf("two-keys actions = %+v, want only the 120-day key deactivated", two)
	}
	var states []string
	for _, k := range e.keys(t) {
		if strings.HasPrefix(k, "two-keys ") {
			states = append(states, strings.Fields(k)[2])
		}
	}
	sort.Strings(states)
	if strings.Join(states, ",") != "Active,Inactive" {
		t.Errorf("two-keys key states after apply = %v, want one Active (the 10-day key) and one Inactive", states)
	}
	if busy := find(rep, "busy"); len(busy) != 1 || busy[0].Outcome != OutcomeEscalated || !strings.Contains(busy[0].Detail, "recentUseGuard") {
		t.Errorf("busy (used 2h ago) = %+v, want escalated, not deactivated", busy)
	}
	if got := find(rep, "exempt-now"); len(got) != 0 {
		t.Errorf("exempt user acted on: %+v", got)
	}
	if got := find(rep, "exempt-expired"); len(got) != 1 || got[0].Outcome != OutcomeApplied {
		t.Errorf("expired exemption still exempts: %+v", got)
	}
	if got := find(rep, "tag-without-reason"); len(got) != 1 || got[0].Outcome != OutcomeApplied {
		t.Errorf("an exemption tag without a reason exempted: %+v", got)
	}
	if got := find(rep, "retired"); len(got) != 0 {
		t.Errorf("a key seen inactive for the first time was acted on at once: %+v", got)
	}
	audit, _ := e.store.AuditRecords(context.Background(), "222222222222", two[0].AccessKeyID)
	if len(audit) != 1 || audit[0].BeforeStatus != "Active" || audit[0].AfterStatus != "Inactive" || audit[0].DryRun || audit[0].CallerARN == "" {
		t.Errorf("audit of the deactivation = %+v", audit)
	}
}

func TestDeleteOnlyAfterInactivePeriod(t *testing.T) {
	e := newEnv(t, policy)
	now := time.Now()
	if got := find(e.run(t, true, now, nil), "retired"); len(got) != 0 {
		t.Fatalf("first run deleted at once: %+v", got)
	}
	if got := find(e.run(t, true, now.Add(6*rule.Day), nil), "retired"); len(got) != 0 {
		t.Fatalf("deleted after 6 of 7 days: %+v", got)
	}
	got := find(e.run(t, true, now.Add(8*rule.Day), nil), "retired")
	if len(got) != 1 || got[0].Action != "delete" || got[0].Outcome != OutcomeApplied {
		t.Fatalf("after 8 days inactive: %+v, want deleted", got)
	}
	for _, k := range e.keys(t) {
		if strings.HasPrefix(k, "retired ") {
			t.Errorf("retired key still exists: %s", k)
		}
	}
}

func TestReactivatedKeyIsNotDeleted(t *testing.T) {
	e := newEnv(t, policy)
	now := time.Now()
	rep := e.run(t, true, now, nil) // deactivates two-keys' old key
	old := find(rep, "two-keys")[0].AccessKeyID
	// Its owner turns it back on.
	cfg, _ := e.enforce.ForAccount(context.Background(), "222222222222")
	if _, err := iam.NewFromConfig(cfg).UpdateAccessKey(context.Background(), &iam.UpdateAccessKeyInput{UserName: aws.String("two-keys"), AccessKeyId: aws.String(old), Status: "Active"}); err != nil {
		t.Fatal(err)
	}
	e.cfg.Lifecycle.DeactivateAge = 0 // only deletion is on now
	rep = e.run(t, true, now.Add(30*rule.Day), nil)
	for _, a := range find(rep, "two-keys") {
		if a.Action == "delete" {
			t.Errorf("a key its owner reactivated was deleted: %+v", a)
		}
	}
}

func TestLimitsAndSafety(t *testing.T) {
	e := newEnv(t, policy+"enforce: {maxActionsPerRun: 1}\n")
	rep := e.run(t, true, time.Now(), nil)
	if rep.Applied != 1 || rep.Refused == 0 {
		t.Errorf("maxActionsPerRun 1: %d applied, %d refused; want 1 and the rest refused", rep.Applied, rep.Refused)
	}

	e = newEnv(t, policy)
	var target string
	rep = e.run(t, false, time.Now(), nil)
	for _, a := range rep.Actions {
		if a.UserName == "two-keys" {
			target = a.AccessKeyID
		}
	}
	rep = e.run(t, true, time.Now(), func(en *Enforcer) { en.CallerKeyID = target })
	if got := find(rep, "two-keys"); len(got) != 1 || got[0].Outcome != OutcomeRefused || !strings.Contains(got[0].Detail, "keyage runs with") {
		t.Errorf("the caller's own key: %+v, want refused", got)
	}

	e = newEnv(t, policy+"enforce: {enabled: false}\n")
	before := e.keys(t)
	rep = e.run(t, true, time.Now(), nil)
	if rep.Stopped == "" || len(rep.Actions) != 0 || strings.Join(e.keys(t), ",") != strings.Join(before, ",") {
		t.Errorf("kill switch: %+v", rep)
	}
	stop := filepath.Join(t.TempDir(), "STOP")
	e = newEnv(t, policy+"enforce: {killSwitchFile: "+stop+"}\n")
	if rep := e.run(t, false, time.Now(), nil); rep.Stopped != "" {
		t.Fatalf("stopped without the file: %s", rep.Stopped)
	}
	if err := os.WriteFile(stop, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if rep := e.run(t, true, time.Now(), nil); !strings.Contains(rep.Stopped, "STOP exists") || rep.Applied != 0 {
		t.Errorf("kill switch file: %+v", rep)
	}
}
