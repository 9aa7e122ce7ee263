package server

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/keyage/keyage/internal/rule"
	"github.com/keyage/keyage/internal/store"
)

// event is one line of a user's timeline.
type event struct {
	At   time.Time `json:"at"`
	Kind string    `json:"kind"` // created, flagged, compliant, notified, reminder-due, remediation, deactivated, deleted, enforcement, gone, rotation
	Key  string    `json:"accessKeyId,omitempty"`
	Text string    `json:"text"`
	// Future marks an event that has not happened yet (the next reminder, a
	// planned deactivation).
	Future bool `json:"future,omitempty"`
}

// timeline is a user's keys' life, oldest first: each key's creation, the
// evaluation turning non-compliant (flagged) and back, each notification
// and the next reminder, the remediation executions, and every enforcement
// action with its outcome.
func timeline(d *userData, audit []store.AuditRecord, now time.Time) []event {
	var out []event
	if d.Current != nil {
		for _, k := range d.Current.Keys {
			if !k.CreateDate.IsZero() {
				out = append(out, event{At: k.CreateDate, Kind: "created", Key: k.AccessKeyID, Text: "Access key " + k.AccessKeyID + " created"})
			}
		}
	}
	for _, h := range d.History {
		switch {
		case h.To == string(rule.NonCompliant):
			out = append(out, event{At: h.At, Kind: "flagged", Text: "Flagged non-compliant: " + cmp.Or(h.Annotation, "a key is past the limit")})
		case h.From == string(rule.NonCompliant) && h.To == string(rule.Compliant):
			out = append(out, event{At: h.At, Kind: "compliant", Text: "Compliant again (key rotated, deactivated or deleted)"})
		case h.To == "DELETED":
			out = append(out, event{At: h.At, Kind: "deleted-user", Text: "User deleted from the account"})
		case h.From != "" && h.To != string(rule.Compliant) && h.To != string(rule.NotApplicable):
			out = append(out, event{At: h.At, Kind: "gone", Text: "Evaluation changed from " + h.From + " to " + h.To})
		}
	}
	for _, x := range d.Executions { // before the messages it sends
		attempts := "attempts"
		if x.Attempts == 1 {
			attempts = "attempt"
		}
		out = append(out, event{At: x.CreatedAt, Kind: "remediation", Text: fmt.Sprintf("Remediation %s started; %s after %d %s", x.Rule, x.State, x.Attempts, attempts)})
	}
	for _, m := range d.Messages {
		switch {
		case !m.SentAt.IsZero():
			out = append(out, event{At: m.SentAt, Kind: "notified", Text: fmt.Sprintf("Notified %s: %s", m.Receiver, cmp.Or(m.Subject, m.Kind))})
		case m.State == store.MessageFailed:
			out = append(out, event{At: m.CreatedAt, Kind: "notified", Text: fmt.Sprintf("Notification to %s failed: %s", m.Receiver, m.LastError)})
		default:
			out = append(out, event{At: m.CreatedAt, Kind: "notified", Text: fmt.Sprintf("Notification to %s queued (%s)", m.Receiver, m.State)})
		}
	}
	for _, n := range d.Notified {
		if n.NextReminder.After(now) {
			out = append(out, event{At: n.NextReminder, Kind: "reminder-due", Text: fmt.Sprintf("Next reminder to %s (%s)", n.Receiver, n.Stage), Future: true})
		}
	}
	for _, a := range audit {
		kind := "enforcement"
		if a.Outcome == "applied" {
			kind = map[string]string{"deactivate": "deactivated", "delete": "deleted"}[a.Action]
			kind = cmp.Or(kind, "enforcement")
		}
		text := fmt.Sprintf("%s %s: %s", a.Action, a.AccessKeyID, a.Outcome)
		if a.DryRun {
			text += " (dry run)"
		}
		if a.Reason != "" {
			text += " — " + a.Reason
		}
		out = append(out, event{At: a.At, Kind: kind, Key: a.AccessKeyID, Text: text})
	}
	slices.SortStableFunc(out, func(a, b event) int { return a.At.Compare(b.At) })
	return out
}

// addTimeline reads the user's enforcement audit and rotations and sets
// d.Timeline and d.Rotations.
func (s *Server) addTimeline(ctx context.Context, d *userData) error {
	name := ""
	if d.Current != nil {
		name = d.Current.UserName
	} else if len(d.History) > 0 {
		name = d.History[0].UserName
	}
	audit, err := s.opts.Store.AuditOfUser(ctx, d.AccountID, d.ResourceID, name)
	if err != nil {
		return err
	}
	if d.Rotations, err = s.rotations(ctx, d.AccountID, d.ResourceID); err != nil {
		return err
	}
	d.Timeline = timeline(d, audit, s.opts.Now())
	d.Timeline = append(d.Timeline, rotationEvents(d.Rotations, s.opts.Now())...)
	slices.SortStableFunc(d.Timeline, func(a, b event) int { return a.At.Compare(b.At) })
	return nil
}
