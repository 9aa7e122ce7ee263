package sandbox

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

const permissionsFixture = `
managementAccountId: "111111111111"
accounts:
  - id: "111111111111"
    name: management
    topics:
      - name: open-to-prod
        policy: {Statement: [{Effect: Allow, Principal: {AWS: "222222222222"}, Action: sns:Publish, Resource: "*"}]}
      - name: closed
  - id: "222222222222"
    name: prod
    roles:
      - name: KeyageAuditRole
        policy:
          Version: "2012-10-17"
          Statement:
            - {Effect: Allow, Action: ["iam:List*", "iam:GetUser", "iam:GetAccessKeyLastUsed"], Resource: "*"}
            - {Effect: Deny, Action: "iam:GetUser", Resource: "arn:aws:iam::*:user/secret/*"}
      - name: Publisher
        policy: '{"Statement":[{"Effect":"Allow","Action":"sns:Publish","Resource":"arn:aws:sns:*:111111111111:*"}]}'
      - name: Nothing
        policy: {Statement: [{Effect: Allow, Action: "sts:GetCallerIdentity", Resource: "*"}]}
      - name: Everything
      - name: Defaulted
    users:
      - {name: alice, path: /engineering/, keys: [{ageDays: 10}]}
      - {name: hidden, path: /secret/}
    topics: [{name: local}]
    queues: [local]
`

func newPermissionsSandbox(t *testing.T, opts Options) *testSandbox {
	t.Helper()
	return fixtureSandbox(t, permissionsFixture, opts)
}

// assumeRole returns a config acting through role in acct.
func (ts *testSandbox) assumeRole(t *testing.T, acct, role string) aws.Config {
	t.Helper()
	out, err := sts.NewFromConfig(ts.mgmtConfig()).AssumeRole(context.Background(), &sts.AssumeRoleInput{
		RoleArn: aws.String("arn:aws:iam::" + acct + ":role/" + role), RoleSessionName: aws.String("keyage-test")})
	if err != nil {
		t.Fatalf("AssumeRole %s in %s: %v", role, acct, err)
	}
	c := out.Credentials
	cfg := ts.config(*c.AccessKeyId, *c.SecretAccessKey, *c.SessionToken)
	cfg.RetryMaxAttempts = 1
	return cfg
}

func TestIdentityPolicies(t *testing.T) {
	ts := newPermissionsSandbox(t, Options{DefaultRolePolicies: map[string]string{
		"Defaulted": `{"Statement":[{"Effect":"Allow","Action":"iam:ListUsers","Resource":"*"}]}`}})
	ctx := context.Background()
	const prod = "222222222222"
	ctxARN := func(role string) string { return "arn:aws:sts::" + prod + ":assumed-role/" + role + "/keyage-test" }
	calls := map[string]func(cfg aws.Config) error{
		"ListUsers": func(cfg aws.Config) error {
			_, err := iam.NewFromConfig(cfg).ListUsers(ctx, &iam.ListUsersInput{})
			return err
		},
		"ListAccessKeys alice": func(cfg aws.Config) error {
			_, err := iam.NewFromConfig(cfg).ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("alice")})
			return err
		},
		"GetUser hidden": func(cfg aws.Config) error {
			_, err := iam.NewFromConfig(cfg).GetUser(ctx, &iam.GetUserInput{UserName: aws.String("hidden")})
			return err
		},
		"DeleteAccessKey alice": func(cfg aws.Config) error {
			_, err := iam.NewFromConfig(cfg).DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("alice"), AccessKeyId: aws.String("AKIAEXAMPLEEXAMPLE00")})
			return err
		},
		"ListAccounts": func(cfg aws.Config) error {
			_, err := organizations.NewFromConfig(cfg).ListAccounts(ctx, &organizations.ListAccountsInput{})
			return err
		},
		"GetCallerIdentity": func(cfg aws.Config) error {
			_, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			return err
		},
		"Publish local": func(cfg aws.Config) error {
			_, err := sns.NewFromConfig(cfg).Publish(ctx, &sns.PublishInput{TopicArn: aws.String("arn:aws:sns:us-east-1:" + prod + ":local"), Message: aws.String("m")})
			return err
		},
		"SendMessage local": func(cfg aws.Config) error {
			_, err := sqs.NewFromConfig(cfg).SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(ts.queueURL(prod, "local")), MessageBody: aws.String("m")})
			return err
		},
		"Publish open-to-prod": func(cfg aws.Config) error {
			_, err := sns.NewFromConfig(cfg).Publish(ctx, &sns.PublishInput{TopicArn: aws.String("arn:aws:sns:us-east-1:111111111111:open-to-prod"), Message: aws.String("m")})
			return err
		},
		"Publish closed": func(cfg aws.Config) error {
			_, err := sns.NewFromConfig(cfg).Publish(ctx, &sns.PublishInput{TopicArn: aws.String("arn:aws:sns:us-east-1:111111111111:closed"), Message: aws.String("m")})
			return err
		},
	}
	for _, tt := range []struct {
		role, call string
		code, msg  string // empty: allowed
	}{
		{"KeyageAuditRole", "ListUsers", "", ""},
		{"KeyageAuditRole", "ListAccessKeys alice", "", ""},
		{"KeyageAuditRole", "DeleteAccessKey alice", "AccessDenied", "User: " + ctxARN("KeyageAuditRole") +
			" is not authorized to perform: iam:DeleteAccessKey on resource: arn:aws:iam::222222222222:user/engineering/alice" +
			" because no identity-based policy allows the iam:DeleteAccessKey action"},
		{"KeyageAuditRole", "GetUser hidden", "AccessDenied", "User: " + ctxARN("KeyageAuditRole") +
			" is not authorized to perform: iam:GetUser on resource: arn:aws:iam::222222222222:user/secret/hidden" +
			" with an explicit deny in an identity-based policy"},
		{"KeyageAuditRole", "ListAccounts", "AccessDeniedException", "User: " + ctxARN("KeyageAuditRole") +
			" is not authorized to perform: organizations:ListAccounts because no identity-based policy allows the organizations:ListAccounts action"},
		{"Nothing", "GetCallerIdentity", "", ""},
		{"Nothing", "ListUsers", "AccessDenied", ""},
		// In the resource's own account, its policy (AWS's default topic policy; an empty
		// queue policy) is enough, or not.
		{"Nothing", "Publish local", "", ""},
		{"Nothing", "SendMessage local", "AccessDenied", ""},
		// Across accounts both must allow.
		{"Nothing", "Publish open-to-prod", "AuthorizationError", "User: " + ctxARN("Nothing") +
			" is not authorized to perform: sns:Publish on resource: arn:aws:sns:us-east-1:111111111111:open-to-prod because no identity-based policy allows the sns:Publish action"},
		{"Publisher", "Publish open-to-prod", "", ""},
		{"Publisher", "Publish closed", "AuthorizationError", "User: " + ctxARN("Publisher") +
			" is not authorized to perform: SNS:Publish on resource: arn:aws:sns:us-east-1:111111111111:closed because no resource-based policy allows the SNS:Publish action"},
		{"Everything", "DeleteAccessKey alice", "NoSuchEntity", ""}, // allowed; the key does not exist
		{"Defaulted", "ListUsers", "", ""},
		{"Defaulted", "ListAccessKeys alice", "AccessDenied", ""},
	} {
		t.Run(tt.role+" "+tt.call, func(t *testing.T) {
			err := calls[tt.call](ts.assumeRole(t, prod, tt.role))
			if tt.code == "" {
				if err != nil {
					t.Fatalf("%s through %s: %v, want it allowed", tt.call, tt.role, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("%s through %s succeeded, want %s", tt.call, tt.role, tt.code)
			}
			code, msg := apiErr(t, err)
			if code != tt.code || (tt.msg != "" && msg != tt.msg) {
				t.Errorf("%s through %s: %s: %s\nwant %s: %s", tt.call, tt.role, code, msg, tt.code, tt.msg)
			}
		})
	}
	// The management credentials stay allowed everything.
	for _, name := range []string{"ListUsers", "ListAccounts", "Publish closed"} {
		if err := calls[name](ts.mgmtConfig()); err != nil {
			t.Errorf("%s with the management credentials: %v", name, err)
		}
	}
}

func TestRolePolicyErrors(t *testing.T) {
	for _, tt := range []struct {
		name    string
		fixture string
		opts    Options
		want    string
	}{
		{"fixture policy without Resource",
			"managementAccountId: \"111111111111\"\naccounts:\n  - id: \"111111111111\"\n    roles: [{name: R, policy: {Statement: [{Effect: Allow, Action: \"*\"}]}}]\n",
			Options{}, "x.yaml:4: accounts[0].roles[0].policy: statement 0: missing Resource"},
		{"fixture policy with a Principal",
			"managementAccountId: \"111111111111\"\naccounts:\n  - id: \"111111111111\"\n    roles: [{name: R, policy: '{\"Statement\":{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"*\",\"Resource\":\"*\"}}'}]\n",
			Options{}, "an identity-based policy has no Principal"},
		{"default policy not JSON", "managementAccountId: \"111111111111\"\naccounts: []\n",
			Options{DefaultRolePolicies: map[string]string{"KeyageAuditRole": "{"}}, "default policy of role KeyageAuditRole: policy is not a JSON object"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ParseFixture([]byte(tt.fixture), "x.yaml")
			if err == nil {
				tt.opts.Fixture = f
				_, err = New(tt.opts)
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestEvaluateIdentity covers the statement elements and condition operators keyage's
// policies use.
func TestEvaluateIdentity(t *testing.T) {
	req := policyRequest{action: "iam:DeleteAccessKey", resource: "arn:aws:iam::222222222222:user/engineering/alice",
		account: "222222222222", orgID: "o-abc", arns: []string{"arn:aws:sts::222222222222:assumed-role/R/s", "arn:aws:iam::222222222222:role/R"}}
	assume := req
	assume.action, assume.resource, assume.externalID, assume.hasExternalID = "sts:AssumeRole", "arn:aws:iam::333333333333:role/KeyageAuditRole", "ext-1", true
	for _, tt := range []struct {
		name   string
		policy string
		req    policyRequest
		want   policyDecision
	}{
		{"exact action and resource", `{"Effect":"Allow","Action":"iam:DeleteAccessKey","Resource":"arn:aws:iam::222222222222:user/engineering/alice"}`, req, policyAllow},
		{"action case-insensitive", `{"Effect":"Allow","Action":"IAM:deleteaccesskey","Resource":"*"}`, req, policyAllow},
		{"action wildcards", `{"Effect":"Allow","Action":["iam:Delete*Key","s3:*"],"Resource":"*"}`, req, policyAllow},
		{"action ? wildcard", `{"Effect":"Allow","Action":"iam:DeleteAccessKe?","Resource":"*"}`, req, policyAllow},
		{"another action", `{"Effect":"Allow","Action":"iam:UpdateAccessKey","Resource":"*"}`, req, policyNone},
		{"NotAction", `{"Effect":"Allow","NotAction":"iam:Get*","Resource":"*"}`, req, policyAllow},
		{"NotAction excludes it", `{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}`, req, policyNone},
		{"resource wildcard", `{"Effect":"Allow","Action":"iam:*","Resource":"arn:aws:iam::*:user/*"}`, req, policyAllow},
		{"another path", `{"Effect":"Allow","Action":"iam:*","Resource":"arn:aws:iam::*:user/ops/*"}`, req, policyNone},
		{"NotResource", `{"Effect":"Allow","Action":"iam:*","NotResource":"arn:aws:iam::*:user/ops/*"}`, req, policyAllow},
		{"explicit deny wins", `[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":"iam:Delete*","Resource":"*"}]`, req, policyDeny},
		{"StringEquals PrincipalOrgID", `{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-abc"}}}`, req, policyAllow},
		{"StringEquals another org", `{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-xyz"}}}`, req, policyNone},
		{"StringLike SourceAccount", `{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringLike":{"aws:SourceAccount":"2222*"}}}`, req, policyAllow},
		{"ArnLike PrincipalArn", `{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/R"}}}`, req, policyAllow},
		{"Bool SecureTransport false", `{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}`, req, policyDeny},
		{"Bool SecureTransport true", `{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"true"}}}`, req, policyNone},
		{"sts:ExternalId", `{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"arn:aws:iam::*:role/KeyageAuditRole","Condition":{"StringEquals":{"sts:ExternalId":"ext-1"}}}`, assume, policyAllow},
		{"sts:ExternalId absent", `{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*","Condition":{"StringEquals":{"sts:ExternalId":"ext-1"}}}`, req, policyNone},
		{"unknown operator never matches", `{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"NumericEquals":{"aws:PrincipalOrgID":"1"}}}`, req, policyNone},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, err := parseIdentityPolicy(`{"Version":"2012-10-17","Statement":` + tt.policy + `}`)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.evaluateIdentity(tt.req); got != tt.want {
				t.Errorf("evaluateIdentity(%s on %s) = %v, want %v", tt.req.action, tt.req.resource, got, tt.want)
			}
		})
	}
}

func TestManagedPolicies(t *testing.T) {
	for arn := range managedPolicies {
		if managedPolicy(arn) == nil {
			t.Errorf("managedPolicy(%s) = nil", arn)
		}
	}
	p := managedPolicy("arn:aws-us-gov:iam::aws:policy/service-role/AmazonSSMAutomationRole")
	if p == nil {
		t.Fatal("AmazonSSMAutomationRole in aws-us-gov: not found")
	}
	for _, tt := range []struct {
		action, resource string
		want             policyDecision
	}{
		{"ssm:StartAutomationExecution", "*", policyAllow},
		{"sns:Publish", "arn:aws:sns:us-east-1:1:AutomationTopic", policyAllow},
		{"sns:Publish", "arn:aws:sns:us-east-1:1:access-key-rotation", policyNone},
		{"iam:DeleteAccessKey", "*", policyNone},
	} {
		if got := p.evaluateIdentity(policyRequest{action: tt.action, resource: tt.resource, arns: []string{"x"}}); got != tt.want {
			t.Errorf("AmazonSSMAutomationRole: %s on %s = %v, want %v", tt.action, tt.resource, got, tt.want)
		}
	}
}

// TestStackRolePolicies assumes a role a CloudFormation stack created, with an inline policy
// and a managed policy, and checks what it may do.
func TestStackRolePolicies(t *testing.T) {
	ts := newPermissionsSandbox(t, Options{})
	ts.SetCloudFormationDelay(0)
	ctx := context.Background()
	cf := cloudformation.NewFromConfig(ts.mgmtConfig())
	const template = `
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      RoleName: StackRole
      AssumeRolePolicyDocument: {Statement: [{Effect: Allow, Principal: {AWS: "arn:aws:iam::111111111111:root"}, Action: sts:AssumeRole}]}
      ManagedPolicyArns: [arn:aws:iam::aws:policy/service-role/AmazonSSMAutomationRole]
      Policies:
        - PolicyName: read-users
          PolicyDocument: {Version: "2012-10-17", Statement: [{Effect: Allow, Action: iam:ListUsers, Resource: "*"}]}
`
	if _, err := cf.CreateStack(ctx, &cloudformation.CreateStackInput{StackName: aws.String("roles"), TemplateBody: aws.String(template),
		Capabilities: []cfntypes.Capability{cfntypes.CapabilityCapabilityNamedIam}}); err != nil {
		t.Fatal(err)
	}
	ts.await(t, "stack roles", func() bool {
		out, err := cf.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String("roles")})
		if err != nil {
			t.Fatal(err)
		}
		if st := out.Stacks[0].StackStatus; st == cfntypes.StackStatusCreateComplete {
			return true
		} else if !strings.HasSuffix(string(st), "_IN_PROGRESS") {
			t.Fatalf("stack roles: %s", st)
		}
		return false
	})
	cfg := ts.assumeRole(t, "111111111111", "StackRole")
	if _, err := iam.NewFromConfig(cfg).ListUsers(ctx, &iam.ListUsersInput{}); err != nil {
		t.Errorf("ListUsers through the stack's role (inline policy): %v", err)
	}
	_, err := sns.NewFromConfig(cfg).Publish(ctx, &sns.PublishInput{TopicArn: aws.String("arn:aws:sns:us-east-1:222222222222:local"), Message: aws.String("m")})
	if code, _ := apiErr(t, err); code != "AuthorizationError" {
		t.Errorf("Publish to another account's topic through the stack's role: %s, want AuthorizationError", code)
	}
	_, err = iam.NewFromConfig(cfg).DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("nobody")})
	if code, _ := apiErr(t, err); code != "AccessDenied" {
		t.Errorf("DeleteUser through the stack's role: %s, want AccessDenied", code)
	}
}
