package securityhub

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"
	"github.com/google/go-cmp/cmp"

	"github.com/keyage/keyage/internal/notify"
	"github.com/keyage/keyage/internal/notify/notifytest"
	"github.com/keyage/keyage/internal/sandbox"
	"github.com/keyage/keyage/internal/sandbox/sandboxtest"
)

const findingsRole = "KeyageFindingsRole"

// org is a sandbox of two accounts, each with the findings role, over HTTP.
type org struct {
	srv  *sandbox.Server
	base aws.Config
}

func newOrg(t *testing.T) *org {
	t.Helper()
	s := sandboxtest.ServeAccounts(t, findingsRole)
	return &org{srv: s.Server, base: s.Config()}
}

// configs assumes the findings role in each account.
func (o *org) configs(ctx context.Context, acct string) (aws.Config, error) {
	return sandboxtest.AssumeRole(ctx, o.base, acct, findingsRole, "keyage-findings")
}

func (o *org) imports(acct string) int64 {
	return o.srv.Stats().ByAccount[acct]["securityhub:BatchImportFindings"]
}

func item(acct, user, key string, age int) notify.Item {
	it := notifytest.Item(user, key, age)
	it.AccountID = acct
	it.ARN = "arn:aws:iam::" + acct + ":user/" + user
	return it
}

func newNotifier(t *testing.T, configs ConfigFunc) *Notifier {
	t.Helper()
	n, err := New(Options{Configs: configs, Region: "us-east-1", Now: func() time.Time { return notifytest.Now }})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// The findings of a thousand keys import in ten calls, and each is in
// Security Hub as built.
func TestNotifyBatches(t *testing.T) {
	ctx := context.Background()
	o := newOrg(t)
	n := newNotifier(t, o.configs)
	m := notifytest.Message()
	m.Items = nil
	for i := range 1000 {
		m.Items = append(m.Items, item("222222222222", fmt.Sprintf("user-%04d", i), fmt.Sprintf("AKIA%016d", i), 91+i%200))
	}
	if retry, err := n.Notify(ctx, m); err != nil {
		t.Fatalf("Notify = %v, %v", retry, err)
	}
	if got := o.imports("222222222222"); got != 10 {
		t.Errorf("BatchImportFindings calls = %d, want 10", got)
	}
	got := o.srv.SecurityHubFindings("222222222222")
	if len(got) != 1000 {
		t.Fatalf("%d findings in Security Hub, want 1000", len(got))
	}
	if id := got[0]["Id"]; id != "aws/222222222222/AIDAUSER-0000EXAMPLE/AKIA0000000000000000" {
		t.Errorf("first finding Id = %v", id)
	}
}

// A finding refused for one account does not import the other account's
// findings again on the retry: partial failures are retried per finding.
func TestNotifyRetriesFailedFindingsOnly(t *testing.T) {
	ctx := context.Background()
	o := newOrg(t)
	wrong := true
	n := newNotifier(t, func(ctx context.Context, acct string) (aws.Config, error) {
		if wrong && acct == "333333333333" {
			return o.configs(ctx, "222222222222") // the wrong account: Security Hub refuses
		}
		return o.configs(ctx, acct)
	})
	m := notifytest.Message()
	m.Items = []notify.Item{item("222222222222", "alice", "AKIAALICE", 120), item("333333333333", "bob", "AKIABOB", 120)}
	retry, err := n.Notify(ctx, m)
	if err == nil || !strings.Contains(err.Error(), "AccessDeniedException") {
		t.Fatalf("Notify with the wrong account's credentials = %v, %v; want AccessDeniedException", retry, err)
	}
	wrong = false
	n.clients = map[string]*securityhub.Client{} // new credentials, as after a role fix
	if _, err := n.Notify(ctx, m); err != nil {
		t.Fatalf("Notify, second attempt: %v", err)
	}
	diff := cmp.Diff(map[string]int64{"222222222222": 2, "333333333333": 1},
		map[string]int64{"222222222222": o.imports("222222222222"), "333333333333": o.imports("333333333333")})
	if diff != "" {
		t.Errorf("BatchImportFindings calls per account (-want +got):\n%s", diff)
	}
	for _, acct := range []string{"222222222222", "333333333333"} {
		if got := len(o.srv.SecurityHubFindings(acct)); got != 1 {
			t.Errorf("%d findings in %s, want 1", got, acct)
		}
	}
}

// Rotating a key archives its finding with Compliance PASSED, keeps the
// security team's Workflow, and leaves the other findings alone.
func TestNotifyResolvedArchives(t *testing.T) {
	ctx := context.Background()
	o := newOrg(t)
	n := newNotifier(t, o.configs)
	m := notifytest.Message()
	alice, bob := item("222222222222", "alice", "AKIAALICE", 120), item("222222222222", "bob", "AKIABOB", 200)
	m.Items = []notify.Item{alice, bob}
	if _, err := n.Notify(ctx, m); err != nil {
		t.Fatal(err)
	}
	cfg, err := o.configs(ctx, "222222222222")
	if err != nil {
		t.Fatal(err)
	}
	client := securityhub.NewFromConfig(cfg)
	aliceID := notify.ASFFFindingID("aws", "222222222222", alice.ResourceID, alice.AccessKeyID)
	product := notify.ASFFProductARN("aws", "us-east-1", "222222222222")
	if _, err := client.BatchUpdateFindings(ctx, &securityhub.BatchUpdateFindingsInput{
		FindingIdentifiers: []types.AwsSecurityFindingIdentifier{{Id: aws.String(aliceID), ProductArn: aws.String(product)}},
		Workflow:           &types.WorkflowUpdate{Status: types.WorkflowStatusNotified},
	}); err != nil {
		t.Fatal(err)
	}
	resolved := notifytest.Message()
	resolved.ID, resolved.Kind, resolved.Items = "msg-0002", notify.KindResolved, []notify.Item{alice}
	if _, err := n.Notify(ctx, resolved); err != nil {
		t.Fatal(err)
	}
	out, err := client.GetFindings(ctx, &securityhub.GetFindingsInput{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range out.Findings {
		got[aws.ToString(f.Id)] = fmt.Sprintf("%s %s %s %s", f.RecordState, f.Compliance.Status, f.Workflow.Status, f.FindingProviderFields.Severity.Label)
	}
	want := map[string]string{
		aliceID: "ARCHIVED PASSED NOTIFIED INFORMATIONAL",
		notify.ASFFFindingID("aws", "222222222222", bob.ResourceID, bob.AccessKeyID): "ACTIVE FAILED NEW HIGH",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("findings after alice's key was rotated (-want +got):\n%s", d)
	}
}

func TestNewRequires(t *testing.T) {
	for _, tt := range []struct {
		name string
		o    Options
		want string
	}{
		{"no credentials", Options{Region: "us-east-1"}, "no credentials"},
		{"no region", Options{Configs: func(context.Context, string) (aws.Config, error) { return aws.Config{}, nil }}, "region: required"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.o); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New(%s) = %v, want an error with %q", tt.name, err, tt.want)
			}
		})
	}
}
