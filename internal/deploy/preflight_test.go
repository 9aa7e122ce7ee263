package deploy

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// prereqOrg has the StackSet prerequisites in every variant: 222's execution role trusts the
// administrator account, 333's another account; 444 is a delegated administrator of StackSets,
// 555 a member that is not. Each caller role may do anything.
const prereqOrg = `
managementAccountId: "111111111111"
stackSetsTrustedAccess: %s
accounts:
  - id: "111111111111"
    roles: [%s]
  - id: "222222222222"
    roles: [AWSCloudFormationStackSetExecutionRole]
  - id: "333333333333"
    roles:
      - name: AWSCloudFormationStackSetExecutionRole
        trust: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: {AWS: "arn:aws:iam::999999999999:root"}, Action: "sts:AssumeRole"}]}
  - id: "444444444444"
    stackSetDelegatedAdmin: true
    roles: [Deployer]
  - id: "555555555555"
    roles: [Deployer]
`

func TestPreflightStackSetPrerequisites(t *testing.T) {
	const adminRole = "AWSCloudFormationStackSetAdministrationRole"
	wrongTrust := `{name: ` + adminRole + `, trust: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: {AWS: "arn:aws:iam::111111111111:root"}, Action: "sts:AssumeRole"}]}}`
	for _, tt := range []struct {
		name                string
		trustedAccess       string
		masterRoles         string
		caller              string // a member account acting through its Deployer role; "" the management account
		accounts, orgUnits  bool   // self-managed with --accounts 222/333, or service-managed at the root
		account             string
		check, want, fixHas string // fixHas "" when the check passes
	}{
		{"administration role ok", "true", adminRole, "", true, false, "222222222222", "administration-role", "trusts cloudformation.amazonaws.com", ""},
		{"administration role missing", "true", "Other", "", true, false, "222222222222", "administration-role", "NoSuchEntity", "create AWSCloudFormationStackSetAdministrationRole in 111111111111 trusting cloudformation.amazonaws.com"},
		{"administration role trusts no service", "true", wrongTrust, "", true, false, "222222222222", "administration-role", "does not trust cloudformation.amazonaws.com", "let cloudformation.amazonaws.com assume"},
		{"execution role ok", "true", adminRole, "", true, false, "222222222222", "execution-role", "trusts 111111111111", ""},
		{"execution role trusts another account", "true", adminRole, "", true, false, "333333333333", "execution-role", "does not trust 111111111111", "let arn:aws:iam::111111111111:root (the StackSet administrator account) assume"},
		{"trusted access on", "true", adminRole, "", false, true, "", "trusted-access", "enabled", ""},
		{"trusted access off", "false", adminRole, "", false, true, "", "trusted-access", "not enabled", "aws cloudformation activate-organizations-access"},
		{"delegated administrator registered", "true", adminRole, "444444444444", false, true, "", "delegated-admin", "is a delegated administrator", ""},
		{"delegated administrator not registered", "true", adminRole, "555555555555", false, true, "", "delegated-admin", "is not the management account", "register-delegated-administrator --service-principal member.org.stacksets.cloudformation.amazonaws.com --account-id 555555555555"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			mgmt := fixtureSandbox(t, fmt.Sprintf(prereqOrg, tt.trustedAccess, tt.masterRoles))
			cfg, callerID := mgmt, "111111111111"
			if tt.caller != "" {
				cfg, callerID = assumeRole(t, mgmt, "arn:aws:iam::"+tt.caller+":role/Deployer"), tt.caller
			}
			o := TargetsOptions{TopicArn: testTopic, MasterAccountID: "111111111111", Regions: []string{"us-east-1"}}
			if tt.accounts {
				o.Accounts = []string{tt.account}
			}
			if tt.orgUnits {
				roots, err := organizations.NewFromConfig(mgmt).ListRoots(ctx, &organizations.ListRootsInput{})
				if err != nil {
					t.Fatal(err)
				}
				o.OrganizationalUnits = []string{aws.ToString(roots.Roots[0].Id)}
			}
			pf := &Preflight{Master: cfg, MasterAccountID: callerID,
				Assume: func(ctx context.Context, account, role, _ string) (aws.Config, error) {
					c := mgmt.Copy()
					c.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(mgmt), "arn:aws:iam::"+account+":role/"+role))
					_, err := c.Credentials.Retrieve(ctx)
					return c, err
				}}
			var got *Check
			for _, c := range pf.Run(ctx, o) {
				if c.Name == tt.check && (got == nil || c.Account == tt.account) {
					got = &c
				}
			}
			switch {
			case got == nil:
				t.Fatalf("Preflight.Run: no %s check", tt.check)
			case got.OK != (tt.fixHas == ""):
				t.Errorf("%s check OK = %v, want %v: %s; fix: %s", tt.check, got.OK, tt.fixHas == "", got.Detail, got.Fix)
			case !strings.Contains(got.Detail, tt.want):
				t.Errorf("%s check detail = %q, want it to say %q", tt.check, got.Detail, tt.want)
			case !strings.Contains(got.Fix, tt.fixHas):
				t.Errorf("%s check fix = %q, want it to say %q", tt.check, got.Fix, tt.fixHas)
			}
		})
	}
}

// TestPreflightServiceManagedSkipsManagementAccount: service-managed StackSets never deploy to
// the management account, even when it is under a target OU (the CloudFormation API
// reference, DeploymentTargets), so preflight checks the member accounts only.
func TestPreflightServiceManagedSkipsManagementAccount(t *testing.T) {
	ctx := context.Background()
	mgmt := fixtureSandbox(t, fmt.Sprintf(prereqOrg, "true", "AWSCloudFormationStackSetAdministrationRole"))
	roots, err := organizations.NewFromConfig(mgmt).ListRoots(ctx, &organizations.ListRootsInput{})
	if err != nil {
		t.Fatal(err)
	}
	o := TargetsOptions{TopicArn: testTopic, MasterAccountID: "111111111111", Regions: []string{"us-east-1"},
		OrganizationalUnits: []string{aws.ToString(roots.Roots[0].Id)}}
	pf := &Preflight{Master: mgmt, MasterAccountID: "111111111111",
		Assume: func(ctx context.Context, account, role, _ string) (aws.Config, error) {
			c := mgmt.Copy()
			c.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(mgmt), "arn:aws:iam::"+account+":role/"+role))
			_, err := c.Credentials.Retrieve(ctx)
			return c, err
		}}
	targets := map[string]bool{}
	for _, c := range pf.Run(ctx, o) {
		switch c.Name { // the checks of a stack instance's account (the master has its own)
		case "reach-account", "rule-collision", "audit-role-collision":
			targets[c.Account] = true
		}
	}
	if targets["111111111111"] {
		t.Errorf("preflight checked the management account as a stack instance target: %v", targets)
	}
	if !targets["222222222222"] || !targets["555555555555"] {
		t.Errorf("preflight targets %v, want the member accounts 222222222222 and 555555555555 among them", targets)
	}
}
