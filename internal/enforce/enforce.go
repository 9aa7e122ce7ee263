// Package enforce deactivates and deletes aged access keys, safely: per key
// (never per user), dry-run unless told to apply, with a re-read of the key
// and a recent-use guard before every action, limits per run and per
// account, a kill switch, never the credentials keyage runs with, and an
// audit record for everything it does or refuses.
package enforce

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/keyage/keyage/internal/awsenv"
	"github.com/keyage/keyage/internal/config"
	"github.com/keyage/keyage/internal/inventory"
	"github.com/keyage/keyage/internal/lifecycle"
	"github.com/keyage/keyage/internal/rule"
	"github.com/keyage/keyage/internal/scan"
	"github.com/keyage/keyage/internal/store"
)

// Outcomes of a planned action, as the audit trail records them.
const (
	OutcomeApplied   = "applied"
	OutcomeDryRun    = "dry-run"
	OutcomeRefused   = "refused"
	OutcomeEscalated = "escalated"
	OutcomeFailed    = "failed"
)

// AccountConfigs hands out an aws.Config acting in an account with the
// enforcement role (awsenv.Assumer).
type AccountConfigs interface {
	ForAccount(ctx context.Context, accountID string) (aws.Config, error)
}

// Enforcer plans and carries out key actions.
type Enforcer struct {
	Config *config.Config
	Store  *store.Store
	// Accounts act with the enforcement role in each account.
	Accounts AccountConfigs
	// CallerARN and CallerKeyID identify the credentials keyage runs with;
	// that key is never touched.
	CallerARN   string
	CallerKeyID string
	Apply       bool
	AuditLog    io.Writer
	Now         func() time.Time
	Logger      *slog.Logger
}

// Action is one planned action on one key and what became of it.
type Action struct {
	AccountID   string
	UserName    string
	ResourceID  string
	AccessKeyID string
	Action      lifecycle.Action
	Stage       lifecycle.Stage
	AgeDays     int
	Reason      string
	Outcome     string
	Detail      string
}

// Report is one enforcement run.
type Report struct {
	Actions                                     []Action
	Applied, DryRun, Refused, Escalated, Failed int
	// Stopped is set when the kill switch stopped the run.
	Stopped string
}

// Run plans actions for the users of res (a scan), re-reads each candidate
// in real time, and acts or, without Apply, records what it would do.
func (e *Enforcer) Run(ctx context.Context, res *scan.Result) (*Report, error) {
	now := e.now()
	if e.Logger == nil {
		e.Logger = slog.New(slog.DiscardHandler)
	}
	rep := &Report{}
	if why := e.killSwitch(); why != "" {
		rep.Stopped = why
		return rep, nil
	}
	states, err := e.Store.KeyStates(ctx)
	if err != nil {
		return nil, err
	}
	ous := map[string]string{}
	for _, a := range res.Accounts {
		ous[a.AccountID] = a.OU
	}
	perAccount := map[string]int{}
	taken := 0
	for _, ev := range res.Evaluations {
		if ev.ResourceType != rule.ResourceTypeUser || !e.candidate(ev, ous[ev.AccountID], now) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		cfg, err := e.Accounts.ForAccount(ctx, ev.AccountID)
		if err != nil {
			rep.add(Action{AccountID: ev.AccountID, UserName: ev.UserName, ResourceID: ev.ResourceID, Outcome: OutcomeFailed, Detail: err.Error()})
			continue
		}
		// Re-read the user now: the scan may be minutes old, and the
		// credential report has no key ids.
		u, err := inventory.User(ctx, cfg, ev.AccountID, ev.UserName)
		if err != nil {
			if inventory.IsNoSuchUser(err) {
				continue
			}
			rep.add(Action{AccountID: ev.AccountID, UserName: ev.UserName, ResourceID: ev.ResourceID, Outcome: OutcomeFailed, Detail: err.Error()})
			continue
		}
		policy := Policy(e.Config, ev.AccountID, ous[ev.AccountID])
		ex := lifecycle.ExemptionFor(e.Config, u, now)
		for _, k := range u.Keys {
			st := states[rule.KeyRef{AccountID: ev.AccountID, AccessKeyID: k.AccessKeyID}]
			if k.Active() && !st.InactiveSince.IsZero() { // its owner reactivated it
				if err := e.Store.ForgetKey(ctx, ev.AccountID, k.AccessKeyID); err != nil {
					return rep, err
				}
				st = store.KeyState{}
			}
			if !k.Active() && st.InactiveSince.IsZero() {
				st = store.KeyState{AccountID: ev.AccountID, AccessKeyID: k.AccessKeyID, ResourceID: u.UserID, UserName: u.UserName, InactiveSince: now}
				if err := e.Store.MarkInactive(ctx, st); err != nil {
					return rep, err
				}
			}
			lk := lifecycle.Key{Active: k.Active(), CreateDate: k.CreateDate, LastUsed: k.LastUsedDate, InactiveSince: st.InactiveSince}
			v := lifecycle.Evaluate(lk, policy, ex, now)
			if v.Action == lifecycle.None {
				continue
			}
			a := Action{AccountID: ev.AccountID, UserName: u.UserName, ResourceID: u.UserID, AccessKeyID: k.AccessKeyID,
				Action: v.Action, Stage: v.Stage, AgeDays: rule.AgeDays(k.CreateDate, now), Reason: v.Reason}
			switch {
			case k.AccessKeyID == e.CallerKeyID && e.CallerKeyID != "":
				a.Outcome, a.Detail = OutcomeRefused, "this is the access key keyage runs with"
			case v.Action == lifecycle.ActDeactivate && lifecycle.Guard(lk, policy, now) != "":
				a.Outcome, a.Detail = OutcomeEscalated, lifecycle.Guard(lk, policy, now)+": escalated to the owner instead"
			case taken >= e.Config.Enforce.MaxActionsPerRun:
				a.Outcome, a.Detail = OutcomeRefused, fmt.Sprintf("maxActionsPerRun (%d) reached", e.Config.Enforce.MaxActionsPerRun)
			case perAccount[ev.AccountID] >= e.Config.Enforce.MaxActionsPerRun:
				a.Outcome, a.Detail = OutcomeRefused, fmt.Sprintf("maxActionsPerRun (%d) reached for account %s", e.Config.Enforce.MaxActionsPerRun, ev.AccountID)
			default:
				if why := e.killSwitch(); why != "" {
					rep.Stopped = why
					return rep, nil
				}
				taken++
				perAccount[ev.AccountID]++
				e.act(ctx, cfg, &a, k)
			}
			if err := e.audit(ctx, a, k.Status); err != nil {
				return rep, err
			}
			rep.add(a)
		}
	}
	return rep, nil
}

func (r *Report) add(a Action) {
	r.Actions = append(r.Actions, a)
	switch a.Outcome {
	case OutcomeApplied:
		r.Applied++
	case OutcomeDryRun:
		r.DryRun++
	case OutcomeRefused:
		r.Refused++
	case OutcomeEscalated:
		r.Escalated++
	case OutcomeFailed:
		r.Failed++
	}
}

// candidate reports whether any key of ev could call for an action, before
// the real-time re-read decides.
func (e *Enforcer) candidate(ev rule.Evaluation, ou string, now time.Time) bool {
	p := Policy(e.Config, ev.AccountID, ou)
	for _, k := range ev.Keys {
		if lifecycle.Candidate(lifecycle.Key{Active: k.Active(), CreateDate: k.CreateDate, LastUsed: k.LastUsedDate}, p, now) {
			return true
		}
	}
	return false
}

// act carries out one action (or, without Apply, records it as a dry run).
func (e *Enforcer) act(ctx context.Context, cfg aws.Config, a *Action, k rule.Key) {
	if !e.Apply {
		a.Outcome = OutcomeDryRun
		return
	}
	client := iam.NewFromConfig(cfg)
	var err error
	switch a.Action {
	case lifecycle.ActDeactivate:
		_, err = client.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String(a.UserName), AccessKeyId: aws.String(a.AccessKeyID), Status: types.StatusTypeInactive})
		if err == nil {
			err = e.Store.MarkInactive(ctx, store.KeyState{AccountID: a.AccountID, AccessKeyID: a.AccessKeyID, ResourceID: a.ResourceID, UserName: a.UserName, InactiveSince: e.now(), DeactivatedByKeyage: true})
		}
	case lifecycle.ActDelete:
		_, err = client.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String(a.UserName), AccessKeyId: aws.String(a.AccessKeyID)})
		if err == nil {
			err = e.Store.ForgetKey(ctx, a.AccountID, a.AccessKeyID)
		}
	}
	if err != nil {
		a.Outcome, a.Detail = OutcomeFailed, fmt.Sprintf("%s key %s of %q in %s: %v", a.Action, a.AccessKeyID, a.UserName, a.AccountID, awsenv.Simplify(err))
		return
	}
	a.Outcome = OutcomeApplied
	e.Logger.Info("key "+string(a.Action)+"d", "account", a.AccountID, "user", a.UserName, "key", a.AccessKeyID, "reason", a.Reason)
}

func (e *Enforcer) audit(ctx context.Context, a Action, before string) error {
	after := before
	if a.Outcome == OutcomeApplied {
		after = map[lifecycle.Action]string{lifecycle.ActDeactivate: rule.StatusInactive, lifecycle.ActDelete: "Deleted"}[a.Action]
	}
	reason := a.Reason
	if a.Detail != "" {
		reason += "; " + a.Detail
	}
	r := store.AuditRecord{At: e.now(), CallerARN: e.CallerARN, AccountID: a.AccountID, UserName: a.UserName, ResourceID: a.ResourceID,
		AccessKeyID: a.AccessKeyID, Action: string(a.Action), Outcome: a.Outcome, Reason: reason, BeforeStatus: before, AfterStatus: after, DryRun: !e.Apply}
	id, err := e.Store.Audit(ctx, r)
	if err != nil {
		return err
	}
	r.ID = id
	return WriteAuditLine(e.AuditLog, r)
}

// WriteAuditLine appends one JSON line to the audit log, if any.
func WriteAuditLine(w io.Writer, r store.AuditRecord) error {
	if w == nil {
		return nil
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if _, err := w.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("write audit log: %w", err)
	}
	return nil
}

// killSwitch says why enforcement must stop now, or "".
func (e *Enforcer) killSwitch() string {
	if !e.Config.Enforce.IsEnabled() {
		return "enforce.enabled is false"
	}
	if f := e.Config.Enforce.KillSwitchFile; f != "" {
		if _, err := os.Stat(f); err == nil {
			return "kill switch file " + f + " exists"
		} else if !errors.Is(err, os.ErrNotExist) {
			return "kill switch file " + f + " cannot be read: " + err.Error()
		}
	}
	return ""
}

func (e *Enforcer) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

// Policy is the lifecycle policy of an account under cfg (see
// lifecycle.PolicyFor).
func Policy(cfg *config.Config, accountID, ou string) lifecycle.Policy {
	return lifecycle.PolicyFor(cfg, lifecycle.ConfigPolicy(cfg), accountID, ou)
}

// Exemption tags on IAM users (see lifecycle).
const (
	TagExemptUntil  = lifecycle.TagExemptUntil
	TagExemptReason = lifecycle.TagExemptReason
)
