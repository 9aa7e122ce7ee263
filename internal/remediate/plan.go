package remediate

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/keyage/keyage/internal/config"
	"github.com/keyage/keyage/internal/lifecycle"
	"github.com/keyage/keyage/internal/notify"
	"github.com/keyage/keyage/internal/rule"
	"github.com/keyage/keyage/internal/scan"
	"github.com/keyage/keyage/internal/store"
	tmpl "github.com/keyage/keyage/internal/template"
)

// Step names of an execution, after the seed's automation document.
const (
	StepResolve = "ResolveUserName"
	StepPublish = store.PublishStep
)

// Engine decides what to send for a scan and records it.
type Engine struct {
	cfg       *config.Config
	renderers map[string]*renderer
	schedules map[int]*config.DigestSchedule // run routes' send times, by route
}

// NewEngine prepares the routes and receivers of cfg. Findings carry the
// owner their evaluation was built with (lifecycle.Evaluator).
func NewEngine(cfg *config.Config) (*Engine, error) {
	e := &Engine{cfg: cfg, renderers: map[string]*renderer{}, schedules: map[int]*config.DigestSchedule{}}
	for _, r := range cfg.Receivers {
		rr, err := newRenderer(r)
		if err != nil {
			return nil, err
		}
		e.renderers[r.Name] = rr
	}
	for i, r := range cfg.Routes {
		if r.Schedule == "" {
			continue
		}
		s, err := config.ParseDigestSchedule(r.Schedule)
		if err != nil {
			return nil, fmt.Errorf("routes[%d].schedule: %w", i, err)
		}
		e.schedules[i] = s
	}
	return e, nil
}

// Planned is one message the plan sends.
type Planned struct {
	Message notify.Message
	Route   int
	// Resources are the resources the message covers.
	Resources []rule.ResourceRef
	// NotBefore holds the message in the outbox until then (a run
	// summary's schedule); zero sends it at once.
	NotBefore time.Time
	items     []finding
}

// Plan is what one run decides: messages to send and what to remember.
type Plan struct {
	Messages []Planned
	// Suppressed counts findings already notified within their repeat
	// interval and unchanged.
	Suppressed int
	// OwnerUnknown lists users whose owner could not be found.
	OwnerUnknown []notify.Item
	// NonCompliant are the NON_COMPLIANT users of the scan.
	NonCompliant []rule.Evaluation
	notified     []store.Notified
	forget       []store.Notified
	now          time.Time
	// resolveDetail says how each resource's user name was resolved, for
	// the execution's first step; nil for a scan (the scan named them).
	resolveDetail map[rule.ResourceRef]string
	// runs collects the summaries of groupBy: [run] routes until the run's
	// resolved findings are known (finishRuns).
	runs map[target]*runGroup
	// prior is the notify state the plan was decided on; replan decides
	// again on the state Apply reads inside its write transaction, when
	// another process changed it in between.
	prior  []store.Notified
	replan func(prior []store.Notified) (*Plan, error)
	// accounts are the accounts a PlanAccounts plan covers; nil: all.
	accounts []string
	// added counts what Add summed into the plan without keeping it.
	added Counts
}

type target struct {
	route    int
	receiver string
}

// Plan routes the findings of res, de-duplicates them against what was
// already notified, and groups them into messages.
func (e *Engine) Plan(ctx context.Context, st *store.Store, res *scan.Result, now time.Time) (*Plan, error) {
	prior, err := priorNotified(ctx, st)
	if err != nil {
		return nil, err
	}
	return e.plan(res, prior, now, nil)
}

// priorNotified is what st says was already notified; nothing without a
// store (a dry run without state).
func priorNotified(ctx context.Context, st *store.Store) ([]store.Notified, error) {
	if st == nil {
		return nil, nil
	}
	return st.NotifiedItems(ctx)
}

// decided sets what p was decided on and how to decide again.
func (p *Plan) decided(prior []store.Notified, replan func([]store.Notified) (*Plan, error)) *Plan {
	p.prior, p.replan = prior, replan
	return p
}

// PlanResources plans for some resources only (keyage remediate, a
// change-triggered evaluation): res holds just their evaluations, and only
// their earlier notifications can be resolved. resolved maps each
// (account, resourceId) to how its user name was resolved.
func (e *Engine) PlanResources(ctx context.Context, st *store.Store, res *scan.Result, now time.Time, resolved map[rule.ResourceRef]string) (*Plan, error) {
	prior, err := priorNotified(ctx, st)
	if err != nil {
		return nil, err
	}
	return e.plan(res, prior, now, resolved)
}

// PlanNotices routes enforcement notices (items whose Stage is
// deactivation-scheduled, deactivated, deleted or escalated) like findings:
// only routes that match those stages take them, with the same grouping and
// de-duplication.
func (e *Engine) PlanNotices(ctx context.Context, st *store.Store, items []notify.Item, now time.Time) (*Plan, error) {
	prior, err := st.NotifiedItems(ctx)
	if err != nil {
		return nil, err
	}
	fs := make([]finding, len(items))
	for i, it := range items {
		fs[i] = finding{item: it, key: itemKey(it) + "#" + it.Stage, path: it.UserPath}
	}
	p := &Plan{now: now}
	var replan func([]store.Notified) (*Plan, error)
	replan = func(prior []store.Notified) (*Plan, error) {
		p := &Plan{now: now}
		if err := e.planFindings(p, fs, prior, now); err != nil {
			return nil, err
		}
		if err := e.finishRuns(p, now); err != nil {
			return nil, err
		}
		return p.decided(prior, replan), nil
	}
	p.decided(prior, replan)
	if err := e.planFindings(p, fs, prior, now); err != nil {
		return nil, err
	}
	if err := e.finishRuns(p, now); err != nil {
		return nil, err
	}
	return p, nil
}

func (e *Engine) plan(res *scan.Result, prior []store.Notified, now time.Time, scope map[rule.ResourceRef]string) (*Plan, error) {
	p := &Plan{now: now, resolveDetail: scope}
	p.decided(prior, func(prior []store.Notified) (*Plan, error) { return e.plan(res, prior, now, scope) })
	for _, ev := range res.Evaluations {
		if ev.Compliance == rule.NonCompliant {
			p.NonCompliant = append(p.NonCompliant, ev)
		}
	}
	fs := findings(res)
	if err := e.planFindings(p, fs, prior, now); err != nil {
		return nil, err
	}
	current := map[string]bool{}
	for _, f := range fs {
		current[f.key] = true
	}
	// Resolved: items notified before, in an account scanned now, with no
	// finding any more (the key was rotated, deleted or deactivated).
	scanned := map[string]bool{}
	for _, a := range res.Accounts {
		if a.Status == scan.StatusOK {
			scanned[a.AccountID] = true
		}
	}
	resolved := map[target]map[string][]finding{}
	for _, n := range prior {
		if !scanned[n.AccountID] || current[n.ItemKey] || strings.Contains(n.ItemKey, "#") { // "#": an enforcement notice
			continue
		}
		if _, in := scope[rule.ResourceRef{AccountID: n.AccountID, ResourceID: n.ResourceID}]; scope != nil && !in {
			continue
		}
		p.forget = append(p.forget, n)
		if n.Route >= len(e.cfg.Routes) {
			continue
		}
		rcv, ok := e.cfg.Receiver(n.Receiver)
		isRun := e.cfg.Routes[n.Route].IsRun()
		if !ok || !(isRun || rcv.SendResolved || e.cfg.Routes[n.Route].SendResolved) {
			continue
		}
		var it notify.Item
		if err := json.Unmarshal(n.ItemJSON, &it); err != nil {
			continue
		}
		it.Stage = "resolved"
		t := target{n.Route, n.Receiver}
		if isRun { // a run summary lists what was resolved
			p.addRunResolved(t, finding{item: it, key: n.ItemKey})
			continue
		}
		if resolved[t] == nil {
			resolved[t] = map[string][]finding{}
		}
		user := it.AccountID + "/" + it.ResourceID
		resolved[t][user] = append(resolved[t][user], finding{item: it, key: n.ItemKey})
	}
	// In a stable order (route, receiver, then user), as findings are.
	targets := slices.SortedFunc(maps.Keys(resolved), func(a, b target) int {
		return cmp.Or(cmp.Compare(a.route, b.route), strings.Compare(a.receiver, b.receiver))
	})
	for _, t := range targets {
		byUser := resolved[t]
		for _, user := range slices.Sorted(maps.Keys(byUser)) {
			fs := byUser[user]
			msg, err := e.message(notify.KindResolved, t.receiver, "resolved:"+user, fs, false, now)
			if err != nil {
				return nil, err
			}
			p.Messages = append(p.Messages, Planned{Message: msg, Route: t.route, Resources: []rule.ResourceRef{{AccountID: fs[0].item.AccountID, ResourceID: fs[0].item.ResourceID}}, items: fs})
		}
	}
	if err := e.finishRuns(p, now); err != nil {
		return nil, err
	}
	return p, nil
}

// route returns the (route, receiver) pairs a finding goes to. A route
// without a stage match takes only expired keys (NON_COMPLIANT users), as
// the seed's remediation does; warnings go only where a route asks for them.
func (e *Engine) route(f finding) []target {
	var out []target
	for i, r := range e.cfg.Routes {
		if !matches(r.Match, f) {
			continue
		}
		for _, name := range r.Receivers {
			out = append(out, target{i, name})
		}
		if !r.Continue {
			break
		}
	}
	return out
}

func matches(m config.RouteMatch, f finding) bool {
	it := f.item
	if len(m.Stage) == 0 {
		if it.Stage != string(lifecycle.Expired) {
			return false
		}
	} else if !contains(m.Stage, it.Stage) {
		return false
	}
	if len(m.AccountID) > 0 && !contains(m.AccountID, it.AccountID) {
		return false
	}
	if len(m.AccountName) > 0 && !contains(m.AccountName, it.AccountName) {
		return false
	}
	if len(m.OU) > 0 {
		ok := false
		for _, ou := range m.OU {
			ou = strings.Trim(ou, "/")
			if it.OU == ou || strings.HasPrefix(it.OU, ou+"/") {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	if len(m.UserPath) > 0 {
		ok := false
		for _, p := range m.UserPath {
			if strings.HasPrefix(f.path, p) {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	for k, v := range m.Tags {
		if f.tags[k] != v {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// groupKey is what one message covers: by default one user.
func groupKey(by []string, f finding) string {
	if len(by) == 0 {
		by = []string{config.GroupByUser}
	}
	parts := make([]string, 0, len(by))
	for _, b := range by {
		switch b {
		case config.GroupByOwner:
			o := f.item.Owner
			if o == "" {
				o = "(owner unknown)"
			}
			parts = append(parts, "owner:"+o)
		case config.GroupByAccount:
			parts = append(parts, "account:"+f.item.AccountID)
		case config.GroupByKey:
			parts = append(parts, "key:"+f.key)
		default:
			parts = append(parts, "user:"+f.item.AccountID+"/"+f.item.ResourceID)
		}
	}
	return strings.Join(parts, ",")
}

// needsOwner reports whether a receiver addresses the owner (an e-mail
// receiver whose recipients are templates): findings without an owner go to
// owners.fallback instead.
func (e *Engine) needsOwner(name string) bool {
	r, ok := e.cfg.Receiver(name)
	if !ok || r.Email == nil {
		return false
	}
	for _, to := range r.Email.To {
		if config.IsTemplate(to) {
			return true
		}
	}
	return false
}

// message renders one message for a receiver.
// A reminder is a finding sent again, unchanged, after repeatInterval.
func (e *Engine) message(kind, receiver, key string, fs []finding, reminder bool, now time.Time) (notify.Message, error) {
	items := make([]notify.Item, len(fs))
	for i, f := range fs {
		items[i] = f.item
		items[i].SetDue(now)
	}
	text, subject, err := e.renderers[receiver].forStage(kind, reminder, items).render(kind, items)
	if err != nil {
		return notify.Message{}, fmt.Errorf("receiver %s: %w", receiver, err)
	}
	m := notify.Message{ID: newID(), Kind: kind, Receiver: receiver, GroupKey: key, Subject: subject, Text: text, Items: items, CreatedAt: now.UTC()}
	if r, ok := e.cfg.Receiver(receiver); ok {
		m.JSON = r.Format == config.FormatJSON
		if r.Email != nil {
			if m.Recipients, err = recipients(r.Email.To, tmpl.NewData(kind, items)); err != nil {
				return notify.Message{}, fmt.Errorf("receiver %s: to: %w", receiver, err)
			}
		}
	}
	return m, nil
}

// recipients renders address templates; empty results are dropped.
func recipients(list []string, d Data) ([]string, error) {
	var out []string
	for _, s := range list {
		if !config.IsTemplate(s) {
			out = append(out, s)
			continue
		}
		t, err := tmpl.Parse("to", s)
		if err != nil {
			return nil, err
		}
		var b bytes.Buffer
		if err := t.Execute(&b, d); err != nil {
			return nil, err
		}
		if v := strings.TrimSpace(b.String()); v != "" {
			out = append(out, v)
		}
	}
	return out, nil
}

func newID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// planFindings routes findings, de-duplicates them against prior, groups
// them into messages, and adds those to p.
func (e *Engine) planFindings(p *Plan, fs []finding, prior []store.Notified, now time.Time) error {
	last := byNotifiedKey(prior)

	// Route every finding and collect, per target, the groups that are due.
	type groupID struct {
		t   target
		key string
	}
	groups := map[groupID][]finding{}
	due := map[groupID]bool{}
	fresh := map[groupID]bool{}
	var order []groupID
	add := func(receiver string, route int, f finding) {
		if e.cfg.Routes[route].IsRun() { // one summary per run: finishRuns
			n, ok := last[notifiedKey{receiver, route, f.key}]
			p.addRun(target{route, receiver}, f, !ok, !ok || n.Stage != f.dedupState(), n.NotifiedAt)
			return
		}
		g := groupID{target{route, receiver}, groupKey(e.cfg.Routes[route].GroupBy, f)}
		if _, ok := groups[g]; !ok {
			order = append(order, g)
		}
		for _, have := range groups[g] {
			if have.key == f.key {
				return // an owner fallback that is also a direct target
			}
		}
		groups[g] = append(groups[g], f)
		n, ok := last[notifiedKey{receiver, route, f.key}]
		interval := e.cfg.Routes[route].RepeatInterval.Duration()
		if !ok || n.Stage != f.dedupState() || now.Sub(n.NotifiedAt) >= interval {
			due[g] = true
		}
		if !ok || n.Stage != f.dedupState() {
			fresh[g] = true // new or changed: not a reminder
		}
	}
	ownerless := map[string]notify.Item{}
	for _, f := range fs {
		for _, t := range e.route(f) {
			if f.item.Owner == "" && e.needsOwner(t.receiver) {
				ownerless[f.item.AccountID+"/"+f.item.ResourceID] = f.item
				for _, fb := range e.cfg.Owners.Fallback {
					add(fb, t.route, f)
				}
				continue
			}
			add(t.receiver, t.route, f)
		}
	}
	for _, it := range ownerless {
		p.OwnerUnknown = append(p.OwnerUnknown, it)
	}
	sort.Slice(p.OwnerUnknown, func(i, j int) bool {
		a, b := p.OwnerUnknown[i], p.OwnerUnknown[j]
		return a.AccountID+a.UserName < b.AccountID+b.UserName
	})

	for _, g := range order {
		gfs := groups[g]
		if !due[g] {
			p.Suppressed += len(gfs)
			continue
		}
		msg, err := e.message(notify.KindFinding, g.t.receiver, g.key, gfs, !fresh[g], now)
		if err != nil {
			return err
		}
		pl := Planned{Message: msg, Route: g.t.route, items: gfs}
		seen := map[rule.ResourceRef]bool{}
		for _, f := range gfs {
			r := rule.ResourceRef{AccountID: f.item.AccountID, ResourceID: f.item.ResourceID}
			if !seen[r] {
				seen[r] = true
				pl.Resources = append(pl.Resources, r)
			}
			b, _ := json.Marshal(f.item)
			p.notified = append(p.notified, store.Notified{Receiver: g.t.receiver, Route: g.t.route, ItemKey: f.key,
				AccountID: f.item.AccountID, ResourceID: f.item.ResourceID, Stage: f.dedupState(), NotifiedAt: now, ItemJSON: b})
		}
		p.Messages = append(p.Messages, pl)
	}

	return nil
}

func (f finding) dedupState() string {
	if f.state != "" {
		return f.state
	}
	return f.item.Stage
}
