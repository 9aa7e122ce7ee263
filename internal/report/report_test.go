package report

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keyage/keyage/internal/config"
	"github.com/keyage/keyage/internal/lifecycle"
	"github.com/keyage/keyage/internal/rule"
	"github.com/keyage/keyage/internal/scan"
	"github.com/keyage/keyage/internal/store"
)

var now = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

func TestMeanTimeToRemediate(t *testing.T) {
	spell := func(days float64) store.Remediation {
		return store.Remediation{Flagged: now, Fixed: now.Add(time.Duration(days * float64(day)))}
	}
	for _, tt := range []struct {
		name string
		in   []store.Remediation
		want MTTR
	}{
		{"none", nil, MTTR{}},
		{"one of two days", []store.Remediation{spell(2)}, MTTR{Remediated: 1, MeanDays: 2, P90Days: 2}},
		{"ten spells: p90 is the ninth", []store.Remediation{spell(1), spell(2), spell(3), spell(4), spell(5), spell(6), spell(7), spell(8), spell(9), spell(100)},
			MTTR{Remediated: 10, MeanDays: 14.5, P90Days: 9}},
		{"a fix recorded before its flag counts as zero", []store.Remediation{spell(-1), spell(3)}, MTTR{Remediated: 2, MeanDays: 1.5, P90Days: 3}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := MeanTimeToRemediate(tt.in); got != tt.want {
				t.Errorf("MeanTimeToRemediate(%d spells) = %+v, want %+v", len(tt.in), got, tt.want)
			}
		})
	}
}

func TestRedactedConfig(t *testing.T) {
	const hook, user = "https://hooks.slack.example/services/T000/B000/s3cr3tpart", "jira-bot-user@example.com"
	cfg, err := config.Parse([]byte(`receivers:
  - name: chat
    slack: {webhookUrl: "`+hook+`"}
  - name: tickets
    jira: {url: "https://example.atlassian.net", project: SEC, issueType: Task, user: `+user+`, tokenEnv: JIRA_TOKEN}
routes:
  - receivers: [chat, tickets]
`), "keyage.yaml")
	if err != nil {
		t.Fatal(err)
	}
	got, err := RedactedConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{hook, user, "s3cr3tpart"} {
		if strings.Contains(got, secret) {
			t.Errorf("RedactedConfig shows the secret %q:\n%s", secret, got)
		}
	}
	for _, want := range []string{"[REDACTED]", "https://example.atlassian.net", "SEC", "JIRA_TOKEN"} {
		if !strings.Contains(got, want) {
			t.Errorf("RedactedConfig lacks %q:\n%s", want, got)
		}
	}
}

// fixture is a store with two scans a day apart:
//
//	111...: ann NON_COMPLIANT both scans (expired 150d), ben NON_COMPLIANT then
//	        rotated (remediated in one day), cid exempt by tag until now+10d,
//	        dee exempt by config until now+40d
//
// and three audit records (applied, refused, dry-run) and a planned deactivation.
func fixture(t *testing.T) *store.Store {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "keyage.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	const acct = "111111111111"
	k := func(id string, age int, stage lifecycle.Stage, at time.Time, ex *rule.Exemption) rule.KeyResult {
		kr := rule.KeyResult{Key: rule.Key{AccessKeyID: id, Status: rule.StatusActive, CreateDate: at.Add(-time.Duration(age) * day)}, AgeDays: age, Stage: string(stage)}
		if ex != nil {
			kr.Lifecycle = &rule.KeyLifecycle{Exemption: ex}
		}
		return kr
	}
	u := func(id, name string, c rule.Compliance, keys ...rule.KeyResult) rule.Evaluation {
		return rule.Evaluation{AccountID: acct, ResourceType: rule.ResourceTypeUser, ResourceID: id, UserName: name, Compliance: c, Keys: keys}
	}
	tag := &rule.Exemption{Until: now.Add(10 * day), Reason: "vendor migration", Source: "tag"}
	cfgEx := &rule.Exemption{Until: now.Add(40 * day), Reason: "break-glass user", Source: "config"}
	for i, at := range []time.Time{now.Add(-day), now} {
		ben := u("AIDABEN", "ben", rule.NonCompliant, k("AKIABEN1", 120+i, lifecycle.Expired, at, nil))
		if i == 1 {
			ben = u("AIDABEN", "ben", rule.Compliant, k("AKIABEN2", 0, lifecycle.OK, at, nil))
		}
		res := &scan.Result{Rule: rule.Name, EvaluatedAt: at, Accounts: []scan.AccountResult{{AccountID: acct, Name: "prod", Status: scan.StatusOK}},
			Evaluations: []rule.Evaluation{
				u("AIDAANN", "ann", rule.NonCompliant, k("AKIAANN1", 150+i, lifecycle.Expired, at, nil)),
				ben,
				u("AIDACID", "cid", rule.Compliant, k("AKIACID1", 200, lifecycle.Exempt, at, tag), k("AKIACID2", 210, lifecycle.Exempt, at, tag)),
				u("AIDADEE", "dee", rule.Compliant, k("AKIADEE1", 95, lifecycle.Exempt, at, cfgEx)),
			}}
		if _, err := st.RecordScan(ctx, at.Add(-time.Minute), at, res); err != nil {
			t.Fatal(err)
		}
	}
	for _, a := range []store.AuditRecord{
		{At: now.Add(-2 * time.Hour), AccountID: acct, UserName: "ann", ResourceID: "AIDAANN", AccessKeyID: "AKIAANN1", Action: "deactivate", Outcome: "refused", Reason: "key was used 2h ago, within recentUseGuard 24h"},
		{At: now.Add(-time.Hour), AccountID: acct, UserName: "ann", ResourceID: "AIDAANN", AccessKeyID: "AKIAANN1", Action: "deactivate", Outcome: "dry-run", DryRun: true},
		{At: now.Add(-200 * day), AccountID: acct, UserName: "old", AccessKeyID: "AKIAOLD1", Action: "delete", Outcome: "applied"},
	} {
		if _, err := st.Audit(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.RecordDeactivationNotice(ctx, store.DeactivationNotice{AccountID: acct, AccessKeyID: "AKIAANN1", ResourceID: "AIDAANN", UserName: "ann",
		NoticedAt: now.Add(-time.Hour), DeactivateAt: now.Add(14 * day)}); err != nil {
		t.Fatal(err)
	}
	return st
}

func TestBuild(t *testing.T) {
	st := fixture(t)
	r, err := Build(context.Background(), st, Options{Now: now, Since: 90 * day})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := r.Summary, (Summary{Users: 4, Compliant: 3, NonCompliant: 1, CompliancePct: 75, Accounts: 1,
		Keys: map[string]int{"ok": 1, "warning": 0, "expired": 1, "inactive": 0, "exempt": 3}}); !cmp.Equal(got, want) {
		t.Errorf("Summary (-want +got):\n%s", cmp.Diff(want, got))
	}
	if want := (MTTR{Remediated: 1, MeanDays: 1, P90Days: 1}); r.MTTR != want {
		t.Errorf("MTTR = %+v, want %+v (ben: flagged a day before his key was rotated)", r.MTTR, want)
	}
	if r.OverdueTotal != 1 || len(r.Overdue) != 1 || r.Overdue[0].AccessKeyID != "AKIAANN1" || r.Overdue[0].OverdueDays != 61 {
		t.Errorf("Overdue = %d %+v, want ann's key, 61 days past its deadline", r.OverdueTotal, r.Overdue)
	}
	var ex []string
	for _, e := range r.Exemptions {
		ex = append(ex, strings.Join([]string{e.UserName, e.Source, e.Reason, strings.Join(e.Keys, "+")}, " "))
	}
	if diff := cmp.Diff([]string{"cid tag vendor migration AKIACID1+AKIACID2", "dee config break-glass user AKIADEE1"}, ex); diff != "" {
		t.Errorf("Exemptions, expiring soonest first (-want +got):\n%s", diff)
	}
	if want := map[string]int{"refused": 1, "dry-run": 1}; !cmp.Equal(r.Enforcement.Counts, want) || r.Enforcement.Total != 2 {
		t.Errorf("Enforcement counts = %v (total %d), want %v: the applied delete is older than the window", r.Enforcement.Counts, r.Enforcement.Total, want)
	}
	if len(r.Enforcement.Planned) != 1 || r.Enforcement.Planned[0].AccessKeyID != "AKIAANN1" {
		t.Errorf("Planned = %+v, want ann's key", r.Enforcement.Planned)
	}
	if n := len(r.Trend); n < 2 || r.Trend[n-1].NonCompliant != 1 {
		t.Errorf("Trend = %+v, want it to end at 1 non-compliant user", r.Trend)
	}
}

// TestHTMLIsSelfContained: the report loads nothing and says so in its CSP.
func TestHTMLIsSelfContained(t *testing.T) {
	r, err := Build(context.Background(), fixture(t), Options{Now: now, Config: &config.Config{}})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := r.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	html := b.String()
	if !strings.Contains(html, `<meta http-equiv="Content-Security-Policy" content="default-src &#39;none&#39;`) && !strings.Contains(html, `content="default-src 'none'`) {
		t.Errorf("the report has no strict CSP meta element:\n%.600s", html)
	}
	for _, re := range []string{`(?i)<script`, `(?i)<link`, `(?i)\ssrc=`, `(?i)url\(`, `(?i)@import`} {
		if m := regexp.MustCompile(re).FindString(html); m != "" {
			t.Errorf("the report contains %q, which could load something", m)
		}
	}
	for _, want := range []string{`id="overdue-total" data-value="1"`, `vendor migration`, `@media print`, `break-inside: avoid`, `<svg class="trend"`, `Configuration in force`} {
		if !strings.Contains(html, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
	var j bytes.Buffer
	if err := r.WriteJSON(&j); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(j.Bytes(), &back); err != nil || back.OverdueTotal != 1 || back.MTTR != r.MTTR {
		t.Errorf("WriteJSON round trip = %+v, %v; want the same numbers", back.MTTR, err)
	}
}

// TestTrend: one point per UTC day of the window, each the users at the
// end of its day (today: until now), the first day counted whole.
func TestTrend(t *testing.T) {
	st := fixture(t) // scans at 12:00 on the 23rd (ann, ben non-compliant) and the 24th (ann)
	d23, d24, d25 := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name  string
		since time.Duration
		now   time.Time
		want  []TrendPoint
	}{
		{"window before the history: from its first day", 90 * day, now, []TrendPoint{{d23, 2}, {d24, 1}}},
		{"window starting within a day counts that day whole", 30 * time.Hour, now, []TrendPoint{{d23, 2}, {d24, 1}}},
		{"window within today", 6 * time.Hour, now, []TrendPoint{{d24, 1}}},
		{"a day without history repeats the count", 90 * day, d25.Add(time.Hour), []TrendPoint{{d23, 2}, {d24, 1}, {d25, 1}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Trend(context.Background(), st, tt.now.Add(-tt.since), tt.now)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Trend(since %v at %v) (-want +got):\n%s", tt.since, tt.now, diff)
			}
		})
	}
}

// TestExemptions: one row per distinct exemption of a user, its keys
// together, expiring soonest first.
func TestExemptions(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "keyage.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	soon := &rule.Exemption{Until: now.Add(5 * day), Reason: "vendor", Source: "tag"}
	later := &rule.Exemption{Until: now.Add(30*day + time.Hour), Reason: "break-glass", Source: "config"}
	k := func(id string, ex *rule.Exemption) rule.KeyResult {
		return rule.KeyResult{Key: rule.Key{AccessKeyID: id, Status: rule.StatusActive, CreateDate: now.Add(-200 * day)}, AgeDays: 200, Stage: string(lifecycle.Exempt),
			Lifecycle: &rule.KeyLifecycle{Exemption: ex}}
	}
	u := func(acct, id, name string, keys ...rule.KeyResult) rule.Evaluation {
		return rule.Evaluation{AccountID: acct, ResourceType: rule.ResourceTypeUser, ResourceID: id, UserName: name, Compliance: rule.Compliant, Keys: keys}
	}
	res := &scan.Result{Rule: rule.Name, EvaluatedAt: now, Accounts: []scan.AccountResult{{AccountID: "111111111111", Status: scan.StatusOK}, {AccountID: "222222222222", Status: scan.StatusOK}},
		Evaluations: []rule.Evaluation{
			u("111111111111", "AIDAANN", "ann", k("AKIAANN1", soon), k("AKIAANN2", later), k("AKIAANN3", soon)),
			u("111111111111", "AIDABEN", "ben", k("AKIABEN1", later)),
			u("222222222222", "AIDAANN2", "ann", k("AKIAANN9", soon)), // same name, other account: its own row
		}}
	if _, err := st.RecordScan(ctx, now, now, res); err != nil {
		t.Fatal(err)
	}
	got, err := Exemptions(ctx, st, now)
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, e := range got {
		rows = append(rows, strings.Join([]string{e.AccountID, e.UserName, e.Reason, strings.Join(e.Keys, "+"), strconv.Itoa(e.DaysLeft)}, " "))
	}
	want := []string{
		"111111111111 ann vendor AKIAANN1+AKIAANN3 5",
		"222222222222 ann vendor AKIAANN9 5",
		"111111111111 ann break-glass AKIAANN2 31",
		"111111111111 ben break-glass AKIABEN1 31",
	}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("Exemptions (-want +got):\n%s", diff)
	}
}
