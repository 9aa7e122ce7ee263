package sandbox

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

const findingsTopic = "arn:aws:sns:us-east-1:111111111111:keyage-findings"

func newServicesSandbox(t *testing.T, opts Options) *testSandbox {
	t.Helper()
	f, err := LoadFixture("testdata/services.yaml")
	if err != nil {
		t.Fatal(err)
	}
	opts.Fixture = f
	return newTestSandbox(t, opts)
}

func (ts *testSandbox) queueURL(acct, name string) string { return ts.url + "/" + acct + "/" + name }

// receiveAll drains up to 10 visible messages of a queue, deleting them.
func receiveAll(t *testing.T, client *sqs.Client, url string) []sqstypes.Message {
	t.Helper()
	out, err := client.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
		QueueUrl: aws.String(url), MaxNumberOfMessages: 10, MessageAttributeNames: []string{"All"},
		MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
	})
	if err != nil {
		t.Fatalf("ReceiveMessage(%s): %v", url, err)
	}
	for _, m := range out.Messages {
		if _, err := client.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil {
			t.Fatalf("DeleteMessage: %v", err)
		}
	}
	return out.Messages
}

func strAttr(v string) snstypes.MessageAttributeValue {
	return snstypes.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
}

func numAttr(v string) snstypes.MessageAttributeValue {
	return snstypes.MessageAttributeValue{DataType: aws.String("Number"), StringValue: aws.String(v)}
}

type envelope struct {
	Type, MessageId, TopicArn, Subject, Message, Timestamp      string
	SignatureVersion, Signature, SigningCertURL, UnsubscribeURL string
	MessageAttributes                                           map[string]struct{ Type, Value string }
}

func TestSNSPublishToQueues(t *testing.T) {
	ts := newServicesSandbox(t, Options{})
	ctx := context.Background()
	cfg := ts.mgmtConfig()
	snsc, sqsc := sns.NewFromConfig(cfg), sqs.NewFromConfig(cfg)
	mgmt := ts.ManagementAccountID()

	text := "Access key AKIA... of alice is 120 days old.\nRotate it: <https://example.com/rotate?a=1&b=2>"
	out, err := snsc.Publish(ctx, &sns.PublishInput{
		TopicArn: aws.String(findingsTopic), Subject: aws.String("keyage: 1 finding"), Message: aws.String(text),
		MessageAttributes: map[string]snstypes.MessageAttributeValue{"stage": strAttr("expired"), "ageDays": numAttr("120")},
	})
	if err != nil {
		t.Fatalf("Publish: %v", err)
	}
	id := aws.ToString(out.MessageId)

	// The plain subscription gets the SNS envelope, attributes inside the JSON.
	msgs := receiveAll(t, sqsc, ts.queueURL(mgmt, "findings"))
	if len(msgs) != 1 {
		t.Fatalf("queue findings got %d messages, want 1", len(msgs))
	}
	body := aws.ToString(msgs[0].Body)
	var env envelope
	if err := json.Unmarshal([]byte(body), &env); err != nil {
		t.Fatalf("envelope is not JSON: %v\n%s", err, body)
	}
	if env.Type != "Notification" || env.MessageId != id || env.TopicArn != findingsTopic || env.Subject != "keyage: 1 finding" ||
		env.Message != text || env.SignatureVersion != "1" || env.Signature == "" || env.Timestamp == "" ||
		!strings.HasPrefix(env.UnsubscribeURL, ts.url+"/?Action=Unsubscribe&SubscriptionArn="+findingsTopic+":") || env.SigningCertURL == "" {
		t.Errorf("envelope = %+v", env)
	}
	diff(t, "envelope MessageAttributes", env.MessageAttributes, map[string]struct{ Type, Value string }{
		"stage": {"String", "expired"}, "ageDays": {"Number", "120"},
	})
	if !strings.HasPrefix(body, "{\n  \"Type\" : \"Notification\",\n  \"MessageId\" : ") || strings.Contains(body, `\u003c`) {
		t.Errorf("envelope is not laid out like AWS's:\n%s", body)
	}
	if len(msgs[0].MessageAttributes) != 0 {
		t.Errorf("envelope delivery has SQS message attributes %v, want none", msgs[0].MessageAttributes)
	}

	// Raw delivery: the message itself, attributes as SQS message attributes.
	raw := receiveAll(t, sqsc, ts.queueURL(mgmt, "findings-raw"))
	if len(raw) != 1 || aws.ToString(raw[0].Body) != text {
		t.Fatalf("raw queue got %v, want the message text", raw)
	}
	if a := raw[0].MessageAttributes["ageDays"]; aws.ToString(a.DataType) != "Number" || aws.ToString(a.StringValue) != "120" {
		t.Errorf("raw delivery attribute ageDays = %+v, want Number 120", a)
	}

	// The filtered subscription got it (stage expired, age >= 90) ...
	if got := receiveAll(t, sqsc, ts.queueURL(mgmt, "findings-filtered")); len(got) != 1 {
		t.Errorf("filtered queue got %d messages for a matching message, want 1", len(got))
	}
	// ... and drops messages that do not match.
	for _, attrs := range []map[string]snstypes.MessageAttributeValue{
		{"stage": strAttr("warn"), "ageDays": numAttr("120")},
		{"stage": strAttr("expired"), "ageDays": numAttr("80")},
		{"stage": strAttr("expired")},
		nil,
	} {
		if _, err := snsc.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(findingsTopic), Message: aws.String("x"), MessageAttributes: attrs}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := snsc.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(findingsTopic), Message: aws.String("y"),
		MessageAttributes: map[string]snstypes.MessageAttributeValue{"stage": strAttr("deactivate"), "ageDays": numAttr("90")}}); err != nil {
		t.Fatal(err)
	}
	got := receiveAll(t, sqsc, ts.queueURL(mgmt, "findings-filtered"))
	if len(got) != 1 || !strings.Contains(aws.ToString(got[0].Body), `"Message" : "y"`) {
		t.Errorf("filtered queue got %d messages, want only the one with stage deactivate and age 90", len(got))
	}
	if n := len(receiveAll(t, sqsc, ts.queueURL(mgmt, "findings"))); n != 5 {
		t.Errorf("unfiltered queue got %d messages, want 5", n)
	}

	pub := ts.Published()
	if len(pub) != 6 || pub[0].MessageID != id || pub[0].Message != text || pub[0].Account != mgmt ||
		len(pub[0].DeliveredTo) != 3 || len(pub[1].DeliveredTo) != 2 {
		t.Errorf("Published() = %+v", pub)
	}
	var admin []PublishedMessage
	if code := getJSON(t, "GET", ts.url+"/_sandbox/sns/published", &admin); code != 200 || len(admin) != 6 || admin[5].Message != "y" {
		t.Errorf("GET /_sandbox/sns/published = %d, %d messages", code, len(admin))
	}
	if n := ts.Stats().ByAccount[mgmt]["sns:Publish"]; n != 6 {
		t.Errorf("sns:Publish counted %d times, want 6", n)
	}
}

func TestSNSCrossAccountPublish(t *testing.T) {
	ts := newServicesSandbox(t, Options{})
	ctx := context.Background()
	owner := sns.NewFromConfig(ts.mgmtConfig())
	prod := sns.NewFromConfig(ts.assume(t, "222222222222"))
	publish := func() error {
		_, err := prod.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(findingsTopic), Message: aws.String("from prod")})
		return err
	}
	setPolicy := func(p string) {
		t.Helper()
		if _, err := owner.SetTopicAttributes(ctx, &sns.SetTopicAttributesInput{TopicArn: aws.String(findingsTopic),
			AttributeName: aws.String("Policy"), AttributeValue: aws.String(p)}); err != nil {
			t.Fatalf("SetTopicAttributes(Policy): %v", err)
		}
	}

	// No policy: AWS's default policy lets the owner's account only.
	err := publish()
	if err == nil {
		t.Fatal("Publish from another account without a policy succeeded")
	}
	code, msg := apiErr(t, err)
	want := "User: arn:aws:sts::222222222222:assumed-role/KeyageAuditRole/keyage-test is not authorized to perform: SNS:Publish on resource: " +
		findingsTopic + " because no resource-based policy allows the SNS:Publish action"
	if code != "AuthorizationError" || msg != want {
		t.Errorf("Publish error = %s: %s, want AuthorizationError: %s", code, msg, want)
	}
	attrs, err := owner.GetTopicAttributes(ctx, &sns.GetTopicAttributesInput{TopicArn: aws.String(findingsTopic)})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(attrs.Attributes["Policy"], "__default_policy_ID") || attrs.Attributes["DisplayName"] != "keyage" {
		t.Errorf("GetTopicAttributes = %v", attrs.Attributes)
	}

	for _, tt := range []struct {
		name, policy string
		allowed      bool
	}{
		{"account root principal", `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::222222222222:root"},"Action":"sns:Publish","Resource":"` + findingsTopic + `"}]}`, true},
		{"account id principal, list of actions", `{"Statement":[{"Effect":"Allow","Principal":{"AWS":["333333333333","222222222222"]},"Action":["SNS:Subscribe","SNS:Publish"],"Resource":"*"}]}`, true},
		{"organization condition", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"sns:*","Resource":"` + findingsTopic + `","Condition":{"StringEquals":{"aws:PrincipalOrgID":"` + ts.Server.org.id + `"}}}}`, true},
		{"another organization", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"sns:Publish","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-someoneelse"}}}]}`, false},
		{"source account condition", `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sns:Publish","Resource":"*","Condition":{"StringEquals":{"aws:SourceAccount":"222222222222"}}}]}`, true},
		{"another account", `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::333333333333:root"},"Action":"sns:Publish","Resource":"*"}]}`, false},
		{"another action", `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"222222222222"},"Action":"sns:Subscribe","Resource":"*"}]}`, false},
		{"explicit deny wins", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"sns:Publish","Resource":"*"},{"Effect":"Deny","Principal":{"AWS":"222222222222"},"Action":"sns:Publish","Resource":"*"}]}`, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			setPolicy(tt.policy)
			err := publish()
			if (err == nil) != tt.allowed {
				t.Fatalf("Publish from 222222222222 with policy %s: err %v, want allowed %v", tt.policy, err, tt.allowed)
			}
			if err != nil {
				if code, _ := apiErr(t, err); code != "AuthorizationError" {
					t.Errorf("error code %s, want AuthorizationError", code)
				}
			}
		})
	}
	setPolicy(`{"Statement":[{"Effect":"Allow","Principal":{"AWS":"222222222222"},"Action":"sns:Publish","Resource":"*"}]}`)
	if err := publish(); err != nil {
		t.Fatal(err)
	}
	last := ts.Published()
	if p := last[len(last)-1]; p.Account != "222222222222" || p.Message != "from prod" {
		t.Errorf("last published = %+v, want the one from 222222222222", p)
	}
	if _, err := owner.SetTopicAttributes(ctx, &sns.SetTopicAttributesInput{TopicArn: aws.String(findingsTopic),
		AttributeName: aws.String("Policy"), AttributeValue: aws.String("{not json")}); err == nil {
		t.Error("SetTopicAttributes accepted a policy that is not JSON")
	} else if code, _ := apiErr(t, err); code != "InvalidParameter" {
		t.Errorf("bad policy: error code %s, want InvalidParameter", code)
	}
}

func TestSNSTopicsAndSubscriptions(t *testing.T) {
	ts := newServicesSandbox(t, Options{})
	ctx := context.Background()
	cfg := ts.assume(t, "222222222222")
	snsc, sqsc := sns.NewFromConfig(cfg), sqs.NewFromConfig(cfg)

	created, err := snsc.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("alerts"), Attributes: map[string]string{"DisplayName": "Alerts"}})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(created.TopicArn)
	if arn != "arn:aws:sns:us-east-1:222222222222:alerts" {
		t.Errorf("TopicArn = %s", arn)
	}
	again, err := snsc.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("alerts")})
	if err != nil || aws.ToString(again.TopicArn) != arn {
		t.Errorf("CreateTopic again = %v, %v; want the same ARN", again, err)
	}
	if _, err := snsc.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("bad name")}); err == nil {
		t.Error("CreateTopic accepted a name with a space")
	}
	list, err := snsc.ListTopics(ctx, &sns.ListTopicsInput{})
	if err != nil || len(list.Topics) != 1 || aws.ToString(list.Topics[0].TopicArn) != arn {
		t.Errorf("ListTopics in 222222222222 = %v, %v; want only %s", list, err, arn)
	}

	q, err := sqsc.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("alerts-q")})
	if err != nil {
		t.Fatal(err)
	}
	sub, err := snsc.Subscribe(ctx, &sns.SubscribeInput{TopicArn: aws.String(arn), Protocol: aws.String("sqs"),
		Endpoint: aws.String("arn:aws:sqs:us-east-1:222222222222:alerts-q"), ReturnSubscriptionArn: true,
		Attributes: map[string]string{"RawMessageDelivery": "true", "FilterPolicy": `{"team":[{"anything-but":["payments"]}],"owner":[{"exists":true}]}`}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := snsc.Subscribe(ctx, &sns.SubscribeInput{TopicArn: aws.String(arn), Protocol: aws.String("sqs"),
		Endpoint: aws.String("arn:aws:sqs:us-east-1:222222222222:alerts-q"), Attributes: map[string]string{"FilterPolicy": `{"team":"x"}`}}); err == nil {
		t.Error("Subscribe accepted a filter policy whose value is not a list")
	}
	subs, err := snsc.ListSubscriptionsByTopic(ctx, &sns.ListSubscriptionsByTopicInput{TopicArn: aws.String(arn)})
	if err != nil || len(subs.Subscriptions) != 1 || aws.ToString(subs.Subscriptions[0].SubscriptionArn) != aws.ToString(sub.SubscriptionArn) ||
		aws.ToString(subs.Subscriptions[0].Protocol) != "sqs" {
		t.Errorf("ListSubscriptionsByTopic = %+v, %v", subs, err)
	}
	for _, attrs := range []map[string]snstypes.MessageAttributeValue{
		{"team": strAttr("platform"), "owner": strAttr("dave")}, // delivered
		{"team": strAttr("payments"), "owner": strAttr("dave")}, // anything-but
		{"team": strAttr("platform")},                           // exists
	} {
		if _, err := snsc.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(arn), Message: aws.String("m"), MessageAttributes: attrs}); err != nil {
			t.Fatal(err)
		}
	}
	if got := receiveAll(t, sqsc, aws.ToString(q.QueueUrl)); len(got) != 1 || aws.ToString(got[0].MessageAttributes["team"].StringValue) != "platform" {
		t.Errorf("queue got %d messages, want the one for team platform with an owner", len(got))
	}

	if _, err := snsc.Unsubscribe(ctx, &sns.UnsubscribeInput{SubscriptionArn: sub.SubscriptionArn}); err != nil {
		t.Fatal(err)
	}
	if _, err := snsc.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(arn), Message: aws.String("m"),
		MessageAttributes: map[string]snstypes.MessageAttributeValue{"team": strAttr("platform"), "owner": strAttr("dave")}}); err != nil {
		t.Fatal(err)
	}
	if got := receiveAll(t, sqsc, aws.ToString(q.QueueUrl)); len(got) != 0 {
		t.Errorf("queue got %d messages after Unsubscribe, want 0", len(got))
	}
	if _, err := snsc.DeleteTopic(ctx, &sns.DeleteTopicInput{TopicArn: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	_, err = snsc.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(arn), Message: aws.String("m")})
	if code, _ := apiErr(t, err); code != "NotFound" {
		t.Errorf("Publish to a deleted topic: %s, want NotFound", code)
	}
	_, err = snsc.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(findingsTopic), Message: aws.String("m"),
		MessageAttributes: map[string]snstypes.MessageAttributeValue{"n": numAttr("ninety")}})
	if code, _ := apiErr(t, err); code != "InvalidParameter" {
		t.Errorf("Publish with a bad Number attribute: %s, want InvalidParameter", code)
	}
}
