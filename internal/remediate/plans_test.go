package remediate

import (
	"fmt"
	"reflect"
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
// messages (by receiver), suppressed findings, NON_COMPLIANT users and
// users of unknown owner, and keeps none of them but a bounded sample of
// the last for display.
func TestPlanAdd(t *testing.T) {
	batch := func(msgs, suppressed, unknown int, users ...string) *Plan {
		p := &Plan{Suppressed: suppressed}
		for i := 0; i < msgs; i++ {
			p.Messages = append(p.Messages, Planned{Message: notify.Message{ID: "m", Receiver: []string{"f", "g"}[i%2], Text: "long text", Items: []notify.Item{{UserName: "u"}}}})
		}
		for _, u := range users {
			p.NonCompliant = append(p.NonCompliant, rule.Evaluation{AccountID: "222222222222", ResourceID: "AIDA" + u, UserName: u, Compliance: rule.NonCompliant,
				Tags: map[string]string{"k": "v"}, Keys: []rule.KeyResult{{Stage: string(lifecycle.Expired)}}})
		}
		for i := 0; i < unknown; i++ {
			p.OwnerUnknown = append(p.OwnerUnknown, notify.Item{AccountID: "222222222222", UserName: fmt.Sprintf("u%d", i)})
		}
		return p
	}
	for _, tt := range []struct {
		name        string
		batches     []*Plan
		want        Counts
		wantSampled int
	}{
		{"three batches", []*Plan{batch(2, 1, 1, "alice", "bob"), batch(0, 3, 0), batch(1, 0, 0, "carol")},
			Counts{Messages: 3, ByReceiver: map[string]int{"f": 2, "g": 1}, NonCompliant: 3, OwnerUnknown: 1, Suppressed: 4}, 1},
		{"no batch", nil, Counts{ByReceiver: map[string]int{}}, 0},
		{"more owners unknown than the sample", []*Plan{batch(4, 0, ownerUnknownSample-1), batch(0, 0, 5)},
			Counts{Messages: 4, ByReceiver: map[string]int{"f": 2, "g": 2}, OwnerUnknown: ownerUnknownSample + 4}, ownerUnknownSample},
	} {
		t.Run(tt.name, func(t *testing.T) {
			total := &Plan{}
			for _, p := range tt.batches {
				total.Add(p)
			}
			if got := total.Counts(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Counts() of the sum = %+v, want %+v", got, tt.want)
			}
			if len(total.Messages) != 0 || len(total.NonCompliant) != 0 || len(total.OwnerUnknown) != tt.wantSampled {
				t.Errorf("the sum keeps %d messages, %d NON_COMPLIANT users and %d users of unknown owner; want 0, 0 and %d",
					len(total.Messages), len(total.NonCompliant), len(total.OwnerUnknown), tt.wantSampled)
			}
		})
	}
}
