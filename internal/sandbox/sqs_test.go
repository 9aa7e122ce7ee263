package sandbox

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

func TestSQSSendReceiveDelete(t *testing.T) {
	ts := newServicesSandbox(t, Options{})
	ctx := context.Background()
	client := sqs.NewFromConfig(ts.mgmtConfig())

	created, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("work"), Attributes: map[string]string{"VisibilityTimeout": "60"}})
	if err != nil {
		t.Fatal(err)
	}
	url := aws.ToString(created.QueueUrl)
	if want := ts.url + "/111111111111/work"; url != want {
		t.Errorf("QueueUrl = %s, want %s", url, want)
	}
	got, err := client.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("work")})
	if err != nil || aws.ToString(got.QueueUrl) != url {
		t.Errorf("GetQueueUrl = %v, %v", got, err)
	}
	if _, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("work"), Attributes: map[string]string{"VisibilityTimeout": "10"}}); err == nil {
		t.Error("CreateQueue with another VisibilityTimeout succeeded")
	} else if code, _ := apiErr(t, err); code != "QueueAlreadyExists" {
		t.Errorf("CreateQueue conflict: %s, want QueueAlreadyExists", code)
	}
	_, err = client.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("nope")})
	if code, _ := apiErr(t, err); code != "AWS.SimpleQueueService.NonExistentQueue" {
		t.Errorf("GetQueueUrl(nope): %s, want AWS.SimpleQueueService.NonExistentQueue", code)
	}
	var notExist *sqstypes.QueueDoesNotExist
	if !errors.As(err, &notExist) {
		t.Errorf("GetQueueUrl(nope) error %T, want *types.QueueDoesNotExist", err)
	}

	sent, err := client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("hello <world> & all"),
		MessageAttributes: map[string]sqstypes.MessageAttributeValue{
			"kind":  {DataType: aws.String("String"), StringValue: aws.String("greeting")},
			"count": {DataType: aws.String("Number"), StringValue: aws.String("3")},
		}})
	if err != nil {
		t.Fatalf("SendMessage: %v", err) // the SDK checks MD5OfMessageBody
	}
	// MD5OfMessageAttributes as computed by AWS for these two attributes.
	if want := md5OfAttributes(map[string]MessageAttribute{"kind": {DataType: "String", StringValue: "greeting"}, "count": {DataType: "Number", StringValue: "3"}}); aws.ToString(sent.MD5OfMessageAttributes) != want || want == "" {
		t.Errorf("MD5OfMessageAttributes = %s, want %s", aws.ToString(sent.MD5OfMessageAttributes), want)
	}
	attrs, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url), AttributeNames: []sqstypes.QueueAttributeName{"All"}})
	if err != nil {
		t.Fatal(err)
	}
	if attrs.Attributes["QueueArn"] != "arn:aws:sqs:us-east-1:111111111111:work" || attrs.Attributes["ApproximateNumberOfMessages"] != "1" || attrs.Attributes["VisibilityTimeout"] != "60" {
		t.Errorf("GetQueueAttributes = %v", attrs.Attributes)
	}

	recv := func(vis int32) []sqstypes.Message {
		t.Helper()
		out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10, VisibilityTimeout: vis,
			MessageAttributeNames: []string{"All"}, MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameApproximateReceiveCount}})
		if err != nil {
			t.Fatalf("ReceiveMessage: %v", err)
		}
		return out.Messages
	}
	first := recv(30)
	if len(first) != 1 || aws.ToString(first[0].Body) != "hello <world> & all" || aws.ToString(first[0].MessageId) != aws.ToString(sent.MessageId) ||
		first[0].Attributes["ApproximateReceiveCount"] != "1" || aws.ToString(first[0].MessageAttributes["kind"].StringValue) != "greeting" {
		t.Fatalf("first receive = %+v", first)
	}
	if again := recv(30); len(again) != 0 {
		t.Errorf("a received message is visible again before its visibility timeout: %d messages", len(again))
	}
	ts.clock.Advance(31 * time.Second)
	second := recv(30)
	if len(second) != 1 || second[0].Attributes["ApproximateReceiveCount"] != "2" {
		t.Fatalf("after the visibility timeout, receive = %+v, want the message again with ApproximateReceiveCount 2", second)
	}
	// The outdated handle does not delete the message (as in SQS); the latest one does.
	if _, err := client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: first[0].ReceiptHandle}); err != nil {
		t.Fatalf("DeleteMessage(outdated handle): %v", err)
	}
	if _, err := client.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(url), ReceiptHandle: second[0].ReceiptHandle, VisibilityTimeout: 0}); err != nil {
		t.Fatalf("ChangeMessageVisibility: %v", err)
	}
	third := recv(30)
	if len(third) != 1 {
		t.Fatalf("after ChangeMessageVisibility 0, receive got %d messages, want 1", len(third))
	}
	if _, err := client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: third[0].ReceiptHandle}); err != nil {
		t.Fatal(err)
	}
	ts.clock.Advance(time.Hour)
	if left := recv(30); len(left) != 0 {
		t.Errorf("deleted message received again")
	}
	_, err = client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: aws.String("garbage")})
	if code, _ := apiErr(t, err); code != "ReceiptHandleIsInvalid" {
		t.Errorf("DeleteMessage(garbage): %s, want ReceiptHandleIsInvalid", code)
	}
	_, err = client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 11})
	if code, _ := apiErr(t, err); code != "InvalidParameterValue" {
		t.Errorf("ReceiveMessage(MaxNumberOfMessages 11): %s, want InvalidParameterValue", code)
	}

	// Another account may not use the queue, until its policy allows it.
	prod := sqs.NewFromConfig(ts.assume(t, "222222222222"))
	_, err = prod.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("x")})
	if code, _ := apiErr(t, err); code != "AccessDenied" {
		t.Errorf("SendMessage from another account: %s, want AccessDenied", code)
	}
	if _, err := client.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: aws.String(url), Attributes: map[string]string{
		"Policy": `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"222222222222"},"Action":"sqs:SendMessage","Resource":"*"}]}`}}); err != nil {
		t.Fatal(err)
	}
	if _, err := prod.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("x")}); err != nil {
		t.Errorf("SendMessage allowed by the queue policy: %v", err)
	}

	if _, err := client.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(url)}); err != nil {
		t.Fatal(err)
	}
	_, err = client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("x")})
	if code, _ := apiErr(t, err); code != "AWS.SimpleQueueService.NonExistentQueue" {
		t.Errorf("SendMessage to a deleted queue: %s", code)
	}
	st := ts.Stats().ByAccount["111111111111"]
	if st["sqs:SendMessage"] != 2 || st["sqs:ReceiveMessage"] != 6 {
		t.Errorf("stats = %v", st)
	}
}

// TestSQSLongPoll checks that a long poll returns as soon as a message arrives. The 10-second
// context is not a timing assertion: a poll that ignored the message would wait its full 20
// seconds and fail with the context's deadline.
func TestSQSLongPoll(t *testing.T) {
	f, err := LoadFixture("testdata/services.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ts := newHeldSandbox(t, Options{Fixture: f})
	client := sqs.NewFromConfig(ts.mgmtConfig())
	url := ts.queueURL(ts.ManagementAccountID(), "findings")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	type result struct {
		out *sqs.ReceiveMessageOutput
		err error
	}
	done := make(chan result, 1)
	polling := ts.timers.next() // the poll's 20-second wait starts
	go func() {
		out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), WaitTimeSeconds: 20})
		done <- result{out, err}
	}()
	// Send once the poll waits in the sandbox; the held wait never ends by itself.
	select {
	case <-polling:
	case r := <-done:
		t.Fatalf("ReceiveMessage returned before it waited: %+v, %v", r.out, r.err)
	}
	if _, err := client.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("wake up")}); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatalf("long poll: %v", r.err)
	}
	if len(r.out.Messages) != 1 || aws.ToString(r.out.Messages[0].Body) != "wake up" {
		t.Errorf("long poll got %+v, want the message sent while it waited", r.out.Messages)
	}
}
