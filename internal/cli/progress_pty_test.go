package cli

import (
	"bytes"
	"context"
	"io"
	"regexp"
	"strings"
	"testing"

	"github.com/creack/pty"
)

var ansiEscape = regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]`)

// On a terminal the scan draws a bar with rate and ETA, and log lines go
// above it, each on a line of its own.
func TestScanProgressOnTerminal(t *testing.T) {
	sandboxEnvWith(t, "testdata/org.yaml")
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal here: %v", err)
	}
	defer ptmx.Close()
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 24, Cols: 120}); err != nil {
		t.Fatal(err)
	}
	read := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(ptmx) // until the terminal closes
		read <- b
	}()
	var out bytes.Buffer
	code := Main(context.Background(), []string{"scan", "--org", "--all"}, strings.NewReader(""), &out, tty)
	tty.Close()
	screen := ansiEscape.ReplaceAllString(string(<-read), "")
	if code != ExitAccountError {
		t.Fatalf("scan --org: exit %d, want %d (one account of the fixture denies the role)\n%s", code, ExitAccountError, screen)
	}
	var bar, warn bool
	for _, line := range strings.FieldsFunc(screen, func(r rune) bool { return r == '\n' || r == '\r' }) {
		switch {
		case strings.Contains(line, "msg=\"account not scanned\""):
			warn = true
			if !strings.HasPrefix(line, "time=") || strings.Contains(line, "accounts") {
				t.Errorf("log line %q shares its line with the bar", line)
			}
		case strings.Contains(line, "accounts") && strings.Contains(line, "ETA"):
			bar = true
			if !strings.Contains(line, "/s") {
				t.Errorf("bar %q shows no rate", line)
			}
		}
	}
	if !bar || !warn {
		t.Errorf("terminal shows a bar %v and the warning %v, want both:\n%s", bar, warn, screen)
	}
	if strings.Contains(out.String(), "ETA") {
		t.Errorf("the bar went to stdout:\n%s", out.String())
	}
}
