package stdout

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/keyage/keyage/internal/notify"
	"github.com/keyage/keyage/internal/notify/notifytest"
)

func TestWritesJSONLines(t *testing.T) {
	var buf bytes.Buffer
	n, err := New(Options{Writer: &buf})
	if err != nil {
		t.Fatal(err)
	}
	m := notifytest.Message()
	for range 3 {
		if retry, err := n.Notify(context.Background(), m); err != nil || retry {
			t.Fatalf("Notify = %v, %v", retry, err)
		}
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 3:\n%s", len(lines), buf.String())
	}
	var p notify.Payload
	if err := json.Unmarshal([]byte(lines[0]), &p); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(notify.NewPayload(m), p); diff != "" {
		t.Errorf("line (-want +got):\n%s", diff)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

func TestWriteErrorIsFinal(t *testing.T) {
	n, _ := New(Options{Writer: failingWriter{}})
	if retry, err := n.Notify(context.Background(), notifytest.Message()); err == nil || retry {
		t.Errorf("Notify = %v, %v, want false, error", retry, err)
	}
	if _, err := New(Options{}); err == nil {
		t.Error("New(no writer) = nil error")
	}
}
