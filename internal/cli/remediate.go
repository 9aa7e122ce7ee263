package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/spf13/cobra"

	"github.com/keyage/keyage/internal/awsenv"
	"github.com/keyage/keyage/internal/config"
	"github.com/keyage/keyage/internal/events"
	"github.com/keyage/keyage/internal/inventory"
	"github.com/keyage/keyage/internal/remediate"
	"github.com/keyage/keyage/internal/rule"
	"github.com/keyage/keyage/internal/scan"
	"github.com/keyage/keyage/internal/store"
)

type remediateOptions struct {
	scan        scanOptions
	statePath   string
	account     string
	resourceID  string
	eventsQueue string
	follow      bool
}

func newRemediateCmd(ios *IO) *cobra.Command {
	o := &remediateOptions{}
	cmd := &cobra.Command{
		Use:   "remediate",
		Short: "Remediate one IAM user by resourceId, or the users named by AWS Config events",
		Long: `Remediate runs the seed's remediation for a resourceId that arrives alone: it
resolves the IAM user name with AWS Config ListDiscoveredResources in that
account (falling back to IAM when Config has no record), re-evaluates the user
in real time and notifies the receivers the routes select.

With --events-queue it reads AWS Config "Config Rules Compliance Change" events
(and IAM API call events) from an SQS queue and remediates each user they name;
malformed or unrelated events are logged and deleted.`,
		Example: `  keyage remediate --account 222222222222 --resource-id AIDAEXAMPLE
  keyage remediate --events-queue https://sqs.us-east-1.amazonaws.com/111111111111/keyage-events`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runRemediate(cmd.Context(), ios, o, cmd.Flags().Changed)
		},
	}
	addScanFlags(cmd, &o.scan)
	f := cmd.Flags()
	f.StringVar(&o.statePath, "state", defaultStatePath, "SQLite state database")
	f.StringVar(&o.account, "account", "", "account of the resource")
	f.StringVar(&o.resourceID, "resource-id", "", "the IAM user's resourceId (UserId, AIDA...)")
	f.StringVar(&o.eventsQueue, "events-queue", "", "SQS queue URL of AWS Config compliance change events")
	f.BoolVar(&o.follow, "follow", false, "with --events-queue: keep polling until interrupted")
	return cmd
}

// remediator remediates single resources.
type remediator struct {
	ios     *IO
	job     *scanJob
	assumer *awsenv.Assumer
	engine  *remediate.Engine
	store   *store.Store
	disp    *remediate.Dispatcher
}

func runRemediate(ctx context.Context, ios *IO, o *remediateOptions, changed func(string) bool) error {
	switch {
	case o.eventsQueue == "" && (o.account == "" || o.resourceID == ""):
		return usageError(errors.New("give --account and --resource-id, or --events-queue"))
	case o.eventsQueue != "" && (o.account != "" || o.resourceID != ""):
		return usageError(errors.New("--events-queue excludes --account and --resource-id"))
	case o.account != "" && !config.ValidAccountID(o.account):
		return usageError(fmt.Errorf("--account %q: not a 12-digit AWS account id", o.account))
	}
	job, err := resolveScan(&o.scan, changed)
	if err != nil {
		return err
	}
	engine, err := remediate.NewEngine(job.cfg)
	if err != nil {
		return usageError(err)
	}
	st, err := store.Open(ctx, o.statePath)
	if err != nil {
		return err
	}
	defer st.Close()
	base, err := awsenv.Load(ctx, job.env)
	if err != nil {
		return err
	}
	assumer, err := awsenv.NewAssumer(ctx, base, job.assume)
	if err != nil {
		return err
	}
	notifiers, err := remediate.BuildNotifiers(job.cfg, remediate.NotifierEnv{AWS: base, Stdout: ios.Out, Version: version()})
	if err != nil {
		return usageError(err)
	}
	r := &remediator{ios: ios, job: job, assumer: assumer, engine: engine, store: st, disp: &remediate.Dispatcher{
		Store: st, Notifiers: notifiers, Logger: ios.Logger,
		Window:  time.Duration(job.cfg.Remediation.RetryAttemptSeconds) * time.Second,
		Timeout: time.Duration(job.cfg.Remediation.TimeoutSeconds) * time.Second,
	}}
	if o.eventsQueue != "" {
		return r.consume(ctx, base, o.eventsQueue, o.follow)
	}
	return r.resource(ctx, o.account, o.resourceID, "")
}

// resource remediates one resourceId; userName skips resolution when known.
func (r *remediator) resource(ctx context.Context, accountID, resourceID, userName string) error {
	cfg, err := r.assumer.ForAccount(ctx, accountID)
	if err != nil {
		return err
	}
	now := time.Now()
	via := "the event"
	if userName == "" {
		userName, via, err = remediate.ResolveUserName(ctx, cfg, accountID, resourceID)
	}
	res := &scan.Result{Rule: rule.Name, EvaluatedAt: now.UTC(), Source: "api",
		Parameters: scan.Parameters{MaxAccessKeyAge: int(r.job.scan.Policy.MaxAge / rule.Day), WarnAge: int(r.job.scan.Policy.WarnAge / rule.Day)},
		Accounts:   []scan.AccountResult{{AccountID: accountID, Status: scan.StatusOK}}}
	var gone [][2]string
	switch {
	case errors.Is(err, remediate.ErrUnknownResource):
		gone = append(gone, [2]string{accountID, resourceID})
		via = "deleted"
	case err != nil:
		return err
	default:
		u, err := inventory.User(ctx, cfg, accountID, userName)
		if err != nil {
			return err
		}
		if resourceID == "" {
			resourceID = u.UserID
		}
		res.Evaluations = []rule.Evaluation{rule.Evaluate(u, r.job.scan.Policy, now)}
	}
	if err := r.store.RecordEvaluations(ctx, now, res.Evaluations, gone); err != nil {
		return err
	}
	plan, err := r.engine.PlanResources(ctx, r.store, res, now, map[[2]string]string{{accountID, resourceID}: via})
	if err != nil {
		return err
	}
	if err := r.engine.Apply(ctx, r.store, plan); err != nil {
		return err
	}
	stats, err := r.disp.Drain(ctx)
	if err != nil {
		return err
	}
	verdict := "deleted"
	if len(res.Evaluations) == 1 {
		verdict = string(res.Evaluations[0].Compliance)
	}
	fmt.Fprintf(r.ios.Out, "%s %s (%s): %s; %d notifications, %d sent, %d failed\n", accountID, userName, resourceID, verdict, len(plan.Messages), stats.Sent, stats.Failed)
	if stats.Failed > 0 {
		return &ExitError{Code: ExitAccountError, Err: fmt.Errorf("%d notifications failed; see keyage executions --status FAILED", stats.Failed)}
	}
	return nil
}

// consume reads events from an SQS queue until it is empty (or, with
// follow, until ctx ends). Every message is deleted once handled or found
// unusable; a message whose remediation failed is left to come back.
func (r *remediator) consume(ctx context.Context, base aws.Config, queueURL string, follow bool) error {
	client := sqs.NewFromConfig(base)
	handled, skipped := 0, 0
	for {
		out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(queueURL), MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 300})
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			return fmt.Errorf("receive events from %s: %w", queueURL, awsenv.Simplify(err))
		}
		if len(out.Messages) == 0 && !follow {
			break
		}
		for _, m := range out.Messages {
			ev, perr := events.Parse([]byte(aws.ToString(m.Body)), rule.Name)
			switch {
			case errors.Is(perr, events.ErrIgnored):
				r.ios.Logger.Debug("event ignored", "err", perr)
				skipped++
			case perr != nil:
				r.ios.Logger.Warn("malformed event deleted", "message", aws.ToString(m.MessageId), "err", perr)
				skipped++
			default:
				if err := r.resource(ctx, ev.AccountID, ev.ResourceID, ev.UserName); err != nil {
					r.ios.Logger.Error("remediation failed; the event will be retried", "account", ev.AccountID, "resource", ev.ResourceID, "user", ev.UserName, "err", err)
					continue
				}
				handled++
			}
			if _, err := client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(queueURL), ReceiptHandle: m.ReceiptHandle}); err != nil {
				r.ios.Logger.Warn("delete event", "err", awsenv.Simplify(err))
			}
		}
	}
	fmt.Fprintf(r.ios.Out, "events: %d remediated, %d ignored or malformed\n", handled, skipped)
	return nil
}
