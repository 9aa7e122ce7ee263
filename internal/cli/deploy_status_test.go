package cli

import (
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
)

// deploy status prints exactly the format asked for on stdout, before and
// after a deployment.
func TestDeployStatusFormats(t *testing.T) {
	deploySandbox(t, deployOrg)
	check := func(t *testing.T, deployed bool) {
		for _, tt := range []struct {
			format string
			check  func(t *testing.T, out string)
		}{
			{"json", func(t *testing.T, out string) {
				var d struct {
					StackName string
					Stack     *struct{ Status string }
					StackSet  *struct {
						Status    string
						Instances []struct{ Account, Region, Status string }
					}
				}
				if err := json.Unmarshal([]byte(out), &d); err != nil {
					t.Fatalf("deploy status -o json is not JSON: %v\n%s", err, out)
				}
				if d.StackName != "AccessKeyRotationMaster" || (d.Stack != nil) != deployed || (d.StackSet != nil) != deployed {
					t.Fatalf("deploy status -o json = %+v, want the stack and StackSet deployed=%v", d, deployed)
				}
				if deployed && (d.Stack.Status != "CREATE_COMPLETE" || len(d.StackSet.Instances) != 1 || d.StackSet.Instances[0].Account != "222222222222" || d.StackSet.Instances[0].Status != "CURRENT") {
					t.Errorf("deploy status -o json = %s", out)
				}
			}},
			{"csv", func(t *testing.T, out string) {
				rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
				if err != nil {
					t.Fatalf("deploy status -o csv is not CSV: %v\n%s", err, out)
				}
				var got []string
				for _, r := range rows[1:] {
					got = append(got, r[0]+" "+r[2]+" "+r[5])
				}
				want := "stack  NOT_DEPLOYED|stackset  NOT_DEPLOYED"
				if deployed {
					want = "stack  CREATE_COMPLETE|stackset  ACTIVE|instance 222222222222 CURRENT"
				}
				if rows[0][0] != "kind" || strings.Join(got, "|") != want {
					t.Errorf("deploy status -o csv rows = %q, want %q", got, want)
				}
			}},
			{"table", func(t *testing.T, out string) {
				want := "Master stack AccessKeyRotationMaster: not deployed"
				if deployed {
					want = "Master stack AccessKeyRotationMaster: CREATE_COMPLETE"
				}
				if !strings.Contains(out, want) {
					t.Errorf("deploy status -o table lacks %q:\n%s", want, out)
				}
			}},
		} {
			t.Run(tt.format, func(t *testing.T) {
				out, _ := mustRun(t, ExitOK, "deploy", "status", "-o", tt.format)
				tt.check(t, out)
			})
		}
	}
	t.Run("not deployed", func(t *testing.T) { check(t, false) })
	_, masterErr := mustRun(t, ExitOK, "deploy", "master", "--target-accounts", "222222222222")
	mustRun(t, ExitOK, append([]string{"deploy", "targets", "--topic-arn", masterTopic, "--accounts", "222222222222", "--regions", "us-east-1",
		"--audit-role-name", "KeyageStackSetAudit"}, topicKeyFlag(t, masterErr)...)...)
	t.Run("deployed", func(t *testing.T) { check(t, true) })
	if code, _, stderr := runCLI(t, "deploy", "status", "-o", "yaml"); code != ExitUsage {
		t.Errorf("deploy status -o yaml: exit %d, want %d: %s", code, ExitUsage, stderr)
	}
}
