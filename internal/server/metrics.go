package server

import (
	"context"
	"net/http"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/keyage/keyage/internal/rule"
	"github.com/keyage/keyage/internal/scan"
	"github.com/keyage/keyage/internal/store"
)

// KeyAgeBuckets are the upper bounds, in days, of keyage_key_age_days.
var KeyAgeBuckets = []float64{30, 60, 80, 90, 120, 180, 365, 730}

// metrics are keyage's Prometheus metrics: counters fed by the Observe
// hooks, and the state of the store, read at every scrape by storeCollector.
type metrics struct {
	reg *prometheus.Registry

	scans            prometheus.Counter
	scanDuration     prometheus.Histogram
	accountDuration  *prometheus.GaugeVec
	accountFailures  *prometheus.CounterVec
	awsCalls         *prometheus.CounterVec
	awsThrottles     *prometheus.CounterVec
	notifySent       *prometheus.CounterVec
	notifyFailed     *prometheus.CounterVec
	lastScanFinished prometheus.Gauge
	cycles           *prometheus.CounterVec
	lastCycleEnd     prometheus.Gauge
	lastCycleTook    prometheus.Gauge
}

func newMetrics(reg *prometheus.Registry, s *Server) (*metrics, error) {
	m := &metrics{
		reg: reg,
		scans: prometheus.NewCounter(prometheus.CounterOpts{Name: "keyage_scans_total",
			Help: "Scans finished since start."}),
		scanDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "keyage_scan_duration_seconds",
			Help: "Wall time of whole scans.", Buckets: []float64{1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600}}),
		accountDuration: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "keyage_scan_account_duration_seconds",
			Help: "How long the last scan of each account took."}, []string{"account"}),
		accountFailures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "keyage_scan_account_failures_total",
			Help: "Scans of an account that failed, since start."}, []string{"account"}),
		awsCalls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "keyage_aws_api_calls_total",
			Help: "AWS API call attempts."}, []string{"service", "operation"}),
		awsThrottles: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "keyage_aws_api_throttles_total",
			Help: "AWS API call attempts that were throttled."}, []string{"service", "operation"}),
		notifySent: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "keyage_notifications_sent_total",
			Help: "Notifications delivered, per receiver."}, []string{"receiver"}),
		notifyFailed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "keyage_notifications_failed_total",
			Help: "Notification delivery attempts that failed, per receiver."}, []string{"receiver"}),
		lastScanFinished: prometheus.NewGauge(prometheus.GaugeOpts{Name: "keyage_last_scan_observed_timestamp_seconds",
			Help: "When this process last finished a scan (Unix seconds; 0 before the first)."}),
		cycles: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "keyage_cycles_total",
			Help: "Cycles (scan, record, plan, enqueue; delivery runs apart) finished since start, by result (ok, error)."}, []string{"result"}),
		lastCycleEnd: prometheus.NewGauge(prometheus.GaugeOpts{Name: "keyage_last_cycle_end_timestamp_seconds",
			Help: "When this process last finished a cycle (Unix seconds; 0 before the first)."}),
		lastCycleTook: prometheus.NewGauge(prometheus.GaugeOpts{Name: "keyage_last_cycle_duration_seconds",
			Help: "Wall time of the last finished cycle (0 before the first)."}),
	}
	m.cycles.WithLabelValues("ok").Add(0)
	m.cycles.WithLabelValues("error").Add(0)
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "keyage_build_info", Help: "keyage's version; always 1."}, []string{"version"})
	build.WithLabelValues(s.opts.Version).Set(1)
	for _, c := range []prometheus.Collector{m.scans, m.scanDuration, m.accountDuration, m.accountFailures, m.awsCalls, m.awsThrottles,
		m.notifySent, m.notifyFailed, m.lastScanFinished, m.cycles, m.lastCycleEnd, m.lastCycleTook, build, &storeCollector{s: s}} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// ObserveScan records a finished scan: its duration, and each account's
// duration and failure. It also makes /readyz ready.
func (s *Server) ObserveScan(res *scan.Result, duration time.Duration) {
	if res == nil {
		return
	}
	m := s.metrics
	m.scans.Inc()
	m.scanDuration.Observe(duration.Seconds())
	m.lastScanFinished.Set(float64(s.opts.Now().UnixMilli()) / 1000)
	for _, a := range res.Accounts {
		m.accountDuration.WithLabelValues(a.AccountID).Set(float64(a.DurationMS) / 1000)
		c := m.accountFailures.WithLabelValues(a.AccountID) // present at 0 for every account
		if a.Status != scan.StatusOK {
			c.Inc()
		}
	}
	s.scanned.Store(true)
}

// ObserveCycle records a cycle that ran to its end (daemon.Scheduler.Done):
// scan, record, plan and enqueue; the outbox is delivered apart
// (keyage_outbox_depth tells when it is drained).
func (s *Server) ObserveCycle(took time.Duration, err error) {
	m := s.metrics
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.cycles.WithLabelValues(result).Inc()
	m.lastCycleEnd.Set(float64(s.opts.Now().UnixMilli()) / 1000)
	m.lastCycleTook.Set(took.Seconds())
}

// ObserveAWSCall counts one AWS API call attempt (awsenv's observer).
func (s *Server) ObserveAWSCall(service, operation string, throttled bool) {
	s.metrics.awsCalls.WithLabelValues(service, operation).Inc()
	t := s.metrics.awsThrottles.WithLabelValues(service, operation)
	if throttled {
		t.Inc()
	}
}

// ObserveNotification counts one delivery attempt to a receiver; err is nil
// when it was delivered.
func (s *Server) ObserveNotification(receiver string, err error) {
	if err != nil {
		s.metrics.notifyFailed.WithLabelValues(receiver).Inc()
		s.metrics.notifySent.WithLabelValues(receiver).Add(0)
		return
	}
	s.metrics.notifySent.WithLabelValues(receiver).Inc()
	s.metrics.notifyFailed.WithLabelValues(receiver).Add(0)
}

// remediationBuckets counts the durations at or below each of MTTRBuckets
// (in seconds, as Prometheus wants).
func remediationBuckets(r store.RemediationStats) map[float64]uint64 {
	out := make(map[float64]uint64, len(MTTRBuckets))
	for _, b := range MTTRBuckets {
		limit := time.Duration(b) * rule.Day
		out[limit.Seconds()] = uint64(sort.Search(len(r.Durations), func(i int) bool { return r.Durations[i] > limit }))
	}
	return out
}

func remediationSum(r store.RemediationStats) float64 {
	var sum time.Duration
	for _, d := range r.Durations {
		sum += d
	}
	return sum.Seconds()
}

// storeCollector reads the store's state at every scrape, so /metrics
// always agrees with the store (and with the dashboard).
type storeCollector struct{ s *Server }

var (
	descKeys = prometheus.NewDesc("keyage_keys", "Access keys of the current evaluations, per account and stage.",
		[]string{"account", "stage"}, nil)
	descKeyAge = prometheus.NewDesc("keyage_key_age_days", "Age of active access keys, in days.", nil, nil)
	descUsers  = prometheus.NewDesc("keyage_users", "IAM users of the current evaluations, per compliance.",
		[]string{"compliance"}, nil)
	descUsersNonCompliant = prometheus.NewDesc("keyage_users_noncompliant", "Non-compliant IAM users, per account.",
		[]string{"account"}, nil)
	descAccounts = prometheus.NewDesc("keyage_accounts", "Accounts keyage has scanned, by the status of their latest scan.",
		[]string{"status"}, nil)
	descOutbox = prometheus.NewDesc("keyage_outbox_messages", "Outbox messages, per state.", []string{"state"}, nil)
	descDepth  = prometheus.NewDesc("keyage_outbox_depth", "Notifications waiting for delivery (PENDING outbox messages).", nil, nil)
	descOldest = prometheus.NewDesc("keyage_outbox_oldest_pending_age_seconds",
		"Age of the oldest undelivered notification; 0 when none is waiting.", nil, nil)
	descLastScan = prometheus.NewDesc("keyage_last_scan_timestamp_seconds",
		"When the newest stored scan finished (Unix seconds); absent before the first.", nil, nil)
	descRootKeys = prometheus.NewDesc("keyage_root_access_keys_active", "Active access keys of the root user, per account.",
		[]string{"account"}, nil)
	descKeysDue = prometheus.NewDesc("keyage_keys_due", "Active access keys by due window: overdue (past the limit), due within 7 and 30 days (30 includes 7).",
		[]string{"window"}, nil)
	descMTTR = prometheus.NewDesc("keyage_time_to_remediate_seconds",
		"How long users stayed NON_COMPLIANT, for those fixed in the last 90 days (rotated, deactivated or deleted).", nil, nil)
)

// MTTRBuckets are the upper bounds, in days, of keyage_time_to_remediate_seconds.
var MTTRBuckets = []float64{1, 3, 7, 14, 30, 60, 90}

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descKeys, descKeyAge, descUsers, descUsersNonCompliant, descAccounts, descOutbox, descDepth, descOldest, descLastScan,
		descRootKeys, descKeysDue, descMTTR} {
		ch <- d
	}
}

// scrapeTimeout bounds the store's queries of one scrape.
const scrapeTimeout = 10 * time.Second

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	st := c.s.opts.Store
	now := c.s.opts.Now()
	fail := func(d *prometheus.Desc, err error) {
		c.s.log.Error("collect metrics", "metric", d.String(), "err", err)
		ch <- prometheus.NewInvalidMetric(d, err)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}

	if counts, err := st.KeysByAccountStage(ctx); err != nil {
		fail(descKeys, err)
	} else {
		for _, k := range counts {
			gauge(descKeys, float64(k.Keys), k.AccountID, k.Stage)
		}
	}
	if h, err := st.ActiveKeyAges(ctx, now, KeyAgeBuckets); err != nil {
		fail(descKeyAge, err)
	} else {
		buckets := make(map[float64]uint64, len(h.Bounds))
		for i, b := range h.Bounds {
			buckets[b] = h.Cumulative[i]
		}
		ch <- prometheus.MustNewConstHistogram(descKeyAge, h.Count, h.SumDays, buckets)
	}
	if t, err := st.Totals(ctx); err != nil {
		fail(descUsers, err)
	} else {
		gauge(descUsers, float64(t.Compliant), "COMPLIANT")
		gauge(descUsers, float64(t.NonCompliant), "NON_COMPLIANT")
		gauge(descAccounts, float64(t.Accounts-t.AccountsFailed), "ok")
		gauge(descAccounts, float64(t.AccountsFailed), "error")
	}
	if as, err := st.AccountStates(ctx); err != nil {
		fail(descUsersNonCompliant, err)
		fail(descRootKeys, err)
	} else {
		for _, a := range as {
			gauge(descUsersNonCompliant, float64(a.NonCompliant), a.AccountID)
			gauge(descRootKeys, float64(a.ActiveRootKeys), a.AccountID)
		}
	}
	if d, err := st.Due(ctx, now, time.Duration(c.s.opts.MaxAccessKeyAge)*rule.Day); err != nil {
		fail(descKeysDue, err)
	} else {
		gauge(descKeysDue, float64(d.Overdue), "overdue")
		gauge(descKeysDue, float64(d.Within7), "7d")
		gauge(descKeysDue, float64(d.Within30), "30d")
	}
	if r, err := st.TimeToRemediate(ctx, now, 90*rule.Day); err != nil {
		fail(descMTTR, err)
	} else {
		ch <- prometheus.MustNewConstHistogram(descMTTR, uint64(r.Count), remediationSum(r), remediationBuckets(r))
	}
	if o, err := st.OutboxStats(ctx); err != nil {
		fail(descOutbox, err)
	} else {
		gauge(descOutbox, float64(o.Pending), "PENDING")
		gauge(descOutbox, float64(o.Sent), "SENT")
		gauge(descOutbox, float64(o.Failed), "FAILED")
		gauge(descDepth, float64(o.Pending))
		age := 0.0
		if !o.OldestPending.IsZero() {
			age = max(0, now.Sub(o.OldestPending).Seconds())
		}
		gauge(descOldest, age)
	}
	if sc, err := st.LatestScan(ctx); err != nil {
		fail(descLastScan, err)
	} else if sc != nil {
		at := sc.FinishedAt
		if at.IsZero() {
			at = sc.StartedAt
		}
		gauge(descLastScan, float64(at.UnixMilli())/1000)
	}
}
