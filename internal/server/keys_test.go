package server

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keyage/keyage/internal/rule"
	"github.com/keyage/keyage/internal/scan"
	"github.com/keyage/keyage/internal/store"
)

// keysOrg is an org with OU paths and IAM paths: prod (Workloads/Prod) and
// sandbox (Sandbox), a key of every due window.
func keysOrg(t *testing.T) *store.Store {
	t.Helper()
	st := openStore(t)
	withPath := func(ev rule.Evaluation, path string) rule.Evaluation { ev.Path = path; return ev }
	res := &scan.Result{Rule: rule.Name, EvaluatedAt: t0, Source: "auto", Parameters: scan.Parameters{MaxAccessKeyAge: 90},
		Accounts: []scan.AccountResult{
			{AccountID: acctProd, Name: "prod", OU: "Workloads/Prod", Status: scan.StatusOK, Users: 3},
			{AccountID: acctHostile, Name: "sandbox", OU: "Sandbox", Status: scan.StatusOK, Users: 2},
		},
		Evaluations: []rule.Evaluation{
			withPath(user(acctProd, "AIDAOLD", "old", "", key("AKIAOLD", 200, "expired", t0)), "/ci/"),
			withPath(user(acctProd, "AIDASOON", "soon", "", key("AKIASOON", 85, "warning", t0)), "/"),
			withPath(user(acctProd, "AIDAMONTH", "month", "", key("AKIAMONTH", 70, "ok", t0)), "/ci/"),
			withPath(user(acctHostile, "AIDANEW", "new", "", key("AKIANEW", 5, "ok", t0)), "/"),
			withPath(user(acctHostile, "AIDALATE", "late", "", key("AKIALATE", 95, "expired", t0)), "/ci/"),
		},
	}
	if _, err := st.RecordScan(context.Background(), t0, t0, res); err != nil {
		t.Fatal(err)
	}
	return st
}

func TestKeysFiltersAndSortArrow(t *testing.T) {
	_, ts := newTestServer(t, keysOrg(t), Options{})
	checkUserColumns(t, ts, []usersCase{
		{"default: expired, oldest first", "", []string{"old", "late"}},
		{"age ascending: youngest first", "stage=all&sort=age&dir=asc", []string{"new", "month", "soon", "late", "old"}},
		{"age descending: oldest first", "stage=all&sort=age&dir=desc", []string{"old", "late", "soon", "month", "new"}},
		{"OU and below", "stage=all&ou=Workloads", []string{"old", "soon", "month"}},
		{"OU is a path, not a prefix of a name", "stage=all&ou=Work", nil},
		{"user path", "stage=all&path=/ci/", []string{"old", "late", "month"}},
		{"past due", "due=overdue", []string{"old", "late"}},
		{"due in 7 days", "due=7d", []string{"soon"}},
		{"due in 30 days", "due=30d", []string{"soon", "month"}},
		{"due in 30 days, warning only", "due=30d&stage=warning", []string{"soon"}},
		{"due window and stage exclude each other", "due=7d&stage=expired", nil},
	})
	for _, q := range []string{"due=tomorrow", "dir=up"} {
		if resp, _ := get(t, ts, "/noncompliant?"+q); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("GET /noncompliant?%s = %d, want 400", q, resp.StatusCode)
		}
	}
}

func TestKeysTitleDeadlineAndOU(t *testing.T) {
	_, ts := newTestServer(t, keysOrg(t), Options{})
	_, body := get(t, ts, "/noncompliant?due=30d&ou=Workloads")
	if got, want := textOf(t, body, "keys-title"), "All access keys due for rotation within 30 days in OU Workloads"; got != want {
		t.Errorf("title = %q, want %q", got, want)
	}
	_, body = get(t, ts, "/noncompliant.json?stage=all")
	var kp keyPage
	if err := json.Unmarshal([]byte(body), &kp); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range kp.Rows {
		got[r.UserName] = r.OU + " | " + dueText(r.DaysLeft)
	}
	// Now is t0 + 1 h: a key of 85 days is due in 4 days and 23 hours.
	want := map[string]string{"old": "Workloads/Prod | overdue by 111 days", "soon": "Workloads/Prod | due in 4 days", "month": "Workloads/Prod | due in 19 days",
		"new": "Sandbox | due in 84 days", "late": "Sandbox | overdue by 6 days"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("OU and days left (-want +got):\n%s", diff)
	}
}

func TestRemediationWords(t *testing.T) {
	for _, tt := range []struct{ state, want string }{
		{store.ExecutionSucceeded, "notified"}, {store.ExecutionFailed, "failed"}, {store.ExecutionQueued, "pending"},
		{store.ExecutionInProgress, "pending"}, {"", ""},
	} {
		if got := remediationWords(tt.state); got != tt.want {
			t.Errorf("remediationWords(%q) = %q, want %q", tt.state, got, tt.want)
		}
	}
	_, ts := newTestServer(t, testOrg(t), Options{})
	_, body := get(t, ts, "/noncompliant?stage=all")
	if strings.Contains(body, ">SUCCEEDED<") || strings.Count(body, ">notified<") != 1 {
		t.Errorf("the remediation column should say notified once (alice's expired key, not her ok one), never SUCCEEDED")
	}
}

// TestMetricsRootKeysDueAndMTTR checks the metrics of issue 15 against a
// store whose numbers are known: root keys per account, keys per due
// window, and the time-to-remediate histogram.
func TestMetricsRootKeysDueAndMTTR(t *testing.T) {
	ctx := context.Background()
	st := keysOrg(t)
	age := 400
	res := &scan.Result{Rule: rule.Name, EvaluatedAt: t0, Source: "auto", Parameters: scan.Parameters{MaxAccessKeyAge: 90},
		Accounts: []scan.AccountResult{{AccountID: acctFailed, Status: scan.StatusOK, RootKeys: []scan.RootKey{{Status: rule.StatusActive, AgeDays: &age}, {Status: rule.StatusInactive}}}}}
	if _, err := st.RecordScan(ctx, t0, t0, res); err != nil {
		t.Fatal(err)
	}
	// One user non-compliant for 2 days, fixed 10 days ago; one for 20 days.
	for _, s := range []struct {
		id             string
		expired, fixed int
	}{{"AIDAFIX1", 12, 10}, {"AIDAFIX2", 40, 20}} {
		ev := user(acctFailed, s.id, s.id, "", key("AKIA"+s.id, 100, "expired", t0))
		if err := st.RecordEvaluations(ctx, t0.Add(-time.Duration(s.expired)*day), []rule.Evaluation{ev}, nil); err != nil {
			t.Fatal(err)
		}
		if err := st.RecordEvaluations(ctx, t0.Add(-time.Duration(s.fixed)*day), nil, []rule.ResourceRef{{AccountID: acctFailed, ResourceID: s.id}}); err != nil {
			t.Fatal(err)
		}
	}
	_, ts := newTestServer(t, st, Options{})
	_, body := get(t, ts, "/metrics")
	for _, want := range []string{
		`keyage_root_access_keys_active{account="333333333333"} 1`,
		`keyage_root_access_keys_active{account="111111111111"} 0`,
		`keyage_keys_due{window="overdue"} 2`,
		`keyage_keys_due{window="7d"} 1`,
		`keyage_keys_due{window="30d"} 2`,
		`keyage_time_to_remediate_seconds_bucket{le="86400"} 0`,
		`keyage_time_to_remediate_seconds_bucket{le="259200"} 1`,
		`keyage_time_to_remediate_seconds_bucket{le="2.592e+06"} 2`,
		`keyage_time_to_remediate_seconds_count 2`,
		`keyage_time_to_remediate_seconds_sum 1.9008e+06`, // 22 days
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// TestAPIOverview: the overview's numbers in JSON and the trend's CSV agree
// with the store.
func TestAPIOverview(t *testing.T) {
	st := testOrg(t)
	_, ts := newTestServer(t, st, Options{})
	_, body := get(t, ts, "/api/v1/overview?by=day")
	var n overviewNumbers
	if err := json.Unmarshal([]byte(body), &n); err != nil {
		t.Fatal(err)
	}
	due, err := st.Due(context.Background(), t0.Add(time.Hour), 90*day)
	if err != nil {
		t.Fatal(err)
	}
	if n.Users != 7 || n.NonCompliant != 4 || n.Due != due || len(n.FailedAccounts) != 1 || n.FailedAccounts[0].AccountID != acctFailed ||
		len(n.Trend) != 2 || n.Trend[1].NonCompliant != 4 || len(n.TimeToRemediate) != 2 || n.CompliancePct == nil || *n.CompliancePct != 42.9 {
		t.Errorf("/api/v1/overview = %s", body)
	}
	resp, body := get(t, ts, "/overview/trend.csv?by=day")
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") ||
		body != "day_start,compliant_users,noncompliant_users,compliance_percent\n2026-11-23,2,3,40.0\n2026-11-24,3,4,42.9\n" {
		t.Errorf("trend CSV (%s) = %q", ct, body)
	}
	if resp, _ := get(t, ts, "/api/v1/overview?by=month"); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("GET /api/v1/overview?by=month = %d, want 400", resp.StatusCode)
	}
}

// TestUserPageExecutionWords: the user page says what an execution did for
// the owner (notified, pending, failed), not AWS Config's state names.
func TestUserPageExecutionWords(t *testing.T) {
	_, ts := newTestServer(t, testOrg(t), Options{})
	for _, tt := range []struct {
		name, user, want string
	}{
		{"succeeded means notified", "AIDAALICE", `title="execution SUCCEEDED">notified</span>`},
		{"in progress means pending", "AIDABOB", `title="execution IN_PROGRESS">pending</span>`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, body := get(t, ts, "/users/"+acctProd+"/"+tt.user)
			if !strings.Contains(body, tt.want) {
				t.Errorf("GET /users/%s/%s lacks %q", acctProd, tt.user, tt.want)
			}
		})
	}
}
