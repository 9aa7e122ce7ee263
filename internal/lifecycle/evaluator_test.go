package lifecycle

import (
	"slices"
	"testing"
	"time"

	"github.com/keyage/keyage/internal/config"
	"github.com/keyage/keyage/internal/rule"
)

// config keeps the stage names a route's match.stage accepts, since it
// cannot import this package: they must be RouteStages.
func TestConfigStagesAgree(t *testing.T) {
	var want []string
	for _, s := range RouteStages {
		want = append(want, string(s))
	}
	if !slices.Equal(config.Stages, want) {
		t.Errorf("config.Stages = %v, want lifecycle.RouteStages %v", config.Stages, want)
	}
}

func mustEvaluator(t *testing.T, yml string) *Evaluator {
	t.Helper()
	cfg, err := config.Parse([]byte(yml), "keyage.yaml")
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEvaluator(cfg, ConfigPolicy(cfg))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestEvaluatorOwner(t *testing.T) {
	tags := map[string]string{"email": "alice@example.com", "team-email": "payments@example.com"}
	for _, tt := range []struct {
		name, yaml string
		tags       map[string]string
		want       string
	}{
		{"default tagKey email", "", tags, "alice@example.com"},
		{"tagKey", "owners: {tagKey: team-email}", tags, "payments@example.com"},
		{"tagKey missing, template", "owners: {tagKey: team-email, template: '{{ .UserName }}@corp.example'}", map[string]string{"email": "x@example.com"}, "alice@corp.example"},
		{"tag beats template", "owners: {tagKey: team-email, template: '{{ .UserName }}@corp.example'}", tags, "payments@example.com"},
		{"no tag, no template: unknown (owners.fallback)", "owners: {tagKey: team-email}", nil, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			u := rule.User{AccountID: "222222222222", UserID: "AIDA1", UserName: "alice", Tags: tt.tags}
			if got := mustEvaluator(t, tt.yaml).Evaluate(u, "", now).Owner; got != tt.want {
				t.Errorf("Evaluate(%s).Owner = %q, want %q", tt.name, got, tt.want)
			}
		})
	}
}

// The stage recorded for each key, and what the lifecycle adds, under a
// policy with overrides by OU and an exemption by tag.
func TestEvaluatorStages(t *testing.T) {
	e := mustEvaluator(t, `rule: {warnAge: 80}
lifecycle:
  reminders: [85]
  deactivateAge: 100
  unusedAge: 45
  overrides: [{ou: Workloads/Sandbox, deactivateAge: 120}]
`)
	exempt := map[string]string{TagExemptUntil: "2026-07-01", TagExemptReason: "vendor"}
	for _, tt := range []struct {
		name      string
		age       time.Duration
		ou        string
		tags      map[string]string
		wantStage string
		wantDue   string
		reminder  int
	}{
		{"fresh", 10 * Day, "", nil, "ok", "", 0},
		{"warning, second reminder", 86 * Day, "", nil, "warning", "", 85},
		{"expired", 95 * Day, "", nil, "expired", "", 0},
		{"due for deactivation is recorded expired", 101 * Day, "", nil, "expired", "deactivate", 0},
		{"override by OU: not due yet", 101 * Day, "Workloads/Sandbox/Dev", nil, "expired", "", 0},
		{"exempt by tag", 101 * Day, "", exempt, "exempt", "", 0},
		{"exemption leaves a fresh key ok", 10 * Day, "", exempt, "ok", "", 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			u := rule.User{AccountID: "222222222222", UserID: "AIDA1", UserName: "alice", Tags: tt.tags,
				Keys: []rule.Key{{AccessKeyID: "AKIA1", Status: rule.StatusActive, CreateDate: now.Add(-tt.age), LastUsedDate: now.Add(-time.Hour)}}}
			k := e.Evaluate(u, tt.ou, now).Keys[0]
			var due string
			var reminder int
			if k.Lifecycle != nil {
				due, reminder = k.Lifecycle.Due, k.Lifecycle.Reminder
			}
			if k.Stage != tt.wantStage || due != tt.wantDue || reminder != tt.reminder {
				t.Errorf("Evaluate(%s) = %s/%q/%d, want %s/%q/%d", tt.name, k.Stage, due, reminder, tt.wantStage, tt.wantDue, tt.reminder)
			}
		})
	}
}
