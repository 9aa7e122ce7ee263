package cli

import (
	"os"
	"strings"
	"testing"
)

// TestDeploymentDocExamples parses every keyage command of docs/deployment.md's sh blocks
// (continuation lines joined, comments dropped) as keyage would, without running it; the
// iam-policy examples, which need no AWS, it runs.
func TestDeploymentDocExamples(t *testing.T) {
	b, err := os.ReadFile("../../docs/deployment.md")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, cmd := range shellCommands(string(b)) {
		argv := strings.Fields(cmd)
		if len(argv) == 0 || argv[0] != "keyage" {
			continue
		}
		n++
		if argv[1] == "iam-policy" { // needs no AWS: run it
			if code, _, stderr := runCLI(t, argv[1:]...); code != ExitOK {
				t.Errorf("docs/deployment.md %q: exit %d\n%s", cmd, code, stderr)
			}
			continue
		}
		checkFlags(t, "docs/deployment.md", argv[1:])
	}
	if n < 10 {
		t.Errorf("docs/deployment.md: %d keyage examples found, want every one of the sh blocks", n)
	}
	if !strings.Contains(string(b), "--enable-enforcement\n") {
		t.Error("docs/deployment.md has no deploy targets --enable-enforcement example")
	}
}

// shellCommands returns the commands of the ```sh blocks of a Markdown text.
func shellCommands(md string) []string {
	var out []string
	in, cur := false, ""
	for _, line := range strings.Split(md, "\n") {
		switch {
		case strings.HasPrefix(line, "```sh"):
			in = true
		case strings.HasPrefix(line, "```"):
			in = false
		case in:
			line, _, _ = strings.Cut(line, " #")
			line = strings.TrimSpace(line)
			if c, ok := strings.CutSuffix(line, "\\"); ok {
				cur += c + " "
				continue
			}
			out = append(out, cur+line)
			cur = ""
		}
	}
	return out
}
