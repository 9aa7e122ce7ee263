package remediate

import (
	"context"
	"log/slog"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/keyage/keyage/internal/events"
	"github.com/keyage/keyage/internal/sandbox"
)

// Consume hands on IAM events from the sandbox's events queue with the
// user they concern, whether an administrator named the user (UserName)
// or the user changed their own key (CloudTrail then names the user only
// as the caller, in userIdentity).
func TestConsumeIAMEvents(t *testing.T) {
	ctx := context.Background()
	fx := &sandbox.Fixture{ManagementAccountID: "111111111111", Accounts: []sandbox.FixtureAccount{
		{ID: "111111111111", Name: "master", Queues: []sandbox.FixtureQueue{{Name: "events"}},
			Users: []sandbox.FixtureUser{{Name: "alice"}}},
	}}
	env := serveSandbox(t, sandbox.Options{Fixture: fx, EventsQueueARN: "arn:aws:sqs:us-east-1:111111111111:events"})
	load := func(id, secret string) aws.Config { return env.config(ctx, t, id, secret) }
	base := load(env.id, env.secret)
	created, err := iam.NewFromConfig(base).CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("alice")})
	if err != nil {
		t.Fatal(err)
	}
	alice := iam.NewFromConfig(load(aws.ToString(created.AccessKey.AccessKeyId), aws.ToString(created.AccessKey.SecretAccessKey)))
	own, err := alice.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alice.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{AccessKeyId: own.AccessKey.AccessKeyId, Status: "Inactive"}); err != nil {
		t.Fatal(err)
	}

	var got []string
	st, err := Consume(ctx, base, env.url+"/111111111111/events", false, slog.New(slog.DiscardHandler), func(_ context.Context, ev events.Event) error {
		got = append(got, ev.EventName+" "+ev.AccountID+" "+ev.UserName)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"CreateAccessKey 111111111111 alice", "CreateAccessKey 111111111111 alice", "UpdateAccessKey 111111111111 alice"}
	if st.Handled != len(want) || st.Malformed != 0 || len(got) != len(want) {
		t.Fatalf("Consume = %+v handling %q, want %d handled: %q", st, got, len(want), want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("event %d = %q, want %q", i, got[i], want[i])
		}
	}
}
