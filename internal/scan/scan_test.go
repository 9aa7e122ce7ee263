package scan_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/keyage/keyage/internal/inventory"
	"github.com/keyage/keyage/internal/lifecycle"
	"github.com/keyage/keyage/internal/rule"
	"github.com/keyage/keyage/internal/sandbox"
	"github.com/keyage/keyage/internal/sandbox/sandboxtest"
	"github.com/keyage/keyage/internal/scan"
)

func run(t *testing.T, e *env, src inventory.Source, accounts []inventory.Account, mod func(*scan.Options)) *scan.Result {
	t.Helper()
	o := scan.Options{Source: src, Policy: rule.PolicyDays(90, 80), Concurrency: 8, Now: testNow(), AccountTimeout: time.Minute}
	if mod != nil {
		mod(&o)
	}
	return scan.Run(context.Background(), e.assumer, accounts, o)
}

func byUser(r *scan.Result) map[string]rule.Evaluation {
	m := make(map[string]rule.Evaluation, len(r.Evaluations))
	for _, ev := range r.Evaluations {
		m[ev.AccountID+"/"+ev.UserName] = ev
	}
	return m
}

func account(r *scan.Result, id string) scan.AccountResult {
	for _, a := range r.Accounts {
		if a.AccountID == id {
			return a
		}
	}
	return scan.AccountResult{}
}

func TestBoundaries(t *testing.T) {
	e := newEnv(t, sandboxtest.LoadFixture(t, "testdata/boundary.yaml"), nil)
	for _, src := range []inventory.Source{inventory.SourceAuto, inventory.SourceAPI, inventory.SourceCredentialReport} {
		t.Run(string(src), func(t *testing.T) {
			r := run(t, e, src, e.orgAccounts(t), nil)
			evs := byUser(r)
			for _, tt := range []struct {
				user   string
				want   rule.Compliance
				stages []lifecycle.Stage
			}{
				{"222222222222/under-limit", rule.Compliant, []lifecycle.Stage{lifecycle.Warning}},
				{"222222222222/over-limit", rule.NonCompliant, []lifecycle.Stage{lifecycle.Expired}},
				{"222222222222/inactive-old", rule.Compliant, []lifecycle.Stage{lifecycle.Inactive}},
				{"222222222222/two-keys", rule.NonCompliant, []lifecycle.Stage{lifecycle.Expired, lifecycle.OK}},
				{"222222222222/no-keys", rule.Compliant, nil},
				{"111111111111/ops", rule.Compliant, []lifecycle.Stage{lifecycle.OK}},
			} {
				ev, ok := evs[tt.user]
				if !ok {
					t.Errorf("%s: no evaluation", tt.user)
					continue
				}
				if ev.Compliance != tt.want {
					t.Errorf("%s: compliance %s, want %s", tt.user, ev.Compliance, tt.want)
				}
				var stages []lifecycle.Stage
				for _, k := range ev.Keys {
					stages = append(stages, lifecycle.Stage(k.Stage))
				}
				if diff := cmp.Diff(sortStages(tt.stages), sortStages(stages)); diff != "" {
					t.Errorf("%s: stages (-want +got):\n%s", tt.user, diff)
				}
			}
			na, ok := evs["333333333333/"]
			if !ok || na.Compliance != rule.NotApplicable || na.ResourceType != rule.ResourceTypeAccount {
				t.Errorf("account without users: got %+v, want one NOT_APPLICABLE AWS::::Account evaluation", na)
			}
			broken := account(r, "444444444444")
			if broken.Status != scan.StatusError || !strings.Contains(broken.Error, "AccessDenied") {
				t.Errorf("account without audit role: status %q error %q, want error naming AccessDenied", broken.Status, broken.Error)
			}
			if _, ok := evs["444444444444/hidden"]; ok {
				t.Errorf("account without audit role has evaluations")
			}
			if r.Summary.AccountsFailed != 1 || r.Summary.Accounts != 4 {
				t.Errorf("summary accounts %d failed %d, want 4 and 1", r.Summary.Accounts, r.Summary.AccountsFailed)
			}
			if len(account(r, "222222222222").RootKeys) != 1 {
				t.Errorf("prod root keys = %+v, want one", account(r, "222222222222").RootKeys)
			}
			if src != inventory.SourceCredentialReport {
				over := evs["222222222222/two-keys"]
				if !strings.HasPrefix(over.Annotation, "Access key AKIA") || !strings.Contains(over.Annotation, "is 120 days old; the limit is 90 days.") {
					t.Errorf("two-keys annotation %q, want it to name the AKIA key and its age", over.Annotation)
				}
			}
		})
	}
}

func sortStages(s []lifecycle.Stage) []string {
	out := make([]string, len(s))
	for i, st := range s {
		out[i] = string(st)
	}
	// order of keys within a user is the source's; compare as sets
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// comparable strips what legitimately differs between sources: key ids the
// credential report does not carry (auto and credential-report name only
// flagged keys), and sub-second timestamps.
type cmpKey struct {
	ID, Status   string
	Created      int64
	AgeDays      int
	Stage        lifecycle.Stage
	LastUsed     int64
	Service, Reg string
}

type cmpEval struct {
	Compliance rule.Compliance
	ResourceID string
	ARN        string
	Keys       []cmpKey
}

func comparable(r *scan.Result, withIDs bool) map[string]cmpEval {
	out := map[string]cmpEval{}
	for _, ev := range r.Evaluations {
		c := cmpEval{Compliance: ev.Compliance, ResourceID: ev.ResourceID, ARN: ev.ARN}
		for _, k := range ev.Keys {
			ck := cmpKey{Status: k.Status, Created: k.CreateDate.Unix(), AgeDays: k.AgeDays, Stage: lifecycle.Stage(k.Stage),
				Service: k.LastUsedService, Reg: k.LastUsedRegion}
			if !k.LastUsedDate.IsZero() {
				ck.LastUsed = k.LastUsedDate.Unix()
			}
			if withIDs && (lifecycle.Stage(k.Stage) == lifecycle.Expired || lifecycle.Stage(k.Stage) == lifecycle.Warning) {
				ck.ID = k.AccessKeyID
			}
			c.Keys = append(c.Keys, ck)
		}
		// order keys by creation for a stable comparison
		for i := range c.Keys {
			for j := i + 1; j < len(c.Keys); j++ {
				if c.Keys[j].Created < c.Keys[i].Created {
					c.Keys[i], c.Keys[j] = c.Keys[j], c.Keys[i]
				}
			}
		}
		out[ev.AccountID+"/"+ev.ResourceID] = c
	}
	return out
}

func TestSourcesAgree(t *testing.T) {
	fx := sandbox.Generate(sandbox.GenerateOptions{Accounts: 20, Users: 50, Seed: 7})
	e := newEnv(t, fx, nil)
	accts := e.orgAccounts(t)
	now := testNow()
	at := func(o *scan.Options) { o.Now = now }
	api := run(t, e, inventory.SourceAPI, accts, at)
	auto := run(t, e, inventory.SourceAuto, accts, at)
	report := run(t, e, inventory.SourceCredentialReport, accts, at)

	if api.Summary.NonCompliant == 0 || api.Summary.Keys["warning"] == 0 || api.Summary.Keys["inactive"] == 0 {
		t.Fatalf("generated org lacks the mix the test needs: %+v", api.Summary)
	}
	if diff := cmp.Diff(comparable(api, true), comparable(auto, true)); diff != "" {
		t.Errorf("api and auto disagree (-api +auto):\n%s", diff)
	}
	if diff := cmp.Diff(comparable(api, false), comparable(report, false)); diff != "" {
		t.Errorf("api and credential-report disagree (-api +report):\n%s", diff)
	}
	for _, pair := range []struct {
		name string
		a, b scan.Summary
	}{{"api/auto", api.Summary, auto.Summary}, {"api/report", api.Summary, report.Summary}} {
		a, b := pair.a, pair.b
		a.ActiveRootKeys, b.ActiveRootKeys = 0, 0 // the api source only sees that root keys are present
		if diff := cmp.Diff(a, b); diff != "" {
			t.Errorf("%s summaries differ:\n%s", pair.name, diff)
		}
	}
	apiEvs, autoEvs := byUser(api), byUser(auto)
	for k, ev := range apiEvs {
		if ev.Compliance == rule.NonCompliant && autoEvs[k].Annotation != ev.Annotation {
			t.Errorf("%s: auto annotation %q, api %q", k, autoEvs[k].Annotation, ev.Annotation)
		}
	}
}

func TestPagination(t *testing.T) {
	fx := &sandbox.Fixture{ManagementAccountID: "111111111111", Accounts: []sandbox.FixtureAccount{
		{ID: "111111111111", Name: "management"},
		{ID: "222222222222", Name: "big"},
	}}
	age := func(d float64) *float64 { return &d }
	for i := range 2500 {
		u := sandbox.FixtureUser{Name: fmt.Sprintf("user-%04d", i)}
		if i == 1234 {
			u.Keys = []sandbox.FixtureKey{{AgeDays: age(200), Status: "Active"}, {AgeDays: age(5), Status: "Active"}}
		}
		fx.Accounts[1].Users = append(fx.Accounts[1].Users, u)
	}
	e := newEnv(t, fx, nil)
	accts := []inventory.Account{{ID: "222222222222"}}
	for _, src := range []inventory.Source{inventory.SourceAPI, inventory.SourceAuto} {
		t.Run(string(src), func(t *testing.T) {
			e.srv.ResetStats()
			r := run(t, e, src, accts, func(o *scan.Options) { o.Inventory.PageSize = 1 })
			if got := account(r, "222222222222"); got.Users != 2500 || got.Status != scan.StatusOK {
				t.Fatalf("big account: %d users, status %s %s; want 2500 ok", got.Users, got.Status, got.Error)
			}
			ev := byUser(r)["222222222222/user-1234"]
			if len(ev.Keys) != 2 || ev.Compliance != rule.NonCompliant {
				t.Errorf("two-key user listed with MaxItems 1: %d keys, %s; want 2 keys, NON_COMPLIANT", len(ev.Keys), ev.Compliance)
			}
			if n := e.srv.Stats().ByAPI["iam:ListUsers"]; n != 2500 {
				t.Errorf("ListUsers calls with MaxItems 1 = %d, want 2500 (one per page)", n)
			}
		})
	}
}

// A key rotated after the credential report was generated: auto re-reads
// flagged users in real time and does not report the old key.
func TestStaleReport(t *testing.T) {
	e := newEnv(t, sandboxtest.LoadFixture(t, "testdata/boundary.yaml"), nil)
	prod := []inventory.Account{{ID: "222222222222"}}
	first := run(t, e, inventory.SourceAuto, prod, nil)
	if got := byUser(first)["222222222222/over-limit"].Compliance; got != rule.NonCompliant {
		t.Fatalf("before rotation over-limit is %s, want NON_COMPLIANT", got)
	}

	// Rotate: create a new key, delete the old one, through the real IAM API.
	ctx := context.Background()
	cfg, err := e.assumer.ForAccount(ctx, "222222222222")
	if err != nil {
		t.Fatal(err)
	}
	client := iam.NewFromConfig(cfg)
	keys, err := client.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("over-limit")})
	if err != nil || len(keys.AccessKeyMetadata) != 1 {
		t.Fatalf("ListAccessKeys(over-limit) = %v, %v", keys, err)
	}
	old := aws.ToString(keys.AccessKeyMetadata[0].AccessKeyId)
	created, err := client.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("over-limit")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("over-limit"), AccessKeyId: aws.String(old)}); err != nil {
		t.Fatal(err)
	}

	auto := run(t, e, inventory.SourceAuto, prod, nil)
	ev := byUser(auto)["222222222222/over-limit"]
	if ev.Compliance != rule.Compliant {
		t.Errorf("auto after rotation: %s (%s), want COMPLIANT", ev.Compliance, ev.Annotation)
	}
	if len(ev.Keys) != 1 || ev.Keys[0].AccessKeyID != aws.ToString(created.AccessKey.AccessKeyId) {
		t.Errorf("auto after rotation keys = %+v, want only the new key %s", ev.Keys, aws.ToString(created.AccessKey.AccessKeyId))
	}
	// The report alone still carries the old key: that is the false positive
	// auto exists to avoid.
	report := run(t, e, inventory.SourceCredentialReport, prod, nil)
	if got := byUser(report)["222222222222/over-limit"].Compliance; got != rule.NonCompliant {
		t.Errorf("credential-report after rotation: %s, want the stale NON_COMPLIANT (the report is reused for 4 hours)", got)
	}
}

func TestThrottling(t *testing.T) {
	fx := sandbox.Generate(sandbox.GenerateOptions{Accounts: 8, Users: 15, Seed: 3})
	// Both sandboxes start at the same instant so that key dates match.
	start := time.Now()
	clock := func(o *sandbox.Options) { o.Now = func() time.Time { return start } }
	at := func(o *scan.Options) { o.Now = start }
	calm := newEnv(t, fx, clock)
	want := comparable(run(t, calm, inventory.SourceAuto, calm.orgAccounts(t), at), true)

	e := newEnv(t, fx, func(o *sandbox.Options) { clock(o); o.ThrottleRPS = 20 })
	r := run(t, e, inventory.SourceAuto, e.orgAccounts(t), at)
	// Throttled calls are counted too: more calls than the calm scan means
	// the sandbox throttled and the SDK retried.
	if calmN, n := calm.srv.Stats().Total, e.srv.Stats().Total; n <= calmN {
		t.Errorf("throttled scan made %d calls, the calm one %d: nothing was throttled at 20 rps, the test proves nothing", n, calmN)
	}
	if diff := cmp.Diff(want, comparable(r, true)); diff != "" {
		t.Errorf("throttled scan differs from the calm one (-calm +throttled):\n%s", diff)
	}
	if r.Summary.AccountsFailed != 1 { // the generated org's one account without the audit role
		t.Errorf("throttled scan: %d accounts failed, want only the one without its role: %+v", r.Summary.AccountsFailed, r.Accounts)
	}
}

func TestCorruptReport(t *testing.T) {
	for _, tt := range []struct {
		name, csv, want string
	}{
		{"bad header", "usr,arn\nalice,arn:aws:iam::222222222222:user/alice\n", "column"},
		{"truncated row", "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated\nalice,arn:aws:iam::222222222222:user/alice,2026-01-01T00:00:00+00:00,false\n", "line 2"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, sandboxtest.LoadFixture(t, "testdata/boundary.yaml"), nil)
			if err := e.srv.SetCredentialReport("222222222222", []byte(tt.csv)); err != nil {
				t.Fatal(err)
			}
			r := run(t, e, inventory.SourceAuto, e.orgAccounts(t), nil)
			prod := account(r, "222222222222")
			if prod.Status != scan.StatusError || !strings.Contains(prod.Error, "credential report") || !strings.Contains(prod.Error, tt.want) {
				t.Errorf("corrupt report: status %q error %q, want an error about the credential report naming %q", prod.Status, prod.Error, tt.want)
			}
			if mgmt := account(r, "111111111111"); mgmt.Status != scan.StatusOK {
				t.Errorf("management account status %q (%s), want ok", mgmt.Status, mgmt.Error)
			}
		})
	}
}

// A hung account is cut off by the per-account timeout and reported; it
// does not hold the scan.
func TestAccountTimeout(t *testing.T) {
	e := newEnv(t, sandboxtest.LoadFixture(t, "testdata/boundary.yaml"), nil)
	accts := e.orgAccounts(t)
	slow := newEnv(t, sandboxtest.LoadFixture(t, "testdata/boundary.yaml"), func(o *sandbox.Options) { o.Latency = 300 * time.Millisecond })
	r := run(t, slow, inventory.SourceAuto, accts, func(o *scan.Options) { o.AccountTimeout = 100 * time.Millisecond })
	for _, a := range r.Accounts {
		if a.Status != scan.StatusError || !strings.Contains(a.Error, "account timed out after 100ms") {
			t.Errorf("account %s: status %q error %q, want a timeout", a.AccountID, a.Status, a.Error)
		}
	}
	if len(r.Accounts) != len(accts) {
		t.Errorf("%d accounts reported, want %d", len(r.Accounts), len(accts))
	}
}

// An organization scanned while it is still being listed (page by page) gives
// the same result, in the same account order, as one listed first.
func TestRunSeqWhileListing(t *testing.T) {
	fx := sandbox.Generate(sandbox.GenerateOptions{Accounts: 45, Users: 5, Seed: 3}) // 3 ListAccounts pages
	e := newEnv(t, fx, nil)
	accts := e.orgAccounts(t)
	// A first scan generates the credential reports, so that both scans
	// compared read the same report, older than their Now: a scan that
	// generated its report does not re-read the users with an inactive key
	// past the limit, one reading an older report does.
	run(t, e, inventory.SourceAuto, accts, nil)
	now := testNow()
	want := run(t, e, inventory.SourceAuto, accts, func(o *scan.Options) { o.Now = now })

	e.srv.ResetStats()
	var progress [][2]int
	o := scan.Options{Source: inventory.SourceAuto, Policy: rule.PolicyDays(90, 80), Concurrency: 8, Now: now, AccountTimeout: time.Minute,
		Progress: func(done, total int) { progress = append(progress, [2]int{done, total}) }}
	got, err := scan.RunSeq(context.Background(), e.assumer, inventory.OrgAccountSeq(context.Background(), e.base), o)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(scan.AccountResult{}, "DurationMS")); diff != "" {
		t.Errorf("scan while listing differs from scan after listing (-after +while):\n%s", diff)
	}
	if n := e.srv.Stats().ByAPI["organizations:ListAccounts"]; n != 3 {
		t.Errorf("ListAccounts calls = %d, want 3 pages", n)
	}
	if last := progress[len(progress)-1]; last != [2]int{len(accts), len(accts)} {
		t.Errorf("last progress = %v, want %d of %d", last, len(accts), len(accts))
	}
}

// A listing that fails part way stops the scan with the listing's error.
func TestRunSeqListingFails(t *testing.T) {
	e := newEnv(t, nil, nil)
	accts := e.orgAccounts(t)
	boom := errors.New("list organization accounts: AccessDeniedException: page 2")
	seq := func(yield func(inventory.Account, error) bool) {
		for _, a := range accts[:2] {
			if !yield(a, nil) {
				return
			}
		}
		yield(inventory.Account{}, boom)
	}
	o := scan.Options{Source: inventory.SourceAuto, Policy: rule.PolicyDays(90, 80), Now: testNow()}
	res, err := scan.RunSeq(context.Background(), e.assumer, seq, o)
	if !errors.Is(err, boom) || res != nil {
		t.Errorf("RunSeq = %v, %v; want no result and the listing's error", res, err)
	}
}

// Stream hands every account to the sink once, with its listing order; a
// sink's error stops the scan and is what Stream returns.
func TestStream(t *testing.T) {
	e := newEnv(t, sandboxtest.LoadFixture(t, "testdata/boundary.yaml"), nil)
	accounts := e.orgAccounts(t)
	boom := errors.New("disk full")
	for _, tt := range []struct {
		name    string
		failAt  int // the sink fails for this listing index; -1 never
		wantErr error
	}{
		{"every account", -1, nil},
		{"the sink fails", 1, boom},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := scan.Options{Policy: rule.PolicyDays(90, 80), Concurrency: 2, Now: testNow(), AccountTimeout: time.Minute}
			var mu sync.Mutex
			seen := map[int]string{}
			res, err := scan.Stream(context.Background(), e.assumer, func(yield func(inventory.Account, error) bool) {
				for _, a := range accounts {
					if !yield(a, nil) {
						return
					}
				}
			}, o, func(i int, a scan.AccountResult, evs []rule.Evaluation) error {
				mu.Lock()
				defer mu.Unlock()
				seen[i] = a.AccountID
				if i == tt.failAt {
					return boom
				}
				return nil
			})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Stream error = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr != nil {
				return
			}
			if len(res.Evaluations) != 0 {
				t.Errorf("Stream kept %d evaluations, want none", len(res.Evaluations))
			}
			for i, a := range accounts {
				if seen[i] != a.ID || res.Accounts[i].AccountID != a.ID {
					t.Errorf("account %d: sink got %q, result has %q, want %s", i, seen[i], res.Accounts[i].AccountID, a.ID)
				}
			}
			if res.Summary.Accounts != len(accounts) {
				t.Errorf("summary counts %d accounts, want %d", res.Summary.Accounts, len(accounts))
			}
		})
	}
}

// An account waiting for its credential report lends its concurrency slot:
// the next accounts start their report generation meanwhile, up to four
// times the concurrency. Each account pauses once (the sandbox's report is
// ready at the second poll); every pause waits until that many accounts
// are paused at once, which cannot happen if a paused account held its
// slot.
func TestReportWaitLendsSlot(t *testing.T) {
	for _, tc := range []struct {
		name        string
		accounts    int
		concurrency int
		wantPaused  int // the most accounts paused at once
	}{
		{name: "one slot, four accounts", accounts: 4, concurrency: 1, wantPaused: 4},
		{name: "one slot, six accounts: four begun at most", accounts: 6, concurrency: 1, wantPaused: 4},
		{name: "two slots, eight accounts", accounts: 8, concurrency: 2, wantPaused: 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, sandbox.Generate(sandbox.GenerateOptions{Accounts: 12, Users: 2, Seed: 5}), nil)
			var accts []inventory.Account // the first ones whose audit role can be assumed
			for _, a := range e.orgAccounts(t) {
				if _, err := e.assumer.ForAccount(context.Background(), a.ID); err == nil && len(accts) < tc.accounts {
					accts = append(accts, a)
				}
			}
			if len(accts) != tc.accounts {
				t.Fatalf("%d accounts can be scanned, want %d", len(accts), tc.accounts)
			}
			var (
				mu           sync.Mutex
				paused, most int
				all          = make(chan struct{})
			)
			pause := func(ctx context.Context, _ time.Duration) error {
				mu.Lock()
				paused++
				most = max(most, paused)
				if paused == tc.wantPaused {
					close(all)
				}
				mu.Unlock()
				defer func() { mu.Lock(); paused--; mu.Unlock() }()
				select {
				case <-all:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			r := run(t, e, inventory.SourceAuto, accts, func(o *scan.Options) {
				o.Concurrency = tc.concurrency
				o.AccountTimeout = 20 * time.Second
				o.Inventory.Pause = pause
			})
			for _, a := range r.Accounts {
				if a.Status != scan.StatusOK {
					t.Errorf("account %s: status %q (%s), want ok", a.AccountID, a.Status, a.Error)
				}
			}
			if most != tc.wantPaused {
				t.Errorf("at most %d accounts paused at once, want %d", most, tc.wantPaused)
			}
		})
	}
}
