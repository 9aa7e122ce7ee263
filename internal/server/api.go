package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keyage/keyage/internal/lifecycle"
	"github.com/keyage/keyage/internal/rule"
	"github.com/keyage/keyage/internal/scan"
	"github.com/keyage/keyage/internal/store"
)

// API page sizes.
const (
	defaultLimit = 100
	maxLimit     = 1000
)

type apiError struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// apiErrors turns a handler's error into a JSON error.
func (s *Server) apiErrors(h func(w http.ResponseWriter, r *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			status, msg := s.statusOf(r, err)
			writeJSON(w, status, apiError{Error: msg})
		}
	})
}

func parseLimit(r *http.Request) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return defaultLimit, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxLimit {
		return 0, badRequest("limit %q: want 1 to %d", v, maxLimit)
	}
	return n, nil
}

// list is one page of a collection; NextCursor is empty on the last page.
type list[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"nextCursor,omitempty"`
}

// apiPage turns rows read with limit+1 into one page of the API: the first
// limit rows, converted, and the cursor of the last one when there are more.
func apiPage[R, T any](rows []R, limit int, conv func(R) T, cursor func(R) string) list[T] {
	out := list[T]{Items: make([]T, 0, min(len(rows), limit))}
	for i, r := range rows {
		if i == limit {
			out.NextCursor = cursor(rows[limit-1])
			break
		}
		out.Items = append(out.Items, conv(r))
	}
	return out
}

func encodeCursor(parts ...string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strings.Join(parts, "\x00")))
}

func decodeCursor(c string, n int) ([]string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	parts := strings.Split(string(b), "\x00")
	if err != nil || len(parts) != n {
		return nil, badRequest("cursor %q: not a cursor this API returned", c)
	}
	return parts, nil
}

// apiEvaluation is a current evaluation as the API returns it.
type apiEvaluation struct {
	rule.Evaluation
	AccountName string    `json:"accountName"`
	Owner       string    `json:"owner,omitempty"`
	FirstSeen   time.Time `json:"firstSeen"`
	ChangedAt   time.Time `json:"changedAt"`
	EvaluatedAt time.Time `json:"evaluatedAt"`
	ScanID      int64     `json:"scanId,omitempty"`
}

func toAPIEvaluation(r store.EvaluationRow) apiEvaluation {
	return apiEvaluation{Evaluation: r.Evaluation, AccountName: r.AccountName, Owner: r.Owner, FirstSeen: r.FirstSeen,
		ChangedAt: r.ChangedAt, EvaluatedAt: r.EvaluatedAt, ScanID: r.ScanID}
}

var compliances = []string{string(rule.Compliant), string(rule.NonCompliant), string(rule.NotApplicable)}

func (s *Server) apiEvaluations(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit, err := parseLimit(r)
	if err != nil {
		return err
	}
	f := store.EvaluationFilter{AccountID: q.Get("account"), Compliance: strings.ToUpper(q.Get("compliance")), Stage: q.Get("stage"),
		Owner: q.Get("owner"), Limit: limit + 1}
	if f.Compliance != "" && !slices.Contains(compliances, f.Compliance) {
		return badRequest("compliance %q: want COMPLIANT, NON_COMPLIANT or NOT_APPLICABLE", q.Get("compliance"))
	}
	if f.Stage != "" && !slices.Contains(lifecycle.Stages, lifecycle.Stage(f.Stage)) {
		return badRequest("stage %q: want one of %s", f.Stage, stageList())
	}
	if c := q.Get("cursor"); c != "" {
		parts, err := decodeCursor(c, 2)
		if err != nil {
			return err
		}
		f.AfterAccount, f.AfterResource = parts[0], parts[1]
	}
	rows, err := s.opts.Store.ListEvaluations(r.Context(), f)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, apiPage(rows, limit, toAPIEvaluation,
		func(last store.EvaluationRow) string { return encodeCursor(last.AccountID, last.ResourceID) }))
	return nil
}

// apiAccount is an account as the API returns it.
type apiAccount struct {
	AccountID    string         `json:"accountId"`
	Name         string         `json:"name"`
	OU           string         `json:"ou,omitempty"`
	Status       string         `json:"status"`
	Error        string         `json:"error,omitempty"`
	ScanID       int64          `json:"scanId"`
	LastOKScanID int64          `json:"lastOkScanId,omitempty"`
	DurationMS   int64          `json:"durationMs"`
	RootKeys     []scan.RootKey `json:"rootKeys"`
	Users        int            `json:"users"`
	Compliant    int            `json:"compliant"`
	NonCompliant int            `json:"nonCompliant"`
}

func toAPIAccount(a store.AccountSummary) apiAccount {
	rk := a.RootKeys
	if rk == nil {
		rk = []scan.RootKey{}
	}
	return apiAccount{AccountID: a.AccountID, Name: a.Name, OU: a.OU, Status: a.Status, Error: a.Error, ScanID: a.ScanID, LastOKScanID: a.LastOKScan,
		DurationMS: a.DurationMS, RootKeys: rk, Users: a.Users, Compliant: a.Compliant, NonCompliant: a.NonCompliant}
}

func (s *Server) apiAccounts(w http.ResponseWriter, r *http.Request) error {
	as, err := s.opts.Store.Accounts(r.Context(), 0)
	if err != nil {
		return err
	}
	out := list[apiAccount]{Items: make([]apiAccount, 0, len(as))}
	for _, a := range as {
		out.Items = append(out.Items, toAPIAccount(a))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

type apiAccountDetail struct {
	apiAccount
	Keys   map[string]int   `json:"keys"`
	Failed []apiAccountScan `json:"failedScans"`
}

type apiAccountScan struct {
	ScanID     int64     `json:"scanId"`
	StartedAt  time.Time `json:"startedAt"`
	Status     string    `json:"status"`
	Error      string    `json:"error"`
	DurationMS int64     `json:"durationMs"`
}

func (s *Server) apiAccount(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id := r.PathValue("id")
	a, err := s.opts.Store.Account(ctx, id)
	if err != nil {
		return err
	}
	if a == nil {
		return httpError{http.StatusNotFound, "unknown account " + id}
	}
	failed, err := s.opts.Store.AccountScans(ctx, id, true, 20)
	if err != nil {
		return err
	}
	d := apiAccountDetail{apiAccount: toAPIAccount(*a), Keys: map[string]int{}, Failed: []apiAccountScan{}}
	for _, st := range lifecycle.Stages {
		n, _, err := s.opts.Store.CountKeys(ctx, store.KeyFilter{AccountID: id, Stages: []string{string(st)}})
		if err != nil {
			return err
		}
		d.Keys[string(st)] = n
	}
	for _, f := range failed {
		d.Failed = append(d.Failed, apiAccountScan{ScanID: f.ScanID, StartedAt: f.StartedAt, Status: f.Status, Error: f.Error, DurationMS: f.DurationMS})
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

// apiUser is everything keyage knows of one IAM user.
type apiUser struct {
	AccountID     string          `json:"accountId"`
	ResourceID    string          `json:"resourceId"`
	AccountName   string          `json:"accountName"`
	Evaluation    *apiEvaluation  `json:"evaluation"`
	History       []apiTransition `json:"history"`
	Executions    []apiExecution  `json:"executions"`
	Notifications []apiMessage    `json:"notifications"`
	Notified      []apiNotified   `json:"notified"`
	Timeline      []event         `json:"timeline"`
	Deleted       bool            `json:"deleted"`
}

type apiTransition struct {
	From       string    `json:"from"`
	To         string    `json:"to"`
	UserName   string    `json:"userName"`
	Annotation string    `json:"annotation,omitempty"`
	At         time.Time `json:"at"`
	ScanID     int64     `json:"scanId,omitempty"`
}

type apiExecution struct {
	ID         int64        `json:"id"`
	AccountID  string       `json:"accountId"`
	ResourceID string       `json:"resourceId"`
	UserName   string       `json:"userName"`
	Rule       string       `json:"rule"`
	State      string       `json:"state"`
	Attempts   int          `json:"attempts"`
	Steps      []store.Step `json:"steps"`
	LastError  string       `json:"lastError,omitempty"`
	CreatedAt  time.Time    `json:"createdAt"`
	UpdatedAt  time.Time    `json:"updatedAt"`
}

func toAPIExecution(e store.Execution) apiExecution {
	steps := e.Steps
	if steps == nil {
		steps = []store.Step{}
	}
	return apiExecution{ID: e.ID, AccountID: e.AccountID, ResourceID: e.ResourceID, UserName: e.UserName, Rule: e.Rule, State: e.State,
		Attempts: e.Attempts, Steps: steps, LastError: e.LastError, CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt}
}

type apiMessage struct {
	ID        string    `json:"id"`
	Receiver  string    `json:"receiver"`
	Kind      string    `json:"kind"`
	GroupKey  string    `json:"groupKey"`
	Subject   string    `json:"subject"`
	Items     int       `json:"items"`
	State     string    `json:"state"`
	Attempts  int       `json:"attempts"`
	LastError string    `json:"lastError,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	SentAt    time.Time `json:"sentAt,omitzero"`
}

type apiNotified struct {
	Receiver     string    `json:"receiver"`
	Route        int       `json:"route"`
	ItemKey      string    `json:"itemKey"`
	Stage        string    `json:"stage"`
	NotifiedAt   time.Time `json:"notifiedAt"`
	NextReminder time.Time `json:"nextReminder"`
}

func (s *Server) apiUser(w http.ResponseWriter, r *http.Request) error {
	d, err := s.userDetail(r.Context(), r.PathValue("account"), r.PathValue("resource"))
	if err != nil {
		return err
	}
	out := apiUser{AccountID: d.AccountID, ResourceID: d.ResourceID, AccountName: d.AccountName, Deleted: d.Deleted,
		History: []apiTransition{}, Executions: []apiExecution{}, Notifications: []apiMessage{}, Notified: []apiNotified{}, Timeline: append([]event{}, d.Timeline...)}
	if d.Current != nil {
		ev := toAPIEvaluation(d.Current.EvaluationRow)
		out.Evaluation = &ev
	}
	for _, h := range d.History {
		out.History = append(out.History, apiTransition{From: h.From, To: h.To, UserName: h.UserName, Annotation: h.Annotation, At: h.At, ScanID: h.ScanID})
	}
	for _, e := range d.Executions {
		out.Executions = append(out.Executions, toAPIExecution(e))
	}
	for _, m := range d.Messages {
		out.Notifications = append(out.Notifications, apiMessage{ID: m.ID, Receiver: m.Receiver, Kind: m.Kind, GroupKey: m.GroupKey, Subject: m.Subject,
			Items: m.Items, State: m.State, Attempts: m.Attempts, LastError: m.LastError, CreatedAt: m.CreatedAt, SentAt: m.SentAt})
	}
	for _, n := range d.Notified {
		out.Notified = append(out.Notified, apiNotified{Receiver: n.Receiver, Route: n.Route, ItemKey: n.ItemKey, Stage: n.Stage,
			NotifiedAt: n.NotifiedAt, NextReminder: n.NextReminder})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

var executionStates = []string{store.ExecutionQueued, store.ExecutionInProgress, store.ExecutionSucceeded, store.ExecutionFailed}

// idCursor is the id in the request's cursor parameter (0 without one), a
// cursor of encodeIDCursor.
func idCursor(r *http.Request) (int64, error) {
	c := r.URL.Query().Get("cursor")
	if c == "" {
		return 0, nil
	}
	parts, err := decodeCursor(c, 1)
	if err != nil {
		return 0, err
	}
	id, err := strconv.ParseInt(parts[0], 10, 64)
	if err != nil {
		return 0, badRequest("cursor %q: not a cursor this API returned", c)
	}
	return id, nil
}

// encodeIDCursor is the cursor idCursor reads as id.
func encodeIDCursor(id int64) string {
	return encodeCursor(strconv.FormatInt(id, 10))
}

func (s *Server) apiExecutions(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit, err := parseLimit(r)
	if err != nil {
		return err
	}
	f := store.ExecutionFilter{State: strings.ToUpper(q.Get("status")), AccountID: q.Get("account"), Limit: limit + 1}
	if f.State != "" && !slices.Contains(executionStates, f.State) {
		return badRequest("status %q: want QUEUED, IN_PROGRESS, SUCCEEDED or FAILED", q.Get("status"))
	}
	if f.AfterID, err = idCursor(r); err != nil {
		return err
	}
	execs, err := s.opts.Store.ListExecutions(r.Context(), f)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, apiPage(execs, limit, toAPIExecution,
		func(last store.Execution) string { return encodeIDCursor(last.ID) }))
	return nil
}

type apiScan struct {
	ID          int64        `json:"id"`
	StartedAt   time.Time    `json:"startedAt"`
	FinishedAt  time.Time    `json:"finishedAt,omitzero"`
	EvaluatedAt time.Time    `json:"evaluatedAt"`
	Source      string       `json:"source"`
	MaxAge      int          `json:"maxAccessKeyAge"`
	WarnAge     int          `json:"warnAge,omitempty"`
	Status      string       `json:"status"`
	DurationMS  int64        `json:"durationMs"`
	Summary     scan.Summary `json:"summary"`
}

func toAPIScan(sc store.Scan) apiScan {
	a := apiScan{ID: sc.ID, StartedAt: sc.StartedAt, FinishedAt: sc.FinishedAt, EvaluatedAt: sc.EvaluatedAt, Source: sc.Source, MaxAge: sc.MaxAge,
		WarnAge: sc.WarnAge, Status: sc.Status, Summary: sc.Summary}
	if !sc.FinishedAt.IsZero() {
		a.DurationMS = sc.FinishedAt.Sub(sc.StartedAt).Milliseconds()
	}
	if a.Summary.Keys == nil {
		a.Summary.Keys = map[string]int{}
	}
	return a
}

func (s *Server) apiScans(w http.ResponseWriter, r *http.Request) error {
	limit, err := parseLimit(r)
	if err != nil {
		return err
	}
	before, err := idCursor(r)
	if err != nil {
		return err
	}
	scans, err := s.opts.Store.Scans(r.Context(), before, limit+1)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, apiPage(scans, limit, toAPIScan,
		func(last store.Scan) string { return encodeIDCursor(last.ID) }))
	return nil
}

type apiStatusResp struct {
	Version  string      `json:"version"`
	Ready    bool        `json:"ready"`
	LastScan *apiScan    `json:"lastScan"`
	Scan     apiProgress `json:"scan"`
	Totals   apiTotals   `json:"totals"`
}

type apiProgress struct {
	Running bool `json:"running"`
	Done    int  `json:"done"`
	Total   int  `json:"total"`
}

type apiTotals struct {
	Users          int            `json:"users"`
	Compliant      int            `json:"compliant"`
	NonCompliant   int            `json:"nonCompliant"`
	Accounts       int            `json:"accounts"`
	AccountsFailed int            `json:"accountsFailed"`
	Keys           map[string]int `json:"keys"`
}

func (s *Server) apiStatus(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	ready, _ := s.ready(ctx)
	p := s.progress()
	out := apiStatusResp{Version: s.opts.Version, Ready: ready, Scan: apiProgress{Running: p.Running, Done: p.Done, Total: p.Total}}
	last, err := s.opts.Store.LatestScan(ctx)
	if err != nil {
		return err
	}
	if last != nil {
		a := toAPIScan(*last)
		out.LastScan = &a
	}
	t, err := s.opts.Store.Totals(ctx)
	if err != nil {
		return err
	}
	out.Totals = apiTotals{Users: t.Users, Compliant: t.Compliant, NonCompliant: t.NonCompliant, Accounts: t.Accounts, AccountsFailed: t.AccountsFailed, Keys: t.Keys}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) apiScanNow(w http.ResponseWriter, r *http.Request) error {
	if s.opts.ScanNow == nil {
		return httpError{http.StatusNotFound, "scanning on demand is not enabled"}
	}
	if p := s.progress(); p.Running {
		writeJSON(w, http.StatusConflict, apiError{Error: "a scan is already running"})
		return nil
	}
	if err := s.opts.ScanNow(context.WithoutCancel(r.Context())); err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"status": "started"})
	return nil
}
