// Package lifecycle spells out, in one place, where an access key stands in
// its life and what keyage may do to it: warn, mark NON_COMPLIANT,
// deactivate, delete; plus the separate findings (unused, never used),
// exemptions, the policy of each account or OU, and the owner of a user.
// Pure functions of a key, a policy and the time: no I/O.
//
// It is the one home of the stages (Stage) and of every age threshold.
// It builds on rule (the managed rule's COMPLIANT/NON_COMPLIANT verdict)
// and config, and imports nothing else of keyage but the template leaf.
// Since rule and config sit below it, they hold stage names, not Stages:
// an Evaluator records each key's stage in rule.KeyResult.Stage, and
// config.Stages keeps the names a route's match.stage accepts (a test here
// checks they agree with RouteStages). The Evaluator builds every
// evaluation keyage records or sends: the rule's verdict, each key's
// stage and lifecycle annotations, and the owner (Evaluation.Owner).
package lifecycle

import (
	"fmt"
	"time"

	"github.com/keyage/keyage/internal/config"
	"github.com/keyage/keyage/internal/rule"
)

// Day is the unit of the policy's ages.
const Day = rule.Day

// Policy is the lifecycle of keys. Ages are since the key's creation;
// zero turns a stage off. MaxAge is the rule's maxAccessKeyAge.
type Policy struct {
	WarnAge time.Duration
	// Reminders are extra warning ages between WarnAge and MaxAge.
	Reminders     []time.Duration
	MaxAge        time.Duration
	DeactivateAge time.Duration
	DeleteAge     time.Duration
	// DeleteAfterInactive is how long a key must have been inactive before
	// it may be deleted.
	DeleteAfterInactive time.Duration
	UnusedAge           time.Duration
	NeverUsedAge        time.Duration
	// RecentUseGuard refuses enforcement on a key used this recently.
	RecentUseGuard time.Duration
}

// Validate reports thresholds out of order.
func (p Policy) Validate() error {
	switch {
	case p.MaxAge <= 0:
		return fmt.Errorf("maxAccessKeyAge must be positive")
	case p.WarnAge < 0 || p.WarnAge >= p.MaxAge && p.WarnAge != 0:
		return fmt.Errorf("warnAge must be below maxAccessKeyAge")
	case p.DeactivateAge != 0 && p.DeactivateAge < p.MaxAge:
		return fmt.Errorf("deactivateAge must be at least maxAccessKeyAge")
	case p.DeleteAge != 0 && p.DeactivateAge != 0 && p.DeleteAge <= p.DeactivateAge:
		return fmt.Errorf("deleteAge must be above deactivateAge")
	case p.DeleteAge != 0 && p.DeleteAge < p.MaxAge:
		return fmt.Errorf("deleteAge must be at least maxAccessKeyAge")
	}
	for _, r := range p.Reminders {
		if r <= p.WarnAge || r >= p.MaxAge {
			return fmt.Errorf("reminders must lie between warnAge and maxAccessKeyAge")
		}
	}
	return nil
}

// Stage is where a key stands, or what happened to it. It is the one
// vocabulary of stages: a key's recorded stage (rule.KeyResult.Stage holds
// its name), the due stages of a verdict, and the enforcement notices'
// stages that routes match (config.Stages lists the names routes accept;
// a test checks that it agrees with RouteStages).
type Stage string

// The stages, in the order a key goes through them.
const (
	OK         Stage = "ok"
	Warning    Stage = "warning"
	Expired    Stage = "expired"    // past maxAccessKeyAge: NON_COMPLIANT
	Deactivate Stage = "deactivate" // due: active and past deactivateAge (recorded as expired)
	Inactive   Stage = "inactive"
	Delete     Stage = "delete" // due: inactive, past deleteAge and inactive long enough (recorded as inactive)
	// Exempt is a key past the warning age or the limit whose user is
	// exempt (see rule.KeyLifecycle.Exemption); it is not notified.
	Exempt Stage = "exempt"

	// The stages of enforcement notices (keyage enforce).
	DeactivationScheduled Stage = "deactivation-scheduled" // deactivation within enforce.noticeDays
	Deactivated           Stage = "deactivated"
	Deleted               Stage = "deleted"
	Escalated             Stage = "escalated" // not deactivated: the key is in use
)

// Stages lists the stages a key is recorded with, in display order.
var Stages = []Stage{OK, Warning, Expired, Inactive, Exempt}

// RouteStages lists the stages a route can match: a key's stages but
// exempt (exempt keys are not notified), and the enforcement notices.
var RouteStages = []Stage{OK, Warning, Expired, Inactive, DeactivationScheduled, Deactivated, Deleted, Escalated}

// Recorded is the stage a key is recorded with: a key due for
// deactivation is expired, one due for deletion is inactive.
func (s Stage) Recorded() Stage {
	switch s {
	case Deactivate:
		return Expired
	case Delete:
		return Inactive
	}
	return s
}

// Action is what enforcement does to a key.
type Action string

// The actions.
const (
	None          Action = ""
	ActDeactivate Action = "deactivate"
	ActDelete     Action = "delete"
)

// Key is what the lifecycle needs of one key.
type Key struct {
	Active     bool
	CreateDate time.Time
	LastUsed   time.Time // zero: never used (or unknown)
	// InactiveSince is when the key was first seen inactive (or deactivated
	// by keyage); zero when unknown.
	InactiveSince time.Time
}

// Exemption exempts a key until a date, for a reason.
type Exemption struct {
	Until  time.Time
	Reason string
	Source string // "tag" or "config"
}

// Active reports whether the exemption still counts at now: it stops on
// its date.
func (e *Exemption) Active(now time.Time) bool {
	return e != nil && now.Before(e.Until)
}

// Verdict is the lifecycle's view of one key.
type Verdict struct {
	Stage  Stage
	Action Action
	// Reminder is the warning age (WarnAge or one of Reminders) last
	// crossed, for reminder de-duplication; zero outside the warning stage.
	Reminder time.Duration
	// Unused and NeverUsed are the separate findings.
	Unused    bool
	NeverUsed bool
	// Reason says why, for the dry-run plan and the audit log.
	Reason string
	// Exempt is set when an exemption counted.
	Exempt *Exemption
}

// Evaluate places one key in its lifecycle at now. An active exemption
// stops every action; a key it covers past the warning age or the limit
// is Exempt.
func Evaluate(k Key, p Policy, ex *Exemption, now time.Time) Verdict {
	age := now.Sub(k.CreateDate)
	var v Verdict
	if k.Active {
		if p.UnusedAge > 0 && !k.LastUsed.IsZero() && now.Sub(k.LastUsed) > p.UnusedAge {
			v.Unused = true
		}
		if p.NeverUsedAge > 0 && k.LastUsed.IsZero() && age > p.NeverUsedAge {
			v.NeverUsed = true
		}
		stage(&v, k, p, age)
	} else {
		stageInactive(&v, k, p, now, age)
	}
	if ex.Active(now) {
		v.Exempt, v.Action = ex, None
		v.Reason = fmt.Sprintf("exempt until %s (%s): %s", ex.Until.Format(time.DateOnly), ex.Source, ex.Reason)
		switch v.Stage {
		case Warning, Expired, Deactivate:
			v.Stage, v.Reminder = Exempt, 0
		case Delete:
			v.Stage = Inactive
		}
	}
	return v
}

// stage places an active key of age.
func stage(v *Verdict, k Key, p Policy, age time.Duration) {
	days := int(age / Day)
	switch {
	case p.DeactivateAge > 0 && age > p.DeactivateAge:
		v.Stage, v.Action = Deactivate, ActDeactivate
		v.Reason = fmt.Sprintf("active key is %d days old (deactivateAge %d)", days, int(p.DeactivateAge/Day))
	case age > p.MaxAge:
		v.Stage = Expired
		v.Reason = fmt.Sprintf("active key is %d days old (maxAccessKeyAge %d)", days, int(p.MaxAge/Day))
	case p.WarnAge > 0 && age > p.WarnAge:
		v.Stage, v.Reminder = Warning, p.WarnAge
		for _, r := range p.Reminders {
			if age > r && r > v.Reminder {
				v.Reminder = r
			}
		}
		v.Reason = fmt.Sprintf("active key is %d days old (warnAge %d)", days, int(p.WarnAge/Day))
	default:
		v.Stage = OK
	}
}

// stageInactive places an inactive key of age.
func stageInactive(v *Verdict, k Key, p Policy, now time.Time, age time.Duration) {
	v.Stage = Inactive
	if p.DeleteAge <= 0 || age <= p.DeleteAge {
		return
	}
	inactiveFor := time.Duration(0)
	if !k.InactiveSince.IsZero() {
		inactiveFor = now.Sub(k.InactiveSince)
	}
	if inactiveFor >= p.DeleteAfterInactive && !k.InactiveSince.IsZero() {
		v.Stage, v.Action = Delete, ActDelete
		v.Reason = fmt.Sprintf("inactive key is %d days old (deleteAge %d) and inactive for %d days (deleteAfterInactive %d)",
			int(age/Day), int(p.DeleteAge/Day), int(inactiveFor/Day), int(p.DeleteAfterInactive/Day))
		return
	}
	v.Reason = fmt.Sprintf("inactive key past deleteAge, inactive for %d of the %d days required", int(inactiveFor/Day), int(p.DeleteAfterInactive/Day))
}

// Guard reports why enforcement must not touch a key now, or "" when it
// may: a key used within RecentUseGuard is escalated, not disabled.
func Guard(k Key, p Policy, now time.Time) string {
	if p.RecentUseGuard > 0 && !k.LastUsed.IsZero() && now.Sub(k.LastUsed) < p.RecentUseGuard {
		// config.Duration writes days as the configuration does (1d, 2h30m), not Go's 24h0m0s.
		return fmt.Sprintf("key was used %s ago, within recentUseGuard %s",
			config.Duration(max(now.Sub(k.LastUsed).Round(time.Minute), time.Minute)), config.Duration(p.RecentUseGuard))
	}
	return ""
}

// Candidate reports whether a key may be due for an action at now, before
// what only enforcement knows (how long it has been inactive, an
// exemption, a real-time re-read) decides.
func Candidate(k Key, p Policy, now time.Time) bool {
	age := now.Sub(k.CreateDate)
	if k.Active {
		return p.DeactivateAge > 0 && age > p.DeactivateAge
	}
	return p.DeleteAge > 0 && age > p.DeleteAge
}

// Scheduled reports whether an active key will be deactivated within
// notice (enforce.noticeDays) of now, and when: its deadline.
func Scheduled(k Key, p Policy, notice time.Duration, now time.Time) (deadline time.Time, ok bool) {
	if !k.Active || p.DeactivateAge == 0 {
		return time.Time{}, false
	}
	age := now.Sub(k.CreateDate)
	if age <= p.DeactivateAge-notice || age > p.DeactivateAge {
		return time.Time{}, false
	}
	return k.CreateDate.Add(p.DeactivateAge).UTC(), true
}

// DeactivateNotBefore is the earliest date an active key may be deactivated
// when its owner is told at noticedAt: its deactivation age, and never less
// than notice (enforce.noticeDays) after the owner was told. A key already
// past deactivateAge when first noticed gets the full notice period.
func DeactivateNotBefore(k Key, p Policy, notice time.Duration, noticedAt time.Time) time.Time {
	due := k.CreateDate.Add(p.DeactivateAge)
	if earliest := noticedAt.Add(notice); earliest.After(due) {
		return earliest.UTC()
	}
	return due.UTC()
}
