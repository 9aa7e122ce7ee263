package config

import (
	"fmt"
	"time"
)

// Lifecycle stages keys beyond the rule's limit: extra warnings,
// deactivation and deletion (both opt-in), and separate findings for keys
// unused or never used. Ages are days since the key's creation; 0 turns a
// stage off. rule.maxAccessKeyAge stays the NON_COMPLIANT limit.
type Lifecycle struct {
	// WarnAge overrides rule.warnAge when set.
	WarnAge Days `yaml:"warnAge"`
	// Reminders are extra warning ages between warnAge and the limit.
	Reminders []Days `yaml:"reminders"`
	// DeactivateAge: active keys older are deactivated by keyage enforce.
	DeactivateAge Days `yaml:"deactivateAge"`
	// DeleteAge: inactive keys older, inactive for at least
	// DeleteAfterInactive days, are deleted by keyage enforce.
	DeleteAge           Days `yaml:"deleteAge"`
	DeleteAfterInactive Days `yaml:"deleteAfterInactive"`
	// UnusedAge: an active key not used for this many days is a finding
	// (CIS recommends 45).
	UnusedAge Days `yaml:"unusedAge"`
	// NeverUsedAge: an active key never used this many days after its
	// creation is a finding.
	NeverUsedAge Days `yaml:"neverUsedAge"`
	// RecentUseGuard: enforcement refuses a key used this recently and
	// escalates instead. Default 24h.
	RecentUseGuard Duration `yaml:"recentUseGuard"`
	// Overrides change the policy for some accounts or OUs; the first
	// matching override wins, field by field over the defaults above.
	Overrides []LifecycleOverride `yaml:"overrides"`
	// Rotate turns on automatic rotation into Secrets Manager (nil: off).
	Rotate *Rotate `yaml:"rotate,omitempty"`
}

// LifecycleOverride is a policy for some accounts or OU subtrees.
type LifecycleOverride struct {
	Accounts      StringList `yaml:"accounts,omitempty"`
	OU            StringList `yaml:"ou,omitempty"`
	WarnAge       Days       `yaml:"warnAge"`
	DeactivateAge Days       `yaml:"deactivateAge"`
	DeleteAge     Days       `yaml:"deleteAge"`
	UnusedAge     Days       `yaml:"unusedAge"`
	NeverUsedAge  Days       `yaml:"neverUsedAge"`
}

// DefaultRecentUseGuard is the default of lifecycle.recentUseGuard.
const DefaultRecentUseGuard = Duration(24 * time.Hour)

// DefaultDeleteAfterInactive is the default of lifecycle.deleteAfterInactive.
const DefaultDeleteAfterInactive Days = 7

func (l *Lifecycle) setDefaults(c *checker) {
	defaultTo(c, "recentUseGuard", &l.RecentUseGuard, DefaultRecentUseGuard)
	defaultTo(c, "deleteAfterInactive", &l.DeleteAfterInactive, DefaultDeleteAfterInactive)
	if l.Rotate != nil {
		l.Rotate.setDefaults(c.in("rotate"))
	}
}

func (l *Lifecycle) validate(c *checker) {
	max := Days(90)
	warn := l.WarnAge
	if c.cfg != nil {
		max = c.cfg.Rule.MaxAccessKeyAge
		if warn == 0 {
			warn = c.cfg.Rule.WarnAge
		}
	}
	nonNeg := func(key string, d Days) {
		if d < 0 || d > 3650 {
			c.errorf(key, "%d: must be between 0 (off) and 3650 days", d)
		}
	}
	for key, d := range map[string]Days{"warnAge": l.WarnAge, "deactivateAge": l.DeactivateAge, "deleteAge": l.DeleteAge,
		"deleteAfterInactive": l.DeleteAfterInactive, "unusedAge": l.UnusedAge, "neverUsedAge": l.NeverUsedAge} {
		nonNeg(key, d)
	}
	if l.WarnAge > 0 && l.WarnAge >= max {
		c.errorf("warnAge", "%d: must be below rule.maxAccessKeyAge (%d)", l.WarnAge, max)
	}
	for i, r := range l.Reminders {
		if r <= warn || r >= max {
			c.errorf("reminders"+index(i), "%d: must lie between the warning age (%d) and rule.maxAccessKeyAge (%d)", r, warn, max)
		}
	}
	if l.DeactivateAge > 0 && l.DeactivateAge < max {
		c.errorf("deactivateAge", "%d: must be at least rule.maxAccessKeyAge (%d): keys are deactivated only after they are non-compliant", l.DeactivateAge, max)
	}
	if l.DeleteAge > 0 && l.DeleteAge <= l.DeactivateAge {
		c.errorf("deleteAge", "%d: must be above deactivateAge (%d)", l.DeleteAge, l.DeactivateAge)
	}
	if l.DeleteAge > 0 && l.DeleteAge < max {
		c.errorf("deleteAge", "%d: must be at least rule.maxAccessKeyAge (%d)", l.DeleteAge, max)
	}
	if l.RecentUseGuard < 0 {
		c.errorf("recentUseGuard", "must not be negative")
	}
	if l.Rotate != nil {
		l.Rotate.validate(c.in("rotate"))
	}
	for i := range l.Overrides {
		o := &l.Overrides[i]
		oc := c.in("overrides" + index(i))
		if len(o.Accounts) == 0 && len(o.OU) == 0 {
			oc.errorf("", "an override needs accounts or ou")
		}
		for j, id := range o.Accounts {
			if !ValidAccountID(id) {
				oc.errorf(oc.elem("accounts", j), "%s", accountIDError(id))
			}
		}
		if o.DeactivateAge > 0 && o.DeactivateAge < max {
			oc.errorf("deactivateAge", "%d: must be at least rule.maxAccessKeyAge (%d)", o.DeactivateAge, max)
		}
	}
}

// Enforce holds the switches of keyage enforce.
type Enforce struct {
	// Enabled is the global kill switch: false stops every action at once.
	// Nil (not set) means true.
	Enabled *bool `yaml:"enabled"`
	// Apply makes changes; false (the default) is a dry run.
	Apply bool `yaml:"apply"`
	// MaxActionsPerRun bounds the actions of one run, and of one account in
	// a run (default 10).
	MaxActionsPerRun int `yaml:"maxActionsPerRun"`
	// MaxActionsPerAccount bounds the actions in one account in a run
	// (default maxActionsPerRun); it is checked before the run-wide limit.
	MaxActionsPerAccount int `yaml:"maxActionsPerAccount"`
	// KillSwitchFile, when the file exists, stops every action.
	KillSwitchFile string `yaml:"killSwitchFile"`
	// RoleName is the role assumed in target accounts to change keys
	// (default KeyageEnforceRole); the audit role stays read-only.
	RoleName string `yaml:"roleName"`
	// NoticeDays is how long before deactivation owners are told (default
	// 7): a key is deactivated only that long after its owner was told, and
	// a key already past deactivateAge is first noticed and scheduled. An
	// explicit 0 turns the notice period off.
	NoticeDays Days `yaml:"noticeDays"`
}

// IsEnabled reads the kill switch.
func (e Enforce) IsEnabled() bool { return e.Enabled == nil || *e.Enabled }

// Defaults of the enforce section.
const (
	DefaultMaxActionsPerRun      = 10
	DefaultEnforceRoleName       = "KeyageEnforceRole"
	DefaultNoticeDays       Days = 7
)

func (e *Enforce) setDefaults(c *checker) {
	defaultTo(c, "maxActionsPerRun", &e.MaxActionsPerRun, DefaultMaxActionsPerRun)
	defaultTo(c, "maxActionsPerAccount", &e.MaxActionsPerAccount, e.MaxActionsPerRun)
	defaultTo(c, "roleName", &e.RoleName, DefaultEnforceRoleName)
	defaultTo(c, "noticeDays", &e.NoticeDays, DefaultNoticeDays)
}

func (e *Enforce) validate(c *checker) {
	if e.MaxActionsPerRun < 1 || e.MaxActionsPerRun > 10000 {
		c.errorf("maxActionsPerRun", "%d: must be between 1 and 10000", e.MaxActionsPerRun)
	}
	if e.MaxActionsPerRun >= 1 && (e.MaxActionsPerAccount < 1 || e.MaxActionsPerAccount > e.MaxActionsPerRun) {
		c.errorf("maxActionsPerAccount", "%d: must be between 1 and maxActionsPerRun (%d)", e.MaxActionsPerAccount, e.MaxActionsPerRun)
	}
	if !roleNameRE.MatchString(e.RoleName) {
		c.errorf("roleName", "%q: not an IAM role name", e.RoleName)
	}
	if e.NoticeDays < 0 {
		c.errorf("noticeDays", "must not be negative")
	}
}

// Exemption exempts IAM users from the lifecycle until a date, for a
// reason. It selects by user ARN, path prefix or account.
type Exemption struct {
	ARN     string `yaml:"arn"`
	Path    string `yaml:"path"`
	Account string `yaml:"account"`
	// Until is the date (YYYY-MM-DD) the exemption stops counting.
	Until  string `yaml:"until"`
	Reason string `yaml:"reason"`
}

// UntilTime parses Until (end of that day is not included: the exemption
// stops at 00:00 UTC of Until).
func (e Exemption) UntilTime() (time.Time, error) { return time.Parse(time.DateOnly, e.Until) }

// Who is what the exemption selects: the user ARN, "path /p/" or
// "account 222222222222".
func (e Exemption) Who() string {
	switch {
	case e.ARN != "":
		return e.ARN
	case e.Path != "":
		return "path " + e.Path
	}
	return "account " + e.Account
}

// ExpiredExemption is an exemption whose until has passed, with where it
// is written.
type ExpiredExemption struct {
	Exemption
	// At is file:line of its until ("" in a configuration built in code).
	At string
}

// ExpiredExemptions are the exemptions whose until has passed at now:
// they exempt nobody, and whoever wrote them should hear so.
func (c *Config) ExpiredExemptions(now time.Time) []ExpiredExemption {
	var out []ExpiredExemption
	for i, e := range c.Exemptions {
		until, err := e.UntilTime()
		if err != nil || now.Before(until) {
			continue
		}
		x := ExpiredExemption{Exemption: e}
		if l := lineOf(c.lines, "exemptions"+index(i)+".until"); c.file != "" && l > 0 {
			x.At = fmt.Sprintf("%s:%d", c.file, l)
		}
		out = append(out, x)
	}
	return out
}

// Exemptions is the exemptions section.
type Exemptions []Exemption

func (es *Exemptions) setDefaults(*checker) {}

func (es *Exemptions) validate(c *checker) {
	for i, e := range *es {
		ec := c.in(index(i))
		n := 0
		for _, s := range []string{e.ARN, e.Path, e.Account} {
			if s != "" {
				n++
			}
		}
		if n != 1 {
			ec.errorf("", "give exactly one of arn, path or account")
		}
		if e.Account != "" && !ValidAccountID(e.Account) {
			ec.errorf("account", "%s", accountIDError(e.Account))
		}
		if e.Until == "" {
			ec.errorf("until", "an exemption needs an expiry date (YYYY-MM-DD)")
		} else if _, err := e.UntilTime(); err != nil {
			ec.errorf("until", "%q: not a date (YYYY-MM-DD)", e.Until)
		}
		if e.Reason == "" {
			ec.errorf("reason", "an exemption needs a reason")
		}
	}
}
