package cycle

import (
	"context"

	"github.com/keyage/keyage/internal/awsenv"
	"github.com/keyage/keyage/internal/events"
	"github.com/keyage/keyage/internal/remediate"
)

// Remediate re-evaluates one IAM user, records the evaluation and plans and
// applies what the routes select, delivering it when Deliver is set. Give
// resourceID (resolved through AWS Config, then IAM) or userName.
func (r *Runner) Remediate(ctx context.Context, accountID, resourceID, userName string) (*remediate.SingleResult, error) {
	return r.single.Remediate(ctx, accountID, resourceID, userName, r.opts.Deliver)
}

// ConsumeEvents reads AWS Config compliance changes and IAM change events
// from an SQS queue and remediates each user they name; each, when set, is
// told of every result. With follow it polls until ctx ends.
func (r *Runner) ConsumeEvents(ctx context.Context, queueURL string, follow bool, each func(*remediate.SingleResult)) (remediate.ConsumeStats, error) {
	return remediate.Consume(ctx, awsenv.ForQueue(r.base, queueURL), queueURL, follow, r.opts.Logger, func(ctx context.Context, ev events.Event) error {
		res, err := r.Remediate(ctx, ev.AccountID, ev.ResourceID, ev.UserName)
		if err != nil {
			return err
		}
		if each != nil {
			each(res)
		}
		return nil
	})
}
