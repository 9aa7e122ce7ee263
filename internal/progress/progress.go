// Package progress draws progress bars on a terminal, with log lines printed
// above the live bar rather than through it.
package progress

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
)

// Display is stderr as seen by logs and bars. Logs write through it: while a
// bar is live their lines go above the bar, otherwise straight to the
// underlying writer. A Display that is not enabled (stderr is not a terminal)
// never draws a bar.
type Display struct {
	w       io.Writer
	enabled bool
	refresh time.Duration

	mu   sync.Mutex // guards live and serialises direct writes
	live *mpb.Progress
}

// New returns a display over w; enabled says whether bars are drawn.
func New(w io.Writer, enabled bool) *Display {
	return &Display{w: w, enabled: enabled, refresh: 150 * time.Millisecond}
}

// Write writes one log record: above the live bar when there is one.
func (d *Display) Write(p []byte) (int, error) {
	d.mu.Lock()
	live := d.live
	d.mu.Unlock()
	if live != nil {
		if n, err := live.Write(p); err == nil {
			return n, nil
		}
		// The bar ended between the check and the write: write directly.
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.w.Write(p)
}

// Bar is one live progress bar. A nil *Bar is valid and draws nothing, which
// is what a disabled Display hands out.
type Bar struct {
	d   *Display
	p   *mpb.Progress
	bar *mpb.Bar
}

// Start draws a bar counting label ("accounts") with its rate and an ETA.
// It returns nil when the display is not enabled.
func (d *Display) Start(label string) *Bar {
	if d == nil || !d.enabled {
		return nil
	}
	p := mpb.New(mpb.WithOutput(d.w), mpb.WithAutoRefresh(), mpb.WithRefreshRate(d.refresh), mpb.WithWidth(30))
	bar := p.AddBar(0,
		mpb.PrependDecorators(decor.CountersNoUnit("%d/%d"), decor.Name(" "+label+" ")),
		mpb.AppendDecorators(
			rate(time.Now()),
			decor.Name(" ETA "),
			decor.OnComplete(decor.AverageETA(decor.ET_STYLE_GO), "done"),
		),
	)
	d.mu.Lock()
	d.live = p
	d.mu.Unlock()
	return &Bar{d: d, p: p, bar: bar}
}

// rate is the average count per second since start; unlike
// decor.AverageSpeed it stays on the bar once the bar completes.
func rate(start time.Time) decor.Decorator {
	return decor.Any(func(s decor.Statistics) string {
		secs := time.Since(start).Seconds()
		if secs <= 0 {
			return " 0.0/s"
		}
		return fmt.Sprintf(" %.1f/s", float64(s.Current)/secs)
	})
}

// Update sets the bar to done of total.
func (b *Bar) Update(done, total int) {
	if b == nil || total <= 0 {
		return
	}
	b.bar.SetTotal(int64(total), false)
	b.bar.SetCurrent(int64(done))
}

// Finish completes the bar at its current count, leaves its last state on
// the terminal and hands the writer back to direct writes.
func (b *Bar) Finish() {
	if b == nil {
		return
	}
	b.bar.SetTotal(-1, true)
	b.p.Wait()
	b.d.mu.Lock()
	if b.d.live == b.p {
		b.d.live = nil
	}
	b.d.mu.Unlock()
}
