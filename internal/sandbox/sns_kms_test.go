package sandbox

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
)

// An encrypted topic in 111: its key delegates to 111's and 222's IAM policies and names one
// role of 111 directly; two queues subscribed, one encrypted with a key SNS may use, one with
// a key that does not let SNS in.
var encryptedTopicTemplate = `
Resources:
` + stackRoleYAML("KmsUser", `AWS: "111111111111"`, "*", "sns:Publish", "kms:GenerateDataKey*", "kms:Decrypt") +
	stackRoleYAML("PublishOnly", `AWS: "111111111111"`, "*", "sns:Publish") +
	stackRoleYAML("NamedInKey", `AWS: "111111111111"`, "*", "sns:Publish") + `
  TopicKey:
    Type: AWS::KMS::Key
    DependsOn: NamedInKey
    Properties:
      KeyPolicy:
        Statement:
          - {Effect: Allow, Principal: {AWS: "arn:aws:iam::111111111111:root"}, Action: "kms:*", Resource: "*"}
          - {Effect: Allow, Principal: {AWS: "222222222222"}, Action: ["kms:GenerateDataKey*", "kms:Decrypt"], Resource: "*"}
          - {Effect: Allow, Principal: {AWS: "arn:aws:iam::111111111111:role/NamedInKey"}, Action: ["kms:GenerateDataKey*", "kms:Decrypt"], Resource: "*"}
` + keyYAML("QueueKey", `{Effect: Allow, Principal: {Service: sns.amazonaws.com}, Action: ["kms:GenerateDataKey*", "kms:Decrypt"], Resource: "*"}`) +
	keyYAML("ClosedKey", "") + `
  Topic:
    Type: AWS::SNS::Topic
    Properties:
      TopicName: encrypted
      KmsMasterKeyId: !GetAtt TopicKey.Arn
  TopicPolicy:
    Type: AWS::SNS::TopicPolicy
    Properties:
      Topics: [!Ref Topic]
      PolicyDocument:
        Statement: [{Effect: Allow, Principal: {AWS: "222222222222"}, Action: sns:Publish, Resource: !Ref Topic}]
  SnsMayUse:
    Type: AWS::SQS::Queue
    Properties: {QueueName: sns-may-use, KmsMasterKeyId: !Ref QueueKey}
  SnsMayNotUse:
    Type: AWS::SQS::Queue
    Properties: {QueueName: sns-may-not-use, KmsMasterKeyId: !Ref ClosedKey}
  ToMayUse:
    Type: AWS::SNS::Subscription
    Properties: {Protocol: sqs, TopicArn: !Ref Topic, Endpoint: !GetAtt SnsMayUse.Arn}
  ToMayNotUse:
    Type: AWS::SNS::Subscription
    Properties: {Protocol: sqs, TopicArn: !Ref Topic, Endpoint: !GetAtt SnsMayNotUse.Arn}
`

// keyYAML is an AWS::KMS::Key resource of a test template whose policy lets 111 administer it,
// with one more statement when extra is not "".
func keyYAML(name, extra string) string {
	y := "  " + name + ":\n    Type: AWS::KMS::Key\n    Properties:\n      KeyPolicy:\n        Statement:\n" +
		`          - {Effect: Allow, Principal: {AWS: "arn:aws:iam::111111111111:root"}, Action: "kms:*", Resource: "*"}` + "\n"
	if extra != "" {
		y += "          - " + extra + "\n"
	}
	return y
}

func TestPublishToEncryptedTopic(t *testing.T) {
	ts := newPermissionsSandbox(t, Options{})
	ts.SetCloudFormationDelay(0)
	ctx := context.Background()
	createTestStack(t, ts, ts.mgmtConfig(), "encrypted", encryptedTopicTemplate)
	const topic = "arn:aws:sns:us-east-1:111111111111:encrypted"
	for _, tt := range []struct {
		name          string
		account, role string // "" role: the management credentials
		wantCode      string
		wantMsg       string
	}{
		{"management credentials, key policy delegates to the account", "111111111111", "", "", ""},
		{"same account, IAM policy allows kms", "111111111111", "KmsUser", "", ""},
		{"same account, key policy names the role", "111111111111", "NamedInKey", "", ""},
		{"same account, key policy delegates, IAM policy lacks kms", "111111111111", "PublishOnly", "KMSAccessDenied",
			"is not authorized to perform: kms:GenerateDataKey on resource: arn:aws:kms:us-east-1:111111111111:key/"},
		{"other account, key policy and IAM policy allow", "222222222222", "Everything", "", ""},
		{"other account, IAM policy lacks kms", "222222222222", "Publisher", "KMSAccessDenied",
			"because no identity-based policy allows the kms:GenerateDataKey action"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := ts.mgmtConfig()
			if tt.role != "" {
				cfg = ts.assumeRole(t, tt.account, tt.role)
			}
			ts.ResetRecords()
			_, err := sns.NewFromConfig(cfg).Publish(ctx, &sns.PublishInput{TopicArn: aws.String(topic), Message: aws.String("m")})
			if tt.wantCode == "" {
				if err != nil {
					t.Fatalf("Publish as %s/%s: %v, want success", tt.account, tt.role, err)
				}
				p := ts.Published()
				if len(p) != 1 || len(p[0].DeliveredTo) != 1 || !strings.HasSuffix(p[0].DeliveredTo[0], ":sns-may-use") {
					t.Errorf("Publish as %s/%s delivered %+v, want only the queue whose key lets SNS in", tt.account, tt.role, p)
				}
				return
			}
			code, msg := apiErr(t, err)
			if code != tt.wantCode || !strings.Contains(msg, tt.wantMsg) {
				t.Errorf("Publish as %s/%s = %s %q, want %s containing %q", tt.account, tt.role, code, msg, tt.wantCode, tt.wantMsg)
			}
			if p := ts.Published(); len(p) != 0 {
				t.Errorf("a refused Publish recorded %+v", p)
			}
		})
	}

	client := sns.NewFromConfig(ts.mgmtConfig())
	for _, tt := range []struct{ key, wantCode string }{
		{"arn:aws:kms:us-east-1:111111111111:key/00000000-0000-0000-0000-000000000000", "KMSNotFound"},
		{"alias/aws/sns", ""},
	} {
		if _, err := client.SetTopicAttributes(ctx, &sns.SetTopicAttributesInput{TopicArn: aws.String(topic),
			AttributeName: aws.String("KmsMasterKeyId"), AttributeValue: aws.String(tt.key)}); err != nil {
			t.Fatal(err)
		}
		_, err := client.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(topic), Message: aws.String("m")})
		code := ""
		if err != nil {
			code, _ = apiErr(t, err)
		}
		if code != tt.wantCode {
			t.Errorf("Publish to a topic encrypted with %s = %q (%v), want %q", tt.key, code, err, tt.wantCode)
		}
	}
	// The AWS-managed key serves its own account only.
	_, err := sns.NewFromConfig(ts.assumeRole(t, "222222222222", "Everything")).Publish(ctx,
		&sns.PublishInput{TopicArn: aws.String(topic), Message: aws.String("m")})
	if code, _ := apiErr(t, err); code != "KMSAccessDenied" {
		t.Errorf("Publish from another account to a topic encrypted with alias/aws/sns = %q, want KMSAccessDenied", code)
	}
}
