package cli

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func TestIAMPolicy(t *testing.T) {
	type statement struct {
		Sid       string
		Effect    string
		Action    []string
		Resource  any
		Condition map[string]map[string]string
	}
	for _, tt := range []struct {
		mode        string
		args        []string
		wantActions []string
		wantInJSON  string
	}{
		{"scanner", nil, []string{"organizations:ListAccounts", "sts:AssumeRole", "sts:GetCallerIdentity", "iam:GetCredentialReport"}, "arn:aws:iam::*:role/KeyageAuditRole"},
		{"scanner", []string{"--role-name", "Auditor"}, []string{"sts:AssumeRole"}, "arn:aws:iam::*:role/Auditor"},
		{"remediation", nil, []string{"sns:Publish", "sqs:ReceiveMessage", "lambda:InvokeFunction", "ses:SendEmail", "config:ListDiscoveredResources"}, ""},
		{"deployer", nil, []string{"cloudformation:CreateStackSet", "cloudformation:ExecuteChangeSet", "iam:PassRole", "sns:*Topic*", "sqs:*Queue*"}, "arn:aws:sns:*:*:access-key-rotation*"},
		{"findings", nil, []string{"securityhub:BatchImportFindings"}, "arn:aws:securityhub:*:*:product/*/default"},
	} {
		t.Run(tt.mode+strings.Join(tt.args, " "), func(t *testing.T) {
			code, stdout, stderr := runCLI(t, append([]string{"iam-policy", tt.mode}, tt.args...)...)
			if code != ExitOK {
				t.Fatalf("exit %d, stderr:\n%s", code, stderr)
			}
			var doc struct {
				Version   string
				Statement []statement
			}
			dec := json.NewDecoder(bytes.NewReader([]byte(stdout)))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&doc); err != nil {
				t.Fatalf("stdout is not an IAM policy document: %v\n%s", err, stdout)
			}
			if doc.Version != "2012-10-17" || len(doc.Statement) == 0 {
				t.Errorf("policy version %q with %d statements", doc.Version, len(doc.Statement))
			}
			var actions []string
			for _, s := range doc.Statement {
				if s.Effect != "Allow" || len(s.Action) == 0 || s.Resource == nil {
					t.Errorf("statement %+v: want Allow with actions and a resource", s)
				}
				actions = append(actions, s.Action...)
			}
			for _, a := range tt.wantActions {
				if !slices.Contains(actions, a) {
					t.Errorf("%s policy lacks %s", tt.mode, a)
				}
			}
			if slices.Contains(actions, "*") || slices.Contains(actions, "iam:*") {
				t.Errorf("%s policy grants a wildcard service: %v", tt.mode, actions)
			}
			if tt.wantInJSON != "" && !strings.Contains(stdout, tt.wantInJSON) {
				t.Errorf("%s policy does not name %s", tt.mode, tt.wantInJSON)
			}
		})
	}
	for _, args := range [][]string{
		{"iam-policy", "admin"},
		{"iam-policy"},
		{"iam-policy", "scanner", "deployer"},
	} {
		code, stdout, stderr := runCLI(t, args...)
		if code != ExitUsage {
			t.Errorf("keyage %s: exit %d, want %d; stderr:\n%s", strings.Join(args, " "), code, ExitUsage, stderr)
		}
		if stdout != "" {
			t.Errorf("keyage %s printed %q on stdout", strings.Join(args, " "), stdout)
		}
	}
}
