package remediate

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/keyage/keyage/internal/config"
	"github.com/keyage/keyage/internal/events"
	"github.com/keyage/keyage/internal/lifecycle"
	"github.com/keyage/keyage/internal/rule"
	"github.com/keyage/keyage/internal/sandbox"
)

// BenchmarkChangeEventToEvaluation measures, with 20 ms of latency on every
// sandbox call, the time from an IAM change (CreateAccessKey) to the
// updated evaluation in the store: the event travels through SQS, the
// consumer re-reads only that user (GetUser, ListAccessKeys,
// GetAccessKeyLastUsed) and records it.
func BenchmarkChangeEventToEvaluation(b *testing.B) {
	ctx := context.Background()
	fx := &sandbox.Fixture{ManagementAccountID: "111111111111", Accounts: []sandbox.FixtureAccount{
		{ID: "111111111111", Name: "master", Queues: []sandbox.FixtureQueue{{Name: "events"}},
			Users: []sandbox.FixtureUser{{Name: "alice"}}},
	}}
	env := serveSandbox(b, sandbox.Options{Fixture: fx, Latency: 20 * time.Millisecond, EventsQueueARN: "arn:aws:sqs:us-east-1:111111111111:events"})
	base := env.config(ctx, b, env.id, env.secret)
	assumer := env.assumer(ctx, b)
	st := openStore(b)
	cfg, err := config.Parse(nil, "none")
	if err != nil {
		b.Fatal(err)
	}
	engine, _ := NewEngine(cfg)
	single := &Single{Engine: engine, Store: st, Accounts: assumer, Evaluator: lifecycle.RuleOnly(rule.DefaultPolicy())}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go Consume(cctx, base, env.url+"/111111111111/events", true, slog.New(slog.DiscardHandler), func(ctx context.Context, ev events.Event) error {
		_, err := single.Remediate(ctx, ev.AccountID, ev.ResourceID, ev.UserName, false)
		return err
	})
	client := iam.NewFromConfig(base)
	u, err := client.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("alice")})
	if err != nil {
		b.Fatal(err)
	}
	userID := aws.ToString(u.User.UserId)
	keys := func() int {
		ev, err := st.Evaluation(ctx, "111111111111", userID)
		if err != nil || ev == nil {
			return -1
		}
		return len(ev.Keys)
	}
	wait := func(want int) {
		deadline := time.Now().Add(10 * time.Second)
		for keys() != want {
			if time.Now().After(deadline) {
				b.Fatalf("evaluation not updated within 10s: %d keys, want %d", keys(), want)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	var total time.Duration
	for b.Loop() {
		start := time.Now()
		k, err := client.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("alice")})
		if err != nil {
			b.Fatal(err)
		}
		wait(1)
		total += time.Since(start)
		b.StopTimer()
		if _, err := client.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("alice"), AccessKeyId: k.AccessKey.AccessKeyId}); err != nil {
			b.Fatal(err)
		}
		wait(0)
		b.StartTimer()
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/change")
}
