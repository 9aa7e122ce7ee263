package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// sdk returns an AWS config acting as the sandbox's management account, from
// the environment sandboxEnv set.
func sdk(t *testing.T) aws.Config {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func queueBodies(t *testing.T, url string) []map[string]any {
	t.Helper()
	client := sqs.NewFromConfig(sdk(t))
	var out []map[string]any
	for {
		r, err := client.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Messages) == 0 {
			return out
		}
		for _, m := range r.Messages {
			var body map[string]any
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &body); err != nil {
				body = map[string]any{"raw": aws.ToString(m.Body)}
			}
			out = append(out, body)
			if _, err := client.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// The seed end to end: exactly one message per NON_COMPLIANT user reaches
// the central topic, and its subscribed queue receives each in the SNS
// envelope with message attributes, the text byte for byte the seed's.
func TestCentralTopicEndToEnd(t *testing.T) {
	srv := sandboxEnvWith(t, "testdata/hub-org.yaml")
	dir := t.TempDir()
	endpoint := sdk(t).BaseEndpoint
	cfg := writeConfig(t, `
accounts: {organization: true}
receivers:
  - name: central-topic
    sns: {topicArn: "arn:aws:sns:us-east-1:111111111111:access-key-rotation"}
routes:
  - receivers: [central-topic]
`)
	state := filepath.Join(dir, "keyage.db")
	code, out, stderr := runCLI(t, "run", "--config", cfg, "--state", state, "--log-level", "error")
	if code != ExitOK {
		t.Fatalf("run: exit %d\n%s\n%s", code, out, stderr)
	}
	bodies := queueBodies(t, aws.ToString(endpoint)+"/111111111111/central-queue")
	seed := regexp.MustCompile(`^Account "(\d{12})" User "([^"]+)" needs to rotate their access key\.$`)
	var users []string
	for _, b := range bodies {
		if b["Type"] != "Notification" || b["TopicArn"] != "arn:aws:sns:us-east-1:111111111111:access-key-rotation" || b["MessageId"] == "" {
			t.Errorf("not an SNS envelope from the central topic: %v", b)
		}
		msg, _ := b["Message"].(string)
		m := seed.FindStringSubmatch(msg)
		if m == nil {
			t.Errorf("message %q is not the seed's text", msg)
			continue
		}
		users = append(users, m[1]+"/"+m[2])
		attrs, _ := b["MessageAttributes"].(map[string]any)
		user, _ := attrs["userName"].(map[string]any)
		stage, _ := attrs["stage"].(map[string]any)
		if user["Type"] != "String" || user["Value"] != m[2] || stage["Value"] != "expired" {
			t.Errorf("message attributes of %s = %v", m[2], attrs)
		}
	}
	sort.Strings(users)
	want := []string{"222222222222/alice", "222222222222/bob", "333333333333/dave"}
	if strings.Join(users, " ") != strings.Join(want, " ") {
		t.Errorf("central topic delivered for %v, want exactly one per NON_COMPLIANT user %v", users, want)
	}
	if n := len(srv.Published()); n != 3 {
		t.Errorf("%d publishes, want 3", n)
	}
	// Ten runs in a row send nothing new.
	for range 3 {
		if code, out, _ := runCLI(t, "run", "--config", cfg, "--state", state, "--log-level", "error"); code != ExitOK || !strings.Contains(out, "0 notifications queued") {
			t.Fatalf("rerun sent again (exit %d):\n%s", code, out)
		}
	}
	if n := len(srv.Published()); n != 3 {
		t.Errorf("after reruns %d publishes, want still 3", n)
	}
}

// Publishing to a topic whose policy does not allow the caller's account
// fails the executions with AWS's error; the other receiver still delivers.
func TestCrossAccountPublishRefused(t *testing.T) {
	sandboxEnvWith(t, "testdata/hub-org.yaml")
	dir := t.TempDir()
	cfg := writeConfig(t, fmt.Sprintf(`
accounts: {organization: true}
remediation: {maximumAutomaticAttempts: 2, retryAttemptSeconds: 1}
receivers:
  - name: private
    sns: {topicArn: "arn:aws:sns:us-east-1:222222222222:private-topic"}
  - name: local
    file: {path: %q}
routes:
  - receivers: [private, local]
`, filepath.Join(dir, "local.jsonl")))
	state := filepath.Join(dir, "keyage.db")
	code, out, stderr := runCLI(t, "run", "--config", cfg, "--state", state, "--log-level", "error")
	if code != ExitAccountError || !strings.Contains(stderr, "3 notifications failed") {
		t.Fatalf("run: exit %d\n%s\n%s", code, out, stderr)
	}
	if n := len(jsonLines(t, filepath.Join(dir, "local.jsonl"))); n != 3 {
		t.Errorf("the other receiver got %d messages, want 3", n)
	}
	code, out, _ = runCLI(t, "executions", "--state", state, "--status", "FAILED")
	if code != ExitOK || strings.Count(out, "FAILED") != 3 || !strings.Contains(out, "private: ") || !strings.Contains(out, "AuthorizationError") {
		t.Errorf("failed executions:\n%s", out)
	}
}

// keyage remediate resolves a lone resourceId with AWS Config, or with IAM
// where Config has no record, as the seed's first step does.
func TestRemediateResolvesResourceID(t *testing.T) {
	sandboxEnvWith(t, "testdata/hub-org.yaml")
	dir := t.TempDir()
	cfg := writeConfig(t, fmt.Sprintf("accounts: {organization: true}\nreceivers: [{name: local, file: {path: %q}}]\nroutes: [{receivers: [local]}]\n", filepath.Join(dir, "local.jsonl")))
	state := filepath.Join(dir, "keyage.db")
	for _, tt := range []struct{ account, user, via string }{
		{"222222222222", "alice", "via config:ListDiscoveredResources"},
		{"333333333333", "dave", "via iam:ListUsers (AWS Config has no record)"},
	} {
		id := userID(t, tt.account, tt.user)
		code, out, stderr := runCLI(t, "remediate", "--config", cfg, "--state", state, "--account", tt.account, "--resource-id", id, "--log-level", "error")
		if code != ExitOK || !strings.Contains(out, tt.account+" "+tt.user+" ("+id+"): NON_COMPLIANT; 1 notification, 1 sent") {
			t.Fatalf("remediate %s: exit %d\n%s\n%s", tt.user, code, out, stderr)
		}
		code, out, _ = runCLI(t, "executions", "--state", state, "-o", "json")
		if code != ExitOK || !strings.Contains(out, `user name \"`+tt.user+`\" `+tt.via) {
			t.Errorf("execution of %s does not say %q:\n%s", tt.user, tt.via, out)
		}
	}
	code, _, stderr := runCLI(t, "remediate", "--config", cfg, "--state", state, "--account", "222222222222", "--resource-id", "AIDANOSUCHUSER000000", "--log-level", "error")
	if code != ExitNothingDone {
		t.Errorf("an unknown resourceId (never seen, not in IAM) should say so and exit %d: %d %s", ExitNothingDone, code, stderr)
	}
}

// userID reads a user's UserId through the audit role, as AWS Config would
// pass it.
func userID(t *testing.T, account, user string) string {
	t.Helper()
	cfg := sdk(t)
	if account != "111111111111" {
		assumed, err := assume(cfg, account)
		if err != nil {
			t.Fatal(err)
		}
		cfg = assumed
	}
	out, err := iam.NewFromConfig(cfg).GetUser(context.Background(), &iam.GetUserInput{UserName: aws.String(user)})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.User.UserId)
}

// Each AWS receiver against the sandbox: SQS, Lambda, SES.
func TestAWSReceivers(t *testing.T) {
	srv := sandboxEnvWith(t, "testdata/hub-org.yaml")
	dir := t.TempDir()
	endpoint := aws.ToString(sdk(t).BaseEndpoint)
	cfg := writeConfig(t, fmt.Sprintf(`
accounts: {ids: ["222222222222"]}
receivers:
  - name: queue
    sqs: {queueUrl: %q}
    format: json
  - name: fn
    lambda: {functionName: keyage-notify}
  - name: mail
    email: {ses: {region: us-east-1}, from: keyage@example.com, to: ["{{ .Owner }}"]}
owners: {fallback: [queue]}
routes:
  - receivers: [queue, fn, mail]
`, endpoint+"/111111111111/keys-queue"))
	code, out, stderr := runCLI(t, "run", "--config", cfg, "--state", filepath.Join(dir, "keyage.db"), "--log-level", "error")
	if code != ExitOK {
		t.Fatalf("run: exit %d\n%s\n%s", code, out, stderr)
	}
	bodies := queueBodies(t, endpoint+"/111111111111/keys-queue")
	if len(bodies) != 2 { // alice and bob; bob's owner-unknown fallback to the same queue is not sent twice
		t.Errorf("queue got %d messages, want 2: %v", len(bodies), bodies)
	}
	for _, b := range bodies {
		if items, _ := b["items"].([]any); b["kind"] != "finding" || len(items) != 1 {
			t.Errorf("json body = %v, want one finding item", b)
		}
	}
	if inv := srv.Invocations(); len(inv) != 2 || !strings.Contains(inv[0].Payload, `"accessKeyId"`) {
		t.Errorf("lambda invocations = %+v", inv)
	}
	mails := srv.Emails()
	if len(mails) != 1 || len(mails[0].To) != 1 || mails[0].To[0] != "alice@example.com" || !strings.Contains(mails[0].Text, `User "alice" needs to rotate`) {
		t.Errorf("emails = %+v, want one to alice's owner tag", mails)
	}
	if !strings.Contains(out, "Owner unknown (1 user;") {
		t.Errorf("summary does not list the owner-unknown user:\n%s", out)
	}
}

func assume(base aws.Config, account string) (aws.Config, error) {
	return assumeAs(base, account, "KeyageAuditRole")
}

// assumeAs returns base acting in account through the role.
func assumeAs(base aws.Config, account, role string) (aws.Config, error) {
	p := stscreds.NewAssumeRoleProvider(sts.NewFromConfig(base), "arn:aws:iam::"+account+":role/"+role)
	cfg := base.Copy()
	cfg.Credentials = aws.NewCredentialsCache(p)
	_, err := cfg.Credentials.Retrieve(context.Background())
	return cfg, err
}
