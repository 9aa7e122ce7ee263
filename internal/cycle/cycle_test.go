package cycle_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/keyage/keyage/internal/awsenv"
	"github.com/keyage/keyage/internal/config"
	"github.com/keyage/keyage/internal/cycle"
	"github.com/keyage/keyage/internal/rule"
	"github.com/keyage/keyage/internal/sandbox"
	"github.com/keyage/keyage/internal/sandbox/sandboxtest"
	"github.com/keyage/keyage/internal/store"
)

// env is the sandbox organization of testdata/org.yaml over HTTP, a real
// SQLite state file and a file receiver, all in t.TempDir().
type env struct {
	aws   cycle.AWSSource
	state string
	sent  string // the file receiver's JSON lines
	dir   string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvFor(t, sandboxtest.LoadFixture(t, "testdata/org.yaml"))
}

// newEnvFor is newEnv with the sandbox organization fx.
func newEnvFor(t *testing.T, fx *sandbox.Fixture) *env {
	t.Helper()
	s := sandboxtest.Serve(t, sandbox.Options{Fixture: fx})
	dir := t.TempDir()
	return &env{
		aws: func(ctx context.Context, o awsenv.Options) (aws.Config, error) {
			so := s.Options()
			o.StaticCredentials, o.EndpointURL, o.Region = so.StaticCredentials, so.EndpointURL, so.Region
			return awsenv.Load(ctx, o)
		},
		state: filepath.Join(dir, "keyage.db"),
		sent:  filepath.Join(dir, "sent.jsonl"),
		dir:   dir,
	}
}

// config is an organization-wide config sending every NON_COMPLIANT user's
// message to the file receiver; extra is more YAML.
func (e *env) config(t *testing.T, extra string) *config.Config {
	t.Helper()
	cfg, err := config.Parse([]byte(`accounts: {organization: true}
receivers: [{name: central, file: {path: `+e.sent+`}}]
routes: [{receivers: [central]}]
`+extra), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func (e *env) store(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), e.state, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func (e *env) runner(t *testing.T, cfg *config.Config, o cycle.Options) *cycle.Runner {
	t.Helper()
	o.AWS = e.aws
	r, err := cycle.New(context.Background(), cfg, o)
	if err != nil {
		t.Fatalf("cycle.New: %v", err)
	}
	return r
}

// sentTexts reads the file receiver's messages, sorted.
func (e *env) sentTexts(t *testing.T) []string {
	t.Helper()
	f, err := os.Open(e.sent)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m struct{ Text string }
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("%s: not JSON lines: %v", e.sent, err)
		}
		out = append(out, m.Text)
	}
	slices.Sort(out)
	return out
}

var wantSent = []string{
	`Account "222222222222" User "over-limit" needs to rotate their access key.`,
	`Account "222222222222" User "two-keys" needs to rotate their access key.`,
}

// One RunOnce sends each NON_COMPLIANT user's message once; a second sends
// nothing, because nothing changed.
func TestRunOnceSendsOnce(t *testing.T) {
	e := newEnv(t)
	r := e.runner(t, e.config(t, ""), cycle.Options{Store: e.store(t), Deliver: true})
	ctx := context.Background()

	rep, err := r.RunOnce(ctx, time.Now())
	if err != nil {
		t.Fatalf("first RunOnce: %v", err)
	}
	if got := e.sentTexts(t); !slices.Equal(got, wantSent) {
		t.Errorf("first RunOnce sent:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantSent, "\n"))
	}
	if rep.Dispatch.Sent != 2 || rep.Dispatch.Failed != 0 || rep.Plan.Counts().NonCompliant != 2 {
		t.Errorf("first RunOnce: sent %d, failed %d, %d non-compliant; want 2, 0, 2", rep.Dispatch.Sent, rep.Dispatch.Failed, rep.Plan.Counts().NonCompliant)
	}
	if rep.Result.Summary.AccountsFailed != 1 {
		t.Errorf("first RunOnce: %d accounts failed, want 1 (the broken one)", rep.Result.Summary.AccountsFailed)
	}

	rep, err = r.RunOnce(ctx, time.Now())
	if err != nil {
		t.Fatalf("second RunOnce: %v", err)
	}
	if rep.Dispatch.Sent != 0 || rep.Plan.Counts().Messages != 0 || rep.Plan.Suppressed != 2 {
		t.Errorf("second RunOnce: %d planned, %d sent, %d suppressed; want 0, 0, 2", rep.Plan.Counts().Messages, rep.Dispatch.Sent, rep.Plan.Suppressed)
	}
	if got := e.sentTexts(t); len(got) != 2 {
		t.Errorf("after the second RunOnce the receiver has %d messages, want 2", len(got))
	}
}

// TestRunOnceSteps: the options select the steps, and the report says what
// each did.
func TestRunOnceSteps(t *testing.T) {
	for _, tt := range []struct {
		name         string
		extra        string
		opts         cycle.Options
		noStore      bool
		wantPlanned  int
		wantSent     int
		wantRecorded bool
		wantEnforce  bool
	}{
		{name: "dry run without a state file", opts: cycle.Options{DryRun: true}, noStore: true, wantPlanned: 2},
		{name: "dry run over a state file", opts: cycle.Options{DryRun: true, Deliver: true}, wantPlanned: 2},
		{name: "not automatic", extra: "remediation: {automatic: false}\n", opts: cycle.Options{Deliver: true}, wantPlanned: 2, wantRecorded: true},
		{name: "no delivery (a dispatcher elsewhere)", opts: cycle.Options{}, wantPlanned: 2, wantRecorded: true},
		{name: "delivered", opts: cycle.Options{Deliver: true}, wantPlanned: 2, wantSent: 2, wantRecorded: true},
		{name: "with enforcement (dry run)", extra: "lifecycle: {deactivateAge: 100}\nenforce: {noticeDays: 0}\n", opts: cycle.Options{Deliver: true, Enforce: &cycle.EnforceOptions{}},
			wantPlanned: 2, wantSent: 2, wantRecorded: true, wantEnforce: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			o := tt.opts
			var st *store.Store
			if !tt.noStore {
				st = e.store(t)
				o.Store = st
			}
			recorded := false
			o.Recorded = func(*cycle.Report) error { recorded = true; return nil }
			rep, err := e.runner(t, e.config(t, tt.extra), o).RunOnce(context.Background(), time.Now())
			if err != nil {
				t.Fatalf("RunOnce: %v", err)
			}
			if rep.Plan.Counts().Messages != tt.wantPlanned || rep.Dispatch.Sent != tt.wantSent || len(e.sentTexts(t)) != tt.wantSent {
				t.Errorf("RunOnce: %d planned, %d sent, %d in the file; want %d, %d, %d",
					rep.Plan.Counts().Messages, rep.Dispatch.Sent, len(e.sentTexts(t)), tt.wantPlanned, tt.wantSent, tt.wantSent)
			}
			if recorded != tt.wantRecorded {
				t.Errorf("Recorded called = %v, want %v", recorded, tt.wantRecorded)
			}
			if st != nil {
				latest, err := st.LatestScan(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				if (latest != nil) != tt.wantRecorded {
					t.Errorf("scan in the store = %v, want %v", latest != nil, tt.wantRecorded)
				}
			}
			if (rep.Enforce != nil) != tt.wantEnforce {
				t.Errorf("enforcement ran = %v, want %v", rep.Enforce != nil, tt.wantEnforce)
			}
			if rep.Enforce != nil && (rep.Enforce.Applied || rep.Enforce.DryRun == 0) {
				t.Errorf("enforcement: applied %v, %d planned; want a dry run with actions", rep.Enforce.Applied, rep.Enforce.DryRun)
			}
		})
	}
}

// The single-user path goes through the same Runner: the user is
// re-evaluated, recorded and told once.
func TestRemediate(t *testing.T) {
	e := newEnv(t)
	r := e.runner(t, e.config(t, ""), cycle.Options{Store: e.store(t), Deliver: true})
	ctx := context.Background()
	res, err := r.Remediate(ctx, "222222222222", "", "over-limit")
	if err != nil {
		t.Fatalf("Remediate: %v", err)
	}
	if res.Compliance != rule.NonCompliant || res.Messages != 1 || res.Stats.Sent != 1 {
		t.Errorf("Remediate(over-limit) = %s, %d messages, %d sent; want NON_COMPLIANT, 1, 1", res.Compliance, res.Messages, res.Stats.Sent)
	}
	if res, err = r.Remediate(ctx, "222222222222", "", "over-limit"); err != nil || res.Messages != 0 {
		t.Errorf("second Remediate(over-limit): %d messages, err %v; want 0, nil", res.Messages, err)
	}
	if got := e.sentTexts(t); !slices.Equal(got, wantSent[:1]) {
		t.Errorf("sent %q, want %q", got, wantSent[:1])
	}
}

func TestNewNeedsAStore(t *testing.T) {
	e := newEnv(t)
	if _, err := cycle.New(context.Background(), e.config(t, ""), cycle.Options{AWS: e.aws}); err == nil {
		t.Error("cycle.New without a store or DryRun: no error")
	}
}

func TestUsesOUs(t *testing.T) {
	for _, tt := range []struct {
		name, yaml string
		want       bool
	}{
		{"no OU anywhere", "accounts: {organization: true}\n", false},
		{"a route on an OU", "receivers: [{name: r, file: {path: x}}]\nroutes: [{match: {ou: [Workloads]}, receivers: [r]}]\n", true},
		{"a lifecycle override on an OU", "lifecycle: {deactivateAge: 100, overrides: [{ou: [Workloads], deactivateAge: 120}]}\n", true},
		{"asked for (accounts.ouPaths)", "accounts: {organization: true, ouPaths: true}\n", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.Parse([]byte(tt.yaml), "test.yaml")
			if err != nil {
				t.Fatal(err)
			}
			if got := cycle.UsesOUs(cfg); got != tt.want {
				t.Errorf("UsesOUs(%s) = %v, want %v", strings.TrimSpace(tt.yaml), got, tt.want)
			}
		})
	}
}
