package scan_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/keyage/keyage/internal/inventory"
	"github.com/keyage/keyage/internal/rule"
	"github.com/keyage/keyage/internal/sandbox"
	"github.com/keyage/keyage/internal/sandbox/sandboxtest"
	"github.com/keyage/keyage/internal/scan"
)

// iamFor is an IAM client acting in account id.
func iamFor(t *testing.T, e *env, id string) *iam.Client {
	t.Helper()
	cfg, err := e.assumer.ForAccount(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return iam.NewFromConfig(cfg)
}

// A 500-day key the report shows inactive, reactivated after the report:
// auto re-reads the user and finds it active, as api does.
func TestReactivatedAfterReport(t *testing.T) {
	e := newEnv(t, sandboxtest.LoadFixture(t, "testdata/boundary.yaml"), nil)
	prod := []inventory.Account{{ID: "222222222222"}}
	if got := byUser(run(t, e, inventory.SourceAuto, prod, nil))["222222222222/inactive-old"].Compliance; got != rule.Compliant {
		t.Fatalf("before reactivation inactive-old is %s, want COMPLIANT", got)
	}
	ctx := context.Background()
	client := iamFor(t, e, "222222222222")
	keys, err := client.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("inactive-old")})
	if err != nil || len(keys.AccessKeyMetadata) != 1 {
		t.Fatalf("ListAccessKeys(inactive-old) = %v, %v", keys, err)
	}
	id := keys.AccessKeyMetadata[0].AccessKeyId
	if _, err := client.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("inactive-old"), AccessKeyId: id, Status: types.StatusTypeActive}); err != nil {
		t.Fatal(err)
	}
	for _, src := range []inventory.Source{inventory.SourceAuto, inventory.SourceAPI} {
		ev := byUser(run(t, e, src, prod, nil))["222222222222/inactive-old"]
		if ev.Compliance != rule.NonCompliant || len(ev.Keys) != 1 || ev.Keys[0].AccessKeyID != aws.ToString(id) {
			t.Errorf("%s after reactivation: %s with keys %+v, want NON_COMPLIANT naming %s", src, ev.Compliance, ev.Keys, aws.ToString(id))
		}
	}
}

// editReport reads account 222222222222's credential report, lets edit
// change its records (the header first) and installs the result.
func editReport(t *testing.T, e *env, edit func(header []string, recs [][]string) [][]string) {
	t.Helper()
	ctx := context.Background()
	client := iamFor(t, e, "222222222222")
	for {
		gen, err := client.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{})
		if err != nil {
			t.Fatal(err)
		}
		if gen.State == types.ReportStateTypeComplete {
			break
		}
		time.Sleep(10 * time.Millisecond) // the sandbox generates at once; a poll or two at most
	}
	out, err := client.GetCredentialReport(ctx, &iam.GetCredentialReportInput{})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(out.Content)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	recs = edit(recs[0], recs)
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	if err := w.WriteAll(recs); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.SetCredentialReport("222222222222", b.Bytes()); err != nil {
		t.Fatal(err)
	}
}

func column(t *testing.T, header []string, name string) int {
	t.Helper()
	for i, h := range header {
		if h == name {
			return i
		}
	}
	t.Fatalf("credential report has no column %s", name)
	return -1
}

// Rows the report cannot have right are not trusted: the user is read from
// the API, whichever the source.
func TestUntrustedReportRows(t *testing.T) {
	fresh := time.Now().Add(-24 * time.Hour).UTC().Format("2006-01-02T15:04:05+00:00")
	for _, tt := range []struct {
		name string
		edit func(t *testing.T, header []string, recs [][]string) [][]string
	}{
		{"duplicate row", func(t *testing.T, header []string, recs [][]string) [][]string {
			rotated := column(t, header, "access_key_1_last_rotated")
			for _, r := range recs {
				if r[0] == "over-limit" {
					dup := append([]string(nil), r...)
					dup[rotated] = fresh // the later row claims a fresh key
					return append(recs, dup)
				}
			}
			t.Fatal("no over-limit row")
			return nil
		}},
		{"future date", func(t *testing.T, header []string, recs [][]string) [][]string {
			rotated := column(t, header, "access_key_1_last_rotated")
			for _, r := range recs {
				if r[0] == "over-limit" {
					r[rotated] = "2099-01-01T00:00:00+00:00"
				}
			}
			return recs
		}},
	} {
		for _, src := range []inventory.Source{inventory.SourceAuto, inventory.SourceCredentialReport} {
			t.Run(tt.name+"/"+string(src), func(t *testing.T) {
				e := newEnv(t, sandboxtest.LoadFixture(t, "testdata/boundary.yaml"), nil)
				editReport(t, e, func(h []string, recs [][]string) [][]string { return tt.edit(t, h, recs) })
				r := run(t, e, src, []inventory.Account{{ID: "222222222222"}}, nil)
				if a := account(r, "222222222222"); a.Status != scan.StatusOK {
					t.Fatalf("account status %s (%s), want ok", a.Status, a.Error)
				}
				ev := byUser(r)["222222222222/over-limit"]
				if ev.Compliance != rule.NonCompliant || len(ev.Keys) != 1 || ev.Keys[0].AccessKeyID == "" {
					t.Errorf("%s: over-limit is %s with keys %+v, want NON_COMPLIANT from the API (with its key id)", src, ev.Compliance, ev.Keys)
				}
				if got := byUser(r)["222222222222/two-keys"].Compliance; got != rule.NonCompliant {
					t.Errorf("%s: two-keys (a trusted row) is %s, want NON_COMPLIANT", src, got)
				}
			})
		}
	}
}

// At 2 requests a second over the whole sandbox every account completes:
// throttled calls slow down instead of failing the account.
func TestScanAtTwoRequestsPerSecond(t *testing.T) {
	if testing.Short() {
		t.Skip("takes about 20 s at 2 requests a second")
	}
	fx := sandbox.Generate(sandbox.GenerateOptions{Accounts: 4, Users: 2, Seed: 5})
	e := newEnv(t, fx, func(o *sandbox.Options) { o.ThrottleRPS = 2 })
	r := run(t, e, inventory.SourceAuto, e.orgAccounts(t), func(o *scan.Options) { o.AccountTimeout = 3 * time.Minute })
	var throttledOnly []string
	for _, a := range r.Accounts {
		if a.Status != scan.StatusOK && !strings.Contains(a.Error, "AccessDenied") {
			throttledOnly = append(throttledOnly, a.AccountID+": "+a.Error)
		}
	}
	if len(throttledOnly) > 0 {
		t.Errorf("accounts failed at 2 rps: %v", throttledOnly)
	}
	if n := e.srv.Stats().Total; n == 0 {
		t.Errorf("no calls counted")
	}
}
