package enforce

import (
	"fmt"
	"time"

	"github.com/keyage/keyage/internal/config"
	"github.com/keyage/keyage/internal/lifecycle"
	"github.com/keyage/keyage/internal/rule"
)

// Annotator returns the scan hook that adds the lifecycle policy's view to
// each key: due for deactivation, unused, never used, and exemptions (a key
// past the warning age or the limit whose user is exempt becomes stage
// exempt, and is not notified). It returns nil when the config sets no
// lifecycle and no exemptions.
func Annotator(cfg *config.Config) func(ev *rule.Evaluation, ou string, now time.Time) {
	l := cfg.Lifecycle
	if l.DeactivateAge == 0 && l.UnusedAge == 0 && l.NeverUsedAge == 0 && len(cfg.Exemptions) == 0 && !hasOverrides(l) {
		return nil
	}
	return func(ev *rule.Evaluation, ou string, now time.Time) {
		p := Policy(cfg, ev.AccountID, ou)
		u := rule.User{AccountID: ev.AccountID, ARN: ev.ARN, Path: ev.Path, Tags: ev.Tags}
		ex := exemptionFor(cfg, u, now)
		exempted := 0
		for i := range ev.Keys {
			k := &ev.Keys[i]
			v := lifecycle.Evaluate(lifecycle.Key{Active: k.Active(), CreateDate: k.CreateDate, LastUsed: k.LastUsedDate}, p, ex, now)
			var kl rule.KeyLifecycle
			kl.Unused, kl.NeverUsed = v.Unused, v.NeverUsed
			if v.Stage == lifecycle.Warning && len(p.Reminders) > 0 {
				kl.Reminder = int(v.Reminder / rule.Day)
			}
			if v.Action == lifecycle.ActDeactivate {
				kl.Due = string(lifecycle.ActDeactivate)
			}
			if v.Stage == lifecycle.Exempt && (k.Stage == rule.StageWarning || k.Stage == rule.StageExpired) {
				k.Stage = rule.StageExempt
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
	}
}

func hasOverrides(l config.Lifecycle) bool { return len(l.Overrides) > 0 }
