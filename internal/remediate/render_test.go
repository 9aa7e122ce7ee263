package remediate

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/keyage/keyage/internal/notify"
)

// subjects returns the subjects and texts the plan has for receiver.
func subjects(p *Plan, receiver string) (subj, text []string) {
	for _, m := range p.Messages {
		if m.Message.Receiver == receiver {
			subj = append(subj, m.Message.Subject)
			text = append(text, m.Message.Text)
		}
	}
	return subj, text
}

func TestDueInMessages(t *testing.T) {
	for _, tt := range []struct {
		name        string
		age         float64 // days; the limit is 90
		template    string
		wantText    string
		wantSubject string
	}{
		{"overdue, default subject", 120, "", `Account "222222222222" User "alice" needs to rotate their access key.`,
			"Rotate access key AIDA1KEY0 of alice in 222222222222 (120 days old, overdue by 30 days)"},
		{"one day overdue", 91.5, "{{ .Overdue }} {{ .DaysLeft }} {{ .Due }}", "1 0 overdue by 1 day",
			"Rotate access key AIDA1KEY0 of alice in 222222222222 (91 days old, overdue by 1 day)"},
		{"due in days", 85, "{{ .DaysLeft }}|{{ .Overdue }}|{{ .Due }}|{{ .DeadlineText }}", "5|0|due in 5 days|2026-11-29 (due in 5 days)",
			"Rotate access key AIDA1KEY0 of alice in 222222222222 (85 days old, due in 5 days)"},
		{"due in one day", 88.5, "{{ range .Items }}{{ .Due }}{{ end }}", "due in 2 days",
			"Rotate access key AIDA1KEY0 of alice in 222222222222 (88 days old, due in 2 days)"},
		{"less than a day left", 89.5, "{{ .Due }}", "due in 1 day",
			"Rotate access key AIDA1KEY0 of alice in 222222222222 (89 days old, due in 1 day)"},
		{"deadline today", 90, "{{ .Due }}", "due today",
			"Rotate access key AIDA1KEY0 of alice in 222222222222 (90 days old, due today)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			yml := "receivers: [{name: topic, file: {path: x.jsonl}, template: '" + tt.template + "'}]\nroutes: [{receivers: [topic], match: {stage: [warning, expired]}}]\n"
			e, err := NewEngine(mustConfig(t, yml))
			if err != nil {
				t.Fatal(err)
			}
			p, err := e.Plan(context.Background(), nil, org(t0, user{"AIDA1", "alice", "", []float64{tt.age}}), t0)
			if err != nil {
				t.Fatal(err)
			}
			subj, text := subjects(p, "topic")
			if len(text) != 1 || text[0] != tt.wantText || subj[0] != tt.wantSubject {
				t.Errorf("message of a key %v days old = %q, subject %q; want %q, subject %q", tt.age, text, subj, tt.wantText, tt.wantSubject)
			}
		})
	}
}

func TestStageTemplates(t *testing.T) {
	const yml = `receivers:
- name: topic
  file: {path: x.jsonl}
  subject: 'Rotate {{ .AccessKeyID }}'
  templates:
    warning: {subject: 'Soon: {{ .AccessKeyID }} {{ .Due }}'}
    reminder: {template: 'Reminder: {{ .UserName }} {{ .Due }}'}
    resolved: {subject: 'Thanks {{ .UserName }}', template: 'rotated'}
  sendResolved: true
routes: [{receivers: [topic], repeatInterval: 1d, match: {stage: [warning, expired]}}]
`
	e, err := NewEngine(mustConfig(t, yml))
	if err != nil {
		t.Fatal(err)
	}
	st := openStore(t)
	for _, tt := range []struct {
		name        string
		day         int // days after t0
		ages        []float64
		wantSubject []string
		wantText    []string
	}{
		{"per stage, falling back to the receiver's subject", 0, []float64{85, 120},
			[]string{"Soon: AIDA1KEY0 due in 5 days", "Rotate AIDA2KEY0"},
			[]string{`Account "222222222222" User "alice" needs to rotate their access key.`, `Account "222222222222" User "bob" needs to rotate their access key.`}},
		{"reminders", 2, []float64{85, 120},
			[]string{"Soon: AIDA1KEY0 due in 3 days", "Rotate AIDA2KEY0"},
			[]string{"Reminder: alice due in 3 days", "Reminder: bob overdue by 32 days"}},
		{"resolved", 3, nil,
			[]string{"Thanks alice", "Thanks bob"},
			[]string{"rotated", "rotated"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var users []user
			if tt.ages != nil {
				users = []user{{"AIDA1", "alice", "", []float64{tt.ages[0] + float64(tt.day)}}, {"AIDA2", "bob", "", []float64{tt.ages[1] + float64(tt.day)}}}
			}
			now := t0.AddDate(0, 0, tt.day)
			res := org(now, users...)
			p := cycle(t, e, st, res, now)
			subj, text := subjects(p, "topic")
			if !slices.Equal(subj, tt.wantSubject) || !slices.Equal(text, tt.wantText) {
				t.Errorf("day %d: subjects %q, texts %q; want %q, %q", tt.day, subj, text, tt.wantSubject, tt.wantText)
			}
		})
	}
}

// An enforcement notice's default text says when the key was last used and
// how far its deadline is.
func TestNoticeText(t *testing.T) {
	used := time.Date(2026, 11, 19, 8, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name, want string
		it         notify.Item
	}{
		{"deactivated, with its last use",
			`Account "222222222222" User "alice": access key AKIA1 (120 days old, last used 2026-11-19) was deactivated by keyage.`,
			notify.Item{Stage: "deactivated", AgeDays: 120, LastUsed: used}},
		{"deleted, never used",
			`Account "222222222222" User "alice": inactive access key AKIA1 (200 days old, last used never) was deleted by keyage.`,
			notify.Item{Stage: "deleted", AgeDays: 200}},
		{"escalated, overdue",
			`Account "222222222222" User "alice": access key AKIA1 is 130 days old (overdue by 40 days) and still in use (last used 2026-11-19); rotate it now (keyage did not deactivate it because it was used recently).`,
			notify.Item{Stage: "escalated", AgeDays: 130, LastUsed: used, Deadline: t0.AddDate(0, 0, -40)}},
		{"scheduled, in days",
			`Account "222222222222" User "alice": access key AKIA1 (93 days old) will be deactivated on 2026-12-01 (in 7 days) unless it is rotated.`,
			notify.Item{Stage: "deactivation-scheduled", AgeDays: 93, Deadline: t0.AddDate(0, 0, 7)}},
		{"scheduled, one day",
			`Account "222222222222" User "alice": access key AKIA1 (99 days old) will be deactivated on 2026-11-25 (in 1 day) unless it is rotated.`,
			notify.Item{Stage: "deactivation-scheduled", AgeDays: 99, Deadline: t0.Add(20 * time.Hour)}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			it := tt.it
			it.AccountID, it.UserName, it.AccessKeyID = "222222222222", "alice", "AKIA1"
			it.SetDue(t0)
			if got := NoticeText(it); got != tt.want {
				t.Errorf("NoticeText(%s) =\n%s\nwant\n%s", tt.name, got, tt.want)
			}
		})
	}
}
