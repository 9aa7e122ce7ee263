// Package stdout writes one JSON line per message to a writer, normally
// standard output, for local use and the demo.
package stdout

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/keyage/keyage/internal/notify"
)

// Options configure a stdout receiver.
type Options struct {
	// Writer receives the lines, e.g. the command's stdout.
	Writer io.Writer
}

// Notifier writes messages to one writer; safe for concurrent use.
type Notifier struct {
	mu sync.Mutex
	w  io.Writer
}

var _ notify.Notifier = (*Notifier)(nil)

// New validates opts and returns a Notifier.
func New(opts Options) (*Notifier, error) {
	if opts.Writer == nil {
		return nil, errors.New("stdout: writer: required")
	}
	return &Notifier{w: opts.Writer}, nil
}

// Notify writes m's JSON payload and a newline in one Write. A failing
// writer (closed pipe) is not retried.
func (n *Notifier) Notify(_ context.Context, m notify.Message) (retry bool, err error) {
	line, err := notify.MarshalPayload(m)
	if err != nil {
		return false, fmt.Errorf("encode message %s: %w", m.ID, err)
	}
	line = append(line, '\n')
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, err := n.w.Write(line); err != nil {
		return false, fmt.Errorf("write message %s: %w", m.ID, err)
	}
	return false, nil
}
