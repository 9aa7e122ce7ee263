package remediate

import (
	"testing"

	"github.com/keyage/keyage/internal/lifecycle"
	"github.com/keyage/keyage/internal/rule"
)

func TestPlans(t *testing.T) {
	user := func(c rule.Compliance, stages ...lifecycle.Stage) rule.Evaluation {
		ev := rule.Evaluation{ResourceType: rule.ResourceTypeUser, Compliance: c}
		for _, st := range stages {
			ev.Keys = append(ev.Keys, rule.KeyResult{Stage: string(st)})
		}
		return ev
	}
	for _, tt := range []struct {
		name string
		ev   rule.Evaluation
		want bool
	}{
		{"non-compliant user", user(rule.NonCompliant, lifecycle.Expired), true},
		{"compliant user with a key in the warning stage", user(rule.Compliant, lifecycle.OK, lifecycle.Warning), true},
		{"compliant user, keys ok", user(rule.Compliant, lifecycle.OK, lifecycle.Inactive), false},
		{"user without keys", user(rule.NotApplicable), false},
		{"account without users", rule.NotApplicableAccount("222222222222"), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := Plans(&tt.ev); got != tt.want {
				t.Errorf("Plans(%s) = %v, want %v", tt.name, got, tt.want)
			}
		})
	}
}
