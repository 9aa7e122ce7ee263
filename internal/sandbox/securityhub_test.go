package sandbox

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	shtypes "github.com/aws/aws-sdk-go-v2/service/securityhub/types"
)

// shFinding is a minimal valid finding of account acct with id.
func shFinding(acct, id string) shtypes.AwsSecurityFinding {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC).Format(time.RFC3339)
	return shtypes.AwsSecurityFinding{
		SchemaVersion: aws.String("2018-10-08"),
		Id:            aws.String(id),
		ProductArn:    aws.String("arn:aws:securityhub:us-east-1:" + acct + ":product/" + acct + "/default"),
		GeneratorId:   aws.String("test"),
		AwsAccountId:  aws.String(acct),
		Types:         []string{"Software and Configuration Checks"},
		CreatedAt:     aws.String(now),
		UpdatedAt:     aws.String(now),
		Severity:      &shtypes.Severity{Label: shtypes.SeverityLabelMedium},
		Title:         aws.String("t"),
		Description:   aws.String("d"),
		Resources:     []shtypes.Resource{{Type: aws.String("AwsIamUser"), Id: aws.String("arn:aws:iam::" + acct + ":user/alice")}},
		Compliance:    &shtypes.Compliance{Status: shtypes.ComplianceStatusFailed},
		RecordState:   shtypes.RecordStateActive,
	}
}

func TestSecurityHubImport(t *testing.T) {
	ctx := context.Background()
	ts := newTestSandbox(t, Options{})
	prod := securityhub.NewFromConfig(ts.assume(t, "222222222222"))
	mgmt := securityhub.NewFromConfig(ts.mgmtConfig())

	failed := func(out *securityhub.BatchImportFindingsOutput) []string {
		var s []string
		for _, f := range out.FailedFindings {
			s = append(s, aws.ToString(f.Id)+" "+aws.ToString(f.ErrorCode))
		}
		return s
	}
	imp := func(c *securityhub.Client, fs ...shtypes.AwsSecurityFinding) *securityhub.BatchImportFindingsOutput {
		t.Helper()
		out, err := c.BatchImportFindings(ctx, &securityhub.BatchImportFindingsInput{Findings: fs})
		if err != nil {
			t.Fatalf("BatchImportFindings: %v", err)
		}
		return out
	}

	a, b := shFinding("222222222222", "a"), shFinding("222222222222", "b")
	if out := imp(prod, a, b); aws.ToInt32(out.SuccessCount) != 2 || len(out.FailedFindings) != 0 {
		t.Fatalf("import of 2 valid findings: success %d, failed %v", aws.ToInt32(out.SuccessCount), failed(out))
	}

	noTitle := shFinding("222222222222", "c")
	noTitle.Types = nil
	other := shFinding("333333333333", "d") // another account's finding and product
	foreignProduct := shFinding("222222222222", "e")
	foreignProduct.ProductArn = aws.String("arn:aws:securityhub:us-east-1:333333333333:product/333333333333/default")
	wrongRegion := shFinding("222222222222", "f")
	wrongRegion.ProductArn = aws.String("arn:aws:securityhub:eu-west-1:222222222222:product/222222222222/default")
	out := imp(prod, noTitle, other, foreignProduct, wrongRegion)
	diff(t, "FailedFindings", failed(out), []string{"c InvalidInput", "d AccessDeniedException", "e AccessDeniedException", "f InvalidInput"})

	// The customer suppresses a; an import that changes Workflow is refused, one without it
	// updates the finding and keeps the customer's Workflow.
	if _, err := mgmt.BatchUpdateFindings(ctx, &securityhub.BatchUpdateFindingsInput{
		FindingIdentifiers: []shtypes.AwsSecurityFindingIdentifier{{Id: a.Id, ProductArn: a.ProductArn}},
		Workflow:           &shtypes.WorkflowUpdate{Status: shtypes.WorkflowStatusSuppressed},
	}); err != nil {
		t.Fatalf("BatchUpdateFindings: %v", err)
	}
	withWorkflow := shFinding("222222222222", "a")
	withWorkflow.Workflow = &shtypes.Workflow{Status: shtypes.WorkflowStatusNew}
	diff(t, "FailedFindings of a Workflow change", failed(imp(prod, withWorkflow)), []string{"a InvalidInput"})
	archived := shFinding("222222222222", "a")
	archived.RecordState = shtypes.RecordStateArchived
	archived.Compliance.Status = shtypes.ComplianceStatusPassed
	if out := imp(prod, archived); len(out.FailedFindings) != 0 {
		t.Fatalf("import archiving a: failed %v", failed(out))
	}

	get := func(c *securityhub.Client, filters *shtypes.AwsSecurityFindingFilters) []string {
		t.Helper()
		var got []string
		p := securityhub.NewGetFindingsPaginator(c, &securityhub.GetFindingsInput{Filters: filters, MaxResults: aws.Int32(1)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatalf("GetFindings: %v", err)
			}
			for _, f := range page.Findings {
				got = append(got, fmt.Sprintf("%s %s %s %s", aws.ToString(f.Id), f.RecordState, f.Compliance.Status, f.Workflow.Status))
			}
		}
		return got
	}
	eq := func(v string) []shtypes.StringFilter {
		return []shtypes.StringFilter{{Value: aws.String(v), Comparison: shtypes.StringFilterComparisonEquals}}
	}
	for _, tt := range []struct {
		name    string
		client  *securityhub.Client
		filters *shtypes.AwsSecurityFindingFilters
		want    []string
	}{
		{"all, from the account", prod, nil, []string{"a ARCHIVED PASSED SUPPRESSED", "b ACTIVE FAILED NEW"}},
		{"by id, from the administrator", mgmt, &shtypes.AwsSecurityFindingFilters{Id: eq("b")}, []string{"b ACTIVE FAILED NEW"}},
		{"active", mgmt, &shtypes.AwsSecurityFindingFilters{RecordState: eq("ACTIVE")}, []string{"b ACTIVE FAILED NEW"}},
		{"other account", mgmt, &shtypes.AwsSecurityFindingFilters{AwsAccountId: eq("333333333333")}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			diff(t, "GetFindings", get(tt.client, tt.filters), tt.want)
		})
	}

	// More than 100 findings is refused as a whole.
	var many []shtypes.AwsSecurityFinding
	for i := range 101 {
		many = append(many, shFinding("222222222222", fmt.Sprintf("m%d", i)))
	}
	_, err := prod.BatchImportFindings(ctx, &securityhub.BatchImportFindingsInput{Findings: many})
	if code, msg := apiErr(t, err); code != "InvalidInputException" || !strings.Contains(msg, "at most 100") {
		t.Errorf("import of 101 findings: %s: %s, want InvalidInputException (at most 100)", code, msg)
	}
	var listed []map[string]any
	if st := getJSON(t, http.MethodGet, ts.url+"/_sandbox/accounts/222222222222/securityhub/findings", &listed); st != http.StatusOK || len(listed) != 2 {
		t.Errorf("admin findings of 222222222222: status %d, %d findings, want 200 and 2", st, len(listed))
	}
}
