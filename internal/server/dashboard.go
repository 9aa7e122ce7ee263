package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keyage/keyage/internal/lifecycle"
	"github.com/keyage/keyage/internal/notify"
	"github.com/keyage/keyage/internal/rule"
	"github.com/keyage/keyage/internal/scan"
	"github.com/keyage/keyage/internal/store"
)

var pageNames = []string{"overview", "noncompliant", "accounts", "account", "user", "login", "error", "enforcement", "exemptions", "rotations"}

func parseTemplates() (map[string]*template.Template, error) {
	base, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("parse dashboard layout: %w", err)
	}
	pages := map[string]*template.Template{}
	for _, name := range pageNames {
		t, err := template.Must(base.Clone()).ParseFS(templateFS, "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("parse dashboard page %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// formatUTC formats a time in UTC with layout, and the zero time as zero.
func formatUTC(layout, zero string) func(time.Time) string {
	return func(t time.Time) string {
		if t.IsZero() {
			return zero
		}
		return t.UTC().Format(layout)
	}
}

var funcs = template.FuncMap{
	"date":    formatUTC("2006-01-02 15:04", "—"),
	"day":     formatUTC(time.DateOnly, "—"),
	"clock":   formatUTC("15:04 UTC", ""),
	"iso":     formatUTC(time.RFC3339, ""),
	"ms":      func(ms int64) string { return (time.Duration(ms) * time.Millisecond).Round(time.Millisecond).String() },
	"lower":   strings.ToLower,
	"dueText": dueText,
	"deref": func(p *int) int {
		if p == nil {
			return 0
		}
		return *p
	},
	"remediationWords": remediationWords,
	"stateClass": func(v any) string {
		return "state-" + strings.ToLower(strings.ReplaceAll(fmt.Sprint(v), "_", "-"))
	},
	"num": func(n int) string {
		s := strconv.Itoa(n)
		if n < 0 {
			return s
		}
		var b strings.Builder
		for i, c := range s {
			if i > 0 && (len(s)-i)%3 == 0 {
				b.WriteByte(',')
			}
			b.WriteRune(c)
		}
		return b.String()
	},
}

// page is what every dashboard page gets besides its own data.
type page struct {
	Title     string
	Nav       string
	Version   string
	Auth      bool
	CSRF      string
	ScanNow   bool
	Generated time.Time
	Data      any
}

func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, data any) {
	s.renderPage(w, r, status, name, page{Data: data})
}

func (s *Server) renderPage(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	p.Version, p.Auth, p.ScanNow, p.Generated = s.opts.Version, s.opts.AuthToken != "", s.opts.ScanNow != nil, s.opts.Now()
	p.CSRF = s.formToken(r)
	if p.Nav == "" {
		p.Nav = name
	}
	var buf bytes.Buffer
	if err := s.pages[name].ExecuteTemplate(&buf, "layout.html", p); err != nil {
		s.log.Error("render page", "page", name, "err", err)
		http.Error(w, "internal error; see the server log", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// htmlErrors turns a handler's error into an error page.
func (s *Server) htmlErrors(h func(w http.ResponseWriter, r *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			status, msg := s.statusOf(r, err)
			s.renderPage(w, r, status, "error", page{Title: http.StatusText(status), Data: errorData{Status: status, Message: msg}})
		}
	})
}

type errorData struct {
	Status  int
	Message string
}

// ----- non-compliant users

// keyQuery is the keys view's query string: its filters, sort and page.
type keyQuery struct {
	Account string
	Stage   string // a stage, "flagged" (expired and warning) or "all"
	Owner   string
	OU      string
	Path    string
	Due     string // "", overdue, 7d or 30d
	Sort    string
	// Desc sorts largest first as the page shows the column: the oldest key
	// (largest age) first for age, the latest date first for last used.
	Desc bool
	Page int
	Per  int
}

const (
	defaultPer = 50
	maxPer     = 1000
)

// dueWindows are the due filter's values: days from now (-1: overdue).
var dueWindows = map[string]int{"overdue": -1, "7d": 7, "30d": 30}

// defaultDesc is the direction a column sorts in when the query names none:
// age, oldest first; the others ascending.
func defaultDesc(sort string) bool { return sort == store.SortAge }

func parseKeyQuery(q url.Values) (keyQuery, error) {
	k := keyQuery{Account: strings.TrimSpace(q.Get("account")), Stage: q.Get("stage"), Owner: strings.TrimSpace(q.Get("owner")),
		OU: strings.Trim(strings.TrimSpace(q.Get("ou")), "/"), Path: strings.TrimSpace(q.Get("path")), Due: q.Get("due"),
		Sort: q.Get("sort"), Page: 1, Per: defaultPer}
	if _, ok := dueWindows[k.Due]; k.Due != "" && !ok {
		return k, badRequest("due %q: want overdue, 7d or 30d", k.Due)
	}
	if k.Stage == "" {
		k.Stage = string(lifecycle.Expired)
		if k.Due != "" {
			k.Stage = "all"
		}
	}
	if k.Stage != "all" && k.Stage != "flagged" && !slices.Contains(lifecycle.Stages, lifecycle.Stage(k.Stage)) {
		return k, badRequest("stage %q: want one of %s, flagged or all", k.Stage, stageList())
	}
	switch k.Sort {
	case "", store.SortAge, store.SortAccount, store.SortUser, store.SortOwner, store.SortLastUsed, store.SortStage:
	default:
		return k, badRequest("sort %q: want age, account, user, owner, lastused or stage", k.Sort)
	}
	if k.Sort == "" {
		k.Sort = store.SortAge
	}
	switch dir := q.Get("dir"); dir {
	case "":
		k.Desc = defaultDesc(k.Sort)
	case "asc", "desc":
		k.Desc = dir == "desc"
	default:
		return k, badRequest("dir %q: want asc or desc", dir)
	}
	var err error
	if v := q.Get("page"); v != "" {
		if k.Page, err = strconv.Atoi(v); err != nil || k.Page < 1 {
			return k, badRequest("page %q: want a positive number", v)
		}
	}
	if v := q.Get("per"); v != "" {
		if k.Per, err = strconv.Atoi(v); err != nil || k.Per < 1 || k.Per > maxPer {
			return k, badRequest("per %q: want 1 to %d", v, maxPer)
		}
	}
	return k, nil
}

func stageList() string {
	var s []string
	for _, st := range lifecycle.Stages {
		s = append(s, string(st))
	}
	return strings.Join(s, ", ")
}

// filter is the store's filter of the query at now, for a limit of maxAge
// days. The store sorts ages by creation date and last used dates latest
// first, so those directions flip.
func (k keyQuery) filter(now time.Time, maxAge int) store.KeyFilter {
	f := store.KeyFilter{AccountID: k.Account, Owner: k.Owner, OU: k.OU, PathPrefix: k.Path, Sort: k.Sort,
		Desc: k.Desc != (k.Sort == store.SortAge || k.Sort == store.SortLastUsed), Limit: k.Per, Offset: (k.Page - 1) * k.Per}
	switch k.Stage {
	case "all":
	case "flagged":
		f.Stages = []string{string(lifecycle.Expired), string(lifecycle.Warning)}
	default:
		f.Stages = []string{k.Stage}
	}
	if days, ok := dueWindows[k.Due]; ok {
		due := []string{string(lifecycle.Expired)}
		if days >= 0 {
			due = []string{string(lifecycle.OK), string(lifecycle.Warning)}
			f.CreatedBefore = now.Add(time.Duration(days-maxAge) * rule.Day)
		}
		if f.Stages == nil {
			f.Stages = due
		} else {
			f.Stages = slices.DeleteFunc(f.Stages, func(st string) bool { return !slices.Contains(due, st) })
			if len(f.Stages) == 0 {
				f.Stages = []string{"none"} // no stage is in both
			}
		}
	}
	return f
}

// values encodes the query, leaving defaults out.
func (k keyQuery) values() url.Values {
	v := url.Values{}
	for _, p := range [][2]string{{"account", k.Account}, {"ou", k.OU}, {"path", k.Path}, {"owner", k.Owner}, {"due", k.Due}} {
		if p[1] != "" {
			v.Set(p[0], p[1])
		}
	}
	if (k.Due == "" && k.Stage != string(lifecycle.Expired)) || (k.Due != "" && k.Stage != "all") {
		v.Set("stage", k.Stage)
	}
	if k.Sort != store.SortAge {
		v.Set("sort", k.Sort)
	}
	if k.Desc != defaultDesc(k.Sort) {
		v.Set("dir", map[bool]string{true: "desc", false: "asc"}[k.Desc])
	}
	if k.Page > 1 {
		v.Set("page", strconv.Itoa(k.Page))
	}
	if k.Per != defaultPer {
		v.Set("per", strconv.Itoa(k.Per))
	}
	return v
}

// title says what the view lists.
func (k keyQuery) title() string {
	var what string
	switch k.Stage {
	case "all":
		what = "All access keys"
	case "flagged":
		what = "Expired and warning access keys"
	default:
		what = strings.ToUpper(k.Stage[:1]) + k.Stage[1:] + " access keys"
	}
	switch k.Due {
	case "overdue":
		what += " past their rotation deadline"
	case "7d":
		what += " due for rotation within 7 days"
	case "30d":
		what += " due for rotation within 30 days"
	}
	var in []string
	if k.Account != "" {
		in = append(in, "account "+k.Account)
	}
	if k.OU != "" {
		in = append(in, "OU "+k.OU)
	}
	if k.Path != "" {
		in = append(in, "path "+k.Path)
	}
	if len(in) > 0 {
		what += " in " + strings.Join(in, ", ")
	}
	if k.Owner != "" {
		what += " owned by " + k.Owner
	}
	return what
}

func (k keyQuery) href(path string) string {
	if e := k.values().Encode(); e != "" {
		return path + "?" + e
	}
	return path
}

// keyRow is one row of the non-compliant view, as the page, the CSV and the
// JSON export show it.
type keyRow struct {
	AccountID       string    `json:"accountId"`
	AccountName     string    `json:"accountName"`
	OU              string    `json:"ou,omitempty"`
	UserName        string    `json:"userName"`
	ResourceID      string    `json:"resourceId"`
	AccessKeyID     string    `json:"accessKeyId"`
	Status          string    `json:"status"`
	Stage           string    `json:"stage"`
	AgeDays         int       `json:"ageDays"`
	CreateDate      time.Time `json:"createDate"`
	LastUsed        time.Time `json:"lastUsedDate,omitzero"`
	LastUsedService string    `json:"lastUsedService,omitempty"`
	Owner           string    `json:"owner,omitempty"`
	Remediation     string    `json:"remediationStatus,omitempty"`
	// RemediationText says Remediation in words (notified, failed,
	// pending), on expired keys only: the execution is about them.
	RemediationText string `json:"remediation,omitempty"`
	// Deadline is when an active key reaches the limit; DaysLeft the whole
	// days until then (negative: overdue by that many). Absent for
	// inactive and exempt keys.
	Deadline     time.Time `json:"deadline,omitzero"`
	DaysLeft     *int      `json:"daysLeft,omitempty"`
	LastNotified time.Time `json:"lastNotified,omitzero"`
	NextReminder time.Time `json:"nextReminder,omitzero"`
}

func (s *Server) keyRows(rows []store.KeyRow, now time.Time) []keyRow {
	out := make([]keyRow, len(rows))
	for i, r := range rows {
		kr := keyRow{AccountID: r.AccountID, AccountName: r.AccountName, UserName: r.UserName, ResourceID: r.ResourceID, AccessKeyID: r.AccessKeyID,
			Status: r.Status, Stage: r.Stage, AgeDays: rule.AgeDays(r.CreatedAt, now), CreateDate: r.CreatedAt, LastUsed: r.LastUsedAt,
			LastUsedService: r.LastUsedService, Owner: r.Owner, Remediation: r.ExecutionState,
			LastNotified: r.LastNotified, OU: r.OU}
		if r.Stage == string(lifecycle.Expired) {
			// The user's execution is about its expired key, not its others.
			kr.RemediationText = remediationWords(r.ExecutionState)
		}
		if r.Status == rule.StatusActive && r.Stage != string(lifecycle.Exempt) && !r.CreatedAt.IsZero() {
			kr.Deadline = r.CreatedAt.Add(time.Duration(s.opts.MaxAccessKeyAge) * rule.Day)
			left := int(math.Floor(float64(kr.Deadline.Sub(now)) / float64(rule.Day)))
			kr.DaysLeft = &left
		}
		if !r.LastNotified.IsZero() {
			kr.NextReminder = r.LastNotified.Add(s.opts.ReminderInterval)
		}
		out[i] = kr
	}
	return out
}

// dueText says days left in words: "due in 3 days", "overdue by 12 days".
func dueText(left *int) string {
	switch {
	case left == nil:
		return ""
	case *left == 0:
		return "due today"
	case *left == 1:
		return "due in 1 day"
	case *left > 0:
		return fmt.Sprintf("due in %d days", *left)
	case *left == -1:
		return "overdue by 1 day"
	}
	return fmt.Sprintf("overdue by %d days", -*left)
}

// remediationWords says an execution state as the owner sees it: the
// remediation of a key is a notification, so SUCCEEDED means notified.
func remediationWords(state string) string {
	if w, ok := remediationText[state]; ok {
		return w
	}
	return strings.ToLower(state)
}

var remediationText = map[string]string{store.ExecutionSucceeded: "notified", store.ExecutionFailed: "failed",
	store.ExecutionQueued: "pending", store.ExecutionInProgress: "pending"}

type nonCompliantData struct {
	Title      string
	Query      keyQuery
	Rows       []keyRow
	Keys       int
	Users      int
	Pages      int
	Stages     []string
	Dues       []string
	Columns    []column
	Prev, Next string
	CSV, JSON  string
	CSVAll     string
	First      int
	Last       int
	Now        time.Time
}

// column is a sortable column header.
type column struct {
	Label string
	Href  string
	Arrow string
	Sort  string // aria-sort: ascending, descending or none
}

func (s *Server) nonCompliantView(ctx context.Context, q url.Values) (nonCompliantData, error) {
	k, err := parseKeyQuery(q)
	if err != nil {
		return nonCompliantData{}, err
	}
	now := s.opts.Now()
	f := k.filter(now, s.opts.MaxAccessKeyAge)
	keys, users, err := s.opts.Store.CountKeys(ctx, f)
	if err != nil {
		return nonCompliantData{}, err
	}
	rows, err := s.opts.Store.Keys(ctx, f)
	if err != nil {
		return nonCompliantData{}, err
	}
	d := nonCompliantData{Title: k.title(), Dues: []string{"overdue", "7d", "30d"}, Query: k, Rows: s.keyRows(rows, now), Keys: keys, Users: users, Pages: max(1, (keys+k.Per-1)/k.Per), Now: now}
	d.Stages = append(d.Stages, "flagged", "all")
	for _, st := range lifecycle.Stages {
		d.Stages = append(d.Stages, string(st))
	}
	if len(rows) > 0 {
		d.First, d.Last = f.Offset+1, f.Offset+len(rows)
	}
	if k.Page > 1 {
		p := k
		p.Page--
		d.Prev = p.href("/noncompliant")
	}
	if k.Page < d.Pages {
		p := k
		p.Page++
		d.Next = p.href("/noncompliant")
	}
	d.CSV, d.JSON = k.href("/noncompliant.csv"), k.href("/noncompliant.json")
	all := k.values()
	all.Del("page")
	all.Del("per")
	all.Set("all", "1")
	d.CSVAll = "/noncompliant.csv?" + all.Encode()
	for _, c := range []struct{ label, sort string }{
		{"Account", store.SortAccount}, {"User", store.SortUser}, {"Access key", ""}, {"Stage", store.SortStage}, {"Age", store.SortAge},
		{"Deadline", ""}, {"Last used", store.SortLastUsed}, {"Owner", store.SortOwner}, {"Remediation", ""}, {"Last notified", ""}, {"Next reminder", ""},
	} {
		col := column{Label: c.label, Sort: "none"}
		if c.sort != "" {
			p := k
			p.Page = 1
			p.Desc = defaultDesc(c.sort)
			if k.Sort == c.sort {
				p.Desc = !k.Desc
			}
			p.Sort = c.sort
			col.Href = p.href("/noncompliant")
			if k.Sort == c.sort {
				col.Arrow, col.Sort = "▲", "ascending"
				if k.Desc {
					col.Arrow, col.Sort = "▼", "descending"
				}
			}
		}
		d.Columns = append(d.Columns, col)
	}
	return d, nil
}

func (s *Server) nonCompliant(w http.ResponseWriter, r *http.Request) error {
	d, err := s.nonCompliantView(r.Context(), r.URL.Query())
	if err != nil {
		return err
	}
	s.renderPage(w, r, http.StatusOK, "noncompliant", page{Title: d.Title, Data: d})
	return nil
}

// exportQuery is the view's query; with all=1 every matching row (up to
// maxExport) instead of the page.
func exportQuery(r *http.Request) url.Values {
	q := r.URL.Query()
	if q.Get("all") == "1" {
		q.Del("page")
		q.Set("per", strconv.Itoa(maxExport))
	}
	return q
}

const maxExport = 1000

func (s *Server) nonCompliantCSV(w http.ResponseWriter, r *http.Request) error {
	q := exportQuery(r)
	k, err := parseKeyQuery(q)
	if err != nil {
		return err
	}
	now := s.opts.Now()
	var rows []keyRow
	if q.Get("all") == "1" {
		rows, err = s.allKeyRows(r.Context(), k, now)
	} else {
		var d nonCompliantData
		d, err = s.nonCompliantView(r.Context(), q)
		rows = d.Rows
	}
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="keyage-noncompliant-`+now.UTC().Format("20060102-1504")+`.csv"`)
	return writeKeyCSV(w, rows)
}

// allKeyRows reads every row of a view, page after page.
func (s *Server) allKeyRows(ctx context.Context, k keyQuery, now time.Time) ([]keyRow, error) {
	var out []keyRow
	k.Per = maxExport
	for k.Page = 1; ; k.Page++ {
		rows, err := s.opts.Store.Keys(ctx, k.filter(now, s.opts.MaxAccessKeyAge))
		if err != nil {
			return nil, err
		}
		out = append(out, s.keyRows(rows, now)...)
		if len(rows) < k.Per {
			return out, nil
		}
	}
}

func (s *Server) nonCompliantJSON(w http.ResponseWriter, r *http.Request) error {
	q := exportQuery(r)
	k, err := parseKeyQuery(q)
	if err != nil {
		return err
	}
	now := s.opts.Now()
	resp := keyPage{Page: k.Page, Per: k.Per}
	if q.Get("all") == "1" {
		resp.Page = 0
		if resp.Rows, err = s.allKeyRows(r.Context(), k, now); err != nil {
			return err
		}
		resp.Keys, resp.Users, err = s.opts.Store.CountKeys(r.Context(), k.filter(now, s.opts.MaxAccessKeyAge))
	} else {
		var d nonCompliantData
		d, err = s.nonCompliantView(r.Context(), q)
		resp.Rows, resp.Keys, resp.Users = d.Rows, d.Keys, d.Users
	}
	if err != nil {
		return err
	}
	if resp.Rows == nil {
		resp.Rows = []keyRow{}
	}
	w.Header().Set("Content-Disposition", `attachment; filename="keyage-noncompliant-`+now.UTC().Format("20060102-1504")+`.json"`)
	writeJSON(w, http.StatusOK, resp)
	return nil
}

type keyPage struct {
	Keys  int      `json:"keys"`
	Users int      `json:"users"`
	Page  int      `json:"page,omitempty"`
	Per   int      `json:"per"`
	Rows  []keyRow `json:"rows"`
}

// ----- accounts

type accountsData struct {
	Accounts []store.AccountSummary
}

func (s *Server) accounts(w http.ResponseWriter, r *http.Request) error {
	as, err := s.opts.Store.Accounts(r.Context(), 0)
	if err != nil {
		return err
	}
	s.renderPage(w, r, http.StatusOK, "accounts", page{Title: "Accounts", Data: accountsData{Accounts: as}})
	return nil
}

type accountData struct {
	Account   store.AccountSummary
	Users     []userRow
	Failed    []store.AccountScan
	Stages    []stageCount
	RootKeys  []scan.RootKey
	RootAlert bool
}

type userRow struct {
	store.EvaluationRow
	Owner string
	Keys  []keyView
}

type keyView struct {
	rule.KeyResult
	Age int
}

func (s *Server) account(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id := r.PathValue("id")
	a, err := s.opts.Store.Account(ctx, id)
	if err != nil {
		return err
	}
	if a == nil {
		return httpError{http.StatusNotFound, fmt.Sprintf("keyage has not seen account %s.", id)}
	}
	evs, err := s.opts.Store.AccountEvaluations(ctx, id)
	if err != nil {
		return err
	}
	failed, err := s.opts.Store.AccountScans(ctx, id, true, 20)
	if err != nil {
		return err
	}
	now := s.opts.Now()
	d := accountData{Account: *a, Failed: failed, RootKeys: a.RootKeys}
	counts := map[string]int{}
	for _, ev := range evs {
		u := s.userRow(ev, now)
		for _, k := range ev.Keys {
			counts[string(k.Stage)]++
		}
		d.Users = append(d.Users, u)
	}
	for _, st := range lifecycle.Stages {
		d.Stages = append(d.Stages, stageCount{string(st), counts[string(st)]})
	}
	for _, rk := range a.RootKeys {
		if rk.Status != rule.StatusInactive {
			d.RootAlert = true
		}
	}
	title := "Account " + id
	if a.Name != "" {
		title = a.Name + " (" + id + ")"
	}
	s.renderPage(w, r, http.StatusOK, "account", page{Title: title, Nav: "accounts", Data: d})
	return nil
}

func (s *Server) userRow(ev store.EvaluationRow, now time.Time) userRow {
	u := userRow{EvaluationRow: ev, Owner: ev.Owner}
	for _, k := range ev.Keys {
		u.Keys = append(u.Keys, keyView{KeyResult: k, Age: rule.AgeDays(k.CreateDate, now)})
	}
	return u
}

type userData struct {
	AccountID   string
	ResourceID  string
	AccountName string
	Current     *userRow
	History     []store.Transition
	Messages    []messageView
	Notified    []notifiedView
	Executions  []store.Execution
	Tags        []tag
	Deleted     bool
	Timeline    []event
	Rotations   []rotationView
}

type tag struct{ Key, Value string }

type messageView struct {
	store.Message
	Subject string
	Items   int
}

type notifiedView struct {
	store.Notified
	NextReminder time.Time
}

func (s *Server) userDetail(ctx context.Context, acct, rid string) (*userData, error) {
	cur, err := s.opts.Store.EvaluationOf(ctx, acct, rid)
	if err != nil {
		return nil, err
	}
	hist, err := s.opts.Store.History(ctx, acct, rid)
	if err != nil {
		return nil, err
	}
	if cur == nil && len(hist) == 0 {
		return nil, httpError{http.StatusNotFound, fmt.Sprintf("keyage has no evaluation of %s in account %s.", rid, acct)}
	}
	msgs, err := s.opts.Store.MessagesOf(ctx, acct, rid, 100)
	if err != nil {
		return nil, err
	}
	notified, err := s.opts.Store.NotifiedOf(ctx, acct, rid)
	if err != nil {
		return nil, err
	}
	execs, err := s.opts.Store.ListExecutions(ctx, store.ExecutionFilter{AccountID: acct, ResourceID: rid})
	if err != nil {
		return nil, err
	}
	d := &userData{AccountID: acct, ResourceID: rid, History: hist, Executions: execs, Deleted: cur == nil}
	slices.Reverse(d.History) // newest first
	if cur != nil {
		u := s.userRow(*cur, s.opts.Now())
		d.Current, d.AccountName = &u, cur.AccountName
		for k, v := range cur.Tags {
			d.Tags = append(d.Tags, tag{k, v})
		}
		slices.SortFunc(d.Tags, func(a, b tag) int { return strings.Compare(a.Key, b.Key) })
	} else if a, err := s.opts.Store.Account(ctx, acct); err == nil && a != nil {
		d.AccountName = a.Name
	}
	for _, m := range msgs {
		var nm notify.Message
		_ = json.Unmarshal(m.JSON, &nm)
		d.Messages = append(d.Messages, messageView{Message: m, Subject: nm.Subject, Items: len(nm.Items)})
	}
	for _, n := range notified {
		d.Notified = append(d.Notified, notifiedView{Notified: n, NextReminder: n.NotifiedAt.Add(s.opts.ReminderInterval)})
	}
	return d, s.addTimeline(ctx, d)
}

func (s *Server) user(w http.ResponseWriter, r *http.Request) error {
	d, err := s.userDetail(r.Context(), r.PathValue("account"), r.PathValue("resource"))
	if err != nil {
		return err
	}
	title := d.ResourceID
	if d.Current != nil && d.Current.UserName != "" {
		title = d.Current.UserName
	} else if len(d.History) > 0 && d.History[0].UserName != "" {
		title = d.History[0].UserName
	}
	s.renderPage(w, r, http.StatusOK, "user", page{Title: title, Nav: "noncompliant", Data: d})
	return nil
}

// ----- scan now

func (s *Server) scanNow(w http.ResponseWriter, r *http.Request) error {
	if s.opts.ScanNow == nil {
		return httpError{http.StatusNotFound, "Scanning on demand is not enabled."}
	}
	if r.Header.Get("Authorization") == "" && !s.formTokenOK(r) {
		return httpError{http.StatusForbidden, "The form has expired; reload the page and try again."}
	}
	if p := s.progress(); p.Running {
		http.Redirect(w, r, "/?scan=running", http.StatusSeeOther)
		return nil
	}
	if err := s.opts.ScanNow(context.WithoutCancel(r.Context())); err != nil {
		return fmt.Errorf("start scan: %w", err)
	}
	s.log.Info("scan requested from the dashboard", "remote", r.RemoteAddr)
	http.Redirect(w, r, "/?scan=started", http.StatusSeeOther)
	return nil
}
