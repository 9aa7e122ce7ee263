package server

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/keyage/keyage/internal/output"
	"github.com/keyage/keyage/internal/rule"
	"github.com/keyage/keyage/internal/scan"
	"github.com/keyage/keyage/internal/store"
)

// textOf returns the text of the element with the given id (tags stripped).
func textOf(t *testing.T, body, id string) string {
	t.Helper()
	re := regexp.MustCompile(`id="` + regexp.QuoteMeta(id) + `"[^>]*>(.*?)</(div|td|b|span|h1)>`)
	m := re.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no element #%s in the page", id)
	}
	return strings.TrimSpace(regexp.MustCompile(`<[^>]+>`).ReplaceAllString(m[1], ""))
}

func TestOverviewMatchesStore(t *testing.T) {
	st := testOrg(t)
	_, ts := newTestServer(t, st, Options{})
	tot, err := st.Totals(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	_, body := get(t, ts, "/")
	got := map[string]string{}
	for _, id := range []string{"users", "noncompliant-users", "compliance-pct", "failed-accounts"} {
		got[id] = textOf(t, body, id)
	}
	want := map[string]string{"users": fmt.Sprint(tot.Users), "noncompliant-users": fmt.Sprint(tot.NonCompliant),
		"compliance-pct": fmt.Sprintf("%.1f%%", 100*float64(tot.Compliant)/float64(tot.Compliant+tot.NonCompliant)), "failed-accounts": fmt.Sprint(tot.AccountsFailed)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("overview (-store +page):\n%s", diff)
	}
	if want := (store.Totals{Users: 7, Compliant: 3, NonCompliant: 4, Accounts: 3, AccountsFailed: 1,
		Keys: map[string]int{"ok": 2, "warning": 1, "expired": 4, "inactive": 1, "exempt": 0}}); !cmp.Equal(tot, want) {
		t.Errorf("Totals = %+v, want %+v", tot, want)
	}
	for st, n := range tot.Keys {
		if !strings.Contains(body, fmt.Sprintf(`data-stage="%s">%d<`, st, n)) {
			t.Errorf("overview does not show %d %s keys", n, st)
		}
	}
	// Accounts ranked by non-compliant users: prod (2) first; the trend ends at 4.
	if i, j := strings.Index(body, "/accounts/"+acctProd), strings.Index(body, "/accounts/"+acctHostile); i < 0 || j < i {
		t.Errorf("top accounts: prod (2 non-compliant) should come before the hostile account (1)")
	}
	if !strings.Contains(body, "from 3 to 4") {
		t.Errorf("trend chart should go from 3 (the first scan) to 4 non-compliant users")
	}
}

func TestTrendEndsAtCurrentCount(t *testing.T) {
	st := testOrg(t)
	srv, _ := newTestServer(t, st, Options{})
	for _, tt := range []struct {
		by    string
		want  int // periods since the first scan (a day before t0, on the Monday of t0's week)
		first int
	}{{"day", 2, 3}, {"week", 1, 4}} {
		t.Run(tt.by, func(t *testing.T) {
			pts, err := srv.complianceTrend(context.Background(), t0.Add(time.Hour), tt.by)
			if err != nil {
				t.Fatal(err)
			}
			// It starts with the first scan's count (3), not with a 0 from before any scan.
			if len(pts) != tt.want || pts[0].NonCompliant != tt.first || pts[len(pts)-1].NonCompliant != 4 {
				t.Errorf("trend by %s = %+v; want %d periods from %d to 4 non-compliant users", tt.by, pts, tt.want, tt.first)
			}
		})
	}
}

// userColumn lists the user names of the non-compliant table, in order.
func userColumn(body string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`<a class="user" href="[^"]*">([^<]*)</a>`).FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

// usersCase is a query of the keys table and the users it lists, in order.
type usersCase struct {
	name  string
	query string
	want  []string
}

// checkUserColumns runs each case against /noncompliant.
func checkUserColumns(t *testing.T, ts *httptest.Server, cases []usersCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := get(t, ts, "/noncompliant?"+tt.query)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET /noncompliant?%s = %d", tt.query, resp.StatusCode)
			}
			if diff := cmp.Diff(tt.want, userColumn(body)); diff != "" {
				t.Errorf("/noncompliant?%s users (-want +got):\n%s", tt.query, diff)
			}
		})
	}
}

func TestNonCompliantFiltersSortPages(t *testing.T) {
	_, ts := newTestServer(t, testOrg(t), Options{})
	checkUserColumns(t, ts, []usersCase{
		{"default: expired keys, oldest first", "", []string{"gina", "alice", "bob", "eve"}},
		{"account", "account=" + acctProd, []string{"alice", "bob"}},
		{"owner", "owner=eve@example.com", []string{"eve"}},
		{"stage warning", "stage=warning", []string{"carol"}},
		{"flagged", "stage=flagged", []string{"gina", "alice", "bob", "eve", "carol"}},
		{"sort by user", "sort=user", []string{"alice", "bob", "eve", "gina"}},
		{"sort by user, descending", "sort=user&dir=desc", []string{"gina", "eve", "bob", "alice"}},
		{"page 2 of 2 per page", "per=2&page=2", []string{"bob", "eve"}},
		{"no match", "owner=nobody@example.com", nil},
	})
	resp, body := get(t, ts, "/noncompliant?per=2")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `rel="next" href="/noncompliant?page=2&amp;per=2"`) {
		t.Errorf("page 1 of 2 should link to page 2")
	}
	for _, q := range []string{"stage=bogus", "sort=bogus", "page=0", "per=5000"} {
		if resp, _ := get(t, ts, "/noncompliant?"+q); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("GET /noncompliant?%s = %d, want 400", q, resp.StatusCode)
		}
	}
}

func TestExportsEqualVisibleRows(t *testing.T) {
	_, ts := newTestServer(t, testOrg(t), Options{})
	for _, q := range []string{"", "stage=all&sort=owner", "per=2&page=2", "account=" + acctProd + "&dir=desc"} {
		_, page := get(t, ts, "/noncompliant?"+q)
		visible := userColumn(page)

		resp, body := get(t, ts, "/noncompliant.csv?"+q)
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
			t.Errorf("CSV Content-Type = %q", ct)
		}
		recs, err := csv.NewReader(strings.NewReader(body)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		var csvUsers []string
		for _, r := range recs[1:] {
			csvUsers = append(csvUsers, r[2])
		}
		if diff := cmp.Diff(visible, csvUsers); diff != "" {
			t.Errorf("CSV of ?%s vs the page (-page +csv):\n%s", q, diff)
		}

		_, body = get(t, ts, "/noncompliant.json?"+q)
		var kp keyPage
		if err := json.Unmarshal([]byte(body), &kp); err != nil {
			t.Fatal(err)
		}
		var jsonUsers []string
		for _, r := range kp.Rows {
			jsonUsers = append(jsonUsers, r.UserName)
		}
		if diff := cmp.Diff(visible, jsonUsers); diff != "" {
			t.Errorf("JSON of ?%s vs the page (-page +json):\n%s", q, diff)
		}
	}
	// all=1 exports every matching row, not the page.
	_, body := get(t, ts, "/noncompliant.csv?per=2&all=1")
	if n := strings.Count(body, "\n"); n != 5 {
		t.Errorf("CSV all=1 has %d lines, want header + 4", n)
	}
	// The hostile account name cannot become a spreadsheet formula.
	if got := output.SafeCSV("=HYPERLINK(\"x\")"); got != "'=HYPERLINK(\"x\")" {
		t.Errorf("csvSafe(formula) = %q", got)
	}
}

func TestAccountAndUserPages(t *testing.T) {
	_, ts := newTestServer(t, testOrg(t), Options{})
	_, body := get(t, ts, "/accounts/"+acctFailed)
	for _, want := range []string{"legacy", "assume role: AccessDenied", "gina", "failed-scans"} {
		if !strings.Contains(body, want) {
			t.Errorf("failed account page lacks %q", want)
		}
	}
	_, body = get(t, ts, "/accounts/"+acctProd)
	if diff := cmp.Diff([]string{"alice", "bob", "carol", "dave"}, userColumn(body)); diff != "" {
		t.Errorf("prod users, non-compliant first (-want +got):\n%s", diff)
	}
	_, body = get(t, ts, "/users/"+acctProd+"/AIDABOB")
	for _, want := range []string{"AKIABOB1", "IN_PROGRESS", "PublishNotification", "Rotate the key of bob", "PENDING", "bob@example.com", "NON_COMPLIANT"} {
		if !strings.Contains(body, want) {
			t.Errorf("bob's page lacks %q", want)
		}
	}
	for _, p := range []string{"/accounts/999999999999", "/users/" + acctProd + "/AIDANOBODY", "/nowhere"} {
		if resp, _ := get(t, ts, p); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", p, resp.StatusCode)
		}
	}
}

func TestHostileAccountNameEscaped(t *testing.T) {
	_, ts := newTestServer(t, testOrg(t), Options{})
	for _, p := range []string{"/", "/noncompliant", "/accounts", "/accounts/" + acctHostile, "/users/" + acctHostile + "/AIDAEVE"} {
		_, body := get(t, ts, p)
		if strings.Contains(body, hostileName) {
			t.Errorf("GET %s renders the account name as markup", p)
		}
		if !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
			t.Errorf("GET %s does not show the account name as text", p)
		}
	}
	_, body := get(t, ts, "/api/v1/accounts")
	if strings.Contains(body, "<script>") {
		t.Errorf("API JSON carries a raw <script>; want it escaped by encoding/json")
	}
}

func TestSecurityHeaders(t *testing.T) {
	_, ts := newTestServer(t, testOrg(t), Options{AuthToken: "s3cret"})
	for _, p := range []string{"/", "/healthz", "/static/style.css", "/api/v1/accounts", "/nowhere", "/login"} {
		resp, body := get(t, ts, p)
		h := resp.Header
		if csp := h.Get("Content-Security-Policy"); !strings.HasPrefix(csp, "default-src 'self'") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("GET %s: Content-Security-Policy = %q", p, csp)
		}
		for k, v := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"} {
			if h.Get(k) != v {
				t.Errorf("GET %s: %s = %q, want %q", p, k, h.Get(k), v)
			}
		}
		if strings.Contains(body, "<script>") || strings.Contains(body, "style=") {
			t.Errorf("GET %s has an inline script or style", p)
		}
		if strings.Contains(body, "s3cret") {
			t.Errorf("GET %s renders the auth token", p)
		}
	}
}

func TestAuth(t *testing.T) {
	const token = "correct horse battery staple"
	_, ts := newTestServer(t, testOrg(t), Options{AuthToken: token})
	for _, p := range []string{"/api/v1/evaluations", "/api/v1/accounts", "/metrics", "/noncompliant.json"} {
		resp, body := get(t, ts, p)
		var e apiError
		if resp.StatusCode != http.StatusUnauthorized || json.Unmarshal([]byte(body), &e) != nil || e.Error == "" {
			t.Errorf("GET %s without token = %d %s, want 401 with a JSON error", p, resp.StatusCode, body)
		}
		if resp, _ := get(t, ts, p, "Authorization", "Bearer wrong"); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET %s with a wrong token = %d, want 401", p, resp.StatusCode)
		}
		if resp, _ := get(t, ts, p, "Authorization", "Bearer "+token); resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s with the token = %d, want 200", p, resp.StatusCode)
		}
	}
	for _, p := range []string{"/healthz", "/readyz", "/static/app.js"} {
		if resp, _ := get(t, ts, p); resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s without token = %d, want 200 (open)", p, resp.StatusCode)
		}
	}
	// Pages send browsers to the login form.
	resp, _ := get(t, ts, "/noncompliant?stage=all")
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || loc != "/login?next="+url.QueryEscape("/noncompliant?stage=all") {
		t.Errorf("GET /noncompliant without a session = %d to %q, want 303 to the login form", resp.StatusCode, loc)
	}
	// Login: a wrong token is refused, the right one sets the session cookie.
	client := *ts.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := client.PostForm(ts.URL+"/login", url.Values{"token": {"nope"}, "next": {"/"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || len(resp.Cookies()) != 0 {
		t.Errorf("login with a wrong token = %d with %d cookies, want 401 and none", resp.StatusCode, len(resp.Cookies()))
	}
	resp, err = client.PostForm(ts.URL+"/login", url.Values{"token": {token}, "next": {"//evil.example/"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" || len(resp.Cookies()) != 1 {
		t.Fatalf("login = %d to %q with %d cookies, want 303 to / (not off-site) with the session", resp.StatusCode, resp.Header.Get("Location"), len(resp.Cookies()))
	}
	c := resp.Cookies()[0]
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || strings.Contains(c.Value, token) {
		t.Errorf("session cookie %+v: want HttpOnly, SameSite=Strict, not the token", c)
	}
	for _, p := range []string{"/", "/api/v1/scans", "/metrics"} {
		if resp, _ := get(t, ts, p, "Cookie", c.Name+"="+c.Value); resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s with the session cookie = %d, want 200", p, resp.StatusCode)
		}
	}
	if resp, _ := get(t, ts, "/", "Cookie", c.Name+"="+c.Value+"x"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("GET / with a forged cookie = %d, want 303 to login", resp.StatusCode)
	}
}

func TestScanNow(t *testing.T) {
	var calls atomic.Int32
	srv, ts := newTestServer(t, testOrg(t), Options{ScanNow: func(context.Context) error { calls.Add(1); return nil }})
	_, body := get(t, ts, "/")
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no Scan now form on the overview")
	}
	client := *ts.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	post := func(form url.Values, headers ...string) int {
		req, _ := http.NewRequest(http.MethodPost, ts.URL+"/scan", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(url.Values{}); code != http.StatusForbidden {
		t.Errorf("POST /scan without the form token = %d, want 403", code)
	}
	if code := post(url.Values{"csrf": {m[1]}}, "Sec-Fetch-Site", "cross-site"); code != http.StatusForbidden {
		t.Errorf("POST /scan from another site = %d, want 403", code)
	}
	if code := post(url.Values{"csrf": {m[1]}}, "Sec-Fetch-Site", "same-origin"); code != http.StatusSeeOther || calls.Load() != 1 {
		t.Errorf("POST /scan = %d with %d scans, want 303 and 1", code, calls.Load())
	}
	// Without ScanNow, no button.
	srv.opts.ScanNow = nil
	if _, body := get(t, ts, "/"); strings.Contains(body, `action="/scan"`) {
		t.Errorf("the Scan now button shows without ScanNow")
	}
}

func TestReadyz(t *testing.T) {
	st := openStore(t)
	now := t0
	srv, ts := newTestServer(t, st, Options{Now: func() time.Time { return now }})
	if resp, _ := get(t, ts, "/healthz"); resp.StatusCode != http.StatusOK {
		t.Errorf("healthz = %d, want 200", resp.StatusCode)
	}
	if resp, _ := get(t, ts, "/readyz"); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("readyz before any scan = %d, want 503", resp.StatusCode)
	}
	res := &scan.Result{Rule: rule.Name, EvaluatedAt: t0, Parameters: scan.Parameters{MaxAccessKeyAge: 90}}
	if _, err := st.RecordScan(context.Background(), t0.Add(-time.Minute), t0, res); err != nil {
		t.Fatal(err)
	}
	if resp, _ := get(t, ts, "/readyz"); resp.StatusCode != http.StatusOK {
		t.Errorf("readyz with a fresh scan in the store = %d, want 200", resp.StatusCode)
	}
	now = t0.Add(49 * time.Hour)
	if resp, _ := get(t, ts, "/readyz"); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("readyz with a 49h-old scan = %d, want 503", resp.StatusCode)
	}
	srv.ObserveScan(res, time.Second)
	if resp, _ := get(t, ts, "/readyz"); resp.StatusCode != http.StatusOK {
		t.Errorf("readyz after a scan of this process = %d, want 200", resp.StatusCode)
	}
}

func TestAPI(t *testing.T) {
	st := testOrg(t)
	_, ts := newTestServer(t, st, Options{})
	var ids []string
	cursor := ""
	for range 10 {
		var page list[apiEvaluation]
		_, body := get(t, ts, "/api/v1/evaluations?compliance=non_compliant&limit=3&cursor="+cursor)
		if err := json.Unmarshal([]byte(body), &page); err != nil {
			t.Fatal(err, body)
		}
		for _, ev := range page.Items {
			ids = append(ids, ev.AccountID+"/"+ev.UserName)
		}
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	want := []string{acctProd + "/alice", acctProd + "/bob", acctHostile + "/eve", acctFailed + "/gina"}
	if diff := cmp.Diff(want, ids); diff != "" {
		t.Errorf("non-compliant evaluations over pages of 3 (-want +got):\n%s", diff)
	}
	for q, n := range map[string]int{"stage=warning": 1, "owner=frank@example.com": 1, "account=" + acctHostile: 2, "": 7, "stage=inactive&account=" + acctProd: 1} {
		var page list[apiEvaluation]
		_, body := get(t, ts, "/api/v1/evaluations?"+q)
		if err := json.Unmarshal([]byte(body), &page); err != nil || len(page.Items) != n {
			t.Errorf("GET /api/v1/evaluations?%s = %d items (%v), want %d", q, len(page.Items), err, n)
		}
	}
	for _, q := range []string{"limit=0", "limit=1001", "cursor=bm9wZQ", "compliance=maybe", "stage=bogus"} {
		resp, body := get(t, ts, "/api/v1/evaluations?"+q)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, `"error"`) {
			t.Errorf("GET /api/v1/evaluations?%s = %d %s, want 400 with a JSON error", q, resp.StatusCode, body)
		}
	}
	var execs list[apiExecution]
	_, body := get(t, ts, "/api/v1/executions?status=in_progress")
	if err := json.Unmarshal([]byte(body), &execs); err != nil || len(execs.Items) != 1 || execs.Items[0].UserName != "bob" {
		t.Errorf("executions IN_PROGRESS = %s, want bob's", body)
	}
	var scans list[apiScan]
	_, body = get(t, ts, "/api/v1/scans?limit=1")
	if err := json.Unmarshal([]byte(body), &scans); err != nil || len(scans.Items) != 1 || scans.Items[0].ID != 2 || scans.NextCursor == "" {
		t.Errorf("scans?limit=1 = %s, want scan 2 and a cursor", body)
	}
	var accts list[apiAccount]
	_, body = get(t, ts, "/api/v1/accounts")
	if err := json.Unmarshal([]byte(body), &accts); err != nil || len(accts.Items) != 3 || accts.Items[0].AccountID != acctProd || accts.Items[0].NonCompliant != 2 {
		t.Errorf("accounts = %s, want 3 with prod first (2 non-compliant)", body)
	}
	var u apiUser
	_, body = get(t, ts, "/api/v1/users/"+acctProd+"/AIDAALICE")
	if err := json.Unmarshal([]byte(body), &u); err != nil || u.Evaluation == nil || len(u.Executions) != 1 || len(u.Notifications) != 1 || len(u.History) != 1 {
		t.Errorf("user alice = %s, want her evaluation, 1 execution, 1 notification, 1 history row", body)
	}
	if resp, body := get(t, ts, "/api/v1/nope"); resp.StatusCode != http.StatusNotFound || !strings.Contains(body, `"error"`) {
		t.Errorf("unknown API route = %d %s, want 404 JSON", resp.StatusCode, body)
	}
}

func TestMetricsMatchStore(t *testing.T) {
	st := testOrg(t)
	srv, ts := newTestServer(t, st, Options{})
	srv.ObserveAWSCall("iam", "ListAccessKeys", false)
	srv.ObserveAWSCall("iam", "ListAccessKeys", true)
	srv.ObserveNotification("ops", nil)
	srv.ObserveNotification("ops", errors.New("timeout"))
	srv.ObserveNotification("ops", nil)
	srv.ObserveScan(&scan.Result{Accounts: []scan.AccountResult{{AccountID: acctProd, Status: scan.StatusOK, DurationMS: 1500},
		{AccountID: acctFailed, Status: scan.StatusError}}}, 90*time.Second)
	srv.ObserveCycle(100*time.Second, nil)
	srv.ObserveCycle(3*time.Second, errors.New("list organization accounts: AccessDenied"))
	srv.ObserveCycle(120*time.Second, nil)

	_, body := get(t, ts, "/metrics")
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	value := func(name string, labels ...string) float64 {
		t.Helper()
		f := fams[name]
		if f == nil {
			t.Fatalf("no metric %s", name)
		}
	next:
		for _, m := range f.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				if label(m, labels[i]) != labels[i+1] {
					continue next
				}
			}
			switch {
			case m.Gauge != nil:
				return m.GetGauge().GetValue()
			case m.Counter != nil:
				return m.GetCounter().GetValue()
			case m.Histogram != nil:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
		t.Fatalf("no %s%v", name, labels)
		return 0
	}
	ctx := context.Background()
	tot, _ := st.Totals(ctx)
	counts, _ := st.KeysByAccountStage(ctx)
	for _, c := range counts {
		if got := value("keyage_keys", "account", c.AccountID, "stage", c.Stage); got != float64(c.Keys) {
			t.Errorf("keyage_keys{%s,%s} = %v, store %d", c.AccountID, c.Stage, got, c.Keys)
		}
	}
	accts, _ := st.Accounts(ctx, 0)
	for _, a := range accts {
		if got := value("keyage_users_noncompliant", "account", a.AccountID); got != float64(a.NonCompliant) {
			t.Errorf("keyage_users_noncompliant{%s} = %v, store %d", a.AccountID, got, a.NonCompliant)
		}
	}
	ob, _ := st.OutboxStats(ctx)
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"keyage_users", []string{"compliance", "NON_COMPLIANT"}, float64(tot.NonCompliant)},
		{"keyage_users", []string{"compliance", "COMPLIANT"}, float64(tot.Compliant)},
		{"keyage_key_age_days", nil, float64(tot.Keys["ok"] + tot.Keys["warning"] + tot.Keys["expired"])}, // active keys
		{"keyage_outbox_depth", nil, float64(ob.Pending)},
		{"keyage_outbox_oldest_pending_age_seconds", nil, t0.Add(time.Hour).Sub(ob.OldestPending).Seconds()},
		{"keyage_accounts", []string{"status", "error"}, 1},
		{"keyage_aws_api_calls_total", []string{"service", "iam", "operation", "ListAccessKeys"}, 2},
		{"keyage_aws_api_throttles_total", []string{"service", "iam", "operation", "ListAccessKeys"}, 1},
		{"keyage_notifications_sent_total", []string{"receiver", "ops"}, 2},
		{"keyage_notifications_failed_total", []string{"receiver", "ops"}, 1},
		{"keyage_scan_account_failures_total", []string{"account", acctFailed}, 1},
		{"keyage_scan_account_failures_total", []string{"account", acctProd}, 0},
		{"keyage_scan_account_duration_seconds", []string{"account", acctProd}, 1.5},
		{"keyage_scan_duration_seconds", nil, 1},
		{"keyage_cycles_total", []string{"result", "ok"}, 2},
		{"keyage_cycles_total", []string{"result", "error"}, 1},
		{"keyage_last_cycle_duration_seconds", nil, 120},
		{"keyage_last_cycle_end_timestamp_seconds", nil, float64(t0.Add(time.Hour).Unix())},
	} {
		if got := value(c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if ob.Pending != 1 {
		t.Errorf("fixture outbox: %d pending, want 1 (bob's)", ob.Pending)
	}
	h := fams["keyage_key_age_days"].GetMetric()[0].GetHistogram()
	cum := map[float64]uint64{}
	for _, b := range h.GetBucket() {
		cum[b.GetUpperBound()] = b.GetCumulativeCount()
	}
	// Active keys at t0+1h are 5, 10, 85, 95, 120, 200 and 300 days (and an hour) old.
	if want := map[float64]uint64{30: 2, 60: 2, 80: 2, 90: 3, 120: 4, 180: 5, 365: 7, 730: 7, math.Inf(1): 7}; !cmp.Equal(cum, want) {
		t.Errorf("keyage_key_age_days buckets = %v, want %v", cum, want)
	}
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func TestLoginNeedsAToken(t *testing.T) {
	type loginCase struct {
		name, token, method string
		wantStatus          int
		wantLocation        string
	}
	for _, tt := range []loginCase{
		{"form without a token to log in with", "", http.MethodGet, http.StatusSeeOther, "/"},
		{"post without a token to log in with", "", http.MethodPost, http.StatusSeeOther, "/"},
		{"form with a token", "s3cret", http.MethodGet, http.StatusOK, ""},
		{"post of a wrong token", "s3cret", http.MethodPost, http.StatusUnauthorized, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, ts := newTestServer(t, testOrg(t), Options{AuthToken: tt.token})
			req, err := http.NewRequest(tt.method, ts.URL+"/login", strings.NewReader(url.Values{"token": {"nope"}, "next": {"/"}}.Encode()))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			c := *ts.Client()
			c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus || resp.Header.Get("Location") != tt.wantLocation {
				t.Errorf("%s /login (token %q) = %d Location %q, want %d Location %q", tt.method, tt.token, resp.StatusCode, resp.Header.Get("Location"), tt.wantStatus, tt.wantLocation)
			}
		})
	}
}
