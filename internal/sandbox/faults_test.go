package sandbox

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/configservice"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

func retryer(attempts int) func() aws.Retryer {
	return func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = attempts
			o.MaxBackoff = 100 * time.Millisecond
			o.RateLimiter = ratelimit.None
		})
	}
}

func TestThrottling(t *testing.T) {
	ts := newTestSandbox(t, Options{ThrottleRPS: 50})
	ctx := context.Background()
	cfg := ts.mgmtConfig()
	cfg.Retryer = retryer(30)
	client := iam.NewFromConfig(cfg)

	const workers, calls = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*calls)
	for range workers {
		wg.Go(func() {
			for range calls {
				if _, err := client.ListUsers(ctx, &iam.ListUsersInput{}); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("ListUsers under throttling: %v", err)
	}
	st := ts.Stats()
	if got := st.ByAPI["iam:ListUsers"]; got <= workers*calls {
		t.Errorf("iam:ListUsers counted %d times, want more than %d (throttled attempts count)", got, workers*calls)
	}
	if st.Total != st.ByAPI["iam:ListUsers"] {
		t.Errorf("Total %d, want %d", st.Total, st.ByAPI["iam:ListUsers"])
	}

	// Once the bucket is empty, calls are refused with AWS's throttling error.
	one := ts.mgmtConfig()
	one.Retryer = retryer(1)
	for _, tt := range []struct {
		name, wantCode string
		call           func() error
	}{
		{"iam", "Throttling", func() error {
			_, err := iam.NewFromConfig(one).ListUsers(ctx, &iam.ListUsersInput{})
			return err
		}},
		{"sts", "Throttling", func() error {
			_, err := sts.NewFromConfig(one).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			return err
		}},
		{"organizations", "TooManyRequestsException", func() error {
			_, err := organizations.NewFromConfig(one).ListAccounts(ctx, &organizations.ListAccountsInput{})
			return err
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			for range 500 {
				if err = tt.call(); err != nil {
					break
				}
			}
			code, msg := apiErr(t, err)
			if code != tt.wantCode || msg != "Rate exceeded" {
				t.Errorf("throttled %s call: %s: %s, want %s: Rate exceeded", tt.name, code, msg, tt.wantCode)
			}
		})
	}
}

func TestFailRateAndLatency(t *testing.T) {
	ts := newTestSandbox(t, Options{FailRate: 1, Latency: 30 * time.Millisecond})
	ctx := context.Background()
	cfg := ts.mgmtConfig()
	cfg.Retryer = retryer(1)
	for _, tt := range []struct {
		name, wantCode string
		call           func() error
	}{
		{"iam", "ServiceFailure", func() error {
			_, err := iam.NewFromConfig(cfg).ListUsers(ctx, &iam.ListUsersInput{})
			return err
		}},
		{"sts", "InternalFailure", func() error {
			_, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			return err
		}},
		{"organizations", "ServiceException", func() error {
			_, err := organizations.NewFromConfig(cfg).ListRoots(ctx, &organizations.ListRootsInput{})
			return err
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			err := tt.call()
			if d := time.Since(start); d < 30*time.Millisecond {
				t.Errorf("call took %v, want at least the 30ms latency", d)
			}
			var re interface{ HTTPStatusCode() int }
			if code, _ := apiErr(t, err); code != tt.wantCode {
				t.Errorf("failed %s call: %s, want %s", tt.name, code, tt.wantCode)
			}
			if !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusInternalServerError {
				t.Errorf("failed %s call: want HTTP 500", tt.name)
			}
		})
	}
}

func TestStatsEndpoint(t *testing.T) {
	ts := newTestSandbox(t, Options{})
	ctx := context.Background()
	member := ts.iam(t, "222222222222") // one sts:AssumeRole by the management account
	for range 2 {
		if _, err := member.ListUsers(ctx, &iam.ListUsersInput{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ts.org().ListAccounts(ctx, &organizations.ListAccountsInput{}); err != nil {
		t.Fatal(err)
	}
	_, _ = iam.NewFromConfig(ts.config("AKIANOBODYNOBODY0000", "x", "")).ListUsers(ctx, &iam.ListUsersInput{})

	var got Stats
	if code := getJSON(t, http.MethodGet, ts.url+"/_sandbox/stats", &got); code != http.StatusOK {
		t.Fatalf("GET /_sandbox/stats: %d", code)
	}
	diff(t, "stats", got, Stats{
		Total: 5,
		ByAPI: map[string]int64{"sts:AssumeRole": 1, "iam:ListUsers": 3, "organizations:ListAccounts": 1},
		ByAccount: map[string]map[string]int64{
			"111111111111": {"sts:AssumeRole": 1, "organizations:ListAccounts": 1},
			"222222222222": {"iam:ListUsers": 2},
		},
	})
	if code := getJSON(t, http.MethodDelete, ts.url+"/_sandbox/stats", nil); code != http.StatusNoContent {
		t.Fatalf("DELETE /_sandbox/stats: %d", code)
	}
	var reset Stats
	getJSON(t, http.MethodGet, ts.url+"/_sandbox/stats", &reset)
	diff(t, "stats after reset", reset, Stats{ByAPI: map[string]int64{}, ByAccount: map[string]map[string]int64{}})
}

// TestServiceFaults checks the throttling and failure errors of SNS, SQS, Config, Lambda and
// SES v2, the way their SDKs see them.
func TestServiceFaults(t *testing.T) {
	ctx := context.Background()
	calls := func(cfg aws.Config) map[string]func() error {
		return map[string]func() error{
			"sns": func() error {
				_, err := sns.NewFromConfig(cfg).ListTopics(ctx, &sns.ListTopicsInput{})
				return err
			},
			"sqs": func() error {
				_, err := sqs.NewFromConfig(cfg).ListQueues(ctx, &sqs.ListQueuesInput{})
				return err
			},
			"config": func() error {
				_, err := configservice.NewFromConfig(cfg).ListDiscoveredResources(ctx, &configservice.ListDiscoveredResourcesInput{ResourceType: "AWS::IAM::User"})
				return err
			},
			"lambda": func() error {
				_, err := lambda.NewFromConfig(cfg).Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("keyage-notify")})
				return err
			},
			"ses": func() error {
				_, err := sesv2.NewFromConfig(cfg).SendEmail(ctx, &sesv2.SendEmailInput{Content: &sestypes.EmailContent{}})
				return err
			},
		}
	}
	for _, tt := range []struct {
		name string
		opts Options
		want map[string]string
	}{
		{"failure", Options{FailRate: 1}, map[string]string{
			"sns": "InternalError", "sqs": "InternalFailure", "config": "InternalFailure", "lambda": "ServiceException", "ses": "InternalFailure"}},
		{"throttling", Options{ThrottleRPS: 0.001}, map[string]string{
			"sns": "Throttling", "sqs": "ThrottlingException", "config": "ThrottlingException", "lambda": "TooManyRequestsException", "ses": "TooManyRequestsException"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ts := newServicesSandbox(t, tt.opts)
			cfg := ts.mgmtConfig()
			cfg.Retryer = retryer(1)
			_ = calls(cfg)["sns"]() // empties the token bucket when throttling
			for svc, call := range calls(cfg) {
				err := call()
				if err == nil {
					t.Errorf("%s: no error, want %s", svc, tt.want[svc])
					continue
				}
				if code, _ := apiErr(t, err); code != tt.want[svc] {
					t.Errorf("%s: error %s, want %s", svc, code, tt.want[svc])
				}
			}
		})
	}
}

func TestMaxInflight(t *testing.T) {
	for _, tt := range []struct{ bound, calls int }{{bound: 1, calls: 4}, {bound: 2, calls: 6}} {
		t.Run(fmt.Sprintf("%d calls, %d at a time", tt.calls, tt.bound), func(t *testing.T) {
			var (
				mu        sync.Mutex
				cur, most int
			)
			started := make(chan struct{})
			release := make(chan struct{})
			// Each call's latency wait is held until the test releases it, so the
			// calls inside the bound are counted while they are served.
			after := func(time.Duration) <-chan time.Time {
				mu.Lock()
				cur++
				most = max(most, cur)
				mu.Unlock()
				fire := make(chan time.Time, 1)
				go func() {
					started <- struct{}{}
					<-release
					mu.Lock()
					cur--
					mu.Unlock()
					fire <- time.Time{}
				}()
				return fire
			}
			ts := newTestSandbox(t, Options{MaxInflight: tt.bound, Latency: time.Millisecond, After: after})
			cfg := ts.mgmtConfig()
			errs := make(chan error, tt.calls)
			for range tt.calls {
				go func() {
					_, err := sts.NewFromConfig(cfg).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
					errs <- err
				}()
			}
			for range tt.calls {
				<-started
				release <- struct{}{}
			}
			for range tt.calls {
				if err := <-errs; err != nil {
					t.Errorf("GetCallerIdentity with --max-inflight %d: %v", tt.bound, err)
				}
			}
			if most > tt.bound || most < 1 {
				t.Errorf("%d calls with MaxInflight %d: %d served at once, want 1 to %d", tt.calls, tt.bound, most, tt.bound)
			}
		})
	}
}

// The service time counts the API requests served and the time they held
// the sandbox: with one slot at most the client's wall time, and at least
// the latency of every call.
func TestServiceTime(t *testing.T) {
	const latency, calls = 2 * time.Millisecond, 5
	for _, bound := range []int{0, 1} {
		t.Run(fmt.Sprintf("max in-flight %d", bound), func(t *testing.T) {
			ts := newTestSandbox(t, Options{MaxInflight: bound, Latency: latency})
			cfg := ts.mgmtConfig()
			// Not counted: before the reset, and the admin API.
			if _, err := sts.NewFromConfig(cfg).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{}); err != nil {
				t.Fatal(err)
			}
			if code := getJSON(t, http.MethodDelete, ts.url+"/_sandbox/stats", nil); code != http.StatusNoContent {
				t.Fatalf("DELETE /_sandbox/stats: %d", code)
			}
			start := time.Now()
			var wg sync.WaitGroup
			for range calls {
				wg.Go(func() {
					if _, err := sts.NewFromConfig(cfg).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{}); err != nil {
						t.Errorf("GetCallerIdentity: %v", err)
					}
				})
			}
			wg.Wait()
			wall := time.Since(start)

			var got struct {
				Total   int64 `json:"total"`
				Service struct {
					BusySeconds float64 `json:"busySeconds"`
					Served      int64   `json:"served"`
				} `json:"service"`
			}
			if code := getJSON(t, http.MethodGet, ts.url+"/_sandbox/stats", &got); code != http.StatusOK {
				t.Fatalf("GET /_sandbox/stats: %d", code)
			}
			busy := time.Duration(got.Service.BusySeconds * float64(time.Second))
			if got.Service.Served != calls || got.Total != calls {
				t.Errorf("after %d calls: served %d, total %d, want %d", calls, got.Service.Served, got.Total, calls)
			}
			if busy < calls*latency {
				t.Errorf("%d calls with latency %v: busy %v, want at least %v", calls, latency, busy, calls*latency)
			}
			if bound == 1 && busy > wall {
				t.Errorf("one slot: busy %v, more than the %v the calls took", busy, wall)
			}
			if st := ts.ServiceTime(); st.Served != calls || (st.Busy-busy).Abs() > time.Microsecond {
				t.Errorf("ServiceTime() = %+v, want what the admin API said: %d served, %v busy", st, calls, busy)
			}
		})
	}
}
