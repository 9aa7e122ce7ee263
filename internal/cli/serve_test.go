package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

func TestServeRefusesOpenListenWithoutToken(t *testing.T) {
	sandboxEnv(t)
	code, _, stderr := runCLI(t, "serve", "--listen", "0.0.0.0:0", "--state", filepath.Join(t.TempDir(), "s.db"))
	if code != ExitUsage || !strings.Contains(stderr, "refusing to listen on 0.0.0.0:0 without authentication") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	short := writeConfig(t, "") // a file with a too-short token
	code, _, stderr = runCLI(t, "serve", "--listen", "0.0.0.0:0", "--auth-token-file", short, "--state", filepath.Join(t.TempDir(), "s.db"))
	if code != ExitUsage || !strings.Contains(stderr, "at least 16 characters") {
		t.Errorf("short token: exit %d, stderr %q", code, stderr)
	}
}

func getJSON(t *testing.T, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if v != nil && resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode
}

// waitUntil checks cond after each change serve recorded (a value on recorded) until it holds.
// The 10 seconds guard against a hang; they are not a timing assertion.
func waitUntil(t *testing.T, what string, recorded <-chan struct{}, cond func() bool) {
	t.Helper()
	guard := time.NewTimer(10 * time.Second)
	defer guard.Stop()
	for !cond() {
		select {
		case <-recorded:
		case <-guard.C:
			t.Fatalf("%s: not within 10s", what)
		}
	}
}

// Change-triggered evaluation: IAM changes through the sandbox's API reach
// keyage serve as EventBridge events on SQS; only the changed user is read
// again (no credential report, no ListUsers), and the API shows the change.
func TestServeChangeTriggered(t *testing.T) {
	srv := sandboxEnvWith(t, "testdata/hub-org.yaml")
	endpoint := aws.ToString(sdk(t).BaseEndpoint)
	if err := srv.SetEventsQueue("arn:aws:sqs:us-east-1:111111111111:keys-queue"); err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, "accounts: {organization: true}\nschedule: {maximumExecutionFrequency: TwentyFour_Hours}\n")
	ctx, cancel := context.WithCancel(context.Background())
	urlc := make(chan string, 1)
	done := make(chan error, 1)
	var out, errOut bytes.Buffer
	ios := &IO{Out: &out, ErrOut: &errOut}
	ios.Logger = newTestLogger(&errOut)
	o := &serveOptions{scan: scanOptions{configPath: cfg, roleName: "KeyageAuditRole", source: "auto", output: "table", concurrency: 4, accountTimeout: "1m"},
		statePath: filepath.Join(t.TempDir(), "keyage.db"), listen: "127.0.0.1:0", eventsQueue: endpoint + "/111111111111/keys-queue",
		ready: func(u string) { urlc <- u }}
	recorded := make(chan struct{}, 1)
	o.recorded = func() {
		select {
		case recorded <- struct{}{}:
		default: // one pending signal is enough: waitUntil checks again
		}
	}
	go func() { done <- runServe(ctx, newFactory(ios), o, func(string) bool { return false }) }()
	var base string
	select {
	case base = <-urlc:
	case err := <-done:
		t.Fatalf("serve stopped: %v\n%s", err, errOut.String())
	}
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	waitUntil(t, "first scan", recorded, func() bool {
		var st struct{ Items []any }
		return getJSON(t, base+"api/v1/scans", &st) == 200 && len(st.Items) > 0
	})
	alice := userID(t, "222222222222", "alice")
	user := func(resource string) (compliance string, keys int, deleted bool) {
		var u struct {
			Evaluation *struct {
				Compliance string
				Keys       []any
			}
			Deleted bool
		}
		if getJSON(t, base+"api/v1/users/222222222222/"+resource, &u) != 200 {
			return "", 0, false
		}
		if u.Evaluation == nil {
			return "", 0, u.Deleted
		}
		return u.Evaluation.Compliance, len(u.Evaluation.Keys), u.Deleted
	}
	if c, _, _ := user(alice); c != "NON_COMPLIANT" {
		t.Fatalf("alice after the first scan: %q", c)
	}
	srv.ResetStats()

	// alice rotates: a new key, then the old one deleted.
	acfg, err := assume(sdk(t), "222222222222")
	if err != nil {
		t.Fatal(err)
	}
	client := iam.NewFromConfig(acfg)
	keys, err := client.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("alice")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("alice")}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "alice's new key", recorded, func() bool { _, n, _ := user(alice); return n == 2 })
	if _, err := client.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("alice"), AccessKeyId: keys.AccessKeyMetadata[0].AccessKeyId}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "alice compliant after rotation", recorded, func() bool { c, n, _ := user(alice); return c == "COMPLIANT" && n == 1 })

	// bob is deleted.
	bob := userID(t, "222222222222", "bob")
	if err := srv.DeleteUser("222222222222", "bob"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "bob gone", recorded, func() bool { _, _, deleted := user(bob); return deleted })

	st := srv.Stats()
	for _, api := range []string{"iam:GenerateCredentialReport", "iam:GetCredentialReport", "iam:ListUsers"} {
		if st.ByAPI[api] != 0 {
			t.Errorf("%s called %d times: a full scan ran instead of a per-user re-evaluation (%v)", api, st.ByAPI[api], st.ByAPI)
		}
	}
	if st.ByAPI["iam:GetUser"] == 0 || st.ByAPI["iam:ListAccessKeys"] == 0 {
		t.Errorf("the changed users were not re-read: %v", st.ByAPI)
	}
	// The dashboard's user page shows the change too.
	resp, err := http.Get(base + "users/222222222222/" + alice)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var page bytes.Buffer
	_, _ = page.ReadFrom(resp.Body)
	if !strings.Contains(page.String(), "COMPLIANT") || !strings.Contains(page.String(), "NON_COMPLIANT") {
		t.Errorf("user page lacks the history NON_COMPLIANT -> COMPLIANT")
	}
}
