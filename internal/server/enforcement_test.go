package server

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keyage/keyage/internal/lifecycle"
	"github.com/keyage/keyage/internal/report"
	"github.com/keyage/keyage/internal/rule"
	"github.com/keyage/keyage/internal/scan"
	"github.com/keyage/keyage/internal/store"
)

// enforcedOrg is testOrg with a third scan of the hostile account at
// t0+30m, in which eve's key was rotated (remediated after 24h30m) and hank
// is exempt by tag until t0+5d and ivan by config until t0+60d; the audit
// trail holds alice's refused and then applied deactivation, a dry run for
// bob and an escalation, and bob's key a planned deactivation.
func enforcedOrg(t testing.TB) *store.Store {
	t.Helper()
	ctx := context.Background()
	st := testOrg(t)
	at := t0.Add(30 * time.Minute)
	exempt := func(id string, age int, until time.Time, source, reason string) rule.KeyResult {
		k := key(id, age, lifecycle.Exempt, at)
		k.Lifecycle = &rule.KeyLifecycle{Exemption: &rule.Exemption{Until: until, Reason: reason, Source: source}}
		return k
	}
	res := &scan.Result{Rule: rule.Name, EvaluatedAt: at, Source: "auto", Parameters: scan.Parameters{MaxAccessKeyAge: 90},
		Accounts: []scan.AccountResult{{AccountID: acctHostile, Name: hostileName, Status: scan.StatusOK, Users: 4, DurationMS: 900}},
		Evaluations: []rule.Evaluation{
			user(acctHostile, "AIDAEVE", "eve", "eve@example.com", key("AKIAEVE2", 0, lifecycle.OK, at)),
			user(acctHostile, "AIDAFRANK", "frank", "frank@example.com", key("AKIAFRANK1", 10, lifecycle.OK, at)),
			user(acctHostile, "AIDAHANK", "hank", "hank@example.com", exempt("AKIAHANK1", 130, t0.Add(5*day), "tag", "vendor integration, rotation scheduled")),
			user(acctHostile, "AIDAIVAN", "ivan", "", exempt("AKIAIVAN1", 95, t0.Add(60*day), "config", "break-glass user, <b>audited</b> yearly")),
		}}
	if _, err := st.RecordScan(ctx, at.Add(-time.Minute), at, res); err != nil {
		t.Fatal(err)
	}
	for _, a := range []store.AuditRecord{
		{At: t0.Add(-3 * day), AccountID: acctProd, UserName: "alice", ResourceID: "AIDAALICE", AccessKeyID: "AKIAALICE1", Action: "deactivate", Outcome: "refused",
			Reason: "key was used 2h0m0s ago, within recentUseGuard 24h0m0s", BeforeStatus: "Active", CallerARN: "arn:aws:sts::111111111111:assumed-role/KeyageEnforceRole/keyage"},
		{At: t0.Add(-2 * time.Hour), AccountID: acctProd, UserName: "bob", ResourceID: "AIDABOB", AccessKeyID: "AKIABOB1", Action: "deactivate", Outcome: "dry-run", DryRun: true,
			Reason: "active key is 120 days old (deactivateAge 100)"},
		{At: t0.Add(-time.Hour), AccountID: acctProd, UserName: "alice", ResourceID: "AIDAALICE", AccessKeyID: "AKIAALICE1", Action: "deactivate", Outcome: "applied",
			Reason: "active key is 200 days old (deactivateAge 100)", BeforeStatus: "Active", AfterStatus: "Inactive"},
		{At: t0.Add(-time.Hour), AccountID: acctHostile, UserName: "eve", ResourceID: "AIDAEVE", AccessKeyID: "AKIAEVE1", Action: "deactivate", Outcome: "escalated",
			Reason: "key was used 1h0m0s ago, within recentUseGuard 24h0m0s"},
	} {
		if _, err := st.Audit(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.RecordDeactivationNotice(ctx, store.DeactivationNotice{AccountID: acctProd, AccessKeyID: "AKIABOB1", ResourceID: "AIDABOB", UserName: "bob",
		NoticedAt: t0.Add(-2 * time.Hour), DeactivateAt: t0.Add(12 * day)}); err != nil {
		t.Fatal(err)
	}
	return st
}

func TestEnforcementAPI(t *testing.T) {
	_, ts := newTestServer(t, enforcedOrg(t), Options{})
	for _, tt := range []struct {
		name, path  string
		wantCounts  map[string]int
		wantActions []string // key and outcome, newest first
		wantTrail   []string
	}{
		{"90 days", "/api/v1/enforcement", map[string]int{"applied": 1, "dry-run": 1, "refused": 1, "escalated": 1},
			[]string{"AKIAEVE1 escalated", "AKIAALICE1 applied", "AKIABOB1 dry-run", "AKIAALICE1 refused"}, nil},
		{"one day", "/api/v1/enforcement?since=1d", map[string]int{"applied": 1, "dry-run": 1, "escalated": 1},
			[]string{"AKIAEVE1 escalated", "AKIAALICE1 applied", "AKIABOB1 dry-run"}, nil},
		{"a key's trail", "/api/v1/enforcement?account=" + acctProd + "&key=AKIAALICE1", map[string]int{"applied": 1, "dry-run": 1, "refused": 1, "escalated": 1},
			[]string{"AKIAEVE1 escalated", "AKIAALICE1 applied", "AKIABOB1 dry-run", "AKIAALICE1 refused"}, []string{"AKIAALICE1 refused", "AKIAALICE1 applied"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := get(t, ts, tt.path)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET %s = %d\n%s", tt.path, resp.StatusCode, body)
			}
			var d struct {
				Counts         map[string]int
				Actions, Trail []store.AuditRecord
				Planned        []struct{ AccessKeyID string }
			}
			if err := json.Unmarshal([]byte(body), &d); err != nil {
				t.Fatal(err)
			}
			pairs := func(rs []store.AuditRecord) []string {
				var out []string
				for _, r := range rs {
					out = append(out, r.AccessKeyID+" "+r.Outcome)
				}
				return out
			}
			if diff := cmp.Diff(tt.wantCounts, d.Counts); diff != "" {
				t.Errorf("GET %s counts (-want +got):\n%s", tt.path, diff)
			}
			if diff := cmp.Diff(tt.wantActions, pairs(d.Actions)); diff != "" {
				t.Errorf("GET %s actions (-want +got):\n%s", tt.path, diff)
			}
			if diff := cmp.Diff(tt.wantTrail, pairs(d.Trail)); diff != "" {
				t.Errorf("GET %s trail (-want +got):\n%s", tt.path, diff)
			}
			if len(d.Planned) != 1 || d.Planned[0].AccessKeyID != "AKIABOB1" {
				t.Errorf("GET %s planned = %+v, want bob's key", tt.path, d.Planned)
			}
		})
	}
	if resp, body := get(t, ts, "/api/v1/enforcement?since=soon"); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, `since \"soon\"`) {
		t.Errorf("GET ?since=soon = %d %s, want 400 naming the value", resp.StatusCode, body)
	}
}

func TestExemptionsAPIAndPage(t *testing.T) {
	_, ts := newTestServer(t, enforcedOrg(t), Options{})
	resp, body := get(t, ts, "/api/v1/exemptions")
	var d struct {
		Exemptions []struct {
			UserName, Source, Reason string
			DaysLeft                 int
		}
		ExpiringSoon int
	}
	if err := json.Unmarshal([]byte(body), &d); resp.StatusCode != http.StatusOK || err != nil {
		t.Fatalf("GET /api/v1/exemptions = %d, %v\n%s", resp.StatusCode, err, body)
	}
	var got []string
	for _, e := range d.Exemptions {
		got = append(got, e.UserName+" "+e.Source)
	}
	if diff := cmp.Diff([]string{"hank tag", "ivan config"}, got); diff != "" || d.ExpiringSoon != 1 || d.Exemptions[0].DaysLeft != 5 {
		t.Errorf("exemptions, expiring soonest first (-want +got):\n%s\nexpiring soon %d, days left %d", diff, d.ExpiringSoon, d.Exemptions[0].DaysLeft)
	}
	resp, page := get(t, ts, "/exemptions")
	for _, want := range []string{"vendor integration, rotation scheduled", "break-glass user, &lt;b&gt;audited&lt;/b&gt; yearly", `id="expiring-soon">1<`, `aria-current="page">Exemptions`} {
		if resp.StatusCode != http.StatusOK || !strings.Contains(page, want) {
			t.Errorf("GET /exemptions = %d, lacks %q", resp.StatusCode, want)
		}
	}
	resp, page = get(t, ts, "/enforcement?account="+acctProd+"&key=AKIAALICE1")
	for _, want := range []string{"Audit trail of AKIAALICE1", "within recentUseGuard", "Active → Inactive", `data-outcome="refused">1<`, "Planned deactivations (1)"} {
		if resp.StatusCode != http.StatusOK || !strings.Contains(page, want) {
			t.Errorf("GET /enforcement = %d, lacks %q", resp.StatusCode, want)
		}
	}
}

func TestUserTimeline(t *testing.T) {
	_, ts := newTestServer(t, enforcedOrg(t), Options{})
	var kinds []string
	events := userTimeline(t, ts, acctProd, "AIDAALICE")
	for _, e := range events {
		kinds = append(kinds, e.Kind)
	}
	// Created (200 and 5 days ago), flagged at the first scan, the
	// refused deactivation, the notification, the applied deactivation,
	// the execution, and the next reminder.
	want := []string{"created", "created", "enforcement", "flagged", "deactivated", "remediation", "notified", "reminder-due"}
	if diff := cmp.Diff(want, kinds); diff != "" {
		t.Errorf("alice's timeline (-want +got):\n%s\n%+v", diff, events)
	}
	_, page := get(t, ts, "/users/"+acctProd+"/AIDAALICE")
	if !strings.Contains(page, `id="timeline"`) || !strings.Contains(page, "deactivate AKIAALICE1: applied — active key is 200 days old") {
		t.Errorf("the user page has no timeline line for the deactivation")
	}
}

func TestReportRoutes(t *testing.T) {
	_, ts := newTestServer(t, enforcedOrg(t), Options{})
	resp, body := get(t, ts, "/report.html")
	if csp := resp.Header.Get("Content-Security-Policy"); resp.StatusCode != http.StatusOK || !strings.HasPrefix(csp, "default-src 'none'") {
		t.Errorf("GET /report.html = %d, CSP %q; want 200 under default-src 'none'", resp.StatusCode, csp)
	}
	if !strings.Contains(body, `id="overdue-total" data-value="3"`) {
		t.Errorf("report.html: want 3 overdue keys (alice, bob, gina)")
	}
	resp, body = get(t, ts, "/api/v1/report?since=30d")
	var rep struct {
		OverdueTotal int
		MTTR         struct{ Remediated int }
		Exemptions   []any
	}
	if err := json.Unmarshal([]byte(body), &rep); resp.StatusCode != http.StatusOK || err != nil || rep.OverdueTotal != 3 || rep.MTTR.Remediated != 1 || len(rep.Exemptions) != 2 {
		t.Errorf("GET /api/v1/report = %d %v: %+v", resp.StatusCode, err, rep)
	}
}

// TestReportTrendIsOverviewTrend: the report's trend is the overview's
// trend by day, day for day.
func TestReportTrendIsOverviewTrend(t *testing.T) {
	_, ts := newTestServer(t, enforcedOrg(t), Options{})
	var overview struct {
		Trend []struct {
			Start        time.Time
			NonCompliant int
		}
	}
	var rep report.Report
	for path, v := range map[string]any{"/api/v1/overview?by=day": &overview, "/api/v1/report?since=30d": &rep} {
		resp, body := get(t, ts, path)
		if err := json.Unmarshal([]byte(body), v); resp.StatusCode != http.StatusOK || err != nil {
			t.Fatalf("GET %s = %d, %v", path, resp.StatusCode, err)
		}
	}
	byDay := map[time.Time]int{}
	for _, r := range overview.Trend {
		byDay[r.Start] = r.NonCompliant
	}
	if len(rep.Trend) == 0 || len(rep.Trend) != len(overview.Trend) {
		t.Fatalf("report trend has %d days, the overview's %d (both from the first scan's day to today)", len(rep.Trend), len(overview.Trend))
	}
	for _, p := range rep.Trend {
		if n, ok := byDay[p.At]; !ok || n != p.NonCompliant {
			t.Errorf("report trend on %s = %d non-compliant, overview %d (listed %v)", p.At.Format(time.DateOnly), p.NonCompliant, n, ok)
		}
	}
}
