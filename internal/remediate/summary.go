package remediate

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/keyage/keyage/internal/config"
	"github.com/keyage/keyage/internal/notify"
	"github.com/keyage/keyage/internal/rule"
	"github.com/keyage/keyage/internal/store"
)

// SummaryWorst is how many of the oldest open keys a run summary lists.
const SummaryWorst = 10

// runGroup is what one run route collects for one receiver before its
// summary is built: the findings still open, which of them are new, and
// what was resolved.
type runGroup struct {
	open     []finding
	new      map[string]bool // finding keys
	resolved []finding
	changed  bool      // a finding is new or changed stage
	lastAt   time.Time // when the route last sent one of the open findings
}

// runGroup is the run group of target t, created empty on first use.
func (p *Plan) runGroup(t target) *runGroup {
	if p.runs == nil {
		p.runs = map[target]*runGroup{}
	}
	g := p.runs[t]
	if g == nil {
		g = &runGroup{new: map[string]bool{}}
		p.runs[t] = g
	}
	return g
}

// addRun adds a finding to the summary of target t; notifiedAt is when the
// route last sent it (zero if never).
func (p *Plan) addRun(t target, f finding, isNew, changed bool, notifiedAt time.Time) {
	g := p.runGroup(t)
	for _, have := range g.open {
		if have.key == f.key {
			return
		}
	}
	g.open = append(g.open, f)
	if isNew {
		g.new[f.key] = true
	}
	g.changed = g.changed || changed
	if notifiedAt.After(g.lastAt) {
		g.lastAt = notifiedAt
	}
}

// addRunResolved adds a resolved item to the summary of target t.
func (p *Plan) addRunResolved(t target, f finding) {
	g := p.runGroup(t)
	g.resolved = append(g.resolved, f)
	g.changed = true
}

// finishRuns turns the collected run groups into one summary message per
// route and receiver, held until the route's schedule allows. Every run
// with findings open or resolved sends one (repeatInterval does not apply);
// with a schedule, a run that changed nothing since a summary already
// waiting for the same send time adds none.
func (e *Engine) finishRuns(p *Plan, now time.Time) error {
	targets := make([]target, 0, len(p.runs))
	for t := range p.runs {
		targets = append(targets, t)
	}
	slices.SortFunc(targets, func(a, b target) int {
		return cmp.Or(cmp.Compare(a.route, b.route), cmp.Compare(a.receiver, b.receiver))
	})
	for _, t := range targets {
		g := p.runs[t]
		sched := e.schedules[t.route]
		due := g.changed || len(g.open) > 0 && (sched == nil || g.lastAt.IsZero() || !sched.Next(g.lastAt).Equal(sched.Next(now)))
		if !due {
			p.Suppressed += len(g.open)
			continue
		}
		s := e.summary(g)
		msg, err := e.message(notify.KindSummary, t.receiver, "run", g.open, false, now)
		if err != nil {
			return err
		}
		msg.Summary = &s
		if r, ok := e.cfg.Receiver(t.receiver); !ok || r.Template == "" {
			msg.Text = SummaryText(s)
		}
		if r, ok := e.cfg.Receiver(t.receiver); !ok || r.Subject == "" {
			msg.Subject = SummarySubject(s)
		}
		pl := Planned{Message: msg, Route: t.route, items: g.open}
		if sched != nil {
			pl.NotBefore = sched.Next(now)
		}
		seen := map[rule.ResourceRef]bool{}
		for _, f := range g.open {
			r := rule.ResourceRef{AccountID: f.item.AccountID, ResourceID: f.item.ResourceID}
			if !seen[r] {
				seen[r] = true
				pl.Resources = append(pl.Resources, r)
			}
		}
		p.notified = append(p.notified, g.notified(t, now)...)
		p.Messages = append(p.Messages, pl)
	}
	p.runs = nil
	return nil
}

// notified records every open finding of g as sent to t.
func (g *runGroup) notified(t target, now time.Time) []store.Notified {
	out := make([]store.Notified, 0, len(g.open))
	for _, f := range g.open {
		b, _ := json.Marshal(f.item)
		out = append(out, store.Notified{Receiver: t.receiver, Route: t.route, ItemKey: f.key,
			AccountID: f.item.AccountID, ResourceID: f.item.ResourceID, Stage: f.dedupState(), NotifiedAt: now, ItemJSON: b})
	}
	return out
}

// summary counts g's findings.
func (e *Engine) summary(g *runGroup) notify.Summary {
	s := notify.Summary{Open: len(g.open), New: []notify.Item{}, Resolved: []notify.Item{}, Accounts: []notify.AccountCount{}}
	byAccount := map[string]*notify.AccountCount{}
	for _, f := range g.open {
		it := f.item
		if g.new[f.key] {
			s.New = append(s.New, it)
		}
		a := byAccount[it.AccountID]
		if a == nil {
			a = &notify.AccountCount{AccountID: it.AccountID, AccountName: it.AccountName, Stages: map[string]int{}}
			byAccount[it.AccountID] = a
		}
		a.Total++
		a.Stages[it.Stage]++
	}
	for _, a := range byAccount {
		s.Accounts = append(s.Accounts, *a)
	}
	slices.SortFunc(s.Accounts, func(a, b notify.AccountCount) int {
		return cmp.Or(cmp.Compare(b.Total, a.Total), cmp.Compare(a.AccountID, b.AccountID))
	})
	worst := make([]notify.Item, len(g.open))
	for i, f := range g.open {
		worst[i] = f.item
	}
	slices.SortStableFunc(worst, oldestFirst)
	s.Worst = worst[:min(len(worst), SummaryWorst)]
	slices.SortStableFunc(s.New, oldestFirst)
	for _, f := range g.resolved {
		s.Resolved = append(s.Resolved, f.item)
	}
	slices.SortStableFunc(s.Resolved, func(a, b notify.Item) int {
		return cmp.Or(cmp.Compare(a.AccountID, b.AccountID), cmp.Compare(a.UserName, b.UserName), cmp.Compare(a.AccessKeyID, b.AccessKeyID))
	})
	if u := e.cfg.Server.ExternalURL; u != "" {
		s.URL = u + "/noncompliant"
	}
	return s
}

func oldestFirst(a, b notify.Item) int {
	return cmp.Or(cmp.Compare(b.AgeDays, a.AgeDays), cmp.Compare(a.AccountID, b.AccountID), cmp.Compare(a.UserName, b.UserName), cmp.Compare(a.AccessKeyID, b.AccessKeyID))
}

// SummarySubject is a run summary's default subject.
func SummarySubject(s notify.Summary) string {
	return fmt.Sprintf("keyage: %d open access key findings in %d accounts (%d new, %d resolved)", s.Open, len(s.Accounts), len(s.New), len(s.Resolved))
}

// SummaryText is a run summary's default text: the counts, then one line
// per new key, per account, per worst key and per resolved key.
func SummaryText(s notify.Summary) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d open access key findings in %d accounts: %d new, %d resolved.\n", s.Open, len(s.Accounts), len(s.New), len(s.Resolved))
	section := func(title string, lines []string) {
		if len(lines) == 0 {
			return
		}
		fmt.Fprintf(&b, "\n%s:\n", title)
		for _, l := range lines {
			b.WriteString("  " + l + "\n")
		}
	}
	section("New", mapItems(s.New, KeyLine))
	var accounts []string
	for _, a := range s.Accounts {
		accounts = append(accounts, AccountLine(a))
	}
	section("Open by account", accounts)
	section("Oldest keys", mapItems(s.Worst, KeyLine))
	section("Resolved", mapItems(s.Resolved, KeyLine))
	if s.URL != "" {
		fmt.Fprintf(&b, "\nAll findings: %s\n", s.URL)
	}
	return strings.TrimRight(b.String(), "\n")
}

// KeyLine describes one key in a summary.
func KeyLine(it notify.Item) string {
	key := it.AccessKeyID
	if key == "" {
		key = "(no key id)"
	}
	return fmt.Sprintf("%s %s %s: %d days, %s", accountLabel(it.AccountID, it.AccountName), it.UserName, key, it.AgeDays, it.Stage)
}

// AccountLine describes one account's open findings: "111111111111
// (prod): 3 (2 expired, 1 warning)".
func AccountLine(a notify.AccountCount) string {
	var parts []string
	for _, st := range config.Stages {
		if n := a.Stages[st]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, st))
		}
	}
	return fmt.Sprintf("%s: %d (%s)", accountLabel(a.AccountID, a.AccountName), a.Total, strings.Join(parts, ", "))
}

func accountLabel(id, name string) string {
	if name == "" {
		return id
	}
	return id + " (" + name + ")"
}

func mapItems(items []notify.Item, f func(notify.Item) string) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = f(it)
	}
	return out
}
