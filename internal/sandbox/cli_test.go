package sandbox

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestAWSCLI drives the sandbox with the AWS CLI. It is opt-in (KEYAGE_TEST_AWS_CLI=1) because
// the CLI is not always installed and is slow to start.
func TestAWSCLI(t *testing.T) {
	if os.Getenv("KEYAGE_TEST_AWS_CLI") == "" {
		t.Skip("set KEYAGE_TEST_AWS_CLI=1 to run the AWS CLI against the sandbox")
	}
	if _, err := exec.LookPath("aws"); err != nil {
		t.Skip("aws not on PATH")
	}
	ts := newTestSandbox(t, Options{})
	id, secret := ts.ManagementCredentials()
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"sts", "get-caller-identity"}, `"Account": "111111111111"`},
		{[]string{"organizations", "list-accounts"}, `"Id": "555555555555"`},
		{[]string{"iam", "list-users"}, `"UserName": "admin.ops"`},
		{[]string{"iam", "generate-credential-report"}, `"State": "STARTED"`},
		{[]string{"sts", "assume-role", "--role-arn", "arn:aws:iam::222222222222:role/KeyageAuditRole", "--role-session-name", "cli"},
			`"Arn": "arn:aws:sts::222222222222:assumed-role/KeyageAuditRole/cli"`},
		{[]string{"secretsmanager", "create-secret", "--name", "keyage/access-keys/cli", "--secret-string", `{"AccessKeyId":"AKIAEXAMPLE"}`},
			`"Name": "keyage/access-keys/cli"`},
		{[]string{"secretsmanager", "get-secret-value", "--secret-id", "keyage/access-keys/cli"}, `"SecretString": "{\"AccessKeyId\":\"AKIAEXAMPLE\"}"`},
	} {
		t.Run(strings.Join(tt.args[:2], " "), func(t *testing.T) {
			cmd := exec.Command("aws", append([]string{"--endpoint-url", ts.url, "--output", "json"}, tt.args...)...)
			for _, kv := range os.Environ() {
				if !strings.HasPrefix(kv, "AWS_") || strings.HasPrefix(kv, "AWS_CA_BUNDLE=") {
					cmd.Env = append(cmd.Env, kv)
				}
			}
			cmd.Env = append(cmd.Env, "AWS_ACCESS_KEY_ID="+id, "AWS_SECRET_ACCESS_KEY="+secret, "AWS_DEFAULT_REGION=us-east-1",
				"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), tt.want) {
				t.Errorf("aws %s: %v\n%s\nwant output containing %s", strings.Join(tt.args, " "), err, out, tt.want)
			}
		})
	}
}
