package server

// The overview page and its numbers (also GET /api/v1/overview and the
// trend as CSV): compliance now and by day or week, keys by due window and
// age, active root keys, failed accounts, time to remediate and what
// enforcement did lately.

import (
	"context"
	"encoding/csv"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/keyage/keyage/internal/lifecycle"
	"github.com/keyage/keyage/internal/output"
	"github.com/keyage/keyage/internal/rule"
	"github.com/keyage/keyage/internal/store"
)

// overviewNumbers are the overview's figures, as the page and the API show
// them.
type overviewNumbers struct {
	GeneratedAt time.Time `json:"generatedAt"`
	// Users, by compliance; CompliancePct is null before the first evaluation.
	Users         int      `json:"users"`
	Compliant     int      `json:"compliant"`
	NonCompliant  int      `json:"nonCompliant"`
	CompliancePct *float64 `json:"compliancePercent"`
	// MaxAgeDays is the limit the due windows are computed with.
	MaxAgeDays int             `json:"maxAccessKeyAgeDays"`
	Due        store.DueCounts `json:"keysDue"`
	// Ages are the active keys by age.
	Ages []ageBucket `json:"activeKeyAges"`
	// RootKeys and FailedAccounts list the accounts with an active root key
	// and those whose latest scan failed.
	RootKeys       []rootKeysOf    `json:"activeRootKeys"`
	FailedAccounts []failedAccount `json:"failedAccounts"`
	// TimeToRemediate is over each of remediationWindows.
	TimeToRemediate []remediationWindow `json:"timeToRemediate"`
	Enforcement     enforcementSummary  `json:"enforcement"`
	// Trend is by day or week (TrendBy).
	TrendBy string     `json:"trendBy"`
	Trend   []trendRow `json:"trend"`
	totals  store.Totals
}

// ageBucket counts active keys whose age in days is in [MinDays, MaxDays)
// (MaxDays 0: no upper bound).
type ageBucket struct {
	Label   string `json:"label"`
	MinDays int    `json:"minDays"`
	MaxDays int    `json:"maxDays,omitempty"`
	Keys    int    `json:"keys"`
}

type rootKeysOf struct {
	AccountID   string `json:"accountId"`
	AccountName string `json:"accountName,omitempty"`
	Keys        int    `json:"keys"`
}

type failedAccount struct {
	AccountID   string `json:"accountId"`
	AccountName string `json:"accountName,omitempty"`
	Error       string `json:"error"`
}

// remediationWindow is the time to remediate over the last Days days.
type remediationWindow struct {
	Days      int     `json:"days"`
	Count     int     `json:"remediated"`
	MeanHours float64 `json:"meanHours"`
	P90Hours  float64 `json:"p90Hours"`
}

// enforcementSummary counts keyage enforce's audit records of the last Days
// days by outcome (applied, dry-run, refused, escalated, failed).
type enforcementSummary struct {
	Days     int            `json:"days"`
	Outcomes map[string]int `json:"outcomes"`
	Total    int            `json:"total"`
}

// trendRow is one period of the trend: the users at its end (or now).
type trendRow struct {
	Start         time.Time `json:"start"`
	Compliant     int       `json:"compliant"`
	NonCompliant  int       `json:"nonCompliant"`
	CompliancePct *float64  `json:"compliancePercent"`
}

// ageBounds are the overview's age buckets, in days.
var ageBounds = []float64{30, 90, 180, 365}

// remediationWindows are the windows of the time to remediate, in days.
var remediationWindows = []int{30, 90}

// enforcementDays is how far back the overview counts enforcement.
const enforcementDays = 7

// trendPeriods are the periods of the trend and how many of each.
var trendPeriods = map[string]struct {
	step time.Duration
	n    int
}{"day": {rule.Day, 30}, "week": {7 * rule.Day, 26}}

func pct(part, whole int) *float64 {
	if whole == 0 {
		return nil
	}
	v := math.Round(float64(part)*1000/float64(whole)) / 10
	return &v
}

func parseTrendBy(r *http.Request) (string, error) {
	by := r.URL.Query().Get("by")
	if by == "" {
		return "day", nil
	}
	if _, ok := trendPeriods[by]; !ok {
		return "", badRequest("by %q: want day or week", by)
	}
	return by, nil
}

// periodEnd is the end of the day or week (Monday to Sunday, UTC) now is in.
func periodEnd(now time.Time, by string) time.Time {
	d := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC).Add(rule.Day)
	if by == "week" {
		for d.Weekday() != time.Monday {
			d = d.Add(rule.Day)
		}
	}
	return d
}

// complianceTrend is the trend by day or week, from the period of the first
// recorded evaluation; the current period counts until now.
func (s *Server) complianceTrend(ctx context.Context, now time.Time, by string) ([]trendRow, error) {
	p := trendPeriods[by]
	first, err := s.opts.Store.FirstActivity(ctx)
	if err != nil || first.IsZero() {
		return []trendRow{}, err
	}
	pts, err := s.opts.Store.ComplianceTrend(ctx, periodEnd(now.UTC(), by), p.step, p.n)
	if err != nil {
		return nil, err
	}
	out := []trendRow{}
	for _, pt := range pts {
		if !pt.Start.Add(p.step).After(first) {
			continue // before the history starts
		}
		out = append(out, trendRow{Start: pt.Start, Compliant: pt.Compliant, NonCompliant: pt.NonCompliant, CompliancePct: pct(pt.Compliant, pt.Compliant+pt.NonCompliant)})
	}
	return out, nil
}

func (s *Server) overviewNumbers(ctx context.Context, now time.Time, by string) (overviewNumbers, error) {
	n := overviewNumbers{GeneratedAt: now.UTC(), MaxAgeDays: s.opts.MaxAccessKeyAge, TrendBy: by,
		RootKeys: []rootKeysOf{}, FailedAccounts: []failedAccount{}}
	tot, err := s.opts.Store.Totals(ctx)
	if err != nil {
		return n, err
	}
	n.totals = tot
	n.Users, n.Compliant, n.NonCompliant = tot.Users, tot.Compliant, tot.NonCompliant
	n.CompliancePct = pct(tot.Compliant, tot.Compliant+tot.NonCompliant)
	if n.Due, err = s.opts.Store.Due(ctx, now, time.Duration(s.opts.MaxAccessKeyAge)*rule.Day); err != nil {
		return n, err
	}
	h, err := s.opts.Store.ActiveKeyAges(ctx, now, ageBounds)
	if err != nil {
		return n, err
	}
	lo, below := 0, uint64(0)
	for i, b := range ageBounds {
		n.Ages = append(n.Ages, ageBucket{Label: fmt.Sprintf("%d–%d days", lo, int(b)), MinDays: lo, MaxDays: int(b), Keys: int(h.Cumulative[i] - below)})
		lo, below = int(b), h.Cumulative[i]
	}
	n.Ages[0].Label = "under 30 days"
	n.Ages = append(n.Ages, ageBucket{Label: "over a year", MinDays: lo, Keys: int(h.Count - below)})
	as, err := s.opts.Store.AccountStates(ctx)
	if err != nil {
		return n, err
	}
	for _, a := range as {
		if a.ActiveRootKeys > 0 {
			n.RootKeys = append(n.RootKeys, rootKeysOf{AccountID: a.AccountID, AccountName: a.Name, Keys: a.ActiveRootKeys})
		}
		if a.Status != "ok" {
			n.FailedAccounts = append(n.FailedAccounts, failedAccount{AccountID: a.AccountID, AccountName: a.Name, Error: a.Error})
		}
	}
	for _, days := range remediationWindows {
		r, err := s.opts.Store.TimeToRemediate(ctx, now, time.Duration(days)*rule.Day)
		if err != nil {
			return n, err
		}
		n.TimeToRemediate = append(n.TimeToRemediate, remediationWindow{Days: days, Count: r.Count, MeanHours: hours(r.Mean), P90Hours: hours(r.P90)})
	}
	n.Enforcement.Days = enforcementDays
	if n.Enforcement.Outcomes, err = s.opts.Store.EnforcementCounts(ctx, now.Add(-enforcementDays*rule.Day)); err != nil {
		return n, err
	}
	for _, c := range n.Enforcement.Outcomes {
		n.Enforcement.Total += c
	}
	n.Trend, err = s.complianceTrend(ctx, now, by)
	return n, err
}

func hours(d time.Duration) float64 { return math.Round(d.Hours()*10) / 10 }

// ----- the page

type overviewData struct {
	overviewNumbers
	Totals        store.Totals
	CompliancePct string
	Evaluated     int
	Stages        []stageCount
	StageBar      template.HTML
	Top           []store.AccountSummary
	TopBars       []bar
	Chart         template.HTML
	TrendCSV      string
	TrendOther    string
	LastScan      *store.Scan
	ScanDuration  string
	Progress      progress
	Flash         string
	MaxAge        int
	Remediation   []remediationView
	Outcomes      []stageCount
}

// remediationView is a time to remediate in words.
type remediationView struct {
	Days      int
	Count     int
	Mean, P90 string
}

type stageCount struct {
	Stage string
	Keys  int
}

type progress struct {
	Known   bool
	Running bool
	Done    int
	Total   int
	Pct     int
}

func (s *Server) progress() progress {
	if s.opts.ScanProgress == nil {
		return progress{}
	}
	done, total, running := s.opts.ScanProgress()
	p := progress{Known: true, Running: running, Done: done, Total: total}
	if total > 0 {
		p.Pct = min(100, done*100/total)
	}
	return p
}

func compliancePct(t store.Totals) string {
	evaluated := t.Compliant + t.NonCompliant
	if evaluated == 0 {
		return "—"
	}
	return fmt.Sprintf("%.1f%%", float64(t.Compliant)*100/float64(evaluated))
}

// span says a duration in days or hours.
func span(hours float64) string {
	switch {
	case hours == 0:
		return "—"
	case hours < 48:
		return fmt.Sprintf("%.0f h", math.Max(1, hours))
	default:
		return fmt.Sprintf("%.1f d", hours/24)
	}
}

func (s *Server) overview(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	by, err := parseTrendBy(r)
	if err != nil {
		return err
	}
	now := s.opts.Now()
	nums, err := s.overviewNumbers(ctx, now, by)
	if err != nil {
		return err
	}
	tot := nums.totals
	top, err := s.opts.Store.TopNonCompliant(ctx, 10)
	if err != nil {
		return err
	}
	last, err := s.opts.Store.LatestScan(ctx)
	if err != nil {
		return err
	}
	d := overviewData{overviewNumbers: nums, Totals: tot, CompliancePct: compliancePct(tot), Evaluated: tot.Compliant + tot.NonCompliant, Top: top,
		LastScan: last, Progress: s.progress(), MaxAge: s.opts.MaxAccessKeyAge, Chart: trendSVG(trendChartPoints(nums.Trend, by)),
		TrendCSV: "/overview/trend.csv?by=" + by}
	d.TrendOther = "week"
	if by == "week" {
		d.TrendOther = "day"
	}
	for _, st := range lifecycle.Stages {
		d.Stages = append(d.Stages, stageCount{string(st), tot.Keys[string(st)]})
	}
	d.StageBar = stageBarSVG(d.Stages)
	maxN := 0
	for _, a := range top {
		maxN = max(maxN, a.NonCompliant)
	}
	for _, a := range top {
		d.TopBars = append(d.TopBars, bar{Width: barWidth(a.NonCompliant, maxN)})
	}
	for _, m := range nums.TimeToRemediate {
		d.Remediation = append(d.Remediation, remediationView{Days: m.Days, Count: m.Count, Mean: span(m.MeanHours), P90: span(m.P90Hours)})
	}
	for _, o := range []string{"applied", "dry-run", "refused", "escalated", "failed"} {
		d.Outcomes = append(d.Outcomes, stageCount{o, nums.Enforcement.Outcomes[o]})
	}
	if last != nil && !last.FinishedAt.IsZero() {
		d.ScanDuration = last.FinishedAt.Sub(last.StartedAt).Round(100 * time.Millisecond).String()
	}
	switch r.URL.Query().Get("scan") {
	case "started":
		d.Flash = "Scan started."
	case "running":
		d.Flash = "A scan is already running."
	}
	s.renderPage(w, r, http.StatusOK, "overview", page{Title: "Overview", Data: d})
	return nil
}

// trendChartPoints are the trend's non-compliant users, one point at the
// start of each period and one at the end of the last, so the axis spans
// whole days or weeks.
func trendChartPoints(rows []trendRow, by string) []store.TrendPoint {
	out := make([]store.TrendPoint, 0, len(rows)+1)
	for _, r := range rows {
		out = append(out, store.TrendPoint{At: r.Start, NonCompliant: r.NonCompliant})
	}
	if len(rows) > 0 {
		last := rows[len(rows)-1]
		out = append(out, store.TrendPoint{At: last.Start.Add(trendPeriods[by].step), NonCompliant: last.NonCompliant})
	}
	return out
}

// overviewTrendCSV is the trend behind the chart as CSV.
func (s *Server) overviewTrendCSV(w http.ResponseWriter, r *http.Request) error {
	by, err := parseTrendBy(r)
	if err != nil {
		return err
	}
	now := s.opts.Now()
	rows, err := s.complianceTrend(r.Context(), now, by)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="keyage-trend-by-`+by+`-`+now.UTC().Format("20060102-1504")+`.csv"`)
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{by + "_start", "compliant_users", "noncompliant_users", "compliance_percent"})
	for _, t := range rows {
		p := ""
		if t.CompliancePct != nil {
			p = strconv.FormatFloat(*t.CompliancePct, 'f', 1, 64)
		}
		_ = cw.Write(output.SafeCSVRecord([]string{t.Start.Format(time.DateOnly), strconv.Itoa(t.Compliant), strconv.Itoa(t.NonCompliant), p}))
	}
	cw.Flush()
	return cw.Error()
}

// apiOverview serves the overview's numbers.
func (s *Server) apiOverview(w http.ResponseWriter, r *http.Request) error {
	by, err := parseTrendBy(r)
	if err != nil {
		return err
	}
	n, err := s.overviewNumbers(r.Context(), s.opts.Now(), by)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, n)
	return nil
}
