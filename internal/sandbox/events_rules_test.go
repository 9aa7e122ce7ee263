package sandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

func TestEventMatches(t *testing.T) {
	event := `{"source": "aws.iam", "detail-type": "AWS API Call via CloudTrail",
		"detail": {"eventSource": "iam.amazonaws.com", "eventName": "UpdateAccessKey", "tags": ["a", "b"]}}`
	for _, tt := range []struct {
		name, pattern string
		want          bool
	}{
		{"equal values", `{"source": ["aws.iam"], "detail": {"eventName": ["CreateAccessKey", "UpdateAccessKey"]}}`, true},
		{"another value", `{"source": ["aws.config"]}`, false},
		{"nested field missing", `{"detail": {"userName": ["alice"]}}`, false},
		{"exists false", `{"detail": {"userName": [{"exists": false}]}}`, true},
		{"exists true", `{"detail": {"eventName": [{"exists": true}]}}`, true},
		{"prefix", `{"detail": {"eventName": [{"prefix": "Update"}]}}`, true},
		{"list value matches one element", `{"detail": {"tags": ["b"]}}`, true},
		{"$or, second alternative", `{"$or": [{"source": ["aws.config"]}, {"detail-type": ["AWS API Call via CloudTrail"]}]}`, true},
		{"$or, no alternative", `{"$or": [{"source": ["aws.config"]}, {"source": ["aws.s3"]}]}`, false},
		{"object where a field is a string", `{"source": {"x": ["y"]}}`, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var p, e any
			if err := json.Unmarshal([]byte(tt.pattern), &p); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal([]byte(event), &e); err != nil {
				t.Fatal(err)
			}
			if got := eventMatches(p, e); got != tt.want {
				t.Errorf("eventMatches(%s) = %v, want %v", tt.pattern, got, tt.want)
			}
		})
	}
}

// The receiving side in 111: a rule sends IAM events to a queue; the bus policy admits 222
// when BusPolicy is true. The sending side in 222 forwards through a role.
const receiverTemplate = `
Parameters:
  BusPolicy: {Type: String}
Conditions:
  HasBusPolicy: !Equals [!Ref BusPolicy, "true"]
Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties: {QueueName: events}
  ToQueue:
    Type: AWS::Events::Rule
    Properties:
      EventPattern: {source: [aws.iam]}
      Targets: [{Id: q, Arn: !GetAtt Queue.Arn}]
  QueuePolicy:
    Type: AWS::SQS::QueuePolicy
    Properties:
      Queues: [!Ref Queue]
      PolicyDocument:
        Statement: [{Effect: Allow, Principal: {Service: events.amazonaws.com}, Action: sqs:SendMessage, Resource: !GetAtt Queue.Arn,
                     Condition: {ArnEquals: {"aws:SourceArn": !GetAtt ToQueue.Arn}}}]
  BusPolicy:
    Type: AWS::Events::EventBusPolicy
    Condition: HasBusPolicy
    Properties:
      StatementId: from-prod
      Statement: {Effect: Allow, Principal: {AWS: "222222222222"}, Action: events:PutEvents, Resource: "arn:aws:events:us-east-1:111111111111:event-bus/default"}
`

var senderTemplate = `
Resources:
` + stackRoleYAML("Forwarder", "Service: events.amazonaws.com", "arn:aws:events:us-east-1:111111111111:event-bus/default", "events:PutEvents") + `
  Forward:
    Type: AWS::Events::Rule
    Properties:
      EventPattern: {source: [aws.iam], detail: {eventName: [CreateAccessKey]}}
      Targets: [{Id: bus, Arn: "arn:aws:events:us-east-1:111111111111:event-bus/default", RoleArn: !GetAtt Forwarder.Arn}]
`

// createTestStack creates a stack from body (with parameters as key, value pairs) and waits
// for CREATE_COMPLETE.
func createTestStack(t *testing.T, ts *testSandbox, cfg aws.Config, name, body string, params ...string) {
	t.Helper()
	cf := cloudformation.NewFromConfig(cfg)
	if _, err := cf.CreateStack(context.Background(), &cloudformation.CreateStackInput{StackName: aws.String(name), TemplateBody: aws.String(body),
		Parameters: cfnParams(params...), Capabilities: []cfntypes.Capability{cfntypes.CapabilityCapabilityNamedIam}}); err != nil {
		t.Fatal(err)
	}
	if st, _ := waitStack(t, ts, cf, name); st.StackStatus != cfntypes.StackStatusCreateComplete {
		t.Fatalf("stack %s: %s %s\n%q", name, st.StackStatus, aws.ToString(st.StackStatusReason), stackEvents(t, cf, name))
	}
}

// stackRoleYAML is an AWS::IAM::Role resource of a test template, named as its logical id,
// trusted by the principal, with one inline policy allowing the actions on resource.
func stackRoleYAML(name, principal, resource string, actions ...string) string {
	list, _ := json.Marshal(actions) // a JSON list is a YAML flow sequence
	return "  " + name + ":\n    Type: AWS::IAM::Role\n    Properties:\n      RoleName: " + name +
		"\n      AssumeRolePolicyDocument: {Statement: [{Effect: Allow, Principal: {" + principal + "}, Action: sts:AssumeRole}]}" +
		"\n      Policies:\n        - PolicyName: allow\n          PolicyDocument: {Statement: [{Effect: Allow, Action: " +
		string(list) + ", Resource: \"" + resource + "\"}]}\n"
}

func TestRulesForwardIAMEvents(t *testing.T) {
	for _, tt := range []struct {
		name      string
		busPolicy string
		want      int
	}{
		{"the master's bus admits the target account", "true", 1},
		{"no bus policy: the event is dropped", "false", 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ts := newPermissionsSandbox(t, Options{})
			ts.SetCloudFormationDelay(0)
			ctx := context.Background()
			createTestStack(t, ts, ts.mgmtConfig(), "receiver", receiverTemplate, "BusPolicy", tt.busPolicy)
			createTestStack(t, ts, ts.assumeRole(t, "222222222222", "Everything"), "sender", senderTemplate)
			client := iam.NewFromConfig(ts.assumeRole(t, "222222222222", "Everything"))
			if _, err := client.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("alice")}); err != nil {
				t.Fatal(err)
			}
			q := sqs.NewFromConfig(ts.mgmtConfig())
			url, err := q.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("events")})
			if err != nil {
				t.Fatal(err)
			}
			attrs, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: url.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages}})
			if err != nil {
				t.Fatal(err)
			}
			if got := attrs.Attributes["ApproximateNumberOfMessages"]; got != fmt.Sprint(tt.want) {
				t.Errorf("events on the master's queue after CreateAccessKey in 222 = %s, want %d", got, tt.want)
			}
		})
	}
}
