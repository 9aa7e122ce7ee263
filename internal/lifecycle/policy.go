package lifecycle

import (
	"strings"
	"time"

	"github.com/keyage/keyage/internal/config"
	"github.com/keyage/keyage/internal/rule"
)

// PolicyFor is the lifecycle policy of an account: base (the rule's
// maxAccessKeyAge and warnAge, as the config or the flags give them), the
// config's lifecycle section, then its first override matching the account
// or its OU path.
func PolicyFor(cfg *config.Config, base rule.Policy, accountID, ou string) Policy {
	p := Policy{MaxAge: base.MaxAge, WarnAge: base.WarnAge}
	if cfg == nil {
		return p
	}
	l := cfg.Lifecycle
	if l.WarnAge != 0 {
		p.WarnAge = l.WarnAge.Duration()
	}
	p.DeactivateAge, p.DeleteAge, p.DeleteAfterInactive = l.DeactivateAge.Duration(), l.DeleteAge.Duration(), l.DeleteAfterInactive.Duration()
	p.UnusedAge, p.NeverUsedAge, p.RecentUseGuard = l.UnusedAge.Duration(), l.NeverUsedAge.Duration(), l.RecentUseGuard.Duration()
	for _, r := range l.Reminders {
		p.Reminders = append(p.Reminders, r.Duration())
	}
	for _, o := range l.Overrides {
		if !overrideMatches(o, accountID, ou) {
			continue
		}
		set := func(dst *time.Duration, v config.Days) {
			if v != 0 {
				*dst = v.Duration()
			}
		}
		set(&p.WarnAge, o.WarnAge)
		set(&p.DeactivateAge, o.DeactivateAge)
		set(&p.DeleteAge, o.DeleteAge)
		set(&p.UnusedAge, o.UnusedAge)
		set(&p.NeverUsedAge, o.NeverUsedAge)
		break
	}
	return p
}

// ConfigPolicy is the rule policy of the config: rule.maxAccessKeyAge and
// rule.warnAge.
func ConfigPolicy(cfg *config.Config) rule.Policy {
	return rule.PolicyDays(int(cfg.Rule.MaxAccessKeyAge), int(cfg.Rule.WarnAge))
}

func overrideMatches(o config.LifecycleOverride, accountID, ou string) bool {
	for _, a := range o.Accounts {
		if a == accountID {
			return true
		}
	}
	for _, p := range o.OU {
		p = strings.Trim(p, "/")
		if ou == p || strings.HasPrefix(ou, p+"/") {
			return true
		}
	}
	return false
}

// Exemption tags on IAM users.
const (
	TagExemptUntil  = "keyage:exempt-until"
	TagExemptReason = "keyage:exempt-reason"
)

// ExemptionFor finds the exemption of a user: its tags (both the date and
// a reason are required), else the config's list. An expired one is
// returned too; it simply no longer counts.
func ExemptionFor(cfg *config.Config, u rule.User, now time.Time) *Exemption {
	if until, ok := u.Tags[TagExemptUntil]; ok {
		reason := strings.TrimSpace(u.Tags[TagExemptReason])
		if t, err := time.Parse(time.DateOnly, strings.TrimSpace(until)); err == nil && reason != "" {
			return &Exemption{Until: t, Reason: reason, Source: "tag"}
		}
	}
	if cfg == nil {
		return nil
	}
	for _, ex := range cfg.Exemptions {
		match := ex.ARN != "" && ex.ARN == u.ARN || ex.Path != "" && strings.HasPrefix(u.Path, ex.Path) || ex.Account != "" && ex.Account == u.AccountID
		if !match {
			continue
		}
		if t, err := ex.UntilTime(); err == nil {
			return &Exemption{Until: t, Reason: ex.Reason, Source: "config"}
		}
	}
	return nil
}
