// Package report builds the audit report: the numbers an auditor keeps
// (compliance, its trend, the time to remediate, the overdue keys, the
// exemptions, what enforcement did and the configuration in force) read
// from the store, rendered as one self-contained HTML file or as JSON. The
// dashboard's enforcement and exemptions pages read the same lists.
package report

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/keyage/keyage/internal/config"
	"github.com/keyage/keyage/internal/lifecycle"
	"github.com/keyage/keyage/internal/store"
)

const day = 24 * time.Hour

// Options say what a report covers.
type Options struct {
	// Now is the report's time; Since the window before it (default 90 days).
	Now   time.Time
	Since time.Duration
	// MaxAge is the rule's limit (default 90 days): a key's deadline is its
	// creation plus MaxAge.
	MaxAge time.Duration
	// Config is the configuration in force (nil: not shown); its secrets
	// are redacted.
	Config *config.Config
	// Limit caps the overdue keys and enforcement actions listed (default
	// 1,000); the counts are always complete.
	Limit int
}

// Report is the audit report. Its JSON is what `keyage report --format
// json` prints and /api/v1/report serves.
type Report struct {
	// Generated is the report's time; From the start of its window.
	Generated time.Time `json:"generated"`
	From      time.Time `json:"from"`
	// MaxAgeDays is the rule's limit, which sets each key's deadline.
	MaxAgeDays int          `json:"maxAgeDays"`
	Summary    Summary      `json:"summary"`
	Trend      []TrendPoint `json:"trend"`
	MTTR       MTTR         `json:"mttr"`
	// OverdueTotal counts the expired keys; Overdue lists the most overdue
	// first, at most Options.Limit.
	OverdueTotal int          `json:"overdueTotal"`
	Overdue      []OverdueKey `json:"overdue"`
	Exemptions   []Exemption  `json:"exemptions"`
	Enforcement  Enforcement  `json:"enforcement"`
	// Config is the configuration in force as YAML, secrets redacted.
	Config string `json:"config,omitempty"`
	// Truncated is set when a list holds fewer rows than its count.
	Truncated bool `json:"truncated,omitempty"`
}

// Summary is compliance now.
type Summary struct {
	Users        int `json:"users"`
	Compliant    int `json:"compliant"`
	NonCompliant int `json:"nonCompliant"`
	// CompliancePct is compliant of compliant and non-compliant users.
	CompliancePct float64 `json:"compliancePct"`
	// Keys counts access keys by stage.
	Keys           map[string]int `json:"keys"`
	Accounts       int            `json:"accounts"`
	AccountsFailed int            `json:"accountsFailed"`
}

// TrendPoint is the number of non-compliant users at the end of a UTC day
// (for today: at the report's time); At is the day's start.
type TrendPoint struct {
	At           time.Time `json:"at"`
	NonCompliant int       `json:"nonCompliant"`
}

// MTTR is the time to remediate over the window: from a user's key turning
// expired (the user NON_COMPLIANT) to the key being rotated, deactivated or
// deleted (the user no longer NON_COMPLIANT).
type MTTR struct {
	Remediated int     `json:"remediated"`
	MeanDays   float64 `json:"meanDays"`
	P90Days    float64 `json:"p90Days"`
}

// Key names one access key of one user.
type Key struct {
	AccountID   string `json:"accountId"`
	UserName    string `json:"userName"`
	ResourceID  string `json:"resourceId"` // the user's immutable id
	AccessKeyID string `json:"accessKeyId"`
}

// OverdueKey is an active key past its deadline.
type OverdueKey struct {
	Key
	AccountName string    `json:"accountName,omitempty"`
	Owner       string    `json:"owner,omitempty"`
	CreateDate  time.Time `json:"createDate"`
	// Deadline is the creation plus the limit; OverdueDays the whole days
	// since.
	Deadline    time.Time `json:"deadline"`
	OverdueDays int       `json:"overdueDays"`
}

// Build reads the report from the store.
func Build(ctx context.Context, st *store.Store, o Options) (*Report, error) {
	if o.Since <= 0 {
		o.Since = 90 * day
	}
	if o.MaxAge <= 0 {
		o.MaxAge = 90 * day
	}
	if o.Limit <= 0 {
		o.Limit = 1000
	}
	from := o.Now.Add(-o.Since)
	r := &Report{Generated: o.Now.UTC(), From: from.UTC(), MaxAgeDays: int(o.MaxAge / day)}
	tot, err := st.Totals(ctx)
	if err != nil {
		return nil, err
	}
	r.Summary = Summary{Users: tot.Users, Compliant: tot.Compliant, NonCompliant: tot.NonCompliant, Keys: tot.Keys,
		Accounts: tot.Accounts, AccountsFailed: tot.AccountsFailed, CompliancePct: Pct(tot.Compliant, tot.Compliant+tot.NonCompliant)}
	if r.Trend, err = Trend(ctx, st, from, o.Now); err != nil {
		return nil, err
	}
	rems, err := st.Remediations(ctx, from, o.Now)
	if err != nil {
		return nil, err
	}
	r.MTTR = MeanTimeToRemediate(rems)
	r.OverdueTotal = tot.Keys[string(lifecycle.Expired)]
	keys, err := st.OverdueKeys(ctx, o.Limit)
	if err != nil {
		return nil, err
	}
	r.Overdue = make([]OverdueKey, 0, len(keys))
	for _, k := range keys {
		deadline := k.CreatedAt.Add(o.MaxAge).UTC()
		r.Overdue = append(r.Overdue, OverdueKey{Key: Key{k.AccountID, k.UserName, k.ResourceID, k.AccessKeyID}, AccountName: k.AccountName, Owner: k.Owner, CreateDate: k.CreatedAt.UTC(), Deadline: deadline, OverdueDays: max(0, int(o.Now.Sub(deadline)/day))})
	}
	if r.Exemptions, err = Exemptions(ctx, st, o.Now); err != nil {
		return nil, err
	}
	if r.Enforcement, err = Enforce(ctx, st, from, o.Limit); err != nil {
		return nil, err
	}
	r.Truncated = r.OverdueTotal > len(r.Overdue) || r.Enforcement.Total > len(r.Enforcement.Actions)
	if o.Config != nil {
		if r.Config, err = RedactedConfig(o.Config); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Trend is the non-compliant users per UTC day, from the day the window
// starts in (or the day the history starts, if later) to the day of now: a
// point's At is its day's start (UTC midnight), its count the users at the
// end of that day (for today, as recorded until now). The numbers are the
// overview's trend by day (the store's per-day totals), so the two agree;
// the first day is counted whole even when the window starts within it.
func Trend(ctx context.Context, st *store.Store, from, now time.Time) ([]TrendPoint, error) {
	first, err := st.FirstActivity(ctx)
	if err != nil {
		return nil, err
	}
	if first.After(from) {
		from = first
	}
	start, today := utcDay(from), utcDay(now)
	n := max(1, int(today.Sub(start)/day)+1)
	pts, err := st.ComplianceTrend(ctx, today.Add(day), day, n)
	if err != nil {
		return nil, err
	}
	out := make([]TrendPoint, 0, len(pts))
	for _, p := range pts {
		out = append(out, TrendPoint{At: p.Start, NonCompliant: p.NonCompliant})
	}
	return out, nil
}

// utcDay is the start (UTC midnight) of t's UTC day.
func utcDay(t time.Time) time.Time {
	return t.UTC().Truncate(day)
}

// Pct is part of whole in percent, one decimal; 0 when whole is 0.
func Pct(part, whole int) float64 {
	if whole == 0 {
		return 0
	}
	return math.Round(float64(part)*1000/float64(whole)) / 10
}

// MeanTimeToRemediate is the mean and the 90th percentile (nearest rank)
// of the remediations' durations, in days with one decimal.
func MeanTimeToRemediate(rems []store.Remediation) MTTR {
	if len(rems) == 0 {
		return MTTR{}
	}
	ds := make([]time.Duration, len(rems))
	var sum time.Duration
	for i, m := range rems {
		ds[i] = max(0, m.Fixed.Sub(m.Flagged))
		sum += ds[i]
	}
	slices.Sort(ds)
	rank := int(math.Ceil(0.9*float64(len(ds)))) - 1
	return MTTR{Remediated: len(rems), MeanDays: days(sum / time.Duration(len(ds))), P90Days: days(ds[rank])}
}

func days(d time.Duration) float64 { return math.Round(d.Hours()/24*10) / 10 }

// Exemption is an exempt user's exemption, as the lifecycle applied it at
// the last scan.
type Exemption struct {
	AccountID   string `json:"accountId"`
	AccountName string `json:"accountName,omitempty"`
	UserName    string `json:"userName"`
	ResourceID  string `json:"resourceId"`
	ARN         string `json:"arn,omitempty"`
	// Keys are the user's exempt keys.
	Keys []string `json:"accessKeyIds"`
	// Until is when the exemption stops counting.
	Until    time.Time `json:"until"`
	DaysLeft int       `json:"daysLeft"`
	Reason   string    `json:"reason"`
	Source   string    `json:"source"` // tag or config
}

// Exemptions lists the users with an exempt key and their exemptions,
// expiring soonest first: one per distinct exemption of a user's exempt
// keys.
func Exemptions(ctx context.Context, st *store.Store, now time.Time) ([]Exemption, error) {
	keys, err := st.ExemptKeys(ctx)
	if err != nil {
		return nil, err
	}
	out := []Exemption{}
	user := 0 // the first of the current user's exemptions in out
	for i, k := range keys {
		if i == 0 || k.AccountID != keys[i-1].AccountID || k.ResourceID != keys[i-1].ResourceID {
			user = len(out)
		}
		if j := slices.IndexFunc(out[user:], func(e Exemption) bool { return sameExemption(e, k) }); j >= 0 {
			out[user+j].Keys = append(out[user+j].Keys, k.AccessKeyID)
			continue
		}
		out = append(out, Exemption{AccountID: k.AccountID, AccountName: k.AccountName, UserName: k.UserName, ResourceID: k.ResourceID, ARN: k.ARN,
			Keys: []string{k.AccessKeyID}, Until: k.Until.UTC(), DaysLeft: int(math.Ceil(k.Until.Sub(now).Hours() / 24)), Reason: k.Reason, Source: k.Source})
	}
	slices.SortStableFunc(out, func(a, b Exemption) int {
		return cmp.Or(a.Until.Compare(b.Until), strings.Compare(a.AccountID, b.AccountID), strings.Compare(a.UserName, b.UserName))
	})
	return out, nil
}

func sameExemption(e Exemption, k store.ExemptKey) bool {
	return e.Until.Equal(k.Until) && e.Reason == k.Reason && e.Source == k.Source
}

// Enforcement is what enforcement planned and did.
type Enforcement struct {
	// Counts are the audit records since the window's start by outcome
	// (applied, dry-run, refused, escalated, failed, pending).
	Counts map[string]int `json:"counts"`
	Total  int            `json:"total"`
	// Planned are the keys whose owner was told they will be deactivated,
	// the earliest first.
	Planned []Planned `json:"planned"`
	// Actions are the audit records since the window's start, newest first.
	Actions []store.AuditRecord `json:"actions"`
}

// Planned is a deactivation announced to the key's owner.
type Planned struct {
	Key
	NoticedAt time.Time `json:"noticedAt"`
	// DeactivateAt is the earliest the key may be deactivated.
	DeactivateAt time.Time `json:"deactivateAt"`
}

// Enforce reads the enforcement since from: the counts by outcome, the
// planned deactivations and at most limit actions.
func Enforce(ctx context.Context, st *store.Store, from time.Time, limit int) (Enforcement, error) {
	e := Enforcement{Counts: map[string]int{}, Planned: []Planned{}}
	var err error
	if e.Counts, err = st.EnforcementCounts(ctx, from); err != nil {
		return e, err
	}
	for _, n := range e.Counts {
		e.Total += n
	}
	if e.Actions, err = st.AuditSince(ctx, from, limit); err != nil {
		return e, err
	}
	ns, err := st.DeactivationNoticeList(ctx)
	if err != nil {
		return e, err
	}
	for _, n := range ns {
		e.Planned = append(e.Planned, Planned{Key: Key{n.AccountID, n.UserName, n.ResourceID, n.AccessKeyID}, NoticedAt: n.NoticedAt.UTC(), DeactivateAt: n.DeactivateAt.UTC()})
	}
	return e, nil
}

// formatDays writes a number of days with one decimal, "—" for none.
func formatDays(n int, v float64) string {
	if n == 0 {
		return "—"
	}
	return fmt.Sprintf("%.1f d", v)
}
