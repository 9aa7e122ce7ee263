// Package file appends one JSON line per message to a local file, for
// local use, audits and the demo.
package file

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"

	"github.com/keyage/keyage/internal/notify"
)

// Options configure a file receiver.
type Options struct {
	// Path is the file; created when missing, appended to otherwise.
	Path string
	// Fsync flushes the file to disk after every message.
	Fsync bool
	// Mode is the permission of a new file; 0o600 when zero (messages
	// name users and keys).
	Mode fs.FileMode
}

// Notifier appends messages to one file. It is safe for concurrent use;
// each message is one write of one line, opened with O_APPEND, so lines
// from several processes do not interleave either.
type Notifier struct {
	opts Options
	mu   sync.Mutex
}

var _ notify.Notifier = (*Notifier)(nil)

// New validates opts and returns a Notifier. The file is opened on each
// message, so that it can be rotated away.
func New(opts Options) (*Notifier, error) {
	if opts.Path == "" {
		return nil, errors.New("file: path: required")
	}
	if opts.Mode == 0 {
		opts.Mode = 0o600
	}
	return &Notifier{opts: opts}, nil
}

// Notify appends m's JSON payload and a newline. A missing directory or a
// permission problem is final; other I/O errors (disk full) retry.
func (n *Notifier) Notify(ctx context.Context, m notify.Message) (retry bool, err error) {
	line, err := notify.MarshalPayload(m)
	if err != nil {
		return false, fmt.Errorf("encode message %s: %w", m.ID, err)
	}
	line = append(line, '\n')
	if err := ctx.Err(); err != nil {
		return true, fmt.Errorf("append message %s to %s: %w", m.ID, n.opts.Path, err)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.append(line); err != nil {
		retry := !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, fs.ErrPermission)
		return retry, fmt.Errorf("append message %s to %s: %w", m.ID, n.opts.Path, err)
	}
	return false, nil
}

func (n *Notifier) append(line []byte) error {
	f, err := os.OpenFile(n.opts.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, n.opts.Mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(line); err != nil {
		f.Close()
		return err
	}
	if n.opts.Fsync {
		if err := f.Sync(); err != nil {
			f.Close()
			return err
		}
	}
	return f.Close()
}
