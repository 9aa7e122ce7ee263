package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"

	"github.com/keyage/keyage/internal/deploy"
)

// The target template as keyage deployed it before the sandbox enforced AWS Config's rules
// (a Scope on the periodic-only ACCESS_KEYS_ROTATED) fails in the target account, with the
// reason shown by keyage deploy status; keyage's own template, without the Scope, succeeds.
func TestDeployScopeOnPeriodicRuleFails(t *testing.T) {
	srv := deploySandbox(t, deployOrg)
	ctx := context.Background()
	_, masterErr := mustRun(t, ExitOK, "deploy", "master", "--target-accounts", "222222222222")

	body, err := deploy.Target().YAML()
	if err != nil {
		t.Fatal(err)
	}
	source := "      Source:\n        Owner: AWS\n        SourceIdentifier: ACCESS_KEYS_ROTATED\n"
	if !strings.Contains(string(body), source) {
		t.Fatalf("target template lacks the rule's Source:\n%s", body)
	}
	scoped := strings.Replace(string(body), source, "      Scope:\n        ComplianceResourceTypes:\n          - AWS::IAM::User\n"+source, 1)

	client := cloudformation.NewFromConfig(sdk(t))
	param := func(k, v string) types.Parameter {
		return types.Parameter{ParameterKey: aws.String(k), ParameterValue: aws.String(v)}
	}
	if _, err := client.CreateStackSet(ctx, &cloudformation.CreateStackSetInput{
		StackSetName: aws.String(deploy.DefaultTargetStackSet), TemplateBody: aws.String(scoped),
		Parameters: []types.Parameter{param(deploy.ParamSNSTopicArn, masterTopic), param(deploy.ParamMasterAccountID, "111111111111"),
			param(deploy.ParamAuditRoleName, "KeyageStackSetAudit")},
		Capabilities:          []types.Capability{types.CapabilityCapabilityNamedIam},
		PermissionModel:       types.PermissionModelsSelfManaged,
		AdministrationRoleARN: aws.String("arn:aws:iam::111111111111:role/AWSCloudFormationStackSetAdministrationRole"),
		ExecutionRoleName:     aws.String("AWSCloudFormationStackSetExecutionRole"),
	}); err != nil {
		t.Fatal(err)
	}
	op, err := client.CreateStackInstances(ctx, &cloudformation.CreateStackInstancesInput{StackSetName: aws.String(deploy.DefaultTargetStackSet),
		Accounts: []string{"222222222222"}, Regions: []string{"us-east-1"}})
	if err != nil {
		t.Fatal(err)
	}
	guard := time.NewTimer(10 * time.Second) // against a hang, not a timing assertion
	defer guard.Stop()
	for {
		changed := srv.CloudFormationChanged()
		out, err := client.DescribeStackSetOperation(ctx, &cloudformation.DescribeStackSetOperationInput{
			StackSetName: aws.String(deploy.DefaultTargetStackSet), OperationId: op.OperationId})
		if err != nil {
			t.Fatal(err)
		}
		if s := out.StackSetOperation.Status; s != types.StackSetOperationStatusRunning && s != types.StackSetOperationStatusQueued {
			break
		}
		select {
		case <-changed:
		case <-guard.C:
			t.Fatal("stack instance still being created after 10s")
		}
	}

	out, _ := mustRun(t, ExitOK, "deploy", "status")
	want := "222222222222 us-east-1 OUTDATED FAILED ResourceLogicalId:AccessKeysRotatedRule, ResourceType:AWS::Config::ConfigRule, " +
		`ResourceStatusReason:Resource handler returned message: "A scope for this rule is not allowed because only a periodic frequency triggers this managed rule. (Service: Config, Status Code: 400)"`
	if !strings.Contains(squash(out), want) {
		t.Errorf("deploy status with a Scope on ACCESS_KEYS_ROTATED lacks\n%s\ngot:\n%s", want, out)
	}

	// keyage's template, without the Scope, replaces it and succeeds.
	mustRun(t, ExitOK, append([]string{"deploy", "targets", "--topic-arn", masterTopic, "--accounts", "222222222222", "--regions", "us-east-1",
		"--audit-role-name", "KeyageStackSetAudit"}, topicKeyFlag(t, masterErr)...)...)
	out, _ = mustRun(t, ExitOK, "deploy", "status")
	if !strings.Contains(squash(out), "222222222222 us-east-1 CURRENT SUCCEEDED") {
		t.Errorf("deploy status after deploying keyage's template:\n%s", out)
	}
}
