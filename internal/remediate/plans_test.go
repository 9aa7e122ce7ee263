package remediate

import (
	"testing"

	"github.com/keyage/keyage/internal/config"
	"github.com/keyage/keyage/internal/lifecycle"
	"github.com/keyage/keyage/internal/notify"
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

func TestPlansByAccount(t *testing.T) {
	for _, tt := range []struct {
		name string
		want bool
		// routes is the config's routes: YAML.
		routes string
	}{
		{"no routes", true, ""},
		{"one message per user (the default)", true, "routes: [{receivers: [f]}]\n"},
		{"per account and per key", true, "routes: [{receivers: [f], groupBy: [account]}, {receivers: [f], groupBy: [key]}]\n"},
		{"per owner, across accounts", false, "routes: [{receivers: [f], groupBy: [owner]}]\n"},
		{"a run summary", false, "routes: [{receivers: [f], groupBy: [run]}]\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.Parse([]byte("receivers: [{name: f, file: {path: /dev/null}}]\n"+tt.routes), "test.yaml")
			if err != nil {
				t.Fatal(err)
			}
			e, err := NewEngine(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if got := e.PlansByAccount(); got != tt.want {
				t.Errorf("PlansByAccount(%s) = %v, want %v", tt.name, got, tt.want)
			}
		})
	}
}

// TestPlanAdd: a run's plan summed batch by batch counts every batch's
// messages, suppressed findings and NON_COMPLIANT users.
func TestPlanAdd(t *testing.T) {
	batch := func(msgs, suppressed int, users ...string) *Plan {
		p := &Plan{Suppressed: suppressed}
		for i := 0; i < msgs; i++ {
			p.Messages = append(p.Messages, Planned{Message: notify.Message{ID: "m", Receiver: "f", Text: "long text", Items: []notify.Item{{UserName: "u"}}}})
		}
		for _, u := range users {
			p.NonCompliant = append(p.NonCompliant, rule.Evaluation{AccountID: "222222222222", ResourceID: "AIDA" + u, UserName: u, Compliance: rule.NonCompliant,
				Tags: map[string]string{"k": "v"}, Keys: []rule.KeyResult{{Stage: string(lifecycle.Expired)}}})
		}
		return p
	}
	total := &Plan{}
	for _, p := range []*Plan{batch(2, 1, "alice", "bob"), batch(0, 3), batch(1, 0, "carol")} {
		total.Add(p)
	}
	if len(total.Messages) != 3 || total.Suppressed != 4 || len(total.NonCompliant) != 3 {
		t.Fatalf("sum of the batches: %d messages, %d suppressed, %d non-compliant; want 3, 4, 3", len(total.Messages), total.Suppressed, len(total.NonCompliant))
	}
	if m := total.Messages[0].Message; m.Text != "" || m.Items != nil || m.Receiver != "f" || m.ID != "m" {
		t.Errorf("summed message = %+v, want its id and receiver without text or items", m)
	}
	if ev := total.NonCompliant[2]; ev.UserName != "carol" || ev.ResourceID != "AIDAcarol" || ev.Keys != nil || ev.Tags != nil {
		t.Errorf("summed NON_COMPLIANT user = %+v, want carol by name without keys or tags", ev)
	}
}
