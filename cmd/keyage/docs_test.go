package main

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/keyage/keyage/internal/deploy"
	"github.com/keyage/keyage/internal/sandbox"
)

// asKeyage, set in the environment, makes the test binary run keyage's main.
const asKeyage = "KEYAGE_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(asKeyage) == "1" {
		main() // exits
	}
	os.Exit(m.Run())
}

// docFiles are the documents whose shell examples TestDocsExamples runs:
// the README and what docs/ holds.
func docFiles(t *testing.T, root string) []string {
	t.Helper()
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil || len(docs) == 0 {
		t.Fatalf("docs/*.md: %v files, error %v", len(docs), err)
	}
	return append([]string{filepath.Join(root, "README.md")}, docs...)
}

// skipped are the shell example lines that are not run, each matched by a
// substring of the line, with the reason. A line outside keyage that no
// entry covers fails the test, and so does an entry that matches nothing:
// a new example gets a decision, an old reason does not outlive its line.
var skipped = []struct{ match, reason string }{
	{"go build -o keyage", "builds the binary (the test's keyage, on PATH and at ./keyage, is this test binary running main); README's ./keyage demo after it serves on the fixed port 8080 until Ctrl-C"},
	{"go test ./...", "runs the test suite this test is part of"},
	{"AWS_PROFILE=management", "needs the AWS profile management of a real organization"},
	{"--ou ou-ab12-34cd56ef", "needs the OU ou-ab12-34cd56ef of a real organization"},
	{"keyage sandbox --accounts 20 --users 50 >sandbox.env &", "listens on the fixed port 4566; the test serves the same sandbox on port 0 and exports its lines"},
	{"keyage sandbox --accounts 12 --users 40 --seed 1 >sandbox.env &", "listens on the fixed port 4566; the test serves the same sandbox on port 0 and exports its lines"},
	{"keyage sandbox --listen 127.0.0.1:4566", "serves until interrupted, on a fixed port"},
	{"until grep -q '^# management account' sandbox.env", "waits for the backgrounded sandbox (skipped above)"},
	{". ./sandbox.env", "loads the backgrounded sandbox's exports (the test sets the same environment)"},
	{"export AWS_", "sandbox.env's contents, shown as output"},
	{"keyage serve", "serves until interrupted, on a fixed port (8080 or 0.0.0.0:8080); internal/cli tests serve on port 0"},
	{"--events-queue https://sqs...", "the queue URL is elided (https://sqs.../keyage-events)"},
	{"--resource-id AIDA...", "the resourceId is elided (AIDA...)"},
	{"--key AKIA...", "the access key id is elided (AKIA...)"},
	{"--accounts 111111111111,222222222222", "needs accounts 111111111111 and 222222222222 of a real organization"},
	{"--accounts 222222222222,333333333333 --regions", "needs accounts 222222222222 and 333333333333 of a real organization, with the StackSet execution role (the preflight exits 3 without it)"},
	{"keyage deploy master --organization-id o-abcdefghij", "needs a real organization id and an e-mail subscription"},
	{"--topic-arn ARN", "the topic ARN is elided (ARN)"},
	{"docker ", "needs Docker and the published image"},
	{"openssl rand", "part of the Docker example"},
	{"kubectl ", "needs a Kubernetes cluster"},
	{"aws ", "needs the AWS CLI, which is not a test dependency (docs/sandbox.md's session is checked by hand)"},
	{"curl -s http://127.0.0.1:4566", "needs the sandbox on its fixed port 4566"},
}

// partial is why org-wide examples exit 1 against the sandbox.
const partial = "the sandbox organization has one account (catalog-dev) whose audit role denies keyage: one account not scanned, the rest done"

// exitCodes are the examples that exit non-zero by design; the first match
// applies.
var exitCodes = []struct {
	match  string
	code   int
	reason string
}{
	{"scan --org", 1, partial}, // with --fail-on too: 1 wins over 3
	{"keyage run --config keyage.yaml", 1, partial},
	{"keyage enforce --config keyage.yaml", 1, partial},
	// The sandbox's generated organization has KeyageAuditRole in every
	// account already (as an account the StackSet reached would), so the
	// single-account stack collides and rolls back, as docs/deployment.md
	// says; TestDeployAccountStack deploys it into an account without it.
	// Account 222222222222 stands for the reader's own account; the
	// docs' sandbox organization is generated and has no such account, so
	// preflight cannot assume its execution role and stops (exit 3) before
	// anything is deployed. TestDeployScanRemediateEnforceEndToEnd deploys
	// with the enforcement role.
	{"--accounts 222222222222 --regions us-east-1 --enable-enforcement", 3, "account 222222222222 is not in the docs' sandbox"},
	{"deploy target --account-stack", 1, "KeyageAuditRole exists in the sandbox's accounts"},
}

// docsConfig is the reader's keyage.yaml in the examples' directory.
const docsConfig = `accounts: {organization: true}
receivers:
  - name: central-topic
    file: {path: notifications.jsonl}
routes:
  - receivers: [central-topic]
lifecycle: {deactivateAge: 100, deleteAge: 110}
`

var blockRE = regexp.MustCompile("(?ms)^```(?:sh|bash|shell|console)\n(.*?)^```")

// example is one command line of a shell example.
type example struct {
	file string
	line int
	cmd  string
}

func docExamples(t *testing.T, root string) map[string][]example {
	t.Helper()
	byFile := map[string][]example{}
	for _, p := range docFiles(t, root) {
		rel, _ := filepath.Rel(root, p)
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("read %s: %v", rel, err)
		}
		for _, m := range blockRE.FindAllSubmatchIndex(data, -1) {
			first := strings.Count(string(data[:m[2]]), "\n") + 1
			byFile[rel] = append(byFile[rel], commands(rel, first, string(data[m[2]:m[3]]))...)
		}
	}
	return byFile
}

// commands are the command lines of one shell block starting at line first:
// continued lines (a trailing \ or |) joined, comments and blanks left out.
func commands(file string, first int, block string) []example {
	var out []example
	lines := strings.Split(block, "\n")
	for i := 0; i < len(lines); i++ {
		start, cmd := first+i, strings.TrimSpace(lines[i])
		for (strings.HasSuffix(cmd, `\`) || strings.HasSuffix(cmd, "|")) && i+1 < len(lines) {
			i++
			cmd = strings.TrimSpace(strings.TrimSuffix(cmd, `\`)) + " " + strings.TrimSpace(lines[i])
		}
		if cmd != "" && !strings.HasPrefix(cmd, "#") {
			out = append(out, example{file, start, cmd})
		}
	}
	return out
}

// isKeyage reports whether cmd runs keyage (after environment assignments).
func isKeyage(cmd string) bool {
	for _, w := range strings.Fields(cmd) {
		if strings.Contains(w, "=") && !strings.HasPrefix(w, "-") {
			continue
		}
		return w == "keyage" || w == "./keyage"
	}
	return false
}

// TestDocsExamples runs every shell example of the README and docs/ that
// does not need real AWS, with sh, keyage's main and a sandbox organization
// (keyage sandbox's default one) in the environment its export lines set.
func TestDocsExamples(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs the docs' examples")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	// The test binary is keyage when asKeyage is set (TestMain): the same
	// main, without a 30-second link of a second binary.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	if err := os.Symlink(self, filepath.Join(bin, "keyage")); err != nil {
		t.Fatal(err)
	}
	env := append(sandboxEnv(t, bin), asKeyage+"=1")
	used := make([]bool, len(skipped))
	for _, examples := range docExamples(t, root) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "keyage.yaml"), []byte(docsConfig), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Join(bin, "keyage"), filepath.Join(dir, "keyage")); err != nil {
			t.Fatal(err)
		}
		for _, ex := range examples {
			name := fmt.Sprintf("%s:%d", ex.file, ex.line)
			if i := skipIndex(ex.cmd); i >= 0 {
				used[i] = true
				t.Logf("%s skipped (%s): %s", name, skipped[i].reason, ex.cmd)
				continue
			}
			if !isKeyage(ex.cmd) {
				t.Errorf("%s: %q is not a keyage command and has no entry in skipped: run it here or say why not", name, ex.cmd)
				continue
			}
			want := 0
			for _, c := range exitCodes {
				if strings.Contains(ex.cmd, c.match) {
					want = c.code
					break
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			cmd := exec.CommandContext(ctx, "sh", "-c", ex.cmd)
			cmd.Dir, cmd.Env = dir, env
			began := time.Now()
			out, err := cmd.CombinedOutput()
			cancel()
			t.Logf("%s ran in %v: %s", name, time.Since(began).Round(time.Millisecond), ex.cmd)
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Errorf("%s: %s: %v", name, ex.cmd, err)
				continue
			}
			if code != want {
				t.Errorf("%s: %s: exit %d, want %d\n%s", name, ex.cmd, code, want, tail(out, 2000))
			}
		}
	}
	for i, u := range used {
		if !u {
			t.Errorf("skipped entry %q (%s) matches no example: remove it", skipped[i].match, skipped[i].reason)
		}
	}
}

func skipIndex(cmd string) int {
	for i, s := range skipped {
		if strings.Contains(cmd, s.match) {
			return i
		}
	}
	return -1
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// sandboxEnv serves a sandbox organization like keyage sandbox's default one
// on a free port and returns the environment its export lines set, with
// bin first on PATH and no shared AWS config of the machine's user.
func sandboxEnv(t *testing.T, bin string) []string {
	t.Helper()
	fx := sandbox.Generate(sandbox.GenerateOptions{Accounts: 12, Users: 40, Seed: 1})
	policies, err := deploy.RolePolicies(deploy.PolicyOptions{AuditRoleName: fx.AuditRoleName})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sandbox.New(sandbox.Options{Fixture: fx, Seed: 1, DefaultRolePolicies: policies})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	home := t.TempDir()
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "AWS_") || k == "HOME" || k == "PATH" {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "HOME="+home, "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"AWS_CONFIG_FILE="+filepath.Join(home, "aws-config"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(home, "aws-credentials"))
	for _, line := range strings.Split(sandbox.ExportLines(hs.URL, srv, "us-east-1"), "\n") {
		if kv, ok := strings.CutPrefix(line, "export "); ok {
			env = append(env, kv)
		}
	}
	return env
}
