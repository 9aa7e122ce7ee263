package sandbox

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/keyage/keyage/internal/events"
)

// IAM changes through the API, and DeleteUser, send CloudTrail-shaped
// EventBridge events that keyage's event parser reads.
func TestIAMEvents(t *testing.T) {
	ts := newServicesSandbox(t, Options{})
	q := sqs.NewFromConfig(ts.mgmtConfig())
	url := ts.queueURL("111111111111", "findings")
	client := ts.iam(t, "222222222222")
	ctx := context.Background()

	// No target: nothing is sent.
	if _, err := client.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("dave")}); err != nil {
		t.Fatal(err)
	}
	if got := receiveAll(t, q, url); len(got) != 0 {
		t.Fatalf("events sent without a target: %d", len(got))
	}
	if err := ts.SetEventsQueue("arn:aws:sqs:us-east-1:999999999999:nope"); err == nil {
		t.Errorf("SetEventsQueue accepted a queue of an unknown account")
	}
	if err := ts.SetEventsQueue("arn:aws:sqs:us-east-1:111111111111:findings"); err != nil {
		t.Fatal(err)
	}
	created, err := client.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("dave")})
	if err != nil {
		t.Fatal(err)
	}
	id := created.AccessKey.AccessKeyId
	if _, err := client.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("dave"), AccessKeyId: id, Status: "Inactive"}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("dave"), AccessKeyId: id}); err != nil {
		t.Fatal(err)
	}
	if err := ts.DeleteUser("222222222222", "dave"); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range receiveAll(t, q, url) {
		ev, err := events.Parse([]byte(aws.ToString(m.Body)), "access-keys-rotated")
		if err != nil {
			t.Fatalf("event does not parse: %v\n%s", err, aws.ToString(m.Body))
		}
		if ev.Kind != events.KindAPICall || ev.AccountID != "222222222222" || ev.UserName != "dave" {
			t.Errorf("event = %+v", ev)
		}
		got = append(got, ev.EventName)
	}
	want := []string{"CreateAccessKey", "UpdateAccessKey", "DeleteAccessKey", "DeleteUser"}
	diff(t, "events", got, want)
}
