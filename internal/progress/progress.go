// Package progress draws a one-line progress bar on a terminal.
package progress

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Bar renders "[#####.....] 12/40 accounts" on one terminal line. A nil *Bar
// is valid and draws nothing, which is what non-terminal stderr gets.
type Bar struct {
	mu    sync.Mutex
	w     io.Writer
	label string
	width int
	last  time.Time
	drawn bool
}

// New returns a bar writing to w, or nil when enabled is false.
func New(w io.Writer, label string, enabled bool) *Bar {
	if !enabled {
		return nil
	}
	return &Bar{w: w, label: label, width: 30}
}

// Update redraws the bar, at most every 50ms except for the final state.
func (b *Bar) Update(done, total int) {
	if b == nil || total <= 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	if done < total && now.Sub(b.last) < 50*time.Millisecond {
		return
	}
	b.last = now
	filled := b.width * done / total
	fmt.Fprintf(b.w, "\r[%s%s] %d/%d %s", strings.Repeat("#", filled), strings.Repeat(".", b.width-filled), done, total, b.label)
	b.drawn = true
}

// Finish ends the bar's line.
func (b *Bar) Finish() {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.drawn {
		fmt.Fprintln(b.w)
		b.drawn = false
	}
}
