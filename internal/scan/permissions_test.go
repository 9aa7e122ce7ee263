package scan_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/google/go-cmp/cmp"

	"github.com/keyage/keyage/internal/deploy"
	"github.com/keyage/keyage/internal/inventory"
	"github.com/keyage/keyage/internal/sandbox"
	"github.com/keyage/keyage/internal/scan"
)

// withRolePolicies gives the sandbox's roles what "keyage iam-policy" prints, and starts
// the sandbox at start so that key dates match between sandboxes.
func withRolePolicies(t *testing.T, start time.Time) func(*sandbox.Options) {
	t.Helper()
	p, err := deploy.RolePolicies(deploy.PolicyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return func(o *sandbox.Options) {
		o.DefaultRolePolicies = p
		o.Now = func() time.Time { return start }
	}
}

// TestScanWithLeastPrivilege scans through audit roles that have exactly the scanner policy:
// the result is the one of an unrestricted scan. With iam:ListAccessKeys taken out of one
// account's role, that account fails with AccessDenied and the others are scanned.
func TestScanWithLeastPrivilege(t *testing.T) {
	fx := sandbox.Generate(sandbox.GenerateOptions{Accounts: 6, Users: 20, Seed: 11})
	now := testNow()
	at := func(o *scan.Options) { o.Now = now }
	open := newEnv(t, fx, func(o *sandbox.Options) { o.Now = func() time.Time { return now } })
	want := run(t, open, inventory.SourceAPI, open.orgAccounts(t), at)

	for _, src := range []inventory.Source{inventory.SourceAPI, inventory.SourceAuto} {
		t.Run("scanner policy, "+string(src), func(t *testing.T) {
			e := newEnv(t, fx, withRolePolicies(t, now))
			got := run(t, e, src, e.orgAccounts(t), at)
			if d := cmp.Diff(comparable(want, false), comparable(got, false)); d != "" {
				t.Errorf("scan with the scanner policy differs from an unrestricted one (-want +got):\n%s", d)
			}
			for _, a := range got.Accounts {
				if a.Status != scan.StatusOK && !strings.Contains(a.Error, "sts:AssumeRole") {
					t.Errorf("account %s: %s: %s", a.AccountID, a.Status, a.Error)
				}
			}
		})
	}

	doc, err := deploy.Policy(deploy.ModeScanner, deploy.PolicyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range doc.Statement {
		doc.Statement[i].Action = slices.DeleteFunc(slices.Clone(doc.Statement[i].Action), func(a string) bool { return a == "iam:ListAccessKeys" })
	}
	b, _ := json.Marshal(doc)
	restricted := *fx
	restricted.Accounts = slices.Clone(fx.Accounts)
	victim := &restricted.Accounts[2]
	if len(victim.Roles) == 0 {
		victim = &restricted.Accounts[3]
	}
	victim.Roles = []sandbox.FixtureRole{{Name: sandbox.DefaultAuditRoleName, Policy: string(b)}}
	e := newEnv(t, &restricted, withRolePolicies(t, now))
	got := run(t, e, inventory.SourceAPI, e.orgAccounts(t), at)
	for _, a := range got.Accounts {
		switch {
		case a.AccountID == victim.ID:
			wantErr := "is not authorized to perform: iam:ListAccessKeys on resource: arn:aws:iam::" + victim.ID + ":user/"
			if a.Status != scan.StatusError || !strings.Contains(a.Error, "AccessDenied") || !strings.Contains(a.Error, wantErr) {
				t.Errorf("account %s without iam:ListAccessKeys: %s: %q, want an AccessDenied error containing %q", a.AccountID, a.Status, a.Error, wantErr)
			}
		case a.Status != scan.StatusOK && !strings.Contains(a.Error, "sts:AssumeRole"):
			t.Errorf("account %s: %s: %s, want it scanned", a.AccountID, a.Status, a.Error)
		case a.Status == scan.StatusOK && a.Users == 0:
			t.Errorf("account %s scanned with no users", a.AccountID)
		}
	}

	// The audit role reads; it may not delete a key. (The management account is read with
	// the management credentials, not through the role.)
	member := &restricted.Accounts[1]
	if len(member.Roles) == 0 || member == victim {
		member = &restricted.Accounts[4]
	}
	acct, user := member.ID, member.Users[0]
	cfg, err := e.assumer.ForAccount(context.Background(), acct)
	if err != nil {
		t.Fatal(err)
	}
	_, err = iam.NewFromConfig(cfg).DeleteAccessKey(context.Background(), &iam.DeleteAccessKeyInput{UserName: aws.String(user.Name), AccessKeyId: aws.String("AKIAEXAMPLEEXAMPLE00")})
	wantErr := "AccessDenied: User: arn:aws:sts::" + acct + ":assumed-role/KeyageAuditRole/"
	wantTail := " is not authorized to perform: iam:DeleteAccessKey on resource: arn:aws:iam::" + acct + ":user" + user.Path + user.Name +
		" because no identity-based policy allows the iam:DeleteAccessKey action"
	if err == nil || !strings.Contains(err.Error(), wantErr) || !strings.HasSuffix(err.Error(), wantTail) {
		t.Errorf("DeleteAccessKey through the audit role: %v, want %s...%s", err, wantErr, wantTail)
	}
}
