package template

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestCheck(t *testing.T) {
	for _, tt := range []struct {
		name string
		kind Kind
		text string
		want string // "" for valid
	}{
		{"message fields and functions", Message, "{{ .UserName }} {{ date .CreateDate }} {{ upper .Stage }} {{ range .Items }}{{ .AccessKeyID }}{{ end }}", ""},
		{"misspelled message field", Message, "{{ .AccountId }}", "can't evaluate field AccountId"},
		{"unknown function", Message, "{{ daysLeft . }}", `line 1 of the template: function "daysLeft" not defined`},
		{"owner fields", OwnerKind, "{{ .UserName }}@{{ .AccountID }}.example.com", ""},
		{"message field in an owner template", OwnerKind, "{{ .Owner }}", "can't evaluate field Owner"},
		{"a tag the user may lack is not an error", OwnerKind, `{{ index .Tags "team" }}`, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := fmt.Sprint(Check(tt.kind, tt.text)); tt.want == "" && got != "<nil>" || tt.want != "" && got != tt.want {
				t.Errorf("Check(%s, %q) = %s, want %q", tt.kind, tt.text, got, tt.want)
			}
		})
	}
}

func TestNewData(t *testing.T) {
	d := NewData("finding", []Item{{UserName: "alice", MaxAge: 90}, {UserName: "bob"}})
	if d.UserName != "alice" || d.Count != 2 || d.Limit != 90 || d.LastUsedText != "never" {
		t.Errorf("NewData = %+v, want alice's fields, count 2, limit 90, never used", d)
	}
	var b strings.Builder
	tm, err := Parse("t", "{{ date .LastUsed }}")
	if err != nil {
		t.Fatal(err)
	}
	if err := tm.Execute(&b, Item{LastUsed: time.Date(2026, 3, 4, 23, 0, 0, 0, time.FixedZone("x", -3600))}); err != nil || b.String() != "2026-03-05" {
		t.Errorf("date = %q, %v, want 2026-03-05 (UTC)", b.String(), err)
	}
}

func TestDueIn(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name              string
		deadline          time.Time
		left, overdue     int
		text, deadlineTxt string
	}{
		{"no deadline", time.Time{}, 0, 0, "", ""},
		{"five days left", now.Add(5 * 24 * time.Hour), 5, 0, "due in 5 days", "2026-06-06 (due in 5 days)"},
		{"hours left", now.Add(3 * time.Hour), 1, 0, "due in 1 day", "2026-06-01 (due in 1 day)"},
		{"exactly now", now, 0, 0, "due today", "2026-06-01 (due today)"},
		{"passed hours ago", now.Add(-3 * time.Hour), 0, 0, "due today", "2026-06-01 (due today)"},
		{"one day overdue", now.Add(-25 * time.Hour), 0, 1, "overdue by 1 day", "2026-05-31 (overdue by 1 day)"},
		{"thirty days overdue", now.AddDate(0, 0, -30), 0, 30, "overdue by 30 days", "2026-05-02 (overdue by 30 days)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			it := Item{Deadline: tt.deadline}
			it.SetDue(now)
			if it.DaysLeft != tt.left || it.Overdue != tt.overdue || it.Due != tt.text || it.DeadlineText() != tt.deadlineTxt {
				t.Errorf("SetDue(deadline %v) = %d left, %d overdue, %q, %q; want %d, %d, %q, %q", tt.deadline, it.DaysLeft, it.Overdue, it.Due, it.DeadlineText(), tt.left, tt.overdue, tt.text, tt.deadlineTxt)
			}
		})
	}
}
