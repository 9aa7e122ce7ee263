package sandbox

import (
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// debianAWS is the AWS CLI Debian packages (2.9): it speaks awsQuery to SQS and ignores
// AWS_ENDPOINT_URL, the strictest client the docs promise to work with.
const debianAWS = "/usr/bin/aws"

// docEndpoint is the endpoint the docs' examples use; the test serves on another port and
// rewrites it.
const docEndpoint = "http://127.0.0.1:4566"

// awsCall finds an invocation of the AWS CLI in a shell line.
var awsCall = regexp.MustCompile(`(^|[\s(;&|])aws\s`)

// shellBlocks returns the fenced ```sh blocks of a markdown file.
func shellBlocks(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var blocks []string
	var cur *strings.Builder
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case cur == nil && strings.TrimSpace(line) == "```sh":
			cur = &strings.Builder{}
		case cur != nil && strings.TrimSpace(line) == "```":
			blocks = append(blocks, cur.String())
			cur = nil
		case cur != nil:
			cur.WriteString(line + "\n")
		}
	}
	return blocks
}

// runsKeyage reports whether a shell block runs keyage (or builds it).
func runsKeyage(block string) bool {
	for _, line := range strings.Split(block, "\n") {
		if f := strings.Fields(line); len(f) > 0 && (f[0] == "keyage" || f[0] == "./keyage" || f[0] == "go") {
			return true
		}
	}
	return false
}

// TestDocsAWSCLIExamples runs the AWS CLI examples of the README and docs/sandbox.md as written,
// with Debian's awscli, against the sandbox docs/sandbox.md starts (keyage sandbox --accounts 12
// --users 40 --seed 1) with its export lines loaded. Every ```sh block that calls aws and does not
// run keyage (those blocks start the sandbox this test provides) runs as one bash script with
// errexit and pipefail; only the port differs. Every aws call in a shell block must pass
// --endpoint-url, since AWS CLI versions before 2.13 ignore AWS_ENDPOINT_URL and would call AWS.
func TestDocsAWSCLIExamples(t *testing.T) {
	docs := []string{"../../README.md", "../../docs/sandbox.md"}
	type example struct{ name, script string }
	var examples []example
	for _, doc := range docs {
		for i, block := range shellBlocks(t, doc) {
			calls := false
			for _, line := range strings.Split(block, "\n") {
				code, _, _ := strings.Cut(line, "#")
				if !awsCall.MatchString(code) {
					continue
				}
				calls = true
				if !strings.Contains(code, "aws --endpoint-url ") {
					t.Errorf("%s block %d: %q calls the AWS CLI without --endpoint-url (before 2.13 it ignores AWS_ENDPOINT_URL)", doc, i+1, line)
				}
			}
			if calls && !runsKeyage(block) {
				examples = append(examples, example{filepath.Base(doc) + "#" + strconv.Itoa(i+1), block})
			}
		}
	}
	if len(examples) < 2 {
		t.Fatalf("found %d AWS CLI example blocks in %v, want the README's and docs/sandbox.md's", len(examples), docs)
	}
	if _, err := os.Stat(debianAWS); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing; CI installs Debian's awscli (.ci/run): %v", debianAWS, err)
		}
		t.Skipf("%s (Debian's awscli) is not installed: apt-get install awscli to run the docs' AWS CLI examples", debianAWS)
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash is not installed")
	}

	// The directory first on PATH holds only aws, Debian's, whatever other aws the machine has.
	bin := t.TempDir()
	if err := os.Symlink(debianAWS, filepath.Join(bin, "aws")); err != nil {
		t.Fatal(err)
	}
	for _, ex := range examples {
		t.Run(ex.name, func(t *testing.T) {
			t.Parallel() // the CLI takes seconds to start
			srv, err := New(Options{Fixture: Generate(GenerateOptions{Accounts: 12, Users: 40, Seed: 1})})
			if err != nil {
				t.Fatal(err)
			}
			hs := httptest.NewServer(srv)
			t.Cleanup(hs.Close)
			script := "set -euo pipefail\n" + ExportLines(hs.URL, srv, "") + strings.ReplaceAll(ex.script, docEndpoint, hs.URL)
			cmd := exec.Command(bash, "-c", script)
			cmd.Dir = t.TempDir()
			cmd.Env = []string{"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH"), "HOME=" + cmd.Dir,
				"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_PAGER=", "LANG=C.UTF-8"}
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%s: %v\n--- script\n%s\n--- output\n%s", ex.name, err, script, out)
			}
			if strings.Contains(string(out), "Unable to parse") || strings.Contains(string(out), "An error occurred") {
				t.Errorf("%s printed an AWS error:\n%s", ex.name, out)
			}
		})
	}
}
