package server

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/keyage/keyage/internal/rule"
	"github.com/keyage/keyage/internal/scan"
)

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
