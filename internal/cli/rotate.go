package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/keyage/keyage/internal/awsenv"
	"github.com/keyage/keyage/internal/config"
	"github.com/keyage/keyage/internal/cycle"
	"github.com/keyage/keyage/internal/enforce"
	"github.com/keyage/keyage/internal/output"
	"github.com/keyage/keyage/internal/rotate"
)

type rotateOptions struct {
	actingOptions
	undo string
}

// newRotateCmd builds keyage rotate; runF, when not nil, replaces runRotate (tests of flag
// parsing).
func newRotateCmd(f *Factory, runF func(*rotateOptions) error) *cobra.Command {
	o := &rotateOptions{}
	cmd := &cobra.Command{
		Use:   "rotate",
		Short: "Rotate opted-in users' access keys into Secrets Manager: a dry run unless --apply",
		Long: `Rotate creates a new access key for each user opted in by lifecycle.rotate (its match,
or the user tag keyage:rotate=secretsmanager) whose oldest active key has reached
rotateAge, stores it in Secrets Manager in the user's account (secret name
lifecycle.rotate.secretName), tells the owner where to read it, deactivates the old key
deactivateAfter later (not while only the old key is in use) and deletes it deleteAfter
after that. Each run takes the next due step. The enforcement role (enforce.roleName) makes
every call, each with its intent in the audit trail first (keyage audit); the kill switch
and enforce.maxActionsPerRun apply. --undo KEY reactivates the old key of the rotation
involving KEY and deactivates the new one. See docs/rotation.md.`,
		Example: `  keyage rotate --config keyage.yaml                 # dry run: the plan
  keyage rotate --config keyage.yaml --apply --audit-log audit.jsonl
  keyage rotate --config keyage.yaml --undo AKIAOLDKEYEXAMPLE --apply`,
		Args: cobra.NoArgs,
		RunE: runE(f, o, runF, runRotate),
	}
	addActingFlags(cmd, &o.actingOptions, "IAM and Secrets Manager")
	cmd.Flags().StringVar(&o.undo, "undo", "", "undo the rotation involving this access key id (old or new)")
	return cmd
}

func runRotate(ctx context.Context, f *Factory, o *rotateOptions, changed func(string) bool) error {
	act, err := o.open(ctx, f, changed, func(cfg *config.Config) error {
		if rc := cfg.Lifecycle.Rotate; rc == nil || !rc.Enabled {
			return errors.New("nothing to rotate: set lifecycle.rotate.enabled: true in the config")
		}
		return nil
	})
	if err != nil {
		return err
	}
	defer act.close()
	job, cfg, st, audit := act.job, act.job.cfg, act.store, act.audit
	apply := o.apply || cfg.Enforce.Apply
	if o.undo != "" {
		base, err := awsenv.Load(ctx, job.env)
		if err != nil {
			return err
		}
		a, err := awsenv.NewAssumer(ctx, base, awsenv.AssumerOptions{RoleName: cfg.Enforce.RoleName, ExternalID: cfg.Accounts.ExternalID, SessionName: "keyage-enforce"})
		if err != nil {
			return err
		}
		ro := &rotate.Rotator{Actor: enforce.Actor{Config: cfg, Store: st, Accounts: a, CallerARN: a.CallerARN(), Apply: apply, AuditLog: audit, Now: f.Now, Logger: f.IO.Logger}}
		step, err := ro.Undo(ctx, o.undo)
		if err != nil {
			return err
		}
		if job.format == output.JSON {
			return writeJSON(f.IO.Out, rotationDocument{Applied: apply, Steps: []rotationStep{newRotationStep(step)}})
		}
		fmt.Fprintf(f.IO.Out, "%s %s of %s in %s: %s\n", step.Outcome, step.Action, step.UserName, step.AccountID, step.Detail)
		return nil
	}
	rep, err := act.enforce(ctx, f, cycle.EnforceOptions{Apply: apply, RotateOnly: true},
		func(rep *cycle.Report) any { return newRotationDocument(rep.Enforce.Rotation, apply) },
		func(w io.Writer, rep *cycle.Report) { printRotation(w, rep.Enforce.Rotation, apply) })
	if err != nil {
		return err
	}
	if rot := rep.Enforce.Rotation; rot != nil && rot.Stopped != "" {
		return &ExitError{Code: ExitAccountError, Err: fmt.Errorf("rotation stopped (%s)", rot.Stopped)}
	}
	return nil
}

// printRotation prints a rotation run's steps. It never has a secret to print.
func printRotation(w io.Writer, rep *rotate.Report, applied bool) {
	if rep == nil {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ACCOUNT\tUSER\tKEY\tSTEP\tOUTCOME\tNEW KEY\tSECRET\tWHY")
	for _, s := range rep.Steps {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.AccountID, s.UserName, s.AccessKeyID, s.Action, s.Outcome, s.State.NewKeyID, s.State.SecretARN, s.Detail)
	}
	_ = tw.Flush()
	if !applied {
		fmt.Fprintln(w, "\nDry run (nothing changed; --apply to act).")
	}
	if rep.Stopped != "" {
		fmt.Fprintf(w, "Rotation stopped: %s.\n", rep.Stopped)
	}
}

// rotationDocument is keyage rotate -o json: the run's steps, each with the
// rotation's state after it (keys, secret ARN, dates; never the secret).
type rotationDocument struct {
	Applied bool           `json:"applied"`
	Stopped string         `json:"stopped,omitempty"`
	Steps   []rotationStep `json:"steps"`
}

type rotationStep struct {
	AccountID   string       `json:"accountId"`
	UserName    string       `json:"userName"`
	ResourceID  string       `json:"resourceId"`
	AccessKeyID string       `json:"accessKeyId"`
	Action      string       `json:"action"`
	Outcome     string       `json:"outcome"`
	Detail      string       `json:"detail,omitempty"`
	Rotation    rotate.State `json:"rotation"`
}

func newRotationStep(s *rotate.Step) rotationStep {
	return rotationStep{AccountID: s.AccountID, UserName: s.UserName, ResourceID: s.ResourceID, AccessKeyID: s.AccessKeyID,
		Action: s.Action, Outcome: s.Outcome, Detail: s.Detail, Rotation: s.State}
}

func newRotationDocument(rep *rotate.Report, applied bool) rotationDocument {
	d := rotationDocument{Applied: applied, Steps: []rotationStep{}}
	if rep == nil {
		return d
	}
	d.Stopped = rep.Stopped
	for i := range rep.Steps {
		d.Steps = append(d.Steps, newRotationStep(&rep.Steps[i]))
	}
	return d
}
