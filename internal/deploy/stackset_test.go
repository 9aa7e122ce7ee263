package deploy

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/keyage/keyage/internal/sandbox"
)

// stackSetOrg: 111 administers; 100 lacks the execution role (it sorts first, so a strict
// failure tolerance cancels the others); 222 is a delegated administrator of StackSets with a
// role allowed to deploy.
const stackSetOrg = `
managementAccountId: "111111111111"
accounts:
  - id: "111111111111"
    roles: [KeyageAuditRole, AWSCloudFormationStackSetAdministrationRole]
  - id: "100000000000"
    roles: [KeyageAuditRole]
  - id: "222222222222"
    stackSetDelegatedAdmin: true
    roles:
      - KeyageAuditRole
      - AWSCloudFormationStackSetExecutionRole
      - name: StackSetDeployer
        policy: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["cloudformation:*","organizations:*","iam:PassRole"],"Resource":"*"}]}'
  - id: "333333333333"
    roles: [KeyageAuditRole, AWSCloudFormationStackSetExecutionRole]
`

const testTopic = "arn:aws:sns:us-east-1:111111111111:access-key-rotation"

// stackSetSandbox serves stackSetOrg and returns the management account's configuration.
func stackSetSandbox(t *testing.T) aws.Config {
	t.Helper()
	return fixtureSandbox(t, stackSetOrg)
}

// fixtureSandbox serves the fixture and returns the management account's configuration.
func fixtureSandbox(t *testing.T, fixture string) aws.Config {
	t.Helper()
	fx, err := sandbox.ParseFixture([]byte(fixture), "org.yaml")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sandbox.New(sandbox.Options{Fixture: fx})
	if err != nil {
		t.Fatal(err)
	}
	srv.SetCloudFormationDelay(time.Millisecond)
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	id, secret := srv.ManagementCredentials()
	return aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(hs.URL),
		Credentials: credentials.NewStaticCredentialsProvider(id, secret, "")}
}

func assumeRole(t *testing.T, base aws.Config, arn string) aws.Config {
	t.Helper()
	cfg := base.Copy()
	cfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(base), arn))
	if _, err := cfg.Credentials.Retrieve(context.Background()); err != nil {
		t.Fatalf("assume %s: %v", arn, err)
	}
	return cfg
}

func testDeployer(cfg aws.Config) *Deployer {
	return &Deployer{CFN: cloudformation.NewFromConfig(cfg), MaxPoll: 20 * time.Millisecond}
}

func TestTopicRegionAmongStackSetRegions(t *testing.T) {
	for _, tt := range []struct {
		name    string
		regions []string
		wantErr bool
	}{
		{"topic region deployed", []string{"us-east-1"}, false},
		{"topic region among others", []string{"eu-west-1", "us-east-1"}, false},
		{"topic in another region", []string{"eu-west-1"}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := TargetsOptions{TopicArn: testTopic, Accounts: []string{"222222222222"}, Regions: tt.regions}
			err := o.Validate()
			if (err != nil) != tt.wantErr {
				t.Fatalf("Validate(regions %v) = %v, want error %v", tt.regions, err, tt.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), "must include us-east-1") {
				t.Errorf("Validate(regions %v) = %v, want it to name the topic's region", tt.regions, err)
			}
		})
	}
}

// Every page of ListStackSetOperationResults is read.
func TestOperationResultsAllPages(t *testing.T) {
	d := testDeployer(stackSetSandbox(t))
	d.resultsPageSize = 1
	res, err := d.DeployTargets(context.Background(), TargetsOptions{TopicArn: testTopic, MasterAccountID: "111111111111",
		AuditRoleName: "KeyageStackSetAudit", Accounts: []string{"222222222222", "333333333333"}, Regions: []string{"us-east-1"}})
	if err != nil {
		t.Fatal(err)
	}
	create := res.Operations[len(res.Operations)-1]
	if len(create.Results) != 2 {
		t.Errorf("results of the create operation = %+v, want both instances (two pages)", create.Results)
	}
}

// --max-concurrent-count takes effect without a failure tolerance: the instances after a
// failing one are deployed with it, not cancelled.
func TestMaxConcurrencyTakesEffect(t *testing.T) {
	d := testDeployer(stackSetSandbox(t))
	res, err := d.DeployTargets(context.Background(), TargetsOptions{TopicArn: testTopic, MasterAccountID: "111111111111",
		AuditRoleName: "KeyageStackSetAudit", Accounts: []string{"100000000000", "222222222222", "333333333333"}, Regions: []string{"us-east-1"},
		Preferences: Preferences{MaxConcurrentCount: aws.Int32(3)}})
	if err == nil {
		t.Fatal("DeployTargets with an account lacking the execution role succeeded")
	}
	got := map[string]string{}
	for _, r := range res.Operations[len(res.Operations)-1].Results {
		got[r.Account] = r.Status
	}
	want := map[string]string{"100000000000": "FAILED", "222222222222": "SUCCEEDED", "333333333333": "SUCCEEDED"}
	for acct, status := range want {
		if got[acct] != status {
			t.Errorf("instance in %s: %s, want %s (all three deployed at once)", acct, got[acct], status)
		}
	}
}

// A delegated administrator deploys a service-managed StackSet with CallAs DELEGATED_ADMIN.
func TestDelegatedAdminCallAs(t *testing.T) {
	ctx := context.Background()
	mgmt := stackSetSandbox(t)
	cfg := assumeRole(t, mgmt, "arn:aws:iam::222222222222:role/StackSetDeployer")
	roots, err := organizations.NewFromConfig(mgmt).ListRoots(ctx, &organizations.ListRootsInput{})
	if err != nil {
		t.Fatal(err)
	}
	o := TargetsOptions{TopicArn: testTopic, MasterAccountID: "111111111111", AuditRoleName: "KeyageStackSetAudit",
		OrganizationalUnits: []string{aws.ToString(roots.Roots[0].Id)}, Regions: []string{"us-east-1"}}
	for _, tt := range []struct {
		name    string
		callAs  types.CallAs
		wantErr string
	}{
		{"as self", "", "delegated administrator"},
		{"as delegated admin", types.CallAsDelegatedAdmin, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o.CallAs = tt.callAs
			_, err := testDeployer(cfg).DeployTargets(ctx, o)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("DeployTargets(CallAs %q): %v", tt.callAs, err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("DeployTargets(CallAs %q) = %v, want an error about %q", tt.callAs, err, tt.wantErr)
			}
		})
	}
}
