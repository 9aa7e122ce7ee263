package progress

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

var ansi = regexp.MustCompile(`\x1b\[[0-9;]*[A-Za-z]`)

func TestBarWithLogsAbove(t *testing.T) {
	// mpb's goroutine writes while the bar is live, this one only before
	// Start and after Finish (which waits for it): a plain buffer will do.
	var out bytes.Buffer
	d := New(&out, true)
	d.refresh = 5 * time.Millisecond
	bar := d.Start("accounts")
	bar.Update(5, 10)
	fmt.Fprintln(d, "level=WARN msg=\"account denied\" account=111111111111")
	bar.Update(10, 10)
	bar.Finish()
	fmt.Fprintln(d, "level=INFO msg=after")

	lines := strings.Split(ansi.ReplaceAllString(out.String(), ""), "\n")
	var logLine, barLine, after bool
	for _, l := range lines {
		l = strings.TrimLeft(l, "\r")
		switch {
		case strings.Contains(l, "account denied"):
			logLine = true
			if !strings.HasPrefix(l, "level=WARN") {
				t.Errorf("log line %q shares its line with the bar, want it on its own line", l)
			}
		case strings.Contains(l, "10/10 accounts"):
			barLine = true
			if !strings.Contains(l, "/s") || !strings.Contains(l, "ETA") {
				t.Errorf("bar line %q, want a rate (/s) and an ETA", l)
			}
		case l == "level=INFO msg=after":
			after = true
		}
	}
	if !logLine || !barLine || !after {
		t.Errorf("output %q: log line %v, final bar %v, log after the bar %v; want all", out.String(), logLine, barLine, after)
	}
}

func TestDisabledDisplayWritesLogsOnly(t *testing.T) {
	var buf bytes.Buffer
	d := New(&buf, false)
	b := d.Start("accounts")
	b.Update(1, 2)
	fmt.Fprintln(d, "level=INFO msg=x")
	b.Finish()
	if got, want := buf.String(), "level=INFO msg=x\n"; got != want {
		t.Errorf("disabled display wrote %q, want only the log line %q", got, want)
	}
}
