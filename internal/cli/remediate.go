package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyage/keyage/internal/awsenv"
	"github.com/keyage/keyage/internal/config"
	"github.com/keyage/keyage/internal/events"
	"github.com/keyage/keyage/internal/notify"
	"github.com/keyage/keyage/internal/notify/receivers"
	"github.com/keyage/keyage/internal/remediate"
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

// newRemediateCmd builds the command; runF, when not nil, replaces runRemediate
// (tests of flag parsing).
func newRemediateCmd(ios *IO, runF func(*remediateOptions) error) *cobra.Command {
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
			if runF != nil {
				return runF(o)
			}
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
	st, err := store.Open(ctx, o.statePath, store.Options{})
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
	notifiers, err := receivers.Build(job.cfg, receivers.Env{AWS: base, Stdout: ios.Out, Version: version(), TemplateData: remediate.TemplateData})
	if err != nil {
		return usageError(err)
	}
	single := &remediate.Single{
		Engine: engine, Store: st, Accounts: assumer, Evaluator: job.scan.Evaluator, Logger: ios.Logger,
		Dispatcher: &notify.Dispatcher{
			Outbox: remediate.NewOutbox(st), Notifiers: notifiers, Logger: ios.Logger,
			Window:  time.Duration(job.cfg.Remediation.RetryAttemptSeconds) * time.Second,
			Timeout: time.Duration(job.cfg.Remediation.TimeoutSeconds) * time.Second,
		},
	}
	failed := 0
	do := func(ctx context.Context, account, resourceID, userName string) error {
		r, err := single.Remediate(ctx, account, resourceID, userName, true)
		if err != nil {
			return err
		}
		verdict := string(r.Compliance)
		if verdict == "" {
			verdict = "deleted"
		}
		fmt.Fprintf(ios.Out, "%s %s (%s): %s; %d notifications, %d sent, %d failed\n", r.AccountID, r.UserName, r.ResourceID, verdict, r.Messages, r.Stats.Sent, r.Stats.Failed)
		failed += r.Stats.Failed
		return nil
	}
	if o.eventsQueue != "" {
		st, err := remediate.Consume(ctx, awsenv.ForQueue(base, o.eventsQueue), o.eventsQueue, o.follow, ios.Logger, func(ctx context.Context, ev events.Event) error {
			return do(ctx, ev.AccountID, ev.ResourceID, ev.UserName)
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(ios.Out, "events: %d handled, %d ignored, %d malformed, %d failed (left on the queue)\n", st.Handled, st.Ignored, st.Malformed, st.Failed)
		if st.Failed > 0 {
			return &ExitError{Code: ExitAccountError}
		}
	} else if err := do(ctx, o.account, o.resourceID, ""); err != nil {
		return err
	}
	if failed > 0 {
		return &ExitError{Code: ExitAccountError, Err: fmt.Errorf("%d notifications failed; see keyage executions --status FAILED", failed)}
	}
	return nil
}
