package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/google/go-cmp/cmp"
)

// testClock is an injectable clock the tests move by hand.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock() *testClock {
	// Real time, so that the SDK's credential expiry checks agree with the sandbox's.
	return &testClock{t: time.Now().UTC().Truncate(time.Second)}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type testSandbox struct {
	*Server
	url    string
	clock  *testClock
	timers *heldTimers // nil: real time
}

// newTestSandbox serves testdata/org.yaml (or opts.Fixture) over HTTP.
// fixtureSandbox serves the fixture doc (YAML or JSON) with opts.
func fixtureSandbox(t *testing.T, doc string, opts Options) *testSandbox {
	t.Helper()
	f, err := ParseFixture([]byte(doc), "org.yaml")
	if err != nil {
		t.Fatal(err)
	}
	opts.Fixture = f
	return newTestSandbox(t, opts)
}

func newTestSandbox(t *testing.T, opts Options) *testSandbox {
	t.Helper()
	if opts.Fixture == nil {
		f, err := LoadFixture("testdata/org.yaml")
		if err != nil {
			t.Fatal(err)
		}
		opts.Fixture = f
	}
	clock := newTestClock()
	if opts.Now == nil {
		opts.Now = clock.Now
	}
	s, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	return &testSandbox{Server: s, url: hs.URL, clock: clock}
}

// config returns an aws.Config for the sandbox with static credentials, as a user of the SDK
// with an endpoint override would build it.
func (ts *testSandbox) config(id, secret, token string) aws.Config {
	return aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider(id, secret, token),
		BaseEndpoint: aws.String(ts.url),
	}
}

func (ts *testSandbox) mgmtConfig() aws.Config {
	id, secret := ts.ManagementCredentials()
	return ts.config(id, secret, "")
}

// assume returns a config acting in acct through the audit role.
func (ts *testSandbox) assume(t *testing.T, acct string) aws.Config {
	t.Helper()
	out, err := sts.NewFromConfig(ts.mgmtConfig()).AssumeRole(context.Background(), &sts.AssumeRoleInput{
		RoleArn:         aws.String("arn:aws:iam::" + acct + ":role/KeyageAuditRole"),
		RoleSessionName: aws.String("keyage-test"),
	})
	if err != nil {
		t.Fatalf("AssumeRole into %s: %v", acct, err)
	}
	c := out.Credentials
	return ts.config(*c.AccessKeyId, *c.SecretAccessKey, *c.SessionToken)
}

func (ts *testSandbox) iam(t *testing.T, acct string) *iam.Client {
	if acct == ts.ManagementAccountID() {
		return iam.NewFromConfig(ts.mgmtConfig())
	}
	return iam.NewFromConfig(ts.assume(t, acct))
}

func (ts *testSandbox) org() *organizations.Client {
	return organizations.NewFromConfig(ts.mgmtConfig())
}

// apiErr returns the AWS error code and message of err, or fails.
func apiErr(t *testing.T, err error) (code, msg string) {
	t.Helper()
	var ae interface {
		ErrorCode() string
		ErrorMessage() string
	}
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T) is not an AWS API error", err, err)
	}
	return ae.ErrorCode(), ae.ErrorMessage()
}

func getJSON(t *testing.T, method, url string, v any) int {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if v != nil {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatalf("%s %s: decode: %v", method, url, err)
		}
	}
	return resp.StatusCode
}

func diff(t *testing.T, what string, got, want any, opts ...cmp.Option) {
	t.Helper()
	if d := cmp.Diff(want, got, opts...); d != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", what, d)
	}
}

func TestExportLines(t *testing.T) {
	ts := newTestSandbox(t, Options{})
	id, secret := ts.ManagementCredentials()
	got := ExportLines("http://127.0.0.1:4566", ts.Server, "")
	want := "export AWS_ENDPOINT_URL=http://127.0.0.1:4566\n" +
		"export AWS_ACCESS_KEY_ID=" + id + "\n" +
		"export AWS_SECRET_ACCESS_KEY=" + secret + "\n" +
		"export AWS_REGION=us-east-1\n" +
		"export AWS_DEFAULT_REGION=us-east-1\n" + // AWS CLI v1 and older SDKs read only this
		"# management account: 111111111111 (5 accounts in the organization)\n"
	diff(t, "ExportLines", got, want)
	if !strings.HasPrefix(id, "AKIA") || len(id) != 20 || len(secret) != 40 {
		t.Errorf("management credentials %s / %d-character secret, want AKIA... and 40 characters", id, len(secret))
	}
}

// Services, which help texts and docs name, is what New registers.
func TestServices(t *testing.T) {
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	var served, listed []string
	for _, svc := range s.services {
		served = append(served, svc.name)
	}
	for _, svc := range Services {
		listed = append(listed, svc.SigningName)
	}
	sort.Strings(served)
	sort.Strings(listed)
	diff(t, "Services (signing names)", listed, served)
	if got := ServiceNames(); !strings.HasPrefix(got, "IAM, STS, Organizations, ") || !strings.HasSuffix(got, " and CloudFormation") {
		t.Errorf("ServiceNames() = %q", got)
	}
}

func TestDefaultOrganization(t *testing.T) {
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(s.AccountIDs()); n != 3 {
		t.Errorf("New(Options{}) serves %d accounts, want 3", n)
	}
	if _, err := New(Options{FailRate: 2}); err == nil {
		t.Error("New(FailRate 2) = nil error, want one")
	}
}
