package remediate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/keyage/keyage/internal/awsenv"
	"github.com/keyage/keyage/internal/events"
	"github.com/keyage/keyage/internal/rule"
)

// ConsumeStats counts what a consumer did.
type ConsumeStats struct {
	Handled, Ignored, Malformed, Failed int
	// Refused counts events for accounts outside the configured scope:
	// logged and deleted, never handled.
	Refused int
}

// Consume reads events from an SQS queue and hands each usable one to
// handle: AWS Config compliance changes and IAM API calls (see package
// events). Malformed and unrelated events, and events that handle refuses
// as out of scope (ErrOutOfScope), are logged and deleted, never fatal; an event whose handling failed is left on the queue to come back
// after its visibility timeout. Without follow it returns once the queue
// is empty; with follow it runs until ctx ends.
func Consume(ctx context.Context, cfg aws.Config, queueURL string, follow bool, log *slog.Logger, handle func(context.Context, events.Event) error) (ConsumeStats, error) {
	var st ConsumeStats
	client := sqs.NewFromConfig(cfg)
	wait := int32(1)
	if follow {
		wait = 10
	}
	for {
		out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(queueURL), MaxNumberOfMessages: 10, WaitTimeSeconds: wait, VisibilityTimeout: 300})
		if err != nil {
			if ctx.Err() != nil {
				return st, nil
			}
			return st, fmt.Errorf("receive events from %s: %w", queueURL, awsenv.Simplify(err))
		}
		if len(out.Messages) == 0 && !follow {
			return st, nil
		}
		for _, m := range out.Messages {
			ev, perr := events.Parse([]byte(aws.ToString(m.Body)), rule.Name)
			switch {
			case errors.Is(perr, events.ErrIgnored):
				log.Debug("event ignored", "message", aws.ToString(m.MessageId), "reason", perr)
				st.Ignored++
			case perr != nil:
				log.Warn("malformed event deleted", "message", aws.ToString(m.MessageId), "err", perr)
				st.Malformed++
			default:
				switch err := handle(ctx, ev); {
				case errors.Is(err, ErrOutOfScope):
					log.Warn("event for an account outside the configured scope refused and deleted", "message", aws.ToString(m.MessageId), "account", ev.AccountID, "resource", ev.ResourceID, "user", ev.UserName, "err", err)
					st.Refused++
				case err != nil:
					log.Error("event not handled; it will come back", "account", ev.AccountID, "resource", ev.ResourceID, "user", ev.UserName, "err", err)
					st.Failed++
					continue
				default:
					st.Handled++
				}
			}
			if _, err := client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(queueURL), ReceiptHandle: m.ReceiptHandle}); err != nil {
				log.Warn("delete event from queue", "err", awsenv.Simplify(err))
			}
		}
	}
}
