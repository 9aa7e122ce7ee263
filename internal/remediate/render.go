package remediate

import (
	"bytes"
	"cmp"
	"fmt"
	"strings"
	"text/template"
	"time"

	"github.com/keyage/keyage/internal/config"
	"github.com/keyage/keyage/internal/notify"
	tmpl "github.com/keyage/keyage/internal/template"
)

// SeedText is the seed's message for one user:
// Account "222222222222" User "alice" needs to rotate their access key.
func SeedText(accountID, userName string) string {
	return fmt.Sprintf("Account %q User %q needs to rotate their access key.", accountID, userName)
}

// Data is what message templates see (internal/template).
type Data = tmpl.Data

// renderer renders one receiver's text and subject: the receiver's, or
// per stage (receivers[].templates).
type renderer struct {
	text, subject *template.Template
	stages        map[string]*renderer
}

func newRenderer(r config.Receiver) (*renderer, error) {
	out, err := parseRenderer("receivers."+r.Name, config.StageTemplate{Template: r.Template, Subject: r.Subject})
	if err != nil {
		return nil, err
	}
	for stage := range r.Templates {
		if out.stages == nil {
			out.stages = map[string]*renderer{}
		}
		if out.stages[stage], err = parseRenderer("receivers."+r.Name+".templates."+stage, r.Templates[stage]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func parseRenderer(name string, st config.StageTemplate) (*renderer, error) {
	var out renderer
	var err error
	if st.Template != "" {
		if out.text, err = tmpl.Parse(name+".template", st.Template); err != nil {
			return nil, err
		}
	}
	if st.Subject != "" {
		if out.subject, err = tmpl.Parse(name+".subject", st.Subject); err != nil {
			return nil, err
		}
	}
	return &out, nil
}

// forStage returns the renderer of a message: the text and the subject
// each come from the first of these with one in receivers[].templates:
// reminder (a finding sent again), resolved or summary by kind, the
// first item's stage; else from the receiver's template and subject.
func (r *renderer) forStage(kind string, reminder bool, items []notify.Item) *renderer {
	if r == nil || r.stages == nil {
		return r
	}
	var keys []string
	switch {
	case kind == notify.KindResolved || kind == notify.KindSummary:
		keys = []string{kind}
	case reminder:
		keys = []string{"reminder"}
	}
	if len(items) > 0 && kind != notify.KindSummary {
		keys = append(keys, items[0].Stage)
	}
	out := renderer{}
	for _, k := range keys {
		if s, ok := r.stages[k]; ok {
			out.text = cmp.Or(out.text, s.text)
			out.subject = cmp.Or(out.subject, s.subject)
		}
	}
	out.text = cmp.Or(out.text, r.text)
	out.subject = cmp.Or(out.subject, r.subject)
	return &out
}

// render returns the message text and subject for items.
func (r *renderer) render(kind string, items []notify.Item) (text, subject string, err error) {
	d := tmpl.NewData(kind, items)
	if r != nil && r.text != nil {
		var b bytes.Buffer
		if err := r.text.Execute(&b, d); err != nil {
			return "", "", fmt.Errorf("render template: %w", err)
		}
		text = b.String()
	} else {
		text = defaultText(kind, items)
	}
	if r != nil && r.subject != nil {
		var b bytes.Buffer
		if err := r.subject.Execute(&b, d); err != nil {
			return "", "", fmt.Errorf("render subject: %w", err)
		}
		subject = strings.TrimSpace(b.String())
	} else {
		subject = defaultSubject(kind, items)
	}
	return text, subject, nil
}

// NoticeText is the default sentence of an enforcement notice, "" for an
// item that is not one.
func NoticeText(it notify.Item) string {
	key := it.AccessKeyID
	switch it.Stage {
	case "deactivation-scheduled":
		on := it.Deadline.UTC().Format(time.DateOnly)
		if it.Due != "" {
			on += " (" + strings.TrimPrefix(it.Due, "due ") + ")"
		}
		return fmt.Sprintf("Account %q User %q: access key %s (%d days old) will be deactivated on %s unless it is rotated.", it.AccountID, it.UserName, key, it.AgeDays, on)
	case "deactivated":
		return fmt.Sprintf("Account %q User %q: access key %s (%d days old, last used %s) was deactivated by keyage.", it.AccountID, it.UserName, key, it.AgeDays, tmpl.Date(it.LastUsed))
	case "deleted":
		return fmt.Sprintf("Account %q User %q: inactive access key %s (%d days old, last used %s) was deleted by keyage.", it.AccountID, it.UserName, key, it.AgeDays, tmpl.Date(it.LastUsed))
	case "escalated":
		age := fmt.Sprintf("%d days old", it.AgeDays)
		if it.Due != "" {
			age += " (" + it.Due + ")"
		}
		return fmt.Sprintf("Account %q User %q: access key %s is %s and still in use (last used %s); rotate it now (keyage did not deactivate it because it was used recently).", it.AccountID, it.UserName, key, age, tmpl.Date(it.LastUsed))
	}
	return ""
}

// defaultText is the seed's sentence, once per user of the group.
func defaultText(kind string, items []notify.Item) string {
	var lines []string
	seen := map[string]bool{}
	for _, it := range items {
		if t := NoticeText(it); t != "" {
			lines = append(lines, t)
			continue
		}
		u := it.AccountID + "/" + it.ResourceID
		if seen[u] {
			continue
		}
		seen[u] = true
		switch kind {
		case notify.KindResolved:
			lines = append(lines, fmt.Sprintf("Account %q User %q rotated their access key.", it.AccountID, it.UserName))
		default:
			lines = append(lines, SeedText(it.AccountID, it.UserName))
		}
	}
	return strings.Join(lines, "\n")
}

func defaultSubject(kind string, items []notify.Item) string {
	if len(items) == 0 {
		return "keyage test notification"
	}
	it := items[0]
	users := map[string]bool{}
	for _, x := range items {
		users[x.AccountID+"/"+x.ResourceID] = true
	}
	if kind == notify.KindResolved {
		if len(users) == 1 {
			return fmt.Sprintf("Resolved: access key of %s in %s rotated", it.UserName, it.AccountID)
		}
		return fmt.Sprintf("Resolved: %d access keys rotated", len(items))
	}
	if len(users) == 1 {
		if len(items) == 1 && it.AccessKeyID != "" {
			if it.Due != "" && it.Stage != "deactivation-scheduled" {
				return fmt.Sprintf("Rotate access key %s of %s in %s (%d days old, %s)", it.AccessKeyID, it.UserName, it.AccountID, it.AgeDays, it.Due)
			}
			return fmt.Sprintf("Rotate access key %s of %s in %s (%d days old)", it.AccessKeyID, it.UserName, it.AccountID, it.AgeDays)
		}
		return fmt.Sprintf("Rotate the access keys of %s in %s", it.UserName, it.AccountID)
	}
	return fmt.Sprintf("%d access keys of %d users need rotating", len(items), len(users))
}
