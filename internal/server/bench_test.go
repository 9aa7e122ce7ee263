package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/keyage/keyage/internal/lifecycle"
	"github.com/keyage/keyage/internal/rule"
	"github.com/keyage/keyage/internal/scan"
	"github.com/keyage/keyage/internal/store"
)

// The benchmark org: 1,000 accounts x 100 users, every 10th user
// NON_COMPLIANT (10,000), with a second, inactive key for every 3rd user.
const (
	benchAccounts = 1000
	benchUsers    = 100
)

var (
	benchOnce  sync.Once
	benchStore *store.Store
	benchDir   string
	benchErr   error
)

func benchOrg(b *testing.B) *store.Store {
	benchOnce.Do(func() {
		benchDir, benchErr = os.MkdirTemp("", "keyage-bench-")
		if benchErr != nil {
			return
		}
		ctx := context.Background()
		if benchStore, benchErr = store.Open(ctx, filepath.Join(benchDir, "keyage.db"), store.Options{}); benchErr != nil {
			return
		}
		start := time.Now()
		res := &scan.Result{Rule: rule.Name, EvaluatedAt: t0, Source: "auto", Parameters: scan.Parameters{MaxAccessKeyAge: 90, WarnAge: 80}}
		for a := range benchAccounts {
			acct := fmt.Sprintf("%012d", 100000000000+a)
			res.Accounts = append(res.Accounts, scan.AccountResult{AccountID: acct, Name: fmt.Sprintf("account-%04d", a), Status: scan.StatusOK, Users: benchUsers, DurationMS: 900})
			for u := range benchUsers {
				age, stage := (u*7+a)%80, lifecycle.OK
				switch {
				case u%10 == 0:
					age, stage = 91+(u*13+a)%400, lifecycle.Expired
				case u%10 == 1:
					age, stage = 81+(u+a)%9, lifecycle.Warning
				}
				keys := []rule.KeyResult{key(fmt.Sprintf("AKIA%08d%04d", a, u), age, stage, t0)}
				if u%10 == 5 && a%10 == 0 { // 1,000 exempt users
					keys[0] = key(keys[0].AccessKeyID, 120+u, lifecycle.Exempt, t0)
					keys[0].Lifecycle = &rule.KeyLifecycle{Exemption: &rule.Exemption{Until: t0.Add(time.Duration(1+(a+u)%90) * day), Reason: "vendor integration", Source: "tag"}}
				}
				if u%3 == 0 {
					keys = append(keys, key(fmt.Sprintf("AKIB%08d%04d", a, u), 200, lifecycle.Inactive, t0))
				}
				res.Evaluations = append(res.Evaluations, user(acct, fmt.Sprintf("AIDA%08d%04d", a, u), fmt.Sprintf("user-%03d", u),
					fmt.Sprintf("owner-%d@example.com", u%50), keys...))
			}
		}
		if _, benchErr = benchStore.RecordScan(ctx, t0.Add(-time.Minute), t0, res); benchErr != nil {
			return
		}
		if benchErr = benchAudit(ctx, benchStore); benchErr != nil {
			return
		}
		fmt.Fprintf(os.Stderr, "benchmark store: %d accounts x %d users recorded in %v\n", benchAccounts, benchUsers, time.Since(start).Round(time.Millisecond))
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchStore
}

func TestMain(m *testing.M) {
	code := m.Run()
	if benchStore != nil {
		benchStore.Close()
		os.RemoveAll(benchDir)
	}
	os.Exit(code)
}

func benchServer(b *testing.B) *Server {
	s, err := New(Options{Store: benchOrg(b), Registry: prometheus.NewRegistry(), Now: func() time.Time { return t0.Add(time.Hour) },
		ScanNow: func(context.Context) error { return nil }})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// serve runs one request through the handler and fails on a non-200.
func serve(b *testing.B, h http.Handler, path string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://127.0.0.1"+path, nil))
	if rec.Code != http.StatusOK {
		b.Fatalf("GET %s = %d: %s", path, rec.Code, rec.Body.String())
	}
	return rec
}

func reportMS(b *testing.B) {
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/op")
}

// cpuTime is the CPU time (user and system) the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// servePath serves path in a benchmark loop and reports wall and CPU
// milliseconds per request: on a shared machine the CPU time is the steadier
// figure (wall time includes waiting for a core).
func servePath(b *testing.B, h http.Handler, path string) {
	start := cpuTime()
	for b.Loop() {
		serve(b, h, path)
	}
	reportMS(b)
	b.ReportMetric(float64((cpuTime()-start).Microseconds())/1000/float64(b.N), "cpu-ms/op")
}

// servePathCold is servePath with the store's data changed before every
// request (a write of the file's user_version, well under a millisecond),
// so that no request is served from the store's read cache: the cost of the
// first request after a scan or any other write.
func servePathCold(b *testing.B, s *Server, path string) {
	start := cpuTime()
	v := 0
	for b.Loop() {
		v++
		if _, err := s.opts.Store.DB().Exec(fmt.Sprintf(`PRAGMA user_version = %d`, v)); err != nil {
			b.Fatal(err)
		}
		serve(b, s, path)
	}
	reportMS(b)
	b.ReportMetric(float64((cpuTime()-start).Microseconds())/1000/float64(b.N), "cpu-ms/op")
}

// BenchmarkPagesCold serves the pages that read the store's cached queries
// with the cache emptied before each request.
func BenchmarkPagesCold(b *testing.B) {
	s := benchServer(b)
	for _, path := range []string{"/", "/?by=week", "/api/v1/overview", "/metrics", "/accounts", "/noncompliant?stage=all&sort=age&dir=asc", "/noncompliant?due=30d",
		"/exemptions", "/report.html", "/api/v1/report"} {
		b.Run(path, func(b *testing.B) { servePathCold(b, s, path) })
	}
}

func BenchmarkOverview(b *testing.B) {
	servePath(b, benchServer(b), "/")
}

func BenchmarkNonCompliantPage(b *testing.B) {
	s := benchServer(b)
	for _, q := range []string{"", "sort=user", "page=150", "stage=warning&sort=lastused"} {
		b.Run("q="+q, func(b *testing.B) { servePath(b, s, "/noncompliant?"+q) })
	}
}

// BenchmarkAPIEvaluationsPage walks the 10,000 non-compliant evaluations
// 100 at a time with the cursor, one page per iteration.
func BenchmarkAPIEvaluationsPage(b *testing.B) {
	s := benchServer(b)
	cursor := ""
	pages := 0
	for b.Loop() {
		rec := serve(b, s, "/api/v1/evaluations?compliance=NON_COMPLIANT&limit=100&cursor="+cursor)
		var page struct {
			Items      []json.RawMessage `json:"items"`
			NextCursor string            `json:"nextCursor"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil {
			b.Fatal(err)
		}
		if len(page.Items) != 100 {
			b.Fatalf("page %d has %d items, want 100", pages, len(page.Items))
		}
		cursor = page.NextCursor
		pages++
	}
	reportMS(b)
}

func BenchmarkMetrics(b *testing.B) {
	servePath(b, benchServer(b), "/metrics")
}

// BenchmarkPages serves the pages and API routes of issue 15 once each per
// iteration.
func BenchmarkPages(b *testing.B) {
	s := benchServer(b)
	for _, path := range []string{"/?by=week", "/api/v1/overview", "/overview/trend.csv?by=day", "/noncompliant?stage=all&sort=age&dir=asc",
		"/noncompliant?due=30d", "/noncompliant?stage=all&ou=Workloads", "/accounts", "/accounts/100000000007"} {
		b.Run(path, func(b *testing.B) { servePath(b, s, path) })
	}
}
