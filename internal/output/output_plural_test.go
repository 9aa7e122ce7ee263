package output

import (
	"strings"
	"testing"
	"time"

	"github.com/keyage/keyage/internal/rule"
	"github.com/keyage/keyage/internal/scan"
)

func TestCount(t *testing.T) {
	for _, tt := range []struct {
		name string
		n    int
		unit string
		want string
	}{
		{"none", 0, "notification", "0 notifications"},
		{"one", 1, "active root key", "1 active root key"},
		{"two", 2, "active root key", "2 active root keys"},
		{"one user", 1, "user", "1 user"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := Count(tt.n, tt.unit); got != tt.want {
				t.Errorf("Count(%d, %q) = %q, want %q", tt.n, tt.unit, got, tt.want)
			}
		})
	}
}

// Every user the summary counts as non-compliant has a row, an exempt key
// marked with its exemption.
func TestTableShowsExemptKeys(t *testing.T) {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	until := time.Date(2027, 3, 31, 0, 0, 0, 0, time.UTC)
	key := func(id, stage string, age int, ex *rule.Exemption) rule.KeyResult {
		k := rule.KeyResult{Key: rule.Key{AccessKeyID: id, Status: rule.StatusActive, CreateDate: now.AddDate(0, 0, -age)}, AgeDays: age, Stage: stage}
		if ex != nil {
			k.Lifecycle = &rule.KeyLifecycle{Exemption: ex}
		}
		return k
	}
	user := func(name string, c rule.Compliance, keys ...rule.KeyResult) rule.Evaluation {
		return rule.Evaluation{AccountID: "222222222222", ResourceType: rule.ResourceTypeUser, UserName: name, Compliance: c, Keys: keys}
	}
	for _, tt := range []struct {
		name string
		ev   rule.Evaluation
		want string // the user's row ends with this; "" for no row
	}{
		{"expired", user("alice", rule.NonCompliant, key("AKIAALICE", "expired", 120, nil)), "expired"},
		{"exempt by config", user("ci", rule.NonCompliant, key("AKIACI", "exempt", 150, &rule.Exemption{Until: until, Reason: "vendor integration", Source: "config"})),
			"exempt until 2027-03-31 (vendor integration)"},
		{"exempt by a tag without a reason", user("bot", rule.NonCompliant, key("AKIABOT", "exempt", 95, &rule.Exemption{Until: until, Source: "tag"})),
			"exempt until 2027-03-31"},
		{"compliant", user("carol", rule.Compliant, key("AKIACAROL", "ok", 10, nil)), ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := &scan.Result{EvaluatedAt: now, Evaluations: []rule.Evaluation{tt.ev}}
			if tt.ev.Compliance == rule.NonCompliant {
				r.Summary.NonCompliant = 1
			}
			var b strings.Builder
			if err := Write(&b, Table, r, Options{}); err != nil {
				t.Fatal(err)
			}
			var rows []string
			for _, l := range strings.Split(b.String(), "\n") {
				if strings.HasPrefix(l, "222222222222") {
					rows = append(rows, strings.TrimSpace(l))
				}
			}
			if len(rows) != r.Summary.NonCompliant {
				t.Fatalf("table of %s has %d rows for %d non-compliant users:\n%s", tt.ev.UserName, len(rows), r.Summary.NonCompliant, b.String())
			}
			if tt.want != "" && !strings.HasSuffix(rows[0], tt.want) {
				t.Errorf("row of %s = %q, want it to end with %q", tt.ev.UserName, rows[0], tt.want)
			}
		})
	}
}
