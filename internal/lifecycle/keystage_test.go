package lifecycle

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keyage/keyage/internal/rule"
)

func ruleKey(id string, age time.Duration) rule.Key {
	return rule.Key{AccessKeyID: id, Status: rule.StatusActive, CreateDate: now.Add(-age)}
}

func TestKeyStage(t *testing.T) {
	p := rule.Policy{MaxAge: 90 * Day, WarnAge: 80 * Day}
	for _, tt := range []struct {
		name string
		key  rule.Key
		want Stage
	}{
		{"fresh key", ruleKey("A", 10*Day), OK},
		{"exactly the warning age", ruleKey("A", 80*Day), OK},
		{"one hour past the warning age", ruleKey("A", 80*Day+time.Hour), Warning},
		{"one hour before the limit", ruleKey("A", 90*Day-time.Hour), Warning},
		{"exactly the limit", ruleKey("A", 90*Day), Warning},
		{"one hour past the limit", ruleKey("A", 90*Day+time.Hour), Expired},
		{"inactive 500-day key", rule.Key{Status: rule.StatusInactive, CreateDate: now.Add(-500 * Day)}, Inactive},
		{"created in the future", ruleKey("A", -time.Hour), OK},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := KeyStage(tt.key, p, now); got != tt.want {
				t.Errorf("KeyStage(age %v, %s) = %v, want %v", now.Sub(tt.key.CreateDate), tt.key.Status, got, tt.want)
			}
		})
	}
}

func TestKeyStageWithoutWarning(t *testing.T) {
	p := rule.DefaultPolicy()
	if got := KeyStage(ruleKey("A", 89*Day), p, now); got != OK {
		t.Errorf("KeyStage(89d, no warnAge) = %v, want ok", got)
	}
}

func TestEvaluateKeyResults(t *testing.T) {
	p := rule.PolicyDays(90, 80)
	u := rule.User{Keys: []rule.Key{ruleKey("K1", 85*Day+time.Minute), {AccessKeyID: "K2", Status: rule.StatusInactive, CreateDate: now.Add(-200 * Day)}}}
	got := RuleOnly(p).Evaluate(u, "", now).Keys
	want := []rule.KeyResult{
		{Key: u.Keys[0], AgeDays: 85, Stage: "warning"},
		{Key: u.Keys[1], AgeDays: 200, Stage: "inactive"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Evaluate keys mismatch (-want +got):\n%s", diff)
	}
}

func TestFlagged(t *testing.T) {
	for _, tt := range []struct {
		name string
		p    rule.Policy
		keys []rule.Key
		want bool
	}{
		{"fresh", rule.PolicyDays(90, 0), []rule.Key{ruleKey("A", 10*Day)}, false},
		{"expired", rule.PolicyDays(90, 0), []rule.Key{ruleKey("A", 91*Day)}, true},
		{"warning counts", rule.PolicyDays(90, 80), []rule.Key{ruleKey("A", 81*Day)}, true},
		{"inactive old does not", rule.PolicyDays(90, 80), []rule.Key{{Status: rule.StatusInactive, CreateDate: now.Add(-900 * Day)}}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := Flagged(rule.User{Keys: tt.keys}, tt.p, now); got != tt.want {
				t.Errorf("Flagged(%s) = %v, want %v", tt.name, got, tt.want)
			}
		})
	}
}
