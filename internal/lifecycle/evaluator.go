package lifecycle

import (
	"fmt"
	"time"

	"github.com/keyage/keyage/internal/config"
	"github.com/keyage/keyage/internal/rule"
)

// Evaluator builds the evaluations keyage records and sends: the rule's
// verdict, each key's stage, what the lifecycle policy adds (due for
// deactivation, reminders, unused, never used, exemptions) and the owner.
// Every path that evaluates a user (scan, a single re-evaluation,
// remediation, enforcement) goes through one.
type Evaluator struct {
	rule   rule.Policy
	cfg    *config.Config
	owners *Owners
	// annotate is whether the config sets a lifecycle or exemptions: only
	// then are the lifecycle annotations and exemptions applied.
	annotate bool
}

// NewEvaluator is the evaluator of cfg, with p the rule's policy (the
// config's, or the flags'). A nil cfg evaluates by the rule policy alone,
// with no owner.
func NewEvaluator(cfg *config.Config, p rule.Policy) (*Evaluator, error) {
	e := &Evaluator{rule: p, cfg: cfg}
	if cfg == nil {
		return e, nil
	}
	owners, err := NewOwners(cfg.Owners)
	if err != nil {
		return nil, err
	}
	e.owners = owners
	l := cfg.Lifecycle
	e.annotate = l.DeactivateAge != 0 || l.UnusedAge != 0 || l.NeverUsedAge != 0 || len(cfg.Exemptions) > 0 || len(l.Overrides) > 0
	return e, nil
}

// RuleOnly is the evaluator of the rule policy alone: stages, no lifecycle
// annotations, no owner.
func RuleOnly(p rule.Policy) *Evaluator { return &Evaluator{rule: p} }

// Rule is the rule policy the evaluator applies.
func (e *Evaluator) Rule() rule.Policy { return e.rule }

// Policy is the lifecycle policy of an account (see PolicyFor).
func (e *Evaluator) Policy(accountID, ou string) Policy {
	if !e.annotate {
		return PolicyFor(nil, e.rule, accountID, ou)
	}
	return PolicyFor(e.cfg, e.rule, accountID, ou)
}

// Evaluate evaluates one user of an account in OU path ou at now.
func (e *Evaluator) Evaluate(u rule.User, ou string, now time.Time) rule.Evaluation {
	ev := rule.Evaluate(u, e.rule, now)
	ev.Owner = e.owners.Owner(&ev)
	p := e.Policy(u.AccountID, ou)
	var ex *Exemption
	if e.annotate {
		ex = ExemptionFor(e.cfg, u, now)
	}
	exempted := 0
	for i := range ev.Keys {
		k := &ev.Keys[i]
		v := Evaluate(Key{Active: k.Active(), CreateDate: k.CreateDate, LastUsed: k.LastUsedDate}, p, ex, now)
		k.Stage = string(v.Stage.Recorded())
		if !e.annotate {
			continue
		}
		var kl rule.KeyLifecycle
		kl.Unused, kl.NeverUsed = v.Unused, v.NeverUsed
		if v.Stage == Warning && len(p.Reminders) > 0 {
			kl.Reminder = int(v.Reminder / Day)
		}
		if v.Action == ActDeactivate {
			kl.Due = string(ActDeactivate)
		}
		if v.Stage == Exempt {
			kl.Exemption = &rule.Exemption{Until: ex.Until, Reason: ex.Reason, Source: ex.Source}
			exempted++
		}
		if kl != (rule.KeyLifecycle{}) {
			k.Lifecycle = &kl
		}
	}
	if exempted > 0 && ev.Compliance == rule.NonCompliant {
		ev.Annotation += fmt.Sprintf(" Exempt until %s: %s.", ex.Until.Format(time.DateOnly), ex.Reason)
	}
	return ev
}

// KeyStage is the recorded stage of one key under the rule policy alone.
func KeyStage(k rule.Key, p rule.Policy, now time.Time) Stage {
	v := Evaluate(Key{Active: k.Active(), CreateDate: k.CreateDate, LastUsed: k.LastUsedDate}, Policy{MaxAge: p.MaxAge, WarnAge: p.WarnAge}, nil, now)
	return v.Stage.Recorded()
}

// Flagged reports whether a user has an active key past the warning age (or
// past the limit when no warning age is set): the users whose keys keyage
// re-reads in real time.
func Flagged(u rule.User, p rule.Policy, now time.Time) bool {
	for _, k := range u.Keys {
		switch KeyStage(k, p, now) {
		case Expired, Warning:
			return true
		}
	}
	return false
}
