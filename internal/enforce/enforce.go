// Package enforce deactivates and deletes aged access keys, safely: per key
// (never per user), dry-run unless told to apply, with a re-read of the key
// (the user identified by its immutable UserId) and a recent-use guard
// before every action, a deactivation only enforce.noticeDays after its
// owner was told, limits per account and per run, a kill switch, never the
// credentials keyage runs with, and an audit record for everything it does
// or refuses: the intent written before the IAM call, the outcome after,
// and an intent left without an outcome reconciled against IAM on start.
package enforce

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
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
	// OutcomeScheduled is a deactivation not yet due: the owner is told
	// (or, in a dry run, would be) and the key is left alone until its
	// Deadline.
	OutcomeScheduled = "scheduled"
	// OutcomeUnchanged is an action that found the key already as it
	// would leave it (keyage reactivate on an active key).
	OutcomeUnchanged = "unchanged"
)

// AccountConfigs hands out an aws.Config acting in an account with the
// enforcement role (awsenv.Assumer).
type AccountConfigs interface {
	ForAccount(ctx context.Context, accountID string) (aws.Config, error)
}

// Actor is who acts on keys and with what: what the Enforcer and
// rotate.Rotator share, so that one run builds it once for both.
type Actor struct {
	Config *config.Config
	Store  *store.Store
	// Accounts act with the enforcement role in each account.
	Accounts AccountConfigs
	// CallerARN and CallerKeyID identify the credentials keyage runs with;
	// that key is never touched.
	CallerARN   string
	CallerKeyID string
	// Apply acts; without it a run only plans (a dry run).
	Apply    bool
	AuditLog io.Writer
	Now      func() time.Time
	Logger   *slog.Logger
}

// Enforcer plans and carries out key actions.
type Enforcer struct {
	Actor
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
	// Deadline is when a scheduled deactivation may happen, at the
	// earliest.
	Deadline time.Time
	// Before and After are the key's status before and after the action
	// (Deleted when gone).
	Before, After string
	// CreateDate, LastUsed and LastService are the key's, as re-read
	// before acting (the scan's credential report has no key ids).
	CreateDate, LastUsed time.Time
	LastService          string

	auditID int64 // the intent's audit record, once written
}

// Report is one enforcement run.
type Report struct {
	Actions                                                []Action
	Applied, DryRun, Refused, Escalated, Failed, Scheduled int
	// Stopped is set when the kill switch stopped the run; Actions holds
	// what was done before it.
	Stopped string
	// Reconciled are intents an earlier run left without an outcome, now
	// settled against IAM.
	Reconciled []store.AuditRecord
}

// Run plans actions for the users of res (a scan), re-reads each candidate
// in real time, and acts or, without Apply, records what it would do.
// It first settles the intents an earlier run left without an outcome.
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
	if err := e.reconcile(ctx, rep); err != nil {
		return rep, err
	}
	states, err := e.Store.KeyStates(ctx)
	if err != nil {
		return nil, err
	}
	notices, err := e.Store.DeactivationNotices(ctx)
	if err != nil {
		return nil, err
	}
	deliveries, err := e.Store.NoticeDeliveries(ctx)
	if err != nil {
		return nil, err
	}
	notice := e.Config.Enforce.NoticeDays.Duration()
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
		// The name may have been reused since the scan: act only on the
		// user the scan evaluated, identified by its immutable UserId.
		if ev.ResourceID != "" && u.UserID != ev.ResourceID {
			a := Action{AccountID: ev.AccountID, UserName: u.UserName, ResourceID: ev.ResourceID, Outcome: OutcomeRefused,
				Detail: fmt.Sprintf("user %q in %s is now UserId %s, not %s as scanned: a different user; rescan", u.UserName, ev.AccountID, u.UserID, ev.ResourceID)}
			if err := e.audit(ctx, a); err != nil {
				return rep, err
			}
			rep.add(a)
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
			ref := rule.KeyRef{AccountID: ev.AccountID, AccessKeyID: k.AccessKeyID}
			n, noticed := notices[ref]
			a := Action{AccountID: ev.AccountID, UserName: u.UserName, ResourceID: u.UserID, AccessKeyID: k.AccessKeyID,
				Action: v.Action, Stage: v.Stage, AgeDays: rule.AgeDays(k.CreateDate, now), Reason: v.Reason, Before: k.Status, After: k.Status,
				CreateDate: k.CreateDate, LastUsed: k.LastUsedDate, LastService: k.LastUsedService}
			if v.Action == lifecycle.None {
				// A key entering the notice window: its owner is told now.
				if _, soon := lifecycle.Scheduled(lk, policy, notice, now); !soon || noticed || notice == 0 || v.Exempt != nil {
					continue
				}
				a.Action, a.Stage = lifecycle.ActDeactivate, lifecycle.DeactivationScheduled
				a.Reason = fmt.Sprintf("active key reaches deactivateAge %d in %d days", int(policy.DeactivateAge/rule.Day), int(policy.DeactivateAge/rule.Day)-a.AgeDays)
			}
			switch {
			case k.AccessKeyID == e.CallerKeyID && e.CallerKeyID != "":
				a.Outcome, a.Detail = OutcomeRefused, "this is the access key keyage runs with"
			case a.Action == lifecycle.ActDeactivate && lifecycle.Guard(lk, policy, now) != "" && a.Stage != lifecycle.DeactivationScheduled:
				a.Outcome, a.Detail = OutcomeEscalated, lifecycle.Guard(lk, policy, now)+": escalated to the owner instead"
			case a.Action == lifecycle.ActDeactivate && notice > 0 && (!noticed || now.Before(n.DeactivateAt)):
				if !noticed {
					n = store.DeactivationNotice{AccountID: a.AccountID, AccessKeyID: a.AccessKeyID, ResourceID: a.ResourceID, UserName: a.UserName,
						NoticedAt: now, DeactivateAt: lifecycle.DeactivateNotBefore(lk, policy, notice, now)}
					if e.Apply {
						if err := e.Store.RecordDeactivationNotice(ctx, n); err != nil {
							return rep, err
						}
					}
				}
				a.Outcome, a.Deadline, a.Stage = OutcomeScheduled, n.DeactivateAt, lifecycle.DeactivationScheduled
				a.Detail = fmt.Sprintf("owner told on %s; not deactivated before %s (enforce.noticeDays %d)",
					n.NoticedAt.UTC().Format(time.DateOnly), n.DeactivateAt.UTC().Format(time.DateOnly), int(notice/rule.Day))
				if !e.Apply {
					a.Detail = fmt.Sprintf("the owner would be told now; not deactivated before %s (enforce.noticeDays %d)", n.DeactivateAt.UTC().Format(time.DateOnly), int(notice/rule.Day))
				}
			case a.Action == lifecycle.ActDeactivate && notice > 0 && undelivered(deliveries, ref) != "":
				// The notice period is over, but the owner has not been
				// told yet: a queued notice is not a delivered one.
				a.Outcome, a.Deadline, a.Stage = OutcomeScheduled, n.DeactivateAt, lifecycle.DeactivationScheduled
				a.Detail = undelivered(deliveries, ref)
			case perAccount[ev.AccountID] >= e.Config.Enforce.MaxActionsPerAccount:
				a.Outcome, a.Detail = OutcomeRefused, fmt.Sprintf("maxActionsPerAccount (%d) reached for account %s", e.Config.Enforce.MaxActionsPerAccount, ev.AccountID)
			case taken >= e.Config.Enforce.MaxActionsPerRun:
				a.Outcome, a.Detail = OutcomeRefused, fmt.Sprintf("maxActionsPerRun (%d) reached", e.Config.Enforce.MaxActionsPerRun)
			default:
				if why := e.killSwitch(); why != "" {
					rep.Stopped = why
					return rep, nil
				}
				taken++
				perAccount[ev.AccountID]++
				if err := e.act(ctx, cfg, &a); err != nil {
					return rep, err
				}
			}
			if err := e.audit(ctx, a); err != nil {
				return rep, err
			}
			rep.add(a)
		}
	}
	return rep, nil
}

// undelivered says why a key's deactivation notice does not count yet
// ("notice not delivered yet", "notice failed: ..."), or "" when it does:
// a message carrying it was sent (outbox state SENT), or none is in the
// outbox (no route takes deactivation notices, or the sent message was
// pruned by retention).
func undelivered(ds map[rule.KeyRef]store.NoticeDelivery, ref rule.KeyRef) string {
	d, ok := ds[ref]
	switch {
	case !ok || d.Sent:
		return ""
	case d.Pending:
		return fmt.Sprintf("notice not delivered yet: key %s in %s is not deactivated until its owner's notice is sent", ref.AccessKeyID, ref.AccountID)
	default:
		return fmt.Sprintf("notice failed: %s (key %s in %s is not deactivated until its owner's notice is sent; keyage run --retry-failed sends it again)", d.Failed, ref.AccessKeyID, ref.AccountID)
	}
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
	case OutcomeScheduled:
		r.Scheduled++
	}
}

// Changed lists the actions that changed IAM, reconciled ones included.
func (r *Report) Changed() []Action {
	var out []Action
	for _, a := range r.Actions {
		if a.Outcome == OutcomeApplied {
			out = append(out, a)
		}
	}
	return out
}

// candidate reports whether any key of ev could call for an action, before
// the real-time re-read decides.
func (e *Enforcer) candidate(ev rule.Evaluation, ou string, now time.Time) bool {
	p := Policy(e.Config, ev.AccountID, ou)
	notice := e.Config.Enforce.NoticeDays.Duration()
	for _, k := range ev.Keys {
		lk := lifecycle.Key{Active: k.Active(), CreateDate: k.CreateDate, LastUsed: k.LastUsedDate}
		if lifecycle.Candidate(lk, p, now) {
			return true
		}
		if _, soon := lifecycle.Scheduled(lk, p, notice, now); soon && notice > 0 {
			return true
		}
	}
	return false
}

// act carries out one action (or, without Apply, records it as a dry run):
// the intent is written to the audit trail before the IAM call, the
// outcome (by audit) after it. An error is the store's: the IAM call is not
// made without its intent on record.
func (e *Enforcer) act(ctx context.Context, cfg aws.Config, a *Action) error {
	if !e.Apply {
		a.Outcome = OutcomeDryRun
		return nil
	}
	after := afterStatus(a.Action)
	id, err := e.Store.Audit(ctx, store.AuditRecord{At: e.now(), CallerARN: e.CallerARN, AccountID: a.AccountID, UserName: a.UserName, ResourceID: a.ResourceID,
		AccessKeyID: a.AccessKeyID, Action: string(a.Action), Outcome: store.OutcomePending, Reason: a.Reason, BeforeStatus: a.Before, AfterStatus: after})
	if err != nil {
		return fmt.Errorf("record the intent to %s key %s of %q in %s: %w", a.Action, a.AccessKeyID, a.UserName, a.AccountID, err)
	}
	a.auditID = id
	client := iam.NewFromConfig(cfg)
	switch a.Action {
	case lifecycle.ActDeactivate:
		_, err = client.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String(a.UserName), AccessKeyId: aws.String(a.AccessKeyID), Status: types.StatusTypeInactive})
	case lifecycle.ActDelete:
		_, err = client.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String(a.UserName), AccessKeyId: aws.String(a.AccessKeyID)})
	}
	if err != nil {
		a.Outcome, a.Detail = OutcomeFailed, fmt.Sprintf("%s key %s of %q in %s: %v", a.Action, a.AccessKeyID, a.UserName, a.AccountID, awsenv.Simplify(err))
		return nil
	}
	a.Outcome, a.After = OutcomeApplied, after
	e.Logger.Info("key "+string(a.Action)+"d", "account", a.AccountID, "user", a.UserName, "key", a.AccessKeyID, "reason", a.Reason)
	return e.applied(ctx, a.AccountID, a.AccessKeyID, a.ResourceID, a.UserName, string(a.Action), e.now())
}

// afterStatus is the status a key has after an action.
func afterStatus(a lifecycle.Action) string {
	switch a {
	case lifecycle.ActDeactivate:
		return rule.StatusInactive
	case lifecycle.ActDelete:
		return StatusDeleted
	case ActReactivate:
		return rule.StatusActive
	}
	return ""
}

// StatusDeleted is the after status of a deleted key.
const StatusDeleted = "Deleted"

// ActReactivate is keyage reactivate's action.
const ActReactivate lifecycle.Action = "reactivate"

// applied records in the store what an applied action changed.
func (e *Enforcer) applied(ctx context.Context, accountID, keyID, resourceID, userName, action string, at time.Time) error {
	switch lifecycle.Action(action) {
	case lifecycle.ActDeactivate:
		return e.Store.MarkInactive(ctx, store.KeyState{AccountID: accountID, AccessKeyID: keyID, ResourceID: resourceID, UserName: userName, InactiveSince: at, DeactivatedByKeyage: true})
	case lifecycle.ActDelete:
		if err := e.Store.ForgetKey(ctx, accountID, keyID); err != nil {
			return err
		}
		return e.Store.ForgetDeactivationNotice(ctx, accountID, keyID)
	case ActReactivate:
		return e.Store.ForgetKey(ctx, accountID, keyID)
	}
	return nil
}

// audit writes the record of an action: the outcome of its intent when one
// was written, else a new record.
func (e *Enforcer) audit(ctx context.Context, a Action) error {
	reason := a.Reason
	if a.Detail != "" {
		reason += "; " + a.Detail
	}
	r := store.AuditRecord{ID: a.auditID, At: e.now(), CallerARN: e.CallerARN, AccountID: a.AccountID, UserName: a.UserName, ResourceID: a.ResourceID,
		AccessKeyID: a.AccessKeyID, Action: string(a.Action), Outcome: a.Outcome, Reason: reason, BeforeStatus: a.Before, AfterStatus: a.After, DryRun: !e.Apply}
	if a.auditID != 0 {
		if err := e.Store.SetAuditOutcome(ctx, a.auditID, a.Outcome, a.After, reason); err != nil {
			return err
		}
	} else {
		id, err := e.Store.Audit(ctx, r)
		if err != nil {
			return err
		}
		r.ID = id
	}
	return WriteAuditLine(e.AuditLog, r)
}

// reconcile settles the intents an earlier run left without an outcome (it
// stopped between its intent and its outcome): it re-reads the key in IAM
// and records what IAM shows. An intent whose account cannot be read now
// stays pending for the next run.
func (e *Enforcer) reconcile(ctx context.Context, rep *Report) error {
	pending, err := e.Store.PendingAudit(ctx)
	if err != nil {
		return err
	}
	for _, r := range pending {
		if strings.HasPrefix(r.Action, "rotate-") {
			continue // internal/rotate settles its own intents
		}
		status, err := e.currentStatus(ctx, r.AccountID, r.UserName, r.ResourceID, r.AccessKeyID)
		if err != nil {
			e.Logger.Warn("intent left pending: cannot re-read the key", "account", r.AccountID, "user", r.UserName, "key", r.AccessKeyID, "audit", r.ID, "err", err)
			continue
		}
		outcome := OutcomeFailed
		if status == r.AfterStatus {
			outcome = OutcomeApplied
			if err := e.applied(ctx, r.AccountID, r.AccessKeyID, r.ResourceID, r.UserName, r.Action, r.At); err != nil {
				return err
			}
		}
		r.Outcome, r.AfterStatus = outcome, status
		r.Reason += fmt.Sprintf("; reconciled on start: IAM shows the key %s", status)
		if err := e.Store.SetAuditOutcome(ctx, r.ID, r.Outcome, r.AfterStatus, r.Reason); err != nil {
			return err
		}
		e.Logger.Warn("intent without outcome reconciled", "account", r.AccountID, "user", r.UserName, "key", r.AccessKeyID, "action", r.Action, "outcome", outcome, "status", status)
		if err := WriteAuditLine(e.AuditLog, r); err != nil {
			return err
		}
		rep.Reconciled = append(rep.Reconciled, r)
	}
	return nil
}

// currentStatus re-reads a key in IAM: Active, Inactive, or Deleted when
// the key, its user, or the user of that UserId is gone.
func (e *Enforcer) currentStatus(ctx context.Context, accountID, userName, resourceID, keyID string) (string, error) {
	cfg, err := e.Accounts.ForAccount(ctx, accountID)
	if err != nil {
		return "", err
	}
	u, err := inventory.User(ctx, cfg, accountID, userName)
	if inventory.IsNoSuchUser(err) {
		return StatusDeleted, nil
	}
	if err != nil {
		return "", err
	}
	if resourceID != "" && u.UserID != resourceID {
		return StatusDeleted, nil // the user was replaced: its keys went with it
	}
	for _, k := range u.Keys {
		if k.AccessKeyID == keyID {
			return k.Status, nil
		}
	}
	return StatusDeleted, nil
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
func (e *Enforcer) killSwitch() string { return KillSwitch(e.Config) }

// KillSwitch says why every action (enforcement and rotation) must stop now, or "".
func KillSwitch(cfg *config.Config) string {
	if !cfg.Enforce.IsEnabled() {
		return "enforce.enabled is false"
	}
	if f := cfg.Enforce.KillSwitchFile; f != "" {
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
