package progress

import (
	"bytes"
	"strings"
	"testing"
)

func TestBar(t *testing.T) {
	var buf bytes.Buffer
	b := New(&buf, "accounts", true)
	b.Update(5, 10)
	b.Update(10, 10)
	b.Finish()
	out := buf.String()
	if !strings.Contains(out, "[###############...............] 5/10 accounts") {
		t.Errorf("half-way bar missing from %q", out)
	}
	if !strings.HasSuffix(out, "10/10 accounts\n") {
		t.Errorf("bar output %q, want it to end with the final state and a newline", out)
	}
}

func TestDisabledBarDrawsNothing(t *testing.T) {
	var buf bytes.Buffer
	b := New(&buf, "accounts", false)
	b.Update(1, 2)
	b.Finish()
	if buf.Len() != 0 {
		t.Errorf("disabled bar wrote %q, want nothing", buf.String())
	}
}
