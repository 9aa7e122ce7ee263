package sandbox

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
)

// cfnFixture: the management account holds the StackSet administration role; 222 has the
// execution role, 333 does not; 444 sits in an OU for service-managed StackSets.
func cfnFixture() *Fixture {
	roles := func(names ...string) []FixtureRole {
		out := []FixtureRole{{Name: DefaultAuditRoleName}}
		for _, n := range names {
			out = append(out, FixtureRole{Name: n})
		}
		return out
	}
	return &Fixture{
		ManagementAccountID: "111111111111",
		Accounts: []FixtureAccount{
			{ID: "111111111111", Name: "master", Roles: roles("AWSCloudFormationStackSetAdministrationRole"),
				Topics: []FixtureTopic{{Name: "taken"}}},
			{ID: "222222222222", Name: "prod", OU: "Workloads", Roles: roles("AWSCloudFormationStackSetExecutionRole")},
			{ID: "333333333333", Name: "legacy", Roles: roles()},
			{ID: "444444444444", Name: "dev", OU: "Workloads/Dev", Roles: roles()},
		},
	}
}

func newCFNSandbox(t *testing.T) (*testSandbox, *cloudformation.Client) {
	t.Helper()
	ts := newHeldSandbox(t, Options{Fixture: cfnFixture()})
	ts.SetCloudFormationDelay(5 * time.Millisecond)
	return ts, cloudformation.NewFromConfig(ts.mgmtConfig())
}

// The seed's master stack, hand-written in the YAML short form.
const topicTemplate = `
AWSTemplateFormatVersion: "2010-09-09"
Description: test topic
Parameters:
  TopicName: {Type: String, Default: rotation}
  TargetAccounts: {Type: CommaDelimitedList}
  WithQueue: {Type: String, Default: "false", AllowedValues: ["true", "false"]}
  Fail: {Type: String, Default: ""}
Conditions:
  CreateQueue: !Equals [!Ref WithQueue, "true"]
  Failing: !Not [!Equals [!Ref Fail, ""]]
Resources:
  Topic:
    Type: AWS::SNS::Topic
    Properties:
      TopicName: !Ref TopicName
      DisplayName: !Sub "${AWS::StackName} topic in ${AWS::Region}"
  Policy:
    Type: AWS::SNS::TopicPolicy
    Properties:
      Topics: [!Ref Topic]
      PolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal:
              AWS: !Split [",", !Join ["", ["arn:aws:iam::", !Join [":root,arn:aws:iam::", !Ref TargetAccounts], ":root"]]]
            Action: sns:Publish
            Resource: !Ref Topic
  Queue:
    Type: AWS::SQS::Queue
    Condition: CreateQueue
    Properties:
      QueueName: !Sub "${TopicName}-queue"
  Subscription:
    Type: AWS::SNS::Subscription
    Condition: CreateQueue
    Properties:
      Protocol: sqs
      TopicArn: !Ref Topic
      Endpoint: !GetAtt Queue.Arn
  Rule:
    Type: AWS::Config::ConfigRule
    DependsOn: Policy
    Properties:
      ConfigRuleName: !Select [0, !Split ["/", !Sub "rule-${TopicName}/x"]]
  Broken:
    Type: AWS::SSM::Document
    Condition: Failing
    DependsOn: Rule
    Properties:
      KeyageSandboxFail: !Ref Fail
Outputs:
  TopicArn: {Value: !Ref Topic}
  RuleArn: {Value: !GetAtt Rule.Arn}
  QueueUrl: {Condition: CreateQueue, Value: !Ref Queue}
`

func cfnParams(kv ...string) []cfntypes.Parameter {
	var out []cfntypes.Parameter
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, cfntypes.Parameter{ParameterKey: aws.String(kv[i]), ParameterValue: aws.String(kv[i+1])})
	}
	return out
}

// waitStack waits until the stack leaves its _IN_PROGRESS status, returning the statuses seen.
func waitStack(t *testing.T, ts *testSandbox, client *cloudformation.Client, name string) (cfntypes.Stack, []string) {
	t.Helper()
	var seen []string
	var st cfntypes.Stack
	ts.await(t, "stack "+name, func() bool {
		out, err := client.DescribeStacks(context.Background(), &cloudformation.DescribeStacksInput{StackName: aws.String(name)})
		if err != nil {
			t.Fatalf("DescribeStacks(%s): %v", name, err)
		}
		st = out.Stacks[0]
		status := string(st.StackStatus)
		if len(seen) == 0 || seen[len(seen)-1] != status {
			seen = append(seen, status)
		}
		return !strings.HasSuffix(status, "_IN_PROGRESS") || status == "REVIEW_IN_PROGRESS"
	})
	return st, seen
}

// events returns "Logical STATUS [reason]" oldest first.
func stackEvents(t *testing.T, client *cloudformation.Client, name string) []string {
	t.Helper()
	out, err := client.DescribeStackEvents(context.Background(), &cloudformation.DescribeStackEventsInput{StackName: aws.String(name)})
	if err != nil {
		t.Fatalf("DescribeStackEvents: %v", err)
	}
	var lines []string
	for i := len(out.StackEvents) - 1; i >= 0; i-- {
		e := out.StackEvents[i]
		l := aws.ToString(e.LogicalResourceId) + " " + string(e.ResourceStatus)
		if r := aws.ToString(e.ResourceStatusReason); r != "" {
			l += " [" + r + "]"
		}
		lines = append(lines, l)
	}
	return lines
}

func stackOutput(st cfntypes.Stack, key string) string {
	for _, o := range st.Outputs {
		if aws.ToString(o.OutputKey) == key {
			return aws.ToString(o.OutputValue)
		}
	}
	return ""
}

func TestStackCreateProgressesAndCreatesResources(t *testing.T) {
	ts, client := newCFNSandbox(t)
	ctx := context.Background()
	out, err := client.CreateStack(ctx, &cloudformation.CreateStackInput{
		StackName: aws.String("master"), TemplateBody: aws.String(topicTemplate),
		Parameters: cfnParams("TargetAccounts", "222222222222", "WithQueue", "true"),
	})
	if err != nil {
		t.Fatalf("CreateStack: %v", err)
	}
	if !strings.HasPrefix(aws.ToString(out.StackId), "arn:aws:cloudformation:us-east-1:111111111111:stack/master/") {
		t.Errorf("StackId = %s", aws.ToString(out.StackId))
	}
	st, seen := waitStack(t, ts, client, "master")
	if st.StackStatus != cfntypes.StackStatusCreateComplete || seen[0] != "CREATE_IN_PROGRESS" {
		t.Fatalf("statuses %v, want CREATE_IN_PROGRESS then CREATE_COMPLETE; events:\n%s", seen, strings.Join(stackEvents(t, client, "master"), "\n"))
	}
	topicArn := "arn:aws:sns:us-east-1:111111111111:rotation"
	if got := stackOutput(st, "TopicArn"); got != topicArn {
		t.Errorf("output TopicArn = %q, want %q", got, topicArn)
	}
	if got := stackOutput(st, "QueueUrl"); got != ts.url+"/111111111111/rotation-queue" {
		t.Errorf("output QueueUrl = %q", got)
	}
	if got := stackOutput(st, "RuleArn"); !strings.HasPrefix(got, "arn:aws:config:us-east-1:111111111111:config-rule/config-rule-") {
		t.Errorf("output RuleArn = %q", got)
	}
	// Dependencies first, each resource IN_PROGRESS then COMPLETE.
	want := []string{"master CREATE_IN_PROGRESS [User Initiated]",
		"Topic CREATE_IN_PROGRESS", "Topic CREATE_IN_PROGRESS [Resource creation Initiated]", "Topic CREATE_COMPLETE",
		"Policy CREATE_IN_PROGRESS", "Policy CREATE_IN_PROGRESS [Resource creation Initiated]", "Policy CREATE_COMPLETE",
		"Rule CREATE_IN_PROGRESS", "Rule CREATE_IN_PROGRESS [Resource creation Initiated]", "Rule CREATE_COMPLETE",
		"Queue CREATE_IN_PROGRESS", "Queue CREATE_IN_PROGRESS [Resource creation Initiated]", "Queue CREATE_COMPLETE",
		"Subscription CREATE_IN_PROGRESS", "Subscription CREATE_IN_PROGRESS [Resource creation Initiated]", "Subscription CREATE_COMPLETE",
		"master CREATE_COMPLETE"}
	diff(t, "events", stackEvents(t, client, "master"), want)

	// The topic is real: its policy lets 222 publish (delivered to the subscribed queue) and
	// refuses 333.
	publish := func(acct string) error {
		_, err := sns.NewFromConfig(ts.assume(t, acct)).Publish(ctx, &sns.PublishInput{TopicArn: aws.String(topicArn), Message: aws.String("hi")})
		return err
	}
	if err := publish("222222222222"); err != nil {
		t.Errorf("Publish from a target account: %v", err)
	}
	if err := publish("333333333333"); err == nil {
		t.Error("Publish from an account the policy does not name succeeded")
	} else if code, _ := apiErr(t, err); code != "AuthorizationError" {
		t.Errorf("Publish from 333: %v, want AuthorizationError", err)
	}
	if p := ts.Published(); len(p) != 1 || len(p[0].DeliveredTo) != 1 {
		t.Errorf("published %+v, want one message delivered to the stack's queue", p)
	}
	attrs, err := sns.NewFromConfig(ts.mgmtConfig()).GetTopicAttributes(ctx, &sns.GetTopicAttributesInput{TopicArn: aws.String(topicArn)})
	if err != nil {
		t.Fatal(err)
	}
	if got := attrs.Attributes["DisplayName"]; got != "master topic in us-east-1" {
		t.Errorf("DisplayName = %q (Fn::Sub with pseudo parameters)", got)
	}

	// DeleteStack removes everything; the stack stays visible by id, not by name.
	if _, err := client.DeleteStack(ctx, &cloudformation.DeleteStackInput{StackName: aws.String("master")}); err != nil {
		t.Fatal(err)
	}
	st, _ = waitStack(t, ts, client, aws.ToString(out.StackId))
	if st.StackStatus != cfntypes.StackStatusDeleteComplete {
		t.Fatalf("after DeleteStack: %s", st.StackStatus)
	}
	if _, err := sns.NewFromConfig(ts.mgmtConfig()).GetTopicAttributes(ctx, &sns.GetTopicAttributesInput{TopicArn: aws.String(topicArn)}); err == nil {
		t.Error("the topic survived DeleteStack")
	}
	if _, err := client.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String("master")}); err == nil {
		t.Error("DescribeStacks by name found a deleted stack")
	} else if _, msg := apiErr(t, err); msg != "Stack with id master does not exist" {
		t.Errorf("DescribeStacks of a deleted stack: %s", msg)
	}
}

func TestStackRollback(t *testing.T) {
	for _, tt := range []struct {
		name       string
		params     []cfntypes.Parameter
		failed     string
		reason     string
		wantDelete []string
	}{
		{
			name:       "injected failure",
			params:     cfnParams("TargetAccounts", "222222222222", "Fail", "boom: quota exceeded"),
			failed:     "Broken",
			reason:     "boom: quota exceeded",
			wantDelete: []string{"Rule", "Policy", "Topic"},
		},
		{
			name:   "topic name taken",
			params: cfnParams("TargetAccounts", "222222222222", "TopicName", "taken"),
			failed: "Topic",
			reason: `Resource handler returned message: "Resource of type 'AWS::SNS::Topic' with identifier 'arn:aws:sns:us-east-1:111111111111:taken' already exists." (HandlerErrorCode: AlreadyExists)`,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ts, client := newCFNSandbox(t)
			_, err := client.CreateStack(context.Background(), &cloudformation.CreateStackInput{
				StackName: aws.String("master"), TemplateBody: aws.String(topicTemplate), Parameters: tt.params,
			})
			if err != nil {
				t.Fatalf("CreateStack: %v", err)
			}
			st, seen := waitStack(t, ts, client, "master")
			if seen[0] != "CREATE_IN_PROGRESS" {
				t.Errorf("first status %s, want CREATE_IN_PROGRESS", seen[0])
			}
			if st.StackStatus != cfntypes.StackStatusRollbackComplete {
				t.Fatalf("status %s, want ROLLBACK_COMPLETE", st.StackStatus)
			}
			evs := stackEvents(t, client, "master")
			failed := tt.failed + " CREATE_FAILED [" + tt.reason + "]"
			rollback := "master ROLLBACK_IN_PROGRESS [The following resource(s) failed to create: [" + tt.failed + "]. Rollback requested by user.]"
			i := indexOf(evs, failed)
			if i < 0 || indexOf(evs, rollback) != i+1 || evs[len(evs)-1] != "master ROLLBACK_COMPLETE" {
				t.Fatalf("events do not roll back like AWS:\n%s", strings.Join(evs, "\n"))
			}
			var deleted []string
			for _, e := range evs[i+2:] {
				if l, ok := strings.CutSuffix(e, " DELETE_COMPLETE"); ok {
					deleted = append(deleted, l)
				}
			}
			diff(t, "deleted resources", deleted, tt.wantDelete)
			if tt.failed != "Topic" {
				_, err := sns.NewFromConfig(ts.mgmtConfig()).GetTopicAttributes(context.Background(),
					&sns.GetTopicAttributesInput{TopicArn: aws.String("arn:aws:sns:us-east-1:111111111111:rotation")})
				if err == nil {
					t.Error("the rolled back topic still exists")
				}
			}
			// A ROLLBACK_COMPLETE stack cannot be updated, as in AWS.
			_, err = client.UpdateStack(context.Background(), &cloudformation.UpdateStackInput{
				StackName: aws.String("master"), UsePreviousTemplate: aws.Bool(true), Parameters: cfnParams("TargetAccounts", "222222222222")})
			if err == nil || !strings.Contains(err.Error(), "ROLLBACK_COMPLETE state and can not be updated") {
				t.Errorf("UpdateStack of a ROLLBACK_COMPLETE stack: %v", err)
			}
		})
	}
}

func indexOf(l []string, s string) int {
	for i, x := range l {
		if x == s {
			return i
		}
	}
	return -1
}

func TestTemplateErrors(t *testing.T) {
	ts, client := newCFNSandbox(t)
	_ = ts
	for _, tt := range []struct {
		name     string
		body     string
		params   []cfntypes.Parameter
		caps     []cfntypes.Capability
		code     string
		contains string
	}{
		{"unknown resource type prefix", "Resources:\n  X: {Type: Acme::Widget::Thing}\n", nil, nil,
			"ValidationError", "Template format error: Unrecognized resource types: [Acme::Widget::Thing]"},
		{"Ref to a missing parameter", "Resources:\n  T: {Type: AWS::SNS::Topic, Properties: {TopicName: !Ref Nope}}\n", nil, nil,
			"ValidationError", "Template format error: Unresolved resource dependencies [Nope] in the Resources block of the template"},
		{"missing required parameter", topicTemplate, nil, nil,
			"ValidationError", "Parameters: [TargetAccounts] must have values"},
		{"unknown parameter", topicTemplate, cfnParams("TargetAccounts", "1", "Extra", "x"), nil,
			"ValidationError", "Parameters: [Extra] do not exist in the template"},
		{"value not allowed", topicTemplate, cfnParams("TargetAccounts", "1", "WithQueue", "maybe"), nil,
			"ValidationError", "Parameter 'WithQueue' must be one of AllowedValues"},
		{"named IAM role without the capability", "Resources:\n  R:\n    Type: AWS::IAM::Role\n    Properties:\n      RoleName: x\n      AssumeRolePolicyDocument: {Statement: [{Effect: Allow, Principal: {Service: ssm.amazonaws.com}, Action: sts:AssumeRole}]}\n",
			nil, []cfntypes.Capability{cfntypes.CapabilityCapabilityIam}, "InsufficientCapabilitiesException", "Requires capabilities : [CAPABILITY_NAMED_IAM]"},
		{"YAML syntax", "Resources: [", nil, nil, "ValidationError", "Template format error: YAML not well-formed"},
		{"GetAtt of an undefined resource", "Resources:\n  T: {Type: AWS::SNS::Topic, Properties: {TopicName: !GetAtt Q.Arn}}\n", nil, nil,
			"ValidationError", "Template error: instance of Fn::GetAtt references undefined resource Q"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := client.CreateStack(context.Background(), &cloudformation.CreateStackInput{
				StackName: aws.String("bad"), TemplateBody: aws.String(tt.body), Parameters: tt.params, Capabilities: tt.caps,
			})
			if err == nil {
				t.Fatal("CreateStack succeeded")
			}
			code, msg := apiErr(t, err)
			if code != tt.code || !strings.Contains(msg, tt.contains) {
				t.Errorf("CreateStack = %s: %s, want %s containing %q", code, msg, tt.code, tt.contains)
			}
		})
	}
}

func TestChangeSets(t *testing.T) {
	ts, client := newCFNSandbox(t)
	ctx := context.Background()
	create := func(name string, typ cfntypes.ChangeSetType, p []cfntypes.Parameter) *cloudformation.DescribeChangeSetOutput {
		t.Helper()
		if _, err := client.CreateChangeSet(ctx, &cloudformation.CreateChangeSetInput{
			StackName: aws.String("master"), ChangeSetName: aws.String(name), ChangeSetType: typ,
			TemplateBody: aws.String(topicTemplate), Parameters: p,
		}); err != nil {
			t.Fatalf("CreateChangeSet %s: %v", name, err)
		}
		var out *cloudformation.DescribeChangeSetOutput
		ts.await(t, "change set "+name, func() bool {
			var err error
			out, err = client.DescribeChangeSet(ctx, &cloudformation.DescribeChangeSetInput{StackName: aws.String("master"), ChangeSetName: aws.String(name)})
			if err != nil {
				t.Fatal(err)
			}
			return out.Status != cfntypes.ChangeSetStatusCreateInProgress && out.Status != cfntypes.ChangeSetStatusCreatePending
		})
		return out
	}
	changes := func(cs *cloudformation.DescribeChangeSetOutput) []string {
		var out []string
		for _, c := range cs.Changes {
			out = append(out, string(c.ResourceChange.Action)+" "+aws.ToString(c.ResourceChange.LogicalResourceId))
		}
		return out
	}

	cs := create("first", cfntypes.ChangeSetTypeCreate, cfnParams("TargetAccounts", "222222222222"))
	st, _ := waitStack(t, ts, client, "master")
	if st.StackStatus != cfntypes.StackStatusReviewInProgress {
		t.Errorf("stack of a CREATE change set: %s, want REVIEW_IN_PROGRESS", st.StackStatus)
	}
	if cs.Status != cfntypes.ChangeSetStatusCreateComplete || cs.ExecutionStatus != cfntypes.ExecutionStatusAvailable {
		t.Fatalf("change set %s/%s: %s", cs.Status, cs.ExecutionStatus, aws.ToString(cs.StatusReason))
	}
	diff(t, "changes", changes(cs), []string{"Add Topic", "Add Policy", "Add Rule"})
	if _, err := client.ExecuteChangeSet(ctx, &cloudformation.ExecuteChangeSetInput{StackName: aws.String("master"), ChangeSetName: aws.String("first")}); err != nil {
		t.Fatal(err)
	}
	if st, _ := waitStack(t, ts, client, "master"); st.StackStatus != cfntypes.StackStatusCreateComplete {
		t.Fatalf("after executing: %s", st.StackStatus)
	}

	cs = create("same", cfntypes.ChangeSetTypeUpdate, cfnParams("TargetAccounts", "222222222222"))
	if cs.Status != cfntypes.ChangeSetStatusFailed || !strings.Contains(aws.ToString(cs.StatusReason), "didn't contain changes") {
		t.Errorf("unchanged change set: %s %q", cs.Status, aws.ToString(cs.StatusReason))
	}
	if _, err := client.DeleteChangeSet(ctx, &cloudformation.DeleteChangeSetInput{StackName: aws.String("master"), ChangeSetName: aws.String("same")}); err != nil {
		t.Fatal(err)
	}

	cs = create("more", cfntypes.ChangeSetTypeUpdate, cfnParams("TargetAccounts", "222222222222,333333333333", "WithQueue", "true"))
	diff(t, "changes", changes(cs), []string{"Modify Policy", "Add Queue", "Add Subscription"})
	if _, err := client.ExecuteChangeSet(ctx, &cloudformation.ExecuteChangeSetInput{ChangeSetName: cs.ChangeSetId}); err != nil {
		t.Fatal(err)
	}
	st, seen := waitStack(t, ts, client, "master")
	if st.StackStatus != cfntypes.StackStatusUpdateComplete {
		t.Fatalf("after the update: %v", seen)
	}
	if stackOutput(st, "QueueUrl") == "" {
		t.Error("no QueueUrl output after adding the queue")
	}

	// A failing update rolls back: the queue added by it goes, the policy is restored.
	if _, err := client.UpdateStack(ctx, &cloudformation.UpdateStackInput{
		StackName: aws.String("master"), UsePreviousTemplate: aws.Bool(true),
		Parameters: cfnParams("TargetAccounts", "222222222222", "WithQueue", "true", "Fail", "no"),
	}); err != nil {
		t.Fatal(err)
	}
	st, _ = waitStack(t, ts, client, "master")
	evs := stackEvents(t, client, "master")
	if st.StackStatus != cfntypes.StackStatusUpdateRollbackComplete || indexOf(evs, "Broken CREATE_FAILED [no]") < 0 {
		t.Fatalf("failed update: %s\n%s", st.StackStatus, strings.Join(evs, "\n"))
	}
	if got := st.Parameters; len(got) == 0 {
		t.Error("no parameters")
	}
	for _, p := range st.Parameters {
		if aws.ToString(p.ParameterKey) == "TargetAccounts" && aws.ToString(p.ParameterValue) != "222222222222,333333333333" {
			t.Errorf("after rollback TargetAccounts = %s, want the previous value", aws.ToString(p.ParameterValue))
		}
	}
}

const targetTemplate = `
Parameters:
  MaxAge: {Type: Number, Default: 90, MinValue: 1}
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      RoleName: !Sub "audit-${AWS::Region}"
      AssumeRolePolicyDocument:
        Statement: [{Effect: Allow, Principal: {AWS: arn:aws:iam::111111111111:root}, Action: sts:AssumeRole}]
      Policies: [{PolicyName: read, PolicyDocument: {Statement: [{Effect: Allow, Action: "iam:List*", Resource: "*"}]}}]
  Rule:
    Type: AWS::Config::ConfigRule
    Properties:
      ConfigRuleName: access-keys-rotated
      InputParameters: {maxAccessKeyAge: !Ref MaxAge}
`

// waitOperation waits until a StackSet operation ends.
func waitOperation(t *testing.T, ts *testSandbox, client *cloudformation.Client, set, id string) *cfntypes.StackSetOperation {
	t.Helper()
	var op *cfntypes.StackSetOperation
	ts.await(t, "operation "+id, func() bool {
		out, err := client.DescribeStackSetOperation(context.Background(), &cloudformation.DescribeStackSetOperationInput{
			StackSetName: aws.String(set), OperationId: aws.String(id)})
		if err != nil {
			t.Fatalf("DescribeStackSetOperation: %v", err)
		}
		op = out.StackSetOperation
		return op.Status != cfntypes.StackSetOperationStatusRunning && op.Status != cfntypes.StackSetOperationStatusQueued
	})
	return op
}

// instances returns "account/region STATUS DETAILED reason" per instance.
func instances(t *testing.T, client *cloudformation.Client, set string) []string {
	t.Helper()
	out, err := client.ListStackInstances(context.Background(), &cloudformation.ListStackInstancesInput{StackSetName: aws.String(set)})
	if err != nil {
		t.Fatalf("ListStackInstances: %v", err)
	}
	var lines []string
	for _, in := range out.Summaries {
		l := aws.ToString(in.Account) + "/" + aws.ToString(in.Region) + " " + string(in.Status) + " " + string(in.StackInstanceStatus.DetailedStatus)
		if r := aws.ToString(in.StatusReason); r != "" {
			l += " " + r
		}
		lines = append(lines, l)
	}
	return lines
}

func TestSelfManagedStackSet(t *testing.T) {
	ts, client := newCFNSandbox(t)
	ctx := context.Background()
	named := []cfntypes.Capability{cfntypes.CapabilityCapabilityNamedIam}
	if _, err := client.CreateStackSet(ctx, &cloudformation.CreateStackSetInput{
		StackSetName: aws.String("targets"), TemplateBody: aws.String(targetTemplate), Capabilities: named,
	}); err != nil {
		t.Fatalf("CreateStackSet: %v", err)
	}
	prefs := &cfntypes.StackSetOperationPreferences{FailureToleranceCount: aws.Int32(1), MaxConcurrentCount: aws.Int32(2)}
	out, err := client.CreateStackInstances(ctx, &cloudformation.CreateStackInstancesInput{
		StackSetName: aws.String("targets"), Accounts: []string{"222222222222", "333333333333"}, Regions: []string{"us-east-1"},
		OperationPreferences: prefs,
	})
	if err != nil {
		t.Fatalf("CreateStackInstances: %v", err)
	}
	if op := waitOperation(t, ts, client, "targets", aws.ToString(out.OperationId)); op.Status != cfntypes.StackSetOperationStatusSucceeded {
		t.Errorf("create operation %s (%s), want SUCCEEDED within the failure tolerance", op.Status, aws.ToString(op.StatusReason))
	}
	noRole := "333333333333/us-east-1 OUTDATED FAILED Account 333333333333 should have 'AWSCloudFormationStackSetExecutionRole' role with trust relationship to Role 'AWSCloudFormationStackSetAdministrationRole'."
	diff(t, "instances", instances(t, client, "targets"), []string{"222222222222/us-east-1 CURRENT SUCCEEDED", noRole})
	if roles := ts.CloudFormationRoles("222222222222"); len(roles) != 1 || roles[0].Name != "audit-us-east-1" || roles[0].Policies["read"] == "" {
		t.Errorf("roles created in 222: %+v", roles)
	}

	// The instance is a stack of the target account; an update reaches its parameters.
	target := cloudformation.NewFromConfig(ts.assume(t, "222222222222"))
	maxAge := func() string {
		t.Helper()
		in, err := client.DescribeStackInstance(ctx, &cloudformation.DescribeStackInstanceInput{StackSetName: aws.String("targets"),
			StackInstanceAccount: aws.String("222222222222"), StackInstanceRegion: aws.String("us-east-1")})
		if err != nil {
			t.Fatal(err)
		}
		st, _ := waitStack(t, ts, target, aws.ToString(in.StackInstance.StackId))
		for _, p := range st.Parameters {
			if aws.ToString(p.ParameterKey) == "MaxAge" {
				return aws.ToString(p.ParameterValue)
			}
		}
		return ""
	}
	if got := maxAge(); got != "90" {
		t.Errorf("MaxAge of the instance = %q, want the default 90", got)
	}
	up, err := client.UpdateStackSet(ctx, &cloudformation.UpdateStackSetInput{StackSetName: aws.String("targets"),
		UsePreviousTemplate: aws.Bool(true), Parameters: cfnParams("MaxAge", "30"), Capabilities: named, OperationPreferences: prefs})
	if err != nil {
		t.Fatalf("UpdateStackSet: %v", err)
	}
	if op := waitOperation(t, ts, client, "targets", aws.ToString(up.OperationId)); op.Status != cfntypes.StackSetOperationStatusSucceeded || op.Action != cfntypes.StackSetOperationActionUpdate {
		t.Errorf("update operation %s %s", op.Action, op.Status)
	}
	if got := maxAge(); got != "30" {
		t.Errorf("MaxAge of the instance after the update = %q, want 30", got)
	}

	if _, err := client.DeleteStackSet(ctx, &cloudformation.DeleteStackSetInput{StackSetName: aws.String("targets")}); err == nil {
		t.Error("DeleteStackSet with instances succeeded")
	} else if code, _ := apiErr(t, err); code != "StackSetNotEmptyException" {
		t.Errorf("DeleteStackSet with instances: %v", err)
	}
	del, err := client.DeleteStackInstances(ctx, &cloudformation.DeleteStackInstancesInput{StackSetName: aws.String("targets"),
		Accounts: []string{"222222222222", "333333333333"}, Regions: []string{"us-east-1"}, RetainStacks: aws.Bool(false)})
	if err != nil {
		t.Fatal(err)
	}
	if op := waitOperation(t, ts, client, "targets", aws.ToString(del.OperationId)); op.Status != cfntypes.StackSetOperationStatusSucceeded {
		t.Errorf("delete operation %s", op.Status)
	}
	if got := instances(t, client, "targets"); len(got) != 0 {
		t.Errorf("instances left: %v", got)
	}
	if roles := ts.CloudFormationRoles("222222222222"); len(roles) != 0 {
		t.Errorf("roles left in 222: %+v", roles)
	}
	if _, err := client.DeleteStackSet(ctx, &cloudformation.DeleteStackSetInput{StackSetName: aws.String("targets")}); err != nil {
		t.Errorf("DeleteStackSet: %v", err)
	}
}

func TestServiceManagedStackSet(t *testing.T) {
	ts, client := newCFNSandbox(t)
	ctx := context.Background()
	var ou string
	for id, u := range ts.Server.org.units {
		if u.name == "Workloads" {
			ou = id
		}
	}
	if _, err := client.CreateStackSet(ctx, &cloudformation.CreateStackSetInput{
		StackSetName: aws.String("org"), TemplateBody: aws.String(targetTemplate), PermissionModel: cfntypes.PermissionModelsServiceManaged,
		AutoDeployment: &cfntypes.AutoDeployment{Enabled: aws.Bool(true), RetainStacksOnAccountRemoval: aws.Bool(false)},
		Capabilities:   []cfntypes.Capability{cfntypes.CapabilityCapabilityNamedIam},
	}); err != nil {
		t.Fatal(err)
	}
	out, err := client.CreateStackInstances(ctx, &cloudformation.CreateStackInstancesInput{StackSetName: aws.String("org"),
		DeploymentTargets: &cfntypes.DeploymentTargets{OrganizationalUnitIds: []string{ou}}, Regions: []string{"us-east-1"},
		OperationPreferences: &cfntypes.StackSetOperationPreferences{MaxConcurrentPercentage: aws.Int32(100)}})
	if err != nil {
		t.Fatal(err)
	}
	if op := waitOperation(t, ts, client, "org", aws.ToString(out.OperationId)); op.Status != cfntypes.StackSetOperationStatusSucceeded {
		t.Errorf("operation %s", op.Status)
	}
	// The OU's accounts, nested OUs included; no roles needed.
	diff(t, "instances", instances(t, client, "org"), []string{"222222222222/us-east-1 CURRENT SUCCEEDED", "444444444444/us-east-1 CURRENT SUCCEEDED"})
	drift, err := client.DetectStackSetDrift(ctx, &cloudformation.DetectStackSetDriftInput{StackSetName: aws.String("org")})
	if err != nil {
		t.Fatal(err)
	}
	waitOperation(t, ts, client, "org", aws.ToString(drift.OperationId))
	ss, err := client.DescribeStackSet(ctx, &cloudformation.DescribeStackSetInput{StackSetName: aws.String("org")})
	if err != nil {
		t.Fatal(err)
	}
	if d := ss.StackSet.StackSetDriftDetectionDetails; d == nil || d.DriftStatus != cfntypes.StackSetDriftStatusInSync || aws.ToInt32(d.InSyncStackInstancesCount) != 2 {
		t.Errorf("drift details %+v", d)
	}
	if _, err := cloudformation.NewFromConfig(ts.assume(t, "222222222222")).CreateStackSet(ctx, &cloudformation.CreateStackSetInput{
		StackSetName: aws.String("x"), TemplateBody: aws.String(targetTemplate), PermissionModel: cfntypes.PermissionModelsServiceManaged,
		AutoDeployment: &cfntypes.AutoDeployment{Enabled: aws.Bool(true)}, Capabilities: []cfntypes.Capability{cfntypes.CapabilityCapabilityNamedIam},
	}); err == nil {
		t.Error("a member account created a service-managed StackSet")
	}
}
