package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/keyage/keyage/internal/config"
	"github.com/keyage/keyage/internal/cycle"
	"github.com/keyage/keyage/internal/output"
	"github.com/keyage/keyage/internal/remediate"
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
func newRemediateCmd(f *Factory, runF func(*remediateOptions) error) *cobra.Command {
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
		RunE: runE(f, o, runF, runRemediate),
	}
	addScanFlags(cmd, &o.scan)
	offerNoOutput(cmd)
	fl := cmd.Flags()
	addStateFlag(fl, &o.statePath)
	fl.StringVar(&o.account, "account", "", "account of the resource")
	fl.StringVar(&o.resourceID, "resource-id", "", "the IAM user's resourceId (UserId, AIDA...)")
	fl.StringVar(&o.eventsQueue, "events-queue", "", "SQS queue URL of AWS Config compliance change events")
	fl.BoolVar(&o.follow, "follow", false, "with --events-queue: keep polling until interrupted")
	return cmd
}

func runRemediate(ctx context.Context, f *Factory, o *remediateOptions, changed func(string) bool) error {
	switch {
	case o.eventsQueue == "" && (o.account == "" || o.resourceID == ""):
		return usageError(errors.New("give --account and --resource-id, or --events-queue"))
	case o.eventsQueue != "" && (o.account != "" || o.resourceID != ""):
		return usageError(errors.New("--events-queue excludes --account and --resource-id"))
	case o.account != "" && !config.ValidAccountID(o.account):
		return usageError(fmt.Errorf("--account %q: not a 12-digit AWS account id", o.account))
	}
	job, err := f.Config(&o.scan, changed)
	if err != nil {
		return err
	}
	st, err := f.OpenStore(ctx, o.statePath)
	if err != nil {
		return err
	}
	defer st.Close()
	r, err := f.Cycle(ctx, job, cycle.Options{Store: st, Deliver: true})
	if err != nil {
		return err
	}
	failed := 0
	report := func(r *remediate.SingleResult) {
		verdict := string(r.Compliance)
		if verdict == "" {
			verdict = "deleted"
		}
		fmt.Fprintf(f.IO.Out, "%s %s (%s): %s; %s, %d sent, %d failed\n", r.AccountID, r.UserName, r.ResourceID, verdict, output.Count(r.Messages, "notification"), r.Stats.Sent, r.Stats.Failed)
		failed += r.Stats.Failed
	}
	if o.eventsQueue != "" {
		cs, err := r.ConsumeEvents(ctx, o.eventsQueue, o.follow, report)
		if err != nil {
			return err
		}
		fmt.Fprintf(f.IO.Out, "events: %d handled, %d ignored, %d malformed, %d failed (left on the queue)\n", cs.Handled, cs.Ignored, cs.Malformed, cs.Failed)
		if cs.Failed > 0 {
			return &ExitError{Code: ExitAccountError}
		}
	} else {
		res, err := r.Remediate(ctx, o.account, o.resourceID, "")
		if err != nil {
			return err
		}
		if res.Unknown {
			return &ExitError{Code: ExitNothingDone, Err: fmt.Errorf("remediate %s in %s: no such resource (AWS Config, IAM and the state %s do not know it); nothing done", o.resourceID, o.account, st.Path())}
		}
		report(res)
	}
	if failed > 0 {
		return &ExitError{Code: ExitAccountError, Err: fmt.Errorf("%s failed; see keyage executions --status FAILED", output.Count(failed, "notification"))}
	}
	return nil
}
