package sandbox

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
)

const rolesOrg = `
managementAccountId: "111111111111"
stackSetsTrustedAccess: false
accounts:
  - id: "111111111111"
    roles: [AWSCloudFormationStackSetAdministrationRole]
  - id: "222222222222"
    stackSetDelegatedAdmin: true
    roles:
      - KeyageAuditRole
      - name: Custom
        externalId: xyz
        trust: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: {AWS: "arn:aws:iam::999999999999:root"}, Action: "sts:AssumeRole"}]}
  - id: "333333333333"
`

func rolesSandbox(t *testing.T) *testSandbox {
	t.Helper()
	return fixtureSandbox(t, rolesOrg, Options{})
}

func TestGetRole(t *testing.T) {
	ts := rolesSandbox(t)
	ctx := context.Background()
	for _, tt := range []struct {
		name, account, role string
		wantTrust, wantErr  string
	}{
		{"administration role trusts CloudFormation", "111111111111", "AWSCloudFormationStackSetAdministrationRole",
			`{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow","Principal":{"Service":"cloudformation.amazonaws.com"}}],"Version":"2012-10-17"}`, ""},
		{"other roles trust the management account", "222222222222", "KeyageAuditRole",
			`{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:root"}}],"Version":"2012-10-17"}`, ""},
		{"the fixture's trust policy", "222222222222", "Custom",
			`{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::999999999999:root"}}],"Version":"2012-10-17"}`, ""},
		{"no such role", "222222222222", "Nope", "", "NoSuchEntity"},
		{"invalid name", "222222222222", "a b", "", "ValidationError"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, err := ts.iam(t, tt.account).GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(tt.role)})
			if tt.wantErr != "" {
				if code, _ := apiErr(t, err); code != tt.wantErr {
					t.Errorf("GetRole(%s) error %s, want %s", tt.role, code, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("GetRole(%s): %v", tt.role, err)
			}
			raw := aws.ToString(out.Role.AssumeRolePolicyDocument)
			doc, err := url.QueryUnescape(raw)
			if err != nil || raw == doc {
				t.Errorf("GetRole(%s) trust policy %q is not URL-encoded", tt.role, raw)
			}
			diff(t, "GetRole("+tt.role+") trust policy", doc, tt.wantTrust)
			diff(t, "GetRole("+tt.role+") ARN", aws.ToString(out.Role.Arn), "arn:aws:iam::"+tt.account+":role/"+tt.role)
		})
	}
}

func TestStackSetsOrganizationAccess(t *testing.T) {
	ts := rolesSandbox(t)
	ctx := context.Background()
	acc, err := ts.org().ListAWSServiceAccessForOrganization(ctx, &organizations.ListAWSServiceAccessForOrganizationInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(acc.EnabledServicePrincipals) != 0 {
		t.Errorf("ListAWSServiceAccessForOrganization with stackSetsTrustedAccess false = %d principals, want none", len(acc.EnabledServicePrincipals))
	}
	adm, err := ts.org().ListDelegatedAdministrators(ctx, &organizations.ListDelegatedAdministratorsInput{ServicePrincipal: aws.String(stackSetsPrincipal)})
	if err != nil {
		t.Fatal(err)
	}
	if len(adm.DelegatedAdministrators) != 1 || aws.ToString(adm.DelegatedAdministrators[0].Id) != "222222222222" {
		t.Errorf("ListDelegatedAdministrators = %+v, want 222222222222", adm.DelegatedAdministrators)
	}
	// Without trusted access, CloudFormation refuses service-managed StackSets.
	_, err = cloudformation.NewFromConfig(ts.mgmtConfig()).CreateStackSet(ctx, &cloudformation.CreateStackSetInput{
		StackSetName: aws.String("S"), TemplateBody: aws.String(`{"Resources":{"T":{"Type":"AWS::SNS::Topic"}}}`), PermissionModel: cftypes.PermissionModelsServiceManaged,
		AutoDeployment: &cftypes.AutoDeployment{Enabled: aws.Bool(false)}})
	if code, msg := apiErr(t, err); code != "ValidationError" || !strings.Contains(msg, "enable organizations access") {
		t.Errorf("CreateStackSet SERVICE_MANAGED without trusted access: %s %s", code, msg)
	}
	// A member that is not a delegated administrator may not ask.
	_, err = organizations.NewFromConfig(ts.assume(t, "333333333333")).ListDelegatedAdministrators(ctx, &organizations.ListDelegatedAdministratorsInput{})
	if code, _ := apiErr(t, err); code != "AccessDeniedException" {
		t.Errorf("ListDelegatedAdministrators from a member: %s, want AccessDeniedException", code)
	}
}
