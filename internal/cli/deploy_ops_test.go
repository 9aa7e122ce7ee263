package cli

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/configservice"
	configtypes "github.com/aws/aws-sdk-go-v2/service/configservice/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/keyage/keyage/internal/sandbox"
)

// deployOrg: the master account holds the StackSet administration role; 222 and 333 the
// execution role (and the audit role keyage run assumes); 444 lacks the execution role. The
// StackSet's audit role gets another name (--audit-role-name), since the fixture's exists.
const deployOrg = `
managementAccountId: "111111111111"
accounts:
  - id: "111111111111"
    name: master
    roles: [KeyageAuditRole, AWSCloudFormationStackSetAdministrationRole]
  - id: "222222222222"
    name: prod
    roles: [KeyageAuditRole, AWSCloudFormationStackSetExecutionRole]
    users:
      - name: alice
        keys: [{ageDays: 120, status: Active}]
  - id: "333333333333"
    name: staging
    roles: [KeyageAuditRole, AWSCloudFormationStackSetExecutionRole]
  - id: "444444444444"
    name: sandbox
    roles: [KeyageAuditRole]
`

const masterTopic = "arn:aws:sns:us-east-1:111111111111:access-key-rotation"

// squash collapses runs of spaces (tabwriter's padding) to one.
func squash(s string) string { return spaces.ReplaceAllString(s, " ") }

// topicKeyFlag is --topic-kms-key-arn with the key keyage deploy master printed on stderr: a
// topic encrypted with it can be published to only by roles that may use it.
func topicKeyFlag(t *testing.T, masterStderr string) []string {
	t.Helper()
	key := regexp.MustCompile(`topic key: (arn:aws:kms:us-east-1:111111111111:key/[a-z0-9-]+)`).FindStringSubmatch(masterStderr)
	if key == nil {
		t.Fatalf("deploy master printed no topic key:\n%s", masterStderr)
	}
	return []string{"--topic-kms-key-arn", key[1]}
}

var spaces = regexp.MustCompile(` {2,}`)

func deploySandbox(t *testing.T, fixture string) *sandbox.Server {
	t.Helper()
	path := filepath.Join(t.TempDir(), "org.yaml")
	if err := os.WriteFile(path, []byte(fixture), 0o644); err != nil {
		t.Fatal(err)
	}
	return sandboxEnvWith(t, path)
}

// mustRun runs keyage and fails the test unless it exits with want.
func mustRun(t *testing.T, want int, args ...string) (stdout, stderr string) {
	t.Helper()
	code, out, errOut := runCLI(t, args...)
	if code != want {
		t.Fatalf("keyage %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, out, errOut)
	}
	return out, errOut
}

func publishAs(t *testing.T, account string) error {
	t.Helper()
	cfg, err := assume(sdk(t), account)
	if err != nil {
		t.Fatalf("assume into %s: %v", account, err)
	}
	_, err = sns.NewFromConfig(cfg).Publish(context.Background(), &sns.PublishInput{TopicArn: aws.String(masterTopic), Message: aws.String("test")})
	return err
}

// instanceParameter reads a parameter of the instance's stack, as the target account sees it.
func instanceParameter(t *testing.T, account, key string) string {
	t.Helper()
	ctx := context.Background()
	in, err := cloudformation.NewFromConfig(sdk(t)).DescribeStackInstance(ctx, &cloudformation.DescribeStackInstanceInput{
		StackSetName: aws.String("AccessKeyRotationTarget"), StackInstanceAccount: aws.String(account), StackInstanceRegion: aws.String("us-east-1")})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := assume(sdk(t), account)
	if err != nil {
		t.Fatal(err)
	}
	out, err := cloudformation.NewFromConfig(cfg).DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: in.StackInstance.StackId})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range out.Stacks[0].Parameters {
		if aws.ToString(p.ParameterKey) == key {
			return aws.ToString(p.ParameterValue)
		}
	}
	return ""
}

// The seed's deployment end to end: master stack, StackSet, an update, status, destroy.
func TestDeployAndDestroyEndToEnd(t *testing.T) {
	srv := deploySandbox(t, deployOrg)

	out, stderr := mustRun(t, ExitOK, "deploy", "master", "--target-accounts", "222222222222,333333333333")
	keyFlag := topicKeyFlag(t, stderr)
	if strings.TrimSpace(out) != masterTopic {
		t.Errorf("deploy master printed %q, want the topic ARN", out)
	}
	for _, want := range []string{"(CREATE)", "Add", "NotificationTopic", "CREATE_COMPLETE"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("deploy master progress lacks %q:\n%s", want, stderr)
		}
	}
	out, stderr = mustRun(t, ExitOK, "deploy", "master", "--target-accounts", "222222222222,333333333333")
	if strings.TrimSpace(out) != masterTopic || !strings.Contains(stderr, "no changes") {
		t.Errorf("second deploy master: stdout %q, stderr:\n%s", out, stderr)
	}

	// The deployed policy decides cross-account publishing.
	if err := publishAs(t, "222222222222"); err != nil {
		t.Errorf("publish from a target account: %v", err)
	}
	if err := publishAs(t, "444444444444"); err == nil || !strings.Contains(err.Error(), "AuthorizationError") {
		t.Errorf("publish from an account the policy does not name: %v, want AuthorizationError", err)
	}
	// keyage run publishes its findings to the deployed topic.
	cfg := writeConfig(t, `
accounts: {organization: true}
receivers:
  - name: central-topic
    sns: {topicArn: "`+masterTopic+`"}
routes:
  - receivers: [central-topic]
`)
	srv.ResetRecords()
	mustRun(t, ExitOK, "run", "--config", cfg, "--state", filepath.Join(t.TempDir(), "keyage.db"), "--log-level", "error")
	if p := srv.Published(); len(p) != 1 || p[0].TopicArn != masterTopic || !strings.Contains(p[0].Message, `User "alice"`) {
		t.Errorf("keyage run published %+v, want alice's finding on the deployed topic", p)
	}

	targets := []string{"deploy", "targets", "--topic-arn", masterTopic, "--accounts", "222222222222,333333333333",
		"--regions", "us-east-1", "--audit-role-name", "KeyageStackSetAudit", "--max-concurrent-count", "2", "--failure-tolerance-count", "1"}
	targets = append(targets, keyFlag...)
	out, stderr = mustRun(t, ExitOK, targets...)
	for _, want := range []string{"222222222222 us-east-1 CURRENT SUCCEEDED", "333333333333 us-east-1 CURRENT SUCCEEDED"} {
		if !strings.Contains(squash(out), want) {
			t.Errorf("deploy targets output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(stderr, "(CREATE): SUCCEEDED") {
		t.Errorf("deploy targets progress:\n%s", stderr)
	}
	if got := instanceParameter(t, "222222222222", "MaxAccessKeyAge"); got != "90" {
		t.Errorf("MaxAccessKeyAge of the instance = %q, want 90", got)
	}
	if roles := srv.CloudFormationRoles("333333333333"); len(roles) != 2 {
		t.Errorf("roles the instance created in 333: %+v, want the remediation and audit roles", roles)
	}

	// The audit role the StackSet created is the one keyage scan assumes, with its ExternalId.
	out, _ = mustRun(t, ExitOK, "scan", "--accounts", "222222222222,333333333333", "--role-name", "KeyageStackSetAudit", "--output", "csv")
	if !strings.Contains(out, "alice") {
		t.Errorf("scan through the deployed audit role:\n%s", out)
	}

	// An update changes the parameter of every instance.
	out, stderr = mustRun(t, ExitOK, append(targets, "--max-access-key-age", "45", "--external-id", "s3cret-ext")...)
	if !strings.Contains(stderr, "(UPDATE): SUCCEEDED") || strings.Count(squash(out), "CURRENT SUCCEEDED") != 2 {
		t.Errorf("update: stdout:\n%s\nstderr:\n%s", out, stderr)
	}
	for _, acct := range []string{"222222222222", "333333333333"} {
		if got := instanceParameter(t, acct, "MaxAccessKeyAge"); got != "45" {
			t.Errorf("MaxAccessKeyAge of the instance in %s after the update = %q, want 45", acct, got)
		}
	}

	scan := []string{"scan", "--accounts", "333333333333", "--role-name", "KeyageStackSetAudit"}
	if _, stderr = mustRun(t, ExitAccountError, scan...); !strings.Contains(stderr, "333333333333") {
		t.Errorf("scan without the ExternalId the updated role requires:\n%s", stderr)
	}
	mustRun(t, ExitOK, append(scan, "--external-id", "s3cret-ext")...)

	out, _ = mustRun(t, ExitOK, "deploy", "status", "--drift")
	for _, want := range []string{"Master stack AccessKeyRotationMaster: CREATE_COMPLETE", "TopicArn: " + masterTopic,
		"drift: IN_SYNC", "StackSet AccessKeyRotationTarget: ACTIVE, SELF_MANAGED, 2 instance(s)", "MaxAccessKeyAge: 45",
		"222222222222 us-east-1 CURRENT SUCCEEDED IN_SYNC"} {
		if !strings.Contains(squash(out), want) {
			t.Errorf("deploy status lacks %q:\n%s", want, out)
		}
	}

	// The master stack is not deleted under the instances, unless forced.
	_, stderr = mustRun(t, ExitAccountError, "destroy", "master")
	if !strings.Contains(stderr, "still has 2 instance(s)") || !strings.Contains(stderr, "222222222222/us-east-1") {
		t.Errorf("destroy master with instances:\n%s", stderr)
	}
	if err := publishAs(t, "222222222222"); err != nil {
		t.Errorf("the refused destroy removed the topic: %v", err)
	}
	mustRun(t, ExitOK, "destroy", "master", "--force")
	if err := publishAs(t, "222222222222"); err == nil || !strings.Contains(err.Error(), "NotFound") {
		t.Errorf("publish after destroy master: %v, want NotFound", err)
	}

	mustRun(t, ExitOK, "destroy", "targets")
	if roles := srv.CloudFormationRoles("333333333333"); len(roles) != 0 {
		t.Errorf("roles left in 333 after destroy targets: %+v", roles)
	}
	out, _ = mustRun(t, ExitOK, "deploy", "status")
	if !strings.Contains(out, "Master stack AccessKeyRotationMaster: not deployed") || !strings.Contains(out, "StackSet AccessKeyRotationTarget: not deployed") {
		t.Errorf("status after destroy:\n%s", out)
	}
	_, stderr = mustRun(t, ExitOK, "destroy", "targets")
	if !strings.Contains(stderr, "nothing to destroy") {
		t.Errorf("second destroy targets: %s", stderr)
	}
}

// destroy master without --force succeeds once the StackSet is gone.
func TestDestroyInOrder(t *testing.T) {
	deploySandbox(t, deployOrg)
	_, masterErr := mustRun(t, ExitOK, "deploy", "master", "--target-accounts", "222222222222")
	mustRun(t, ExitOK, append([]string{"deploy", "targets", "--topic-arn", masterTopic, "--accounts", "222222222222", "--regions", "us-east-1",
		"--audit-role-name", "KeyageStackSetAudit"}, topicKeyFlag(t, masterErr)...)...)
	mustRun(t, ExitOK, "destroy", "targets")
	_, stderr := mustRun(t, ExitOK, "destroy", "master")
	if !strings.Contains(stderr, "DELETE_COMPLETE") {
		t.Errorf("destroy master:\n%s", stderr)
	}
}

// CloudFormation's failures reach the user with the resource and the reason, exit 1.
func TestDeployFailuresShown(t *testing.T) {
	deploySandbox(t, deployOrg+`
  - id: "555555555555"
    name: taken
    roles: [KeyageAuditRole]
`)
	t.Run("missing execution role", func(t *testing.T) {
		mustRun(t, ExitOK, "deploy", "master", "--target-accounts", "444444444444")
		out, stderr := mustRun(t, ExitAccountError, "deploy", "targets", "--topic-arn", masterTopic, "--accounts", "444444444444",
			"--regions", "us-east-1", "--audit-role-name", "KeyageStackSetAudit", "--skip-preflight") // preflight would stop it first
		reason := "Account 444444444444 should have 'AWSCloudFormationStackSetExecutionRole' role with trust relationship to Role 'AWSCloudFormationStackSetAdministrationRole'."
		if !strings.Contains(squash(out), "444444444444 us-east-1 OUTDATED FAILED "+reason) {
			t.Errorf("instance table:\n%s", out)
		}
		if !strings.Contains(stderr, "444444444444/us-east-1 FAILED: "+reason) {
			t.Errorf("error:\n%s", stderr)
		}
		mustRun(t, ExitOK, "destroy", "targets")
		mustRun(t, ExitOK, "destroy", "master")
	})
	t.Run("rollback", func(t *testing.T) {
		// The topic name is taken by another stack: the master stack rolls back.
		mustRun(t, ExitOK, "deploy", "master", "--target-accounts", "222222222222", "--stack-name", "Other")
		_, stderr := mustRun(t, ExitAccountError, "deploy", "master", "--target-accounts", "222222222222")
		want := "keyage: stack AccessKeyRotationMaster: ROLLBACK_COMPLETE: NotificationTopic (AWS::SNS::Topic) CREATE_FAILED: " +
			`Resource handler returned message: "Resource of type 'AWS::SNS::Topic' with identifier '` + masterTopic + `' already exists." (HandlerErrorCode: AlreadyExists)`
		if !strings.Contains(stderr, want) {
			t.Errorf("deploy master error lacks\n%s\nstderr:\n%s", want, stderr)
		}
		out, _ := mustRun(t, ExitOK, "deploy", "status")
		if !strings.Contains(out, "AccessKeyRotationMaster: ROLLBACK_COMPLETE") || !strings.Contains(out, "failed: NotificationTopic (AWS::SNS::Topic) CREATE_FAILED") {
			t.Errorf("deploy status after the rollback:\n%s", out)
		}
		// Once the name is free, deploying again replaces the rolled back stack.
		mustRun(t, ExitOK, "destroy", "master", "--stack-name", "Other")
		_, stderr = mustRun(t, ExitOK, "deploy", "master", "--target-accounts", "222222222222")
		if !strings.Contains(stderr, "ROLLBACK_COMPLETE (its creation failed): deleting it") {
			t.Errorf("redeploy after a rollback:\n%s", stderr)
		}
		mustRun(t, ExitOK, "destroy", "master")
	})
	t.Run("validation error", func(t *testing.T) {
		_, stderr := mustRun(t, ExitAccountError, "deploy", "master", "--organization-id", "o-NOT_VALID")
		if !strings.Contains(stderr, "ValidationError: Parameter 'OrganizationId' must match pattern") {
			t.Errorf("validation error:\n%s", stderr)
		}
	})
	t.Run("usage", func(t *testing.T) {
		_, stderr := mustRun(t, ExitUsage, "deploy", "targets", "--topic-arn", masterTopic, "--accounts", "1234", "--regions", "us-east-1",
			"--maximum-execution-frequency", "Hourly")
		if !strings.Contains(stderr, `"1234" is not a 12-digit account id`) || !strings.Contains(stderr, `--maximum-execution-frequency "Hourly"`) {
			t.Errorf("usage errors:\n%s", stderr)
		}
	})
}

// e2eOrg: the target account has only the StackSet execution role; the audit and enforcement
// roles keyage uses there are the ones the StackSet deploys, with exactly their policies.
const e2eOrg = `
managementAccountId: "111111111111"
accounts:
  - id: "111111111111"
    name: master
    roles: [AWSCloudFormationStackSetAdministrationRole]
  - id: "222222222222"
    name: prod
    roles: [AWSCloudFormationStackSetExecutionRole]
    users:
      - name: alice
        keys: [{ageDays: 120, status: Active}]
      - name: bob
        keys: [{ageDays: 95, status: Active}]
      - name: carol
        keys: [{ageDays: 130, status: Active}]
`

// deploy -> scan through the deployed audit role -> remediation messages (the seed's two texts
// and the companion repository's SQS body) re-checked from the deployed queue -> enforcement
// through the deployed enforcement role -> destroy.
func TestDeployScanRemediateEnforceEndToEnd(t *testing.T) {
	deploySandbox(t, e2eOrg)
	ctx := context.Background()

	_, stderr := mustRun(t, ExitOK, "deploy", "master", "--target-accounts", "222222222222", "--subscribe-queue", "--events-receiver")
	if !strings.Contains(stderr, "events queue: ") || !strings.Contains(stderr, "EventsToQueueRule") {
		t.Errorf("deploy master --events-receiver:\n%s", stderr)
	}
	queue := ""
	for _, l := range strings.Split(stderr, "\n") {
		if q, ok := strings.CutPrefix(l, "queue: "); ok {
			queue = q
		}
	}
	if queue == "" {
		t.Fatalf("deploy master --subscribe-queue printed no queue:\n%s", stderr)
	}
	// The topic is encrypted with a customer-managed key by default; the remediation role may use it.
	keyFlag := topicKeyFlag(t, stderr)
	// The topic's region must be among the StackSet's.
	_, stderr = mustRun(t, ExitUsage, "deploy", "targets", "--topic-arn", masterTopic, "--accounts", "222222222222", "--regions", "eu-west-1")
	if !strings.Contains(stderr, "must include us-east-1") {
		t.Errorf("deploy targets outside the topic's region:\n%s", stderr)
	}
	out, _ := mustRun(t, ExitOK, append([]string{"deploy", "targets", "--topic-arn", masterTopic, "--accounts", "222222222222", "--regions", "us-east-1",
		"--enable-enforcement", "--max-concurrent-count", "2", "--forward-events"}, keyFlag...)...)
	if !strings.Contains(squash(out), "222222222222 us-east-1 CURRENT SUCCEEDED") {
		t.Fatalf("deploy targets:\n%s", out)
	}

	set, err := cloudformation.NewFromConfig(sdk(t)).DescribeStackSet(ctx, &cloudformation.DescribeStackSetInput{StackSetName: aws.String("AccessKeyRotationTarget")})
	if err != nil {
		t.Fatal(err)
	}
	params := map[string]string{}
	for _, p := range set.StackSet.Parameters {
		params[aws.ToString(p.ParameterKey)] = aws.ToString(p.ParameterValue)
	}
	if got := params["MasterEventBusArn"]; got != "arn:aws:events:us-east-1:111111111111:event-bus/default" {
		t.Errorf("MasterEventBusArn of the StackSet = %q, want the master's default bus", got)
	}
	out, _ = mustRun(t, ExitOK, "scan", "--accounts", "222222222222", "--output", "csv")
	for _, u := range []string{"alice", "bob", "carol"} {
		if !strings.Contains(out, u) {
			t.Errorf("scan through the deployed audit role lacks %s:\n%s", u, out)
		}
	}

	// The remediation messages a seed deployment sends: its two texts through the topic, the
	// companion repository's JSON body straight to the queue.
	var auditCfg aws.Config
	auditCfg, err = assume(sdk(t), "222222222222")
	if err != nil {
		t.Fatal(err)
	}
	carol, err := iam.NewFromConfig(auditCfg).GetUser(ctx, &iam.GetUserInput{UserName: aws.String("carol")})
	if err != nil {
		t.Fatal(err)
	}
	snsc := sns.NewFromConfig(sdk(t))
	for _, m := range []string{`Account "222222222222" User "alice" needs to rotate their access key.`,
		`Account "222222222222" User "bob" needs to rotate their Access Key`} {
		if _, err := snsc.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(masterTopic), Message: aws.String(m)}); err != nil {
			t.Fatal(err)
		}
	}
	body := `{"account_id": "222222222222", "resource_id": "` + aws.ToString(carol.User.UserId) + `", "resource_name": "carol"}`
	if _, err := sqs.NewFromConfig(sdk(t)).SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(queue), MessageBody: aws.String(body)}); err != nil {
		t.Fatal(err)
	}
	notices := filepath.Join(t.TempDir(), "notices.jsonl")
	cfg := writeConfig(t, `accounts: {ids: ["222222222222"]}
lifecycle: {deactivateAge: 100, deleteAge: 365}
enforce: {noticeDays: 0}
receivers: [{name: owners, file: {path: `+notices+`}}]
routes: [{receivers: [owners]}]
`)
	state := filepath.Join(t.TempDir(), "keyage.db")
	out, _ = mustRun(t, ExitOK, "remediate", "--config", cfg, "--state", state, "--events-queue", queue, "--log-level", "error")
	if !strings.Contains(out, "events: 3 handled, 0 ignored, 0 malformed, 0 failed") {
		t.Errorf("remediate --events-queue:\n%s", out)
	}
	for _, u := range []string{"alice", "bob", "carol"} {
		if !strings.Contains(out, " "+u+" (") {
			t.Errorf("remediate did not re-check %s:\n%s", u, out)
		}
	}
	if n := len(jsonLines(t, notices)); n < 3 {
		t.Errorf("notifications written: %d, want one per re-checked user", n)
	}

	// Enforcement through the deployed KeyageEnforceRole: alice (120 days) and carol (130).
	out, _ = mustRun(t, ExitOK, "enforce", "--config", cfg, "--state", state, "--apply", "--log-level", "error")
	if !strings.Contains(out, "2 applied") {
		t.Errorf("enforce through the deployed role:\n%s", out)
	}

	mustRun(t, ExitOK, "destroy", "targets")
	mustRun(t, ExitOK, "destroy", "master")
	if _, err := assume(sdk(t), "222222222222"); err == nil {
		t.Error("the audit role outlived destroy targets")
	}
}

// preflightOrg: each target lacks one prerequisite; 222 has them all.
const preflightOrg = `
managementAccountId: "111111111111"
accounts:
  - id: "111111111111"
    roles: [AWSCloudFormationStackSetAdministrationRole]
  - id: "222222222222"
    roles: [AWSCloudFormationStackSetExecutionRole]
  - id: "333333333333"
    roles: [AWSCloudFormationStackSetExecutionRole]
    configRecording: "off"
  - id: "444444444444"
    roles: [AWSCloudFormationStackSetExecutionRole]
    configRecording: no-iam
  - id: "555555555555"
    roles: [KeyageAuditRole]
  - id: "666666666666"
    roles: [AWSCloudFormationStackSetExecutionRole, KeyageAuditRole]
  - id: "777777777777"
    roles: [AWSCloudFormationStackSetExecutionRole]
    configRecording: none
regions:
  cn-north-1: {unavailableResourceTypes: ["AWS::Config::RemediationConfiguration"]}
`

func TestDeployPreflight(t *testing.T) {
	deploySandbox(t, preflightOrg)
	out, _ := mustRun(t, ExitOK, "deploy", "preflight", "--topic-arn", masterTopic, "--accounts", "222222222222", "--regions", "us-east-1")
	if out = squash(out); strings.Contains(out, "FAIL") || !strings.Contains(out, "ok config-recorder 222222222222/us-east-1") ||
		!strings.Contains(out, "ok administration-role 111111111111 role AWSCloudFormationStackSetAdministrationRole trusts cloudformation.amazonaws.com") ||
		!strings.Contains(out, "ok execution-role 222222222222 role AWSCloudFormationStackSetExecutionRole trusts 111111111111") {
		t.Errorf("preflight of a ready account:\n%s", out)
	}
	for _, tt := range []struct {
		name, account string
		regions       string
		want          string
	}{
		{"Config recorder off", "333333333333", "us-east-1", "FAIL config-recorder 333333333333/us-east-1 recorder default is not recording; fix: aws configservice start-configuration-recorder"},
		{"IAM not recorded", "444444444444", "us-east-1", "FAIL config-recorder 444444444444/us-east-1 recorder default does not record AWS::IAM::User"},
		{"no recorder", "777777777777", "us-east-1", "FAIL config-recorder 777777777777/us-east-1 no configuration recorder"},
		{"execution role missing", "555555555555", "us-east-1", "FAIL execution-role 555555555555 role AWSCloudFormationStackSetExecutionRole"},
		{"colliding audit role", "666666666666", "us-east-1", "FAIL audit-role-collision 666666666666 role KeyageAuditRole exists and no instance of AccessKeyRotationTarget created it; fix: give --audit-role-name"},
		{"resource type not offered", "222222222222", "us-east-1,cn-north-1", "FAIL resource-types 111111111111/cn-north-1 not offered: AWS::Config::RemediationConfiguration"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, out, stderr := runCLI(t, "deploy", "preflight", "--topic-arn", masterTopic, "--accounts", tt.account, "--regions", tt.regions)
			if code != ExitNonCompliant {
				t.Errorf("preflight: exit %d, want 3\n%s%s", code, out, stderr)
			}
			if !strings.Contains(squash(out), tt.want) {
				t.Errorf("preflight output lacks %q:\n%s", tt.want, out)
			}
		})
	}
	// An access-keys-rotated rule the StackSet did not create (the seed's) collides.
	exec, err := assumeAs(sdk(t), "222222222222", "AWSCloudFormationStackSetExecutionRole")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := configservice.NewFromConfig(exec).PutConfigRule(context.Background(), &configservice.PutConfigRuleInput{ConfigRule: &configtypes.ConfigRule{
		ConfigRuleName:            aws.String("access-keys-rotated"),
		Source:                    &configtypes.Source{Owner: configtypes.OwnerAws, SourceIdentifier: aws.String("ACCESS_KEYS_ROTATED")},
		InputParameters:           aws.String(`{"maxAccessKeyAge":"90"}`),
		MaximumExecutionFrequency: configtypes.MaximumExecutionFrequencyTwentyFourHours,
	}}); err != nil {
		t.Fatal(err)
	}
	out, _ = mustRun(t, ExitNonCompliant, "deploy", "preflight", "--topic-arn", masterTopic, "--accounts", "222222222222", "--regions", "us-east-1")
	if !strings.Contains(squash(out), "FAIL rule-collision 222222222222/us-east-1 rule access-keys-rotated exists (the seed's deployment?); fix: delete it (with the stack that created it)") {
		t.Errorf("preflight with an existing access-keys-rotated rule:\n%s", out)
	}
	// A missing administration role names the role to create.
	out, _ = mustRun(t, ExitNonCompliant, "deploy", "preflight", "--topic-arn", masterTopic, "--accounts", "222222222222", "--regions", "us-east-1",
		"--admin-role-arn", "arn:aws:iam::111111111111:role/StackSetAdmin")
	if !strings.Contains(squash(out), "FAIL administration-role 111111111111 get role StackSetAdmin: IAM:GetRole: NoSuchEntity") ||
		!strings.Contains(out, "fix: create StackSetAdmin in 111111111111 trusting cloudformation.amazonaws.com") {
		t.Errorf("preflight without the administration role:\n%s", out)
	}
	// deploy targets runs preflight first and stops on a failure.
	_, stderr := mustRun(t, ExitNonCompliant, "deploy", "targets", "--topic-arn", masterTopic, "--accounts", "333333333333", "--regions", "us-east-1")
	if !strings.Contains(stderr, "preflight: 1 check(s) failed") {
		t.Errorf("deploy targets with a failing preflight:\n%s", stderr)
	}
}

// The single-account deployment: the target template as one stack in this account.
func TestDeployAccountStack(t *testing.T) {
	srv := deploySandbox(t, deployOrg)
	mustRun(t, ExitOK, "deploy", "master", "--target-accounts", "111111111111")
	_, stderr := mustRun(t, ExitUsage, "deploy", "target", "--topic-arn", masterTopic)
	if !strings.Contains(stderr, "--account-stack") {
		t.Errorf("deploy target without --account-stack:\n%s", stderr)
	}
	_, stderr = mustRun(t, ExitUsage, "deploy", "target", "--account-stack", "--topic-arn", masterTopic, "--region", "eu-west-1")
	if !strings.Contains(stderr, "SNS refuses publishing to another region's topic") {
		t.Errorf("deploy target in another region than the topic:\n%s", stderr)
	}
	out, stderr := mustRun(t, ExitOK, "deploy", "target", "--account-stack", "--topic-arn", masterTopic,
		"--audit-role-name", "KeyageAccountAudit", "--enable-enforcement", "--enable-findings")
	if !strings.Contains(stderr, "AccessKeyRotationTargetAccount: CREATE_COMPLETE") ||
		!strings.Contains(out, "AuditRoleArn\tarn:aws:iam::111111111111:role/KeyageAccountAudit") ||
		!strings.Contains(out, "EnforceRoleArn\tarn:aws:iam::111111111111:role/KeyageEnforceRole") ||
		!strings.Contains(out, "FindingsRoleArn\tarn:aws:iam::111111111111:role/KeyageFindingsRole") {
		t.Errorf("deploy target --account-stack:\nstdout:\n%s\nstderr:\n%s", out, stderr)
	}
	names := map[string]bool{}
	for _, r := range srv.CloudFormationRoles("111111111111") {
		names[r.Name] = true
	}
	if !names["KeyageAccountAudit"] || !names["KeyageEnforceRole"] {
		t.Errorf("roles the account stack created: %v", names)
	}

	_, stderr = mustRun(t, ExitUsage, "destroy", "target")
	if !strings.Contains(stderr, "--account-stack") {
		t.Errorf("destroy target without --account-stack:\n%s", stderr)
	}
	_, stderr = mustRun(t, ExitOK, "destroy", "target", "--account-stack")
	if !strings.Contains(stderr, "AccessKeyRotationTargetAccount: DELETE_COMPLETE") {
		t.Errorf("destroy target --account-stack:\n%s", stderr)
	}
	if roles := srv.CloudFormationRoles("111111111111"); len(roles) != 0 {
		t.Errorf("roles left after destroy target --account-stack: %v", roles)
	}
	_, stderr = mustRun(t, ExitOK, "destroy", "target", "--account-stack")
	if !strings.Contains(stderr, "stack AccessKeyRotationTargetAccount does not exist: nothing to destroy") {
		t.Errorf("destroy target --account-stack a second time:\n%s", stderr)
	}
	mustRun(t, ExitOK, "destroy", "master")
}

// The AWS-managed SNS key is refused with the reason; none deploys an unencrypted topic; the
// remediation role may publish to the encrypted topic only with the key's ARN.
func TestDeployMasterKmsKey(t *testing.T) {
	srv := deploySandbox(t, deployOrg)
	_, stderr := mustRun(t, ExitUsage, "deploy", "master", "--target-accounts", "222222222222", "--kms-key", "alias/aws/sns")
	if !strings.Contains(stderr, "publishers in other accounts cannot be granted its use") {
		t.Errorf("deploy master --kms-key alias/aws/sns:\n%s", stderr)
	}
	_, stderr = mustRun(t, ExitOK, "deploy", "master", "--target-accounts", "222222222222", "--kms-key", "none")
	if strings.Contains(stderr, "topic key:") || strings.Contains(stderr, "AWS::KMS::Key") {
		t.Errorf("deploy master --kms-key none created a key:\n%s", stderr)
	}
	_, stderr = mustRun(t, ExitOK, "deploy", "master", "--target-accounts", "222222222222")
	if !strings.Contains(stderr, "Add     TopicKey") && !strings.Contains(squash(stderr), "Add TopicKey AWS::KMS::Key") {
		t.Errorf("deploy master after --kms-key none adds no key:\n%s", stderr)
	}
	keyFlag := topicKeyFlag(t, stderr)

	// The publisher is the deployed remediation role, with exactly its deployed policy: without
	// the key's ARN it may publish but not encrypt, so SNS refuses, as AWS does.
	targets := []string{"deploy", "targets", "--topic-arn", masterTopic, "--accounts", "222222222222", "--regions", "us-east-1",
		"--audit-role-name", "KeyageStackSetAudit", "--skip-preflight"}
	// Preflight names the missing key before anything is deployed, and passes with it.
	for _, tt := range []struct {
		args []string
		want string
	}{
		{nil, `(?m)^FAIL\s+topic-key\s.*no --topic-kms-key-arn was given; fix: pass --topic-kms-key-arn`},
		{keyFlag, `(?m)^ok\s+topic-key\s.*encrypted with`},
	} {
		args := append([]string{"deploy", "preflight", "--topic-arn", masterTopic, "--accounts", "222222222222", "--regions", "us-east-1",
			"--audit-role-name", "KeyageStackSetAudit"}, tt.args...)
		_, out, errOut := runCLI(t, args...)
		if !regexp.MustCompile(tt.want).MatchString(out + errOut) {
			t.Errorf("keyage %s: no line matching %s in:\n%s%s", strings.Join(args, " "), tt.want, out, errOut)
		}
	}
	mustRun(t, ExitOK, targets...)
	err := publishAsRemediationRole(t, srv, "222222222222")
	if err == nil || !strings.Contains(err.Error(), "KMSAccessDenied") || !strings.Contains(err.Error(), "kms:GenerateDataKey") {
		t.Errorf("publish as the remediation role without --topic-kms-key-arn: %v, want KMSAccessDenied", err)
	}
	mustRun(t, ExitOK, append(targets, keyFlag...)...)
	if err := publishAsRemediationRole(t, srv, "222222222222"); err != nil {
		t.Errorf("publish to the encrypted topic as the remediation role: %v", err)
	}
	mustRun(t, ExitOK, "destroy", "targets")
}

// publishAsRemediationRole publishes to the master topic as the remediation role the target
// stack deployed in account.
func publishAsRemediationRole(t *testing.T, srv *sandbox.Server, account string) error {
	t.Helper()
	name := ""
	for _, r := range srv.CloudFormationRoles(account) {
		if r.Policies["keyage-remediation"] != "" {
			name = r.Name
		}
	}
	if name == "" {
		t.Fatalf("no remediation role deployed in %s", account)
	}
	// The remediation role trusts ssm.amazonaws.com only (the automation's AutomationAssumeRole):
	// act as SSM does, which the sandbox allows only if the deployed trust policy lets SSM in.
	creds, err := srv.AssumeRoleAsService("ssm.amazonaws.com", "arn:aws:iam::"+account+":role/"+name)
	if err != nil {
		t.Fatalf("assume %s in %s as ssm.amazonaws.com: %v", name, account, err)
	}
	cfg := sdk(t).Copy()
	cfg.Credentials = credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken)
	_, err = sns.NewFromConfig(cfg).Publish(context.Background(), &sns.PublishInput{TopicArn: aws.String(masterTopic), Message: aws.String("test")})
	return err
}

// auditOnlyOrg: 222, in an OU, has no role until a service-managed StackSet deploys the audit
// role; preflight then reaches it only through that role.
const auditOnlyOrg = `
managementAccountId: "111111111111"
accounts:
  - id: "111111111111"
  - id: "222222222222"
    ou: Workloads
    roles: []
`

// Target-side preflight through the deployed audit role, with exactly the policy the
// StackSet gave it: the Config recorder checks are among what it allows.
func TestDeployPreflightThroughAuditRole(t *testing.T) {
	srv := deploySandbox(t, auditOnlyOrg)
	ctx := context.Background()
	org := organizations.NewFromConfig(sdk(t))
	roots, err := org.ListRoots(ctx, &organizations.ListRootsInput{})
	if err != nil {
		t.Fatal(err)
	}
	ous, err := org.ListOrganizationalUnitsForParent(ctx, &organizations.ListOrganizationalUnitsForParentInput{ParentId: roots.Roots[0].Id})
	if err != nil || len(ous.OrganizationalUnits) != 1 {
		t.Fatalf("list the OUs: %v %v", ous, err)
	}
	ou := aws.ToString(ous.OrganizationalUnits[0].Id)
	args := []string{"--topic-arn", masterTopic, "--org-units", ou, "--regions", "us-east-1"}
	out, _ := mustRun(t, ExitNonCompliant, append([]string{"deploy", "preflight"}, args...)...)
	if !strings.Contains(squash(out), "FAIL reach-account 222222222222/us-east-1") {
		t.Errorf("preflight before the deployment:\n%s", out)
	}
	mustRun(t, ExitOK, append([]string{"deploy", "targets", "--skip-preflight"}, args...)...)
	var deployed string
	for _, r := range srv.CloudFormationRoles("222222222222") {
		if r.Name == "KeyageAuditRole" {
			deployed = r.Policies["keyage-audit-read"]
		}
	}
	if !strings.Contains(deployed, "config:DescribeConfigurationRecorderStatus") {
		t.Fatalf("the deployed audit role's policy lacks the recorder reads: %q", deployed)
	}
	out, _ = mustRun(t, ExitOK, append([]string{"deploy", "preflight"}, args...)...)
	if !strings.Contains(squash(out), "ok config-recorder 222222222222/us-east-1 recorder default recording, IAM users included") {
		t.Errorf("preflight through the deployed audit role:\n%s", out)
	}
}

// The change-triggered plumbing end to end: a key changed in a target raises the CloudTrail
// event on us-east-1's default bus there; the deployed rule forwards it to the master's bus
// (its policy and the forwarding role allow it), whose rule sends it to the events queue (its
// policy allows the rule); keyage remediate --events-queue re-checks that user.
func TestDeployEventsReachKeyage(t *testing.T) {
	deploySandbox(t, deployOrg)
	ctx := context.Background()
	_, stderr := mustRun(t, ExitOK, "deploy", "master", "--target-accounts", "222222222222", "--events-receiver", "--kms-key", "none")
	m := regexp.MustCompile(`events queue: (\S+)`).FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("deploy master --events-receiver printed no events queue:\n%s", stderr)
	}
	queue := m[1]
	mustRun(t, ExitOK, "deploy", "targets", "--topic-arn", masterTopic, "--accounts", "222222222222", "--regions", "us-east-1",
		"--audit-role-name", "KeyageStackSetAudit", "--forward-events", "--skip-preflight")

	cfg, err := assume(sdk(t), "222222222222")
	if err != nil {
		t.Fatal(err)
	}
	client := iam.NewFromConfig(cfg)
	keys, err := client.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("alice")})
	if err != nil || len(keys.AccessKeyMetadata) == 0 {
		t.Fatalf("list alice's keys: %v %v", keys, err)
	}
	if _, err := client.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("alice"),
		AccessKeyId: keys.AccessKeyMetadata[0].AccessKeyId, Status: "Inactive"}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("alice")}); err != nil {
		t.Fatal(err)
	}

	notices := filepath.Join(t.TempDir(), "notices.jsonl")
	conf := writeConfig(t, `accounts: {ids: ["222222222222"]}
receivers: [{name: owners, file: {path: `+notices+`}}]
routes: [{receivers: [owners]}]
`)
	out, _ := mustRun(t, ExitOK, "remediate", "--config", conf, "--state", filepath.Join(t.TempDir(), "keyage.db"),
		"--events-queue", queue, "--log-level", "error")
	if !strings.Contains(out, "events: 2 handled, 0 ignored, 0 malformed, 0 failed") || !strings.Contains(out, " alice (") {
		t.Errorf("remediate --events-queue after UpdateAccessKey and CreateAccessKey in a target:\n%s", out)
	}
}
