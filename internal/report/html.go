package report

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"

	"github.com/keyage/keyage/internal/lifecycle"
)

// CSP is the report's Content-Security-Policy: nothing is loaded, styles
// are inline, images are data: URLs. The HTML carries it in a meta element;
// the dashboard sends it as a header too.
const CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"

//go:embed templates/report.html
var reportHTML string

var reportTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"day": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format(time.DateOnly)
	},
	"stamp":      func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
	"formatDays": formatDays,
	"csp":        func() string { return CSP },
}).Parse(reportHTML))

// view is what the template gets: the report and what is drawn from it.
type view struct {
	*Report
	Stages []stageCount
	Trend  template.HTML
	Since  int
}

type stageCount struct {
	Stage string
	Keys  int
}

// WriteHTML writes the report as one self-contained HTML page.
func (r *Report) WriteHTML(w io.Writer) error {
	v := view{Report: r, Trend: trendSVG(r.Trend), Since: int(r.Generated.Sub(r.From).Round(time.Hour) / day)}
	for _, st := range lifecycle.Stages {
		v.Stages = append(v.Stages, stageCount{string(st), r.Summary.Keys[string(st)]})
	}
	var buf bytes.Buffer
	if err := reportTemplate.Execute(&buf, v); err != nil {
		return fmt.Errorf("render the report: %w", err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// trendSVG draws the non-compliant users over the window as an inline SVG
// line with its first and last dates and its peak.
func trendSVG(pts []TrendPoint) template.HTML {
	const w, h, pad = 720.0, 160.0, 24.0
	if len(pts) < 2 {
		return `<p class="muted">No history in this window.</p>`
	}
	peak := 1
	for _, p := range pts {
		peak = max(peak, p.NonCompliant)
	}
	var line strings.Builder
	for i, p := range pts {
		x := pad + (w-2*pad)*float64(i)/float64(len(pts)-1)
		y := h - pad - (h-2*pad)*float64(p.NonCompliant)/float64(peak)
		fmt.Fprintf(&line, "%.1f,%.1f ", x, y)
	}
	first, last := pts[0], pts[len(pts)-1]
	layout := time.DateOnly
	if last.At.Sub(first.At) < 3*day {
		layout = "2006-01-02 15:04"
	}
	return template.HTML(fmt.Sprintf(`<svg class="trend" viewBox="0 0 %[1]g %[2]g" role="img" aria-label="Non-compliant users from %[4]s (%[6]d) to %[5]s (%[7]d), peak %[8]d">
<line x1="%[3]g" y1="%[9]g" x2="%[10]g" y2="%[9]g" class="axis"/>
<polyline points="%[11]s" class="series"/>
<text x="%[3]g" y="%[2]g" class="tick">%[4]s</text><text x="%[10]g" y="%[2]g" class="tick end">%[5]s</text>
<text x="%[3]g" y="14" class="tick">peak %[8]d</text>
</svg>`, w, h-4, pad, first.At.Format(layout), last.At.Format(layout), first.NonCompliant, last.NonCompliant, peak,
		h-pad, w-pad, strings.TrimSpace(line.String())))
}
