package sandbox

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

func TestAssumeRole(t *testing.T) {
	ts := newTestSandbox(t, Options{})
	ctx := context.Background()
	client := sts.NewFromConfig(ts.mgmtConfig())
	adminARN := "arn:aws:iam::111111111111:user/sandbox-admin"

	id, err := client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if *id.Account != "111111111111" || *id.Arn != adminARN {
		t.Errorf("GetCallerIdentity with management credentials = %s %s, want 111111111111 %s", *id.Account, *id.Arn, adminARN)
	}

	t.Run("success", func(t *testing.T) {
		out, err := client.AssumeRole(ctx, &sts.AssumeRoleInput{
			RoleArn:         aws.String("arn:aws:iam::222222222222:role/KeyageAuditRole"),
			RoleSessionName: aws.String("keyage-scan"),
		})
		if err != nil {
			t.Fatal(err)
		}
		c := out.Credentials
		if !strings.HasPrefix(*c.AccessKeyId, "ASIA") || *c.SessionToken == "" || *c.SecretAccessKey == "" {
			t.Errorf("credentials %s / token %q, want ASIA... and a session token", *c.AccessKeyId, *c.SessionToken)
		}
		if want := ts.clock.Now().Add(time.Hour); !c.Expiration.Equal(want) {
			t.Errorf("Expiration %v, want %v", c.Expiration, want)
		}
		wantARN := "arn:aws:sts::222222222222:assumed-role/KeyageAuditRole/keyage-scan"
		if *out.AssumedRoleUser.Arn != wantARN || !strings.HasSuffix(*out.AssumedRoleUser.AssumedRoleId, ":keyage-scan") {
			t.Errorf("AssumedRoleUser = %s %s, want %s AROA...:keyage-scan", *out.AssumedRoleUser.Arn, *out.AssumedRoleUser.AssumedRoleId, wantARN)
		}
		who, err := sts.NewFromConfig(ts.config(*c.AccessKeyId, *c.SecretAccessKey, *c.SessionToken)).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			t.Fatal(err)
		}
		if *who.Account != "222222222222" || *who.Arn != wantARN {
			t.Errorf("GetCallerIdentity with role credentials = %s %s, want 222222222222 %s", *who.Account, *who.Arn, wantARN)
		}
		// Without the session token, temporary credentials are not valid.
		_, err = sts.NewFromConfig(ts.config(*c.AccessKeyId, *c.SecretAccessKey, "")).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if code, _ := apiErr(t, err); code != "InvalidClientTokenId" {
			t.Errorf("temporary credentials without a token: %s, want InvalidClientTokenId", code)
		}
		// Members may not list the organization's accounts.
		_, err = organizations.NewFromConfig(ts.config(*c.AccessKeyId, *c.SecretAccessKey, *c.SessionToken)).ListAccounts(ctx, &organizations.ListAccountsInput{})
		if code, _ := apiErr(t, err); code != "AccessDeniedException" {
			t.Errorf("ListAccounts from a member account: %s, want AccessDeniedException", code)
		}
		// The credentials expire with the clock.
		ts.clock.Advance(time.Hour)
		_, err = sts.NewFromConfig(ts.config(*c.AccessKeyId, *c.SecretAccessKey, *c.SessionToken)).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if code, _ := apiErr(t, err); code != "ExpiredToken" {
			t.Errorf("expired credentials: %s, want ExpiredToken", code)
		}
	})

	for _, tt := range []struct {
		name, roleARN, session, externalID string
		wantCode, wantMsg                  string
	}{
		{
			name: "missing role", roleARN: "arn:aws:iam::333333333333:role/KeyageAuditRole", session: "keyage-scan",
			wantCode: "AccessDenied",
			wantMsg:  "User: " + adminARN + " is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::333333333333:role/KeyageAuditRole",
		},
		{
			name: "account outside the sandbox", roleARN: "arn:aws:iam::999999999999:role/KeyageAuditRole", session: "keyage-scan",
			wantCode: "AccessDenied",
			wantMsg:  "User: " + adminARN + " is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::999999999999:role/KeyageAuditRole",
		},
		{
			name: "external id missing", roleARN: "arn:aws:iam::444444444444:role/KeyageAuditRole", session: "keyage-scan",
			wantCode: "AccessDenied",
			wantMsg:  "User: " + adminARN + " is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::444444444444:role/KeyageAuditRole",
		},
		{
			name: "external id wrong", roleARN: "arn:aws:iam::444444444444:role/KeyageAuditRole", session: "keyage-scan", externalID: "guess",
			wantCode: "AccessDenied",
			wantMsg:  "User: " + adminARN + " is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::444444444444:role/KeyageAuditRole",
		},
		{name: "external id right", roleARN: "arn:aws:iam::444444444444:role/KeyageAuditRole", session: "keyage-scan", externalID: "s3cret-ext"},
		{
			name: "suspended account", roleARN: "arn:aws:iam::555555555555:role/KeyageAuditRole", session: "keyage-scan",
			wantCode: "AccessDenied",
			wantMsg:  "User: " + adminARN + " is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::555555555555:role/KeyageAuditRole",
		},
		{
			name: "session name with a space", roleARN: "arn:aws:iam::222222222222:role/KeyageAuditRole", session: "keyage scan",
			wantCode: "ValidationError",
			wantMsg:  "1 validation error detected: Value 'keyage scan' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*",
		},
		{
			name: "session name too short", roleARN: "arn:aws:iam::222222222222:role/KeyageAuditRole", session: "k",
			wantCode: "ValidationError",
			wantMsg:  "1 validation error detected: Value 'k' at 'roleSessionName' failed to satisfy constraint: Member must have length greater than or equal to 2",
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := &sts.AssumeRoleInput{RoleArn: aws.String(tt.roleARN), RoleSessionName: aws.String(tt.session)}
			if tt.externalID != "" {
				in.ExternalId = aws.String(tt.externalID)
			}
			_, err := client.AssumeRole(ctx, in)
			if tt.wantCode == "" {
				if err != nil {
					t.Fatalf("AssumeRole(%s) = %v, want success", tt.roleARN, err)
				}
				return
			}
			code, msg := apiErr(t, err)
			if code != tt.wantCode || msg != tt.wantMsg {
				t.Errorf("AssumeRole(%s, %q) error\n%s: %s\nwant\n%s: %s", tt.roleARN, tt.session, code, msg, tt.wantCode, tt.wantMsg)
			}
		})
	}
}

// TestAssumeRoleProvider runs the SDK's own assume-role credential provider end to end, as
// keyage does for every member account.
func TestAssumeRoleProvider(t *testing.T) {
	ts := newTestSandbox(t, Options{})
	ctx := context.Background()
	provider := stscreds.NewAssumeRoleProvider(sts.NewFromConfig(ts.mgmtConfig()), "arn:aws:iam::222222222222:role/KeyageAuditRole",
		func(o *stscreds.AssumeRoleOptions) { o.RoleSessionName = "keyage-provider" })
	cfg := aws.Config{Region: "us-east-1", Credentials: aws.NewCredentialsCache(provider), BaseEndpoint: aws.String(ts.url)}
	client := iam.NewFromConfig(cfg)
	for range 3 {
		out, err := client.ListUsers(ctx, &iam.ListUsersInput{})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Users) != 3 {
			t.Errorf("ListUsers in 222222222222 = %d users, want 3", len(out.Users))
		}
	}
	st := ts.Stats()
	if got := st.ByAPI["sts:AssumeRole"]; got != 1 {
		t.Errorf("sts:AssumeRole calls = %d, want 1 (the credentials are cached)", got)
	}
	if got := st.ByAccount["222222222222"]["iam:ListUsers"]; got != 3 {
		t.Errorf("iam:ListUsers calls by 222222222222 = %d, want 3", got)
	}
}

const trustOrg = `
managementAccountId: "111111111111"
accounts:
  - id: "111111111111"
  - id: "222222222222"
    roles:
      - KeyageAuditRole
      - name: OtherAccountOnly
        trust: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: {AWS: "arn:aws:iam::999999999999:root"}, Action: "sts:AssumeRole"}]}
      - name: AdminUserByArn
        trust: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: {AWS: "arn:aws:iam::111111111111:user/sandbox-admin"}, Action: "sts:AssumeRole"}]}
      - name: AccountId
        trust: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: {AWS: "111111111111"}, Action: "sts:AssumeRole"}]}
      - name: DeniedAdmin
        trust: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: {AWS: "*"}, Action: "sts:AssumeRole"}, {Effect: Deny, Principal: {AWS: "arn:aws:iam::111111111111:user/sandbox-admin"}, Action: "sts:AssumeRole"}]}
      - name: ServiceOnly
        trust: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: {Service: ssm.amazonaws.com}, Action: "sts:AssumeRole"}]}
      - name: OtherAction
        trust: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: {AWS: "arn:aws:iam::111111111111:root"}, Action: "sts:TagSession"}]}
      - name: OrgMembers
        trust: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: {AWS: "*"}, Action: "sts:AssumeRole", Condition: {StringEquals: {"aws:PrincipalOrgID": "o-sandbox"}}}]}
      - name: OtherOrg
        trust: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: {AWS: "*"}, Action: "sts:AssumeRole", Condition: {StringEquals: {"aws:PrincipalOrgID": "o-someoneelse"}}}]}
  - id: "333333333333"
    roles: [KeyageAuditRole]
`

// TestAssumeRoleTrustPolicy: AssumeRole evaluates the role's trust policy as AWS does; a
// role whose trust policy does not allow the caller cannot be assumed, whatever the caller's
// own permissions.
func TestAssumeRoleTrustPolicy(t *testing.T) {
	// The organization's id is derived from the management account: learn it, then name it.
	orgID := fixtureSandbox(t, trustOrg, Options{}).Server.org.id
	ts := fixtureSandbox(t, strings.ReplaceAll(trustOrg, "o-sandbox", orgID), Options{})
	if ts.Server.org.id != orgID {
		t.Fatalf("organization id %s, then %s: not derived from the fixture alone", orgID, ts.Server.org.id)
	}
	ctx := context.Background()
	mgmt := sts.NewFromConfig(ts.mgmtConfig())
	assume := func(client *sts.Client, roleARN string) error {
		_, err := client.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("keyage-scan")})
		return err
	}
	// A session of an audit role in another member account: its trust names the management
	// account, not this role.
	out, err := mgmt.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::333333333333:role/KeyageAuditRole"), RoleSessionName: aws.String("hop")})
	if err != nil {
		t.Fatal(err)
	}
	c := out.Credentials
	member := sts.NewFromConfig(ts.config(*c.AccessKeyId, *c.SecretAccessKey, *c.SessionToken))

	for _, tt := range []struct {
		name   string
		client *sts.Client
		role   string
		allow  bool
	}{
		{"the default trust names the management account", mgmt, "KeyageAuditRole", true},
		{"trust names another account", mgmt, "OtherAccountOnly", false},
		{"trust names the caller's user ARN", mgmt, "AdminUserByArn", true},
		{"trust names the caller's account id", mgmt, "AccountId", true},
		{"an explicit Deny wins over Allow *", mgmt, "DeniedAdmin", false},
		{"a Service principal is not a caller", mgmt, "ServiceOnly", false},
		{"an Allow of another action", mgmt, "OtherAction", false},
		{"aws:PrincipalOrgID of the caller's organization", mgmt, "OrgMembers", true},
		{"aws:PrincipalOrgID of another organization", mgmt, "OtherOrg", false},
		{"a member account's role session is not the management account", member, "KeyageAuditRole", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := assume(tt.client, "arn:aws:iam::222222222222:role/"+tt.role)
			if tt.allow {
				if err != nil {
					t.Fatalf("AssumeRole(%s) = %v, want success", tt.role, err)
				}
				return
			}
			if code, msg := apiErr(t, err); code != "AccessDenied" || !strings.Contains(msg, "is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::222222222222:role/"+tt.role) {
				t.Errorf("AssumeRole(%s) = %s: %s, want AccessDenied naming the role", tt.role, code, msg)
			}
		})
	}
}
