package output

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"
	"github.com/google/go-cmp/cmp"

	"github.com/keyage/keyage/internal/lifecycle"
	"github.com/keyage/keyage/internal/rule"
	"github.com/keyage/keyage/internal/sandbox"
	"github.com/keyage/keyage/internal/sandbox/sandboxtest"
	"github.com/keyage/keyage/internal/scan"
)

var findingsNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// findingsResult is a scan of two accounts: alice's key is 120 days old,
// bob's 200 (twice the limit and more), carol's 85 (warning), dave's 10;
// account 222222222222 has an active root key.
func findingsResult(t *testing.T) *scan.Result {
	t.Helper()
	ev := lifecycle.RuleOnly(rule.Policy{MaxAge: 90 * rule.Day, WarnAge: 80 * rule.Day})
	user := func(acct, name string, age int) rule.User {
		return rule.User{AccountID: acct, UserID: "AIDA" + strings.ToUpper(name), UserName: name, Path: "/",
			ARN:  "arn:aws:iam::" + acct + ":user/" + name,
			Keys: []rule.Key{{AccessKeyID: "AKIA" + strings.ToUpper(name), Status: rule.StatusActive, CreateDate: findingsNow.Add(-time.Duration(age) * rule.Day)}}}
	}
	root := 400
	return &scan.Result{
		Rule: rule.Name, Parameters: scan.Parameters{MaxAccessKeyAge: 90, WarnAge: 80}, EvaluatedAt: findingsNow, Source: "api",
		Accounts: []scan.AccountResult{
			{AccountID: "222222222222", Name: "prod", Status: scan.StatusOK, Users: 3, RootKeys: []scan.RootKey{{Status: rule.StatusActive, AgeDays: &root}}},
			{AccountID: "333333333333", Name: "dev", Status: scan.StatusOK, Users: 1},
		},
		Evaluations: []rule.Evaluation{
			ev.Evaluate(user("222222222222", "alice", 120), "", findingsNow),
			ev.Evaluate(user("222222222222", "bob", 200), "", findingsNow),
			ev.Evaluate(user("222222222222", "carol", 85), "", findingsNow),
			ev.Evaluate(user("333333333333", "dave", 10), "", findingsNow),
		},
	}
}

// The findings of -o asff: one per key past the limit and one per active
// root key, with stable ids and the documented severities.
func TestASFFFindings(t *testing.T) {
	var got []string
	for _, f := range ASFFFindings(findingsResult(t), Options{Region: "eu-west-1"}) {
		got = append(got, strings.Join([]string{f.ID, f.ProductArn, f.Severity.Label, f.Compliance.Status, f.RecordState}, " "))
	}
	want := []string{
		"aws/222222222222/AIDAALICE/AKIAALICE arn:aws:securityhub:eu-west-1:222222222222:product/222222222222/default MEDIUM FAILED ACTIVE",
		"aws/222222222222/AIDABOB/AKIABOB arn:aws:securityhub:eu-west-1:222222222222:product/222222222222/default HIGH FAILED ACTIVE",
		"aws/222222222222/root/access-key-1 arn:aws:securityhub:eu-west-1:222222222222:product/222222222222/default CRITICAL FAILED ACTIVE",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("ASFFFindings (-want +got):\n%s", d)
	}
}

// -o asff decodes into the SDK's findings, which pass the SDK's
// BatchImportFindings validation and Security Hub's (the sandbox's) in
// each finding's own account.
func TestASFFImports(t *testing.T) {
	ctx := context.Background()
	var buf bytes.Buffer
	if err := Write(&buf, ASFF, findingsResult(t), Options{Region: "us-east-1"}); err != nil {
		t.Fatal(err)
	}
	var fs []types.AwsSecurityFinding
	if err := json.Unmarshal(buf.Bytes(), &fs); err != nil {
		t.Fatalf("-o asff does not decode as []types.AwsSecurityFinding: %v", err)
	}
	if len(fs) != 3 {
		t.Fatalf("-o asff has %d findings, want 3", len(fs))
	}
	srv, base := newSandbox(t)
	for _, f := range fs {
		acct := aws.ToString(f.AwsAccountId)
		out, err := securityhub.NewFromConfig(assume(t, base, acct)).BatchImportFindings(ctx, &securityhub.BatchImportFindingsInput{Findings: []types.AwsSecurityFinding{f}})
		if err != nil {
			t.Fatalf("BatchImportFindings(%s): %v", aws.ToString(f.Id), err)
		}
		for _, ff := range out.FailedFindings {
			t.Errorf("finding %s refused: %s: %s", aws.ToString(ff.Id), aws.ToString(ff.ErrorCode), aws.ToString(ff.ErrorMessage))
		}
	}
	if n := len(srv.SecurityHubFindings("222222222222")); n != 3 {
		t.Errorf("%d findings in Security Hub for 222222222222, want 3", n)
	}
	// Empty: an empty array, not null.
	buf.Reset()
	if err := Write(&buf, ASFF, &scan.Result{}, Options{}); err != nil || buf.String() != "[]\n" {
		t.Errorf("-o asff of an empty scan = %q, %v; want []", buf.String(), err)
	}
}

// Every -o ocsf event carries every attribute OCSF 1.1.0 requires of a
// Compliance Finding (testdata has the list, copied from the schema).
func TestOCSFRequiredAttributes(t *testing.T) {
	required := readLines(t, "testdata/ocsf-1.1.0-compliance-finding-required.txt")
	var buf bytes.Buffer
	if err := Write(&buf, OCSF, findingsResult(t), Options{Region: "us-east-1", Version: "test"}); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(&buf)
	n := 0
	for sc.Scan() {
		n++
		var ev map[string]any
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("line %d is not JSON: %v", n, err)
		}
		for _, path := range required {
			if v, ok := lookup(ev, path); !ok || v == nil || v == "" {
				t.Errorf("event %d (%v): required attribute %s missing", n, ev["finding_info"], path)
			}
		}
		for k, want := range map[string]float64{"class_uid": 2003, "category_uid": 2, "type_uid": 200301} {
			if ev[k] != want {
				t.Errorf("event %d: %s = %v, want %v", n, k, ev[k], want)
			}
		}
	}
	if n != 3 {
		t.Errorf("-o ocsf wrote %d events, want 3", n)
	}
}

func TestOCSFSeverity(t *testing.T) {
	got := map[string]int{}
	for _, ev := range OCSFEvents(findingsResult(t), Options{}) {
		got[ev.FindingInfo.UID] = ev.SeverityID
	}
	want := map[string]int{"aws/222222222222/AIDAALICE/AKIAALICE": 3, "aws/222222222222/AIDABOB/AKIABOB": 4, "aws/222222222222/root/access-key-1": 5}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("severity_id by finding (-want +got):\n%s", d)
	}
}

func TestParseFormat(t *testing.T) {
	for _, tt := range []struct {
		in      string
		want    Format
		wantErr bool
	}{
		{"table", Table, false}, {"json", JSON, false}, {"csv", CSV, false}, {"asff", ASFF, false}, {"ocsf", OCSF, false},
		{"xml", "", true},
	} {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseFormat(tt.in)
			if got != tt.want || (err != nil) != tt.wantErr {
				t.Errorf("ParseFormat(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

func lookup(m map[string]any, path string) (any, bool) {
	var v any = m
	for _, k := range strings.Split(path, ".") {
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = obj[k]; !ok {
			return nil, false
		}
	}
	return v, true
}

func newSandbox(t *testing.T) (*sandbox.Server, aws.Config) {
	t.Helper()
	s := sandboxtest.ServeAccounts(t, "KeyageFindingsRole")
	return s.Server, s.Config()
}

func assume(t *testing.T, base aws.Config, acct string) aws.Config {
	t.Helper()
	c, err := sandboxtest.AssumeRole(context.Background(), base, acct, "KeyageFindingsRole", "test")
	if err != nil {
		t.Fatal(err)
	}
	return c
}
