package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyage/keyage/internal/awsenv"
	"github.com/keyage/keyage/internal/config"
	"github.com/keyage/keyage/internal/cycle"
	"github.com/keyage/keyage/internal/enforce"
	"github.com/keyage/keyage/internal/output"
	"github.com/keyage/keyage/internal/store"
)

type enforceOptions struct {
	actingOptions
}

// newEnforceCmd builds the command; runF, when not nil, replaces runEnforce
// (tests of flag parsing).
func newEnforceCmd(f *Factory, runF func(*enforceOptions) error) *cobra.Command {
	o := &enforceOptions{}
	cmd := &cobra.Command{
		Use:   "enforce",
		Short: "Deactivate and delete aged access keys: a dry run unless --apply",
		Long: `Enforce acts on single keys (never on a user's other keys) past the config's
lifecycle.deactivateAge (deactivate) and lifecycle.deleteAge (delete an inactive
key, once it has been inactive for deleteAfterInactive days). Without --apply
(or enforce.apply: true) it only prints what it would do.

Before each action it re-reads the key and refuses one used within
lifecycle.recentUseGuard (escalating instead); it never touches the key keyage
runs with; it deactivates a key only enforce.noticeDays after its owner was
told (a key already past deactivateAge is first noticed and scheduled); it
stops after enforce.maxActionsPerAccount actions in an account and
enforce.maxActionsPerRun per run, and at once when enforce.enabled is false or enforce.killSwitchFile
exists. Every action, applied, planned or refused, is an audit record
(keyage audit) and, with --audit-log, a JSON line. In target accounts it
assumes enforce.roleName (default KeyageEnforceRole).`,
		Example: `  keyage enforce --config keyage.yaml              # dry run: the plan
  keyage enforce --config keyage.yaml --apply --audit-log audit.jsonl
  keyage enforce --config keyage.yaml -o json | jq .counts   # schema in docs/run-json.md`,
		Args: cobra.NoArgs,
		RunE: runE(f, o, runF, runEnforce),
	}
	addActingFlags(cmd, &o.actingOptions, "IAM")
	return cmd
}

func runEnforce(ctx context.Context, f *Factory, o *enforceOptions, changed func(string) bool) error {
	act, err := o.open(ctx, f, changed, func(cfg *config.Config) error {
		if cfg.Lifecycle.DeactivateAge == 0 && cfg.Lifecycle.DeleteAge == 0 {
			return errors.New("nothing to enforce: set lifecycle.deactivateAge and/or lifecycle.deleteAge in the config")
		}
		return nil
	})
	if err != nil {
		return err
	}
	defer act.close()
	rep, err := act.enforce(ctx, f, cycle.EnforceOptions{Apply: o.apply || act.job.cfg.Enforce.Apply},
		func(rep *cycle.Report) any { return newEnforceDocument(rep.Enforce, runJSONVersion) },
		func(w io.Writer, rep *cycle.Report) { printEnforceReport(w, rep.Enforce) })
	if err != nil {
		return err
	}
	if er := rep.Enforce.Report; er.Stopped != "" {
		return &ExitError{Code: ExitAccountError, Err: fmt.Errorf("enforcement stopped (%s) after changing %d keys", er.Stopped, len(er.Changed()))}
	}
	if rep.Enforce.Failed > 0 || rep.Result.Summary.AccountsFailed > 0 {
		return &ExitError{Code: ExitAccountError}
	}
	return nil
}

// printEnforceReport prints enforcement's actions and what owners were, or
// would be, told.
func printEnforceReport(w io.Writer, rep *cycle.EnforceReport) {
	printEnforce(w, rep.Report, rep.Applied)
	printRotation(w, rep.Rotation, rep.Applied)
	switch {
	case !rep.NoticesPlanned:
	case !rep.Applied:
		fmt.Fprintf(w, "Owners would get %d notices (sent only with --apply).\n", rep.Notices)
	case rep.NoticeStats != nil:
		fmt.Fprintf(w, "Owner notices: %d sent, %d failed.\n", rep.NoticeStats.Sent, rep.NoticeStats.Failed)
	}
}

func printEnforce(w io.Writer, rep *enforce.Report, applied bool) {
	for _, r := range rep.Reconciled {
		fmt.Fprintf(w, "Reconciled an unfinished %s of key %s of %s in %s (audit record %d): %s, IAM shows %s.\n", r.Action, r.AccessKeyID, r.UserName, r.AccountID, r.ID, r.Outcome, r.AfterStatus)
	}
	if rep.Stopped != "" && len(rep.Actions) == 0 {
		fmt.Fprintf(w, "Enforcement stopped: %s. Nothing was changed.\n", rep.Stopped)
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ACCOUNT\tUSER\tKEY\tAGE\tACTION\tOUTCOME\tWHY")
	for _, a := range rep.Actions {
		why := a.Reason
		if a.Detail != "" {
			why += "; " + a.Detail
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%dd\t%s\t%s\t%s\n", a.AccountID, a.UserName, a.AccessKeyID, a.AgeDays, a.Action, a.Outcome, why)
	}
	_ = tw.Flush()
	mode := "Dry run (nothing changed; --apply to act)"
	if applied {
		mode = "Applied"
	}
	fmt.Fprintf(w, "\n%s: %d planned, %d applied, %d refused, %d escalated to owners, %d failed.\n", mode, rep.DryRun, rep.Applied, rep.Refused, rep.Escalated, rep.Failed)
	if rep.Scheduled > 0 {
		fmt.Fprintf(w, "%d deactivations scheduled: owners are told first (enforce.noticeDays).\n", rep.Scheduled)
	}
	if rep.Stopped == "" {
		return
	}
	changed := rep.Changed()
	if len(changed) == 0 {
		fmt.Fprintf(w, "Enforcement stopped: %s. Nothing was changed.\n", rep.Stopped)
		return
	}
	fmt.Fprintf(w, "Enforcement stopped: %s. Changed before the stop (%d keys):\n", rep.Stopped, len(changed))
	for _, a := range changed {
		fmt.Fprintf(w, "  %s key %s of %s in %s: %s -> %s\n", a.Action, a.AccessKeyID, a.UserName, a.AccountID, a.Before, a.After)
	}
}

func newAuditCmd(ios *IO) *cobra.Command {
	var statePath, account, key, out string
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "List the enforcement audit trail",
		Example: `  keyage audit
  # one account's actions, as CSV
  keyage audit --account 222222222222 -o csv
  # what happened to one key
  keyage audit --key AKIAIOSFODNN7EXAMPLE -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var recs []store.AuditRecord
			err := withState(cmd.Context(), statePath, func(st *store.Store) (err error) {
				recs, err = st.AuditRecords(cmd.Context(), account, key)
				return err
			})
			if err != nil {
				return err
			}
			if out == "json" {
				enc := json.NewEncoder(ios.Out)
				for _, r := range recs {
					if err := enc.Encode(r); err != nil {
						return err
					}
				}
				return nil
			}
			if out == "csv" {
				rows := [][]string{{"when", "account_id", "user_name", "access_key_id", "action", "outcome", "before", "after", "by", "reason"}}
				for _, r := range recs {
					rows = append(rows, []string{r.At.UTC().Format(time.RFC3339), r.AccountID, r.UserName, r.AccessKeyID, r.Action, r.Outcome, r.BeforeStatus, r.AfterStatus, r.CallerARN, r.Reason})
				}
				return writeCSV(ios.Out, rows)
			}
			tw := tabwriter.NewWriter(ios.Out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "WHEN\tACCOUNT\tUSER\tKEY\tACTION\tOUTCOME\tBEFORE\tAFTER\tBY\tREASON")
			for _, r := range recs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.At.Format(time.RFC3339), r.AccountID, r.UserName, r.AccessKeyID, r.Action, r.Outcome, r.BeforeStatus, r.AfterStatus, r.CallerARN, r.Reason)
			}
			return tw.Flush()
		},
	}
	addStateFlag(cmd.Flags(), &statePath)
	cmd.Flags().StringVar(&account, "account", "", "only this account")
	cmd.Flags().StringVar(&key, "key", "", "only this access key id")
	addOutputFlags(cmd.Flags(), &out, nil, output.Table, output.JSON, output.CSV)
	return cmd
}

type reactivateOptions struct {
	statePath, account, key, user, auditLog, configPath string
	env                                                 awsenv.Options
}

func newReactivateCmd(ios *IO) *cobra.Command {
	o := &reactivateOptions{}
	cmd := &cobra.Command{
		Use:   "reactivate",
		Short: "Undo a deactivation: set an access key Active again (audited)",
		Example: `  # the user is found in the audit trail of the deactivation
  keyage reactivate --account 222222222222 --key AKIAIOSFODNN7EXAMPLE
  # a key deactivated by hand: name its user
  keyage reactivate --account 222222222222 --key AKIAIOSFODNN7EXAMPLE --user alice`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runReactivate(cmd.Context(), ios, o)
		},
	}
	fl := cmd.Flags()
	addStateFlag(fl, &o.statePath)
	addConfigFlag(fl, &o.configPath)
	fl.StringVar(&o.account, "account", "", "the key's account")
	fl.StringVar(&o.key, "key", "", "the access key id")
	fl.StringVar(&o.user, "user", "", "the key's user (default: from the audit trail)")
	fl.StringVar(&o.auditLog, "audit-log", "", "append the audit record to this file as a JSON line")
	addAWSFlags(fl, &o.env.EndpointURL, &o.env.Region, &o.env.Profile)
	return cmd
}

func runReactivate(ctx context.Context, ios *IO, o *reactivateOptions) error {
	if !config.ValidAccountID(o.account) || o.key == "" {
		return usageError(errors.New("give --account (12 digits) and --key"))
	}
	cfg, err := loadConfig(o.configPath)
	if err != nil {
		return usageError(err)
	}
	st, err := store.Open(ctx, o.statePath, store.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	user, resourceID := o.user, ""
	if recs, err := st.AuditRecords(ctx, o.account, o.key); err == nil && len(recs) > 0 {
		resourceID = recs[len(recs)-1].ResourceID
		if user == "" {
			user = recs[len(recs)-1].UserName
		}
	}
	if user == "" {
		return usageError(fmt.Errorf("key %s has no audit record in %s: give --user", o.key, o.statePath))
	}
	base, err := awsenv.Load(ctx, o.env)
	if err != nil {
		return err
	}
	a, err := awsenv.NewAssumer(ctx, base, awsenv.AssumerOptions{RoleName: cfg.Enforce.RoleName, SessionName: "keyage-enforce"})
	if err != nil {
		return err
	}
	var auditLog io.Writer
	if o.auditLog != "" {
		f, err := os.OpenFile(o.auditLog, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			return fmt.Errorf("open audit log: %w", err)
		}
		defer f.Close()
		auditLog = f
	}
	e := &enforce.Enforcer{Actor: enforce.Actor{Config: cfg, Store: st, Accounts: a, CallerARN: a.CallerARN(), Apply: true, AuditLog: auditLog, Logger: ios.Logger}}
	act, err := e.Reactivate(ctx, o.account, user, resourceID, o.key)
	if err != nil {
		return err
	}
	if act.Outcome == enforce.OutcomeUnchanged {
		fmt.Fprintf(ios.Out, "key %s of %s in %s is already Active: nothing changed\n", o.key, user, o.account)
		return nil
	}
	fmt.Fprintf(ios.Out, "reactivated key %s of %s in %s\n", o.key, user, o.account)
	return nil
}
