package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	shtypes "github.com/aws/aws-sdk-go-v2/service/securityhub/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/google/go-cmp/cmp"
)

// inAccount is the sandbox's management config acting in acct through role.
func inAccount(t *testing.T, acct, role string) aws.Config {
	t.Helper()
	base := sdk(t)
	c := base.Copy()
	c.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(base), "arn:aws:iam::"+acct+":role/"+role))
	return c
}

// keyage scan -o asff prints findings that the SDK's BatchImportFindings
// validation and Security Hub (the sandbox) accept, each in its account.
func TestScanASFFImports(t *testing.T) {
	sandboxEnvWith(t, "testdata/findings-org.yaml")
	code, out, stderr := runCLI(t, "scan", "--org", "-o", "asff", "--log-level", "error")
	if code != ExitOK {
		t.Fatalf("scan -o asff: exit %d\n%s", code, stderr)
	}
	var fs []shtypes.AwsSecurityFinding
	if err := json.Unmarshal([]byte(out), &fs); err != nil {
		t.Fatalf("scan -o asff is not a JSON array of findings: %v\n%s", err, out)
	}
	byAccount := map[string][]shtypes.AwsSecurityFinding{}
	for _, f := range fs {
		byAccount[aws.ToString(f.AwsAccountId)] = append(byAccount[aws.ToString(f.AwsAccountId)], f)
	}
	if len(byAccount["222222222222"]) != 3 || len(byAccount["333333333333"]) != 1 {
		t.Fatalf("scan -o asff: %d findings in 222222222222, %d in 333333333333; want 3 (alice, bob, root) and 1", len(byAccount["222222222222"]), len(byAccount["333333333333"]))
	}
	for acct, fs := range byAccount {
		res, err := securityhub.NewFromConfig(inAccount(t, acct, "KeyageFindingsRole")).BatchImportFindings(context.Background(),
			&securityhub.BatchImportFindingsInput{Findings: fs})
		if err != nil {
			t.Fatalf("BatchImportFindings in %s: %v", acct, err)
		}
		for _, f := range res.FailedFindings {
			t.Errorf("%s refused %s: %s: %s", acct, aws.ToString(f.Id), aws.ToString(f.ErrorCode), aws.ToString(f.ErrorMessage))
		}
	}
}

// keyage run imports findings into each account; the security team sets a
// Workflow; alice rotates her key; the next run archives her finding with
// Compliance PASSED and her Workflow kept, and leaves the others alone.
func TestRunSecurityHubRotation(t *testing.T) {
	ctx := context.Background()
	sandboxEnvWith(t, "testdata/findings-org.yaml")
	cfg := writeConfig(t, `
accounts: {organization: true}
receivers:
  - name: hub
    sendResolved: true
    securityhub: {region: us-east-1, roleName: KeyageFindingsRole}
routes:
  - receivers: [hub]
`)
	state := filepath.Join(t.TempDir(), "keyage.db")
	run := func() {
		t.Helper()
		if code, out, stderr := runCLI(t, "run", "--config", cfg, "--state", state, "--log-level", "error"); code != ExitOK {
			t.Fatalf("run: exit %d\n%s\n%s", code, out, stderr)
		}
	}
	admin := securityhub.NewFromConfig(sdk(t)) // the organization's Security Hub administrator
	findings := func() map[string]string {
		t.Helper()
		got := map[string]string{}
		p := securityhub.NewGetFindingsPaginator(admin, &securityhub.GetFindingsInput{})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range page.Findings {
				got[aws.ToString(f.Resources[1].Id)] = fmt.Sprintf("%s %s %s %s", f.RecordState, f.Compliance.Status, f.Workflow.Status, f.FindingProviderFields.Severity.Label)
			}
		}
		return got
	}
	run()
	before := findings()
	want := map[string]string{
		"arn:aws:iam::222222222222:user/alice": "ACTIVE FAILED NEW MEDIUM",
		"arn:aws:iam::222222222222:user/bob":   "ACTIVE FAILED NEW HIGH",
		"arn:aws:iam::333333333333:user/carol": "ACTIVE FAILED NEW MEDIUM",
	}
	if d := cmp.Diff(want, before); d != "" {
		t.Fatalf("findings after the first run (-want +got):\n%s", d)
	}

	var aliceFinding shtypes.AwsSecurityFindingIdentifier
	out, err := admin.GetFindings(ctx, &securityhub.GetFindingsInput{Filters: &shtypes.AwsSecurityFindingFilters{
		AwsAccountId: []shtypes.StringFilter{{Value: aws.String("222222222222"), Comparison: shtypes.StringFilterComparisonEquals}}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range out.Findings {
		if aws.ToString(f.Resources[1].Id) == "arn:aws:iam::222222222222:user/alice" {
			aliceFinding = shtypes.AwsSecurityFindingIdentifier{Id: f.Id, ProductArn: f.ProductArn}
		}
	}
	if _, err := admin.BatchUpdateFindings(ctx, &securityhub.BatchUpdateFindingsInput{
		FindingIdentifiers: []shtypes.AwsSecurityFindingIdentifier{aliceFinding},
		Workflow:           &shtypes.WorkflowUpdate{Status: shtypes.WorkflowStatusNotified},
	}); err != nil {
		t.Fatal(err)
	}

	// alice rotates: a new key, the old one deleted.
	iamc := iam.NewFromConfig(inAccount(t, "222222222222", "KeyageAuditRole"))
	keys, err := iamc.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("alice")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := iamc.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("alice")}); err != nil {
		t.Fatal(err)
	}
	if _, err := iamc.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("alice"), AccessKeyId: keys.AccessKeyMetadata[0].AccessKeyId}); err != nil {
		t.Fatal(err)
	}
	run()
	want["arn:aws:iam::222222222222:user/alice"] = "ARCHIVED PASSED NOTIFIED INFORMATIONAL"
	if d := cmp.Diff(want, findings()); d != "" {
		t.Errorf("findings after alice rotated (-want +got):\n%s", d)
	}
}
