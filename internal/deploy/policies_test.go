package deploy

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	cfn "github.com/awslabs/goformation/v7/cloudformation"
	"github.com/awslabs/goformation/v7/cloudformation/iam"
)

func TestPolicy(t *testing.T) {
	for _, mode := range PolicyModes {
		t.Run(mode, func(t *testing.T) {
			doc, err := Policy(mode, PolicyOptions{})
			if err != nil {
				t.Fatal(err)
			}
			sids := map[string]bool{}
			for _, s := range doc.Statement {
				if s.Sid == "" || sids[s.Sid] {
					t.Errorf("Policy(%s): statement Sid %q empty or repeated", mode, s.Sid)
				}
				sids[s.Sid] = true
				for _, a := range s.Action {
					service, action, ok := strings.Cut(a, ":")
					if !ok || service == "" || action == "" || action == "*" {
						t.Errorf("Policy(%s): action %q is not service:Action, or is a whole service", mode, a)
					}
				}
			}
		})
	}
	if _, err := Policy("admin", PolicyOptions{}); err == nil {
		t.Error(`Policy("admin") succeeded, want an error`)
	}
}

// TestScannerReadsWhatTheAuditRoleAllows checks the scanner's own-account
// reads and the audit role of the target template are the same list.
func TestScannerReadsWhatTheAuditRoleAllows(t *testing.T) {
	doc, err := Policy(ModeScanner, PolicyOptions{AuditRoleName: "Auditor"})
	if err != nil {
		t.Fatal(err)
	}
	var own []string
	assumes := ""
	for _, s := range doc.Statement {
		if slices.Contains(s.Action, "sts:AssumeRole") {
			assumes, _ = s.Resource.(string)
		}
		if s.Sid == "ReadOwnAccount" {
			own = s.Action
		}
	}
	if !slices.Equal(own, AuditReadActions) {
		t.Errorf("scanner reads its own account with %v, want %v", own, AuditReadActions)
	}
	if assumes != "arn:aws:iam::*:role/Auditor" {
		t.Errorf("scanner assumes %q, want arn:aws:iam::*:role/Auditor", assumes)
	}
}

// Every ARN of every policy is in the partition asked for.
func TestPolicyPartition(t *testing.T) {
	for _, partition := range Partitions {
		for _, mode := range PolicyModes {
			t.Run(partition+"/"+mode, func(t *testing.T) {
				doc, err := Policy(mode, PolicyOptions{Partition: partition})
				if err != nil {
					t.Fatal(err)
				}
				arns := 0
				for _, s := range doc.Statement {
					var resources []string
					switch r := s.Resource.(type) {
					case string:
						resources = []string{r}
					case []string:
						resources = r
					}
					for _, r := range resources {
						if !strings.HasPrefix(r, "arn:") {
							continue
						}
						arns++
						if got := strings.Split(r, ":")[1]; got != partition {
							t.Errorf("Policy(%s, %s): %s is in partition %q", mode, partition, r, got)
						}
					}
				}
				if mode != ModeRemediation && arns == 0 {
					t.Errorf("Policy(%s): no ARNs to check", mode)
				}
			})
		}
	}
	if _, err := Policy(ModeScanner, PolicyOptions{Partition: "aws-mars"}); err == nil || !strings.Contains(err.Error(), `partition "aws-mars"`) {
		t.Errorf("unknown partition: %v", err)
	}
}

func TestAdministrationRoleARN(t *testing.T) {
	for _, tt := range []struct{ topic, want string }{
		{"arn:aws:sns:us-east-1:111111111111:access-key-rotation", "arn:aws:iam::111111111111:role/AWSCloudFormationStackSetAdministrationRole"},
		{"arn:aws-us-gov:sns:us-gov-west-1:111111111111:t", "arn:aws-us-gov:iam::111111111111:role/AWSCloudFormationStackSetAdministrationRole"},
		{"arn:aws-cn:sns:cn-north-1:111111111111:t", "arn:aws-cn:iam::111111111111:role/AWSCloudFormationStackSetAdministrationRole"},
	} {
		if got := administrationRoleARN(tt.topic, "111111111111"); got != tt.want {
			t.Errorf("administrationRoleARN(%s) = %s, want %s", tt.topic, got, tt.want)
		}
	}
}

// The enforcement role the target template deploys has exactly the enforcer policy "keyage
// iam-policy enforcer" prints.
func TestEnforceRoleIsTheEnforcerPolicy(t *testing.T) {
	doc, _, got := roleAndPolicy(t, LogicalEnforceRole, ModeEnforcer)
	// Two statements since issue 17: the users' keys, and keyage rotate's secrets.
	if len(got) != 2 || len(doc.Statement) != 2 || !slices.Equal(got[0].Action, doc.Statement[0].Action) || got[0].Sid != doc.Statement[0].Sid ||
		!slices.Equal(got[1].Action, doc.Statement[1].Action) || got[1].Sid != doc.Statement[1].Sid {
		t.Errorf("enforce role statements = %+v, want the enforcer policy's %+v", got, doc.Statement)
	}
	if r := fmt.Sprint(got[0].Resource); r != cfn.Sub("arn:${AWS::Partition}:iam::*:user/*") {
		t.Errorf("enforce role resource = %s, want IAM users only", r)
	}
}

// The findings role the target template deploys has exactly the findings policy "keyage
// iam-policy findings" prints.
func TestFindingsRoleIsTheFindingsPolicy(t *testing.T) {
	doc, role, got := roleAndPolicy(t, LogicalFindingsRole, ModeFindings)
	if role.AWSCloudFormationCondition != CondFindings {
		t.Errorf("findings role condition = %q, want %q (created only when asked for)", role.AWSCloudFormationCondition, CondFindings)
	}
	if len(got) != 1 || len(doc.Statement) != 1 || !slices.Equal(got[0].Action, doc.Statement[0].Action) || got[0].Sid != doc.Statement[0].Sid {
		t.Errorf("findings role statements = %+v, want the findings policy's %+v", got, doc.Statement)
	}
	if r, want := fmt.Sprint(got[0].Resource), cfn.Sub("arn:${AWS::Partition}:securityhub:*:*:product/*/default"); r != want {
		t.Errorf("findings role resource = %s, want %s (the default product only)", r, want)
	}
}

// roleAndPolicy returns the policy "keyage iam-policy <mode>" prints, and the target
// template's role logical with the statements of its one policy.
func roleAndPolicy(t *testing.T, logical, mode string) (doc PolicyDocument, role *iam.Role, got []Statement) {
	t.Helper()
	doc, err := Policy(mode, PolicyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	role, ok := Target().Resources[logical].(*iam.Role)
	if !ok || len(role.Policies) != 1 {
		t.Fatalf("target template: %s is not a role with one policy", logical)
	}
	return doc, role, role.Policies[0].PolicyDocument.(PolicyDocument).Statement
}
