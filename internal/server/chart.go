package server

import (
	"fmt"
	"html"
	"html/template"
	"strings"
	"time"

	"github.com/keyage/keyage/internal/store"
)

// Charts are server-rendered SVG: numbers and fixed strings only, no
// script, styled by classes from the static stylesheet.

const (
	chartW, chartH = 720, 220
	padL, padR     = 44, 12
	padT, padB     = 12, 28
)

// trendSVG draws non-compliant users over time as a line over an area.
func trendSVG(points []store.TrendPoint) template.HTML {
	if len(points) < 2 {
		return template.HTML(`<p class="muted">No history yet: the chart appears after the first scan.</p>`)
	}
	maxV := 0
	for _, p := range points {
		maxV = max(maxV, p.NonCompliant)
	}
	top := niceCeil(maxV)
	t0, t1 := points[0].At, points[len(points)-1].At
	span := t1.Sub(t0)
	x := func(t time.Time) float64 {
		return padL + float64(t.Sub(t0))/float64(span)*float64(chartW-padL-padR)
	}
	y := func(v int) float64 {
		return padT + float64(chartH-padT-padB)*(1-float64(v)/float64(top))
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-label="Non-compliant users over time, from %d to %d">`,
		chartW, chartH, points[0].NonCompliant, points[len(points)-1].NonCompliant)
	for i := 0; i <= 4; i++ { // grid and y labels
		v := top * i / 4
		fmt.Fprintf(&b, `<line class="grid" x1="%d" x2="%d" y1="%.1f" y2="%.1f"/>`, padL, chartW-padR, y(v), y(v))
		fmt.Fprintf(&b, `<text class="axis" x="%d" y="%.1f" text-anchor="end">%d</text>`, padL-6, y(v)+4, v)
	}
	layout := "Jan 2"
	switch {
	case span < time.Hour:
		layout = "15:04:05"
	case span < 48*time.Hour:
		layout = "Jan 2 15:04"
	}
	prev := ""
	for i := 0; i <= 4; i++ { // x labels, each shown once
		t := t0.Add(span * time.Duration(i) / 4)
		label := t.UTC().Format(layout)
		if label == prev {
			continue
		}
		prev = label
		anchor := "middle"
		switch i {
		case 0:
			anchor = "start"
		case 4:
			anchor = "end"
		}
		fmt.Fprintf(&b, `<text class="axis" x="%.1f" y="%d" text-anchor="%s">%s</text>`, x(t), chartH-8, anchor, html.EscapeString(label))
	}
	// A step line: the count holds until the next change.
	var line strings.Builder
	for i, p := range points {
		if i == 0 {
			fmt.Fprintf(&line, "M%.1f %.1f", x(p.At), y(p.NonCompliant))
			continue
		}
		fmt.Fprintf(&line, " H%.1f V%.1f", x(p.At), y(p.NonCompliant))
	}
	fmt.Fprintf(&b, `<path class="area" d="%s V%.1f H%.1f Z"/>`, line.String(), y(0), x(t0))
	fmt.Fprintf(&b, `<path class="line" d="%s"/>`, line.String())
	last := points[len(points)-1]
	fmt.Fprintf(&b, `<circle class="dot" cx="%.1f" cy="%.1f" r="3.5"/>`, x(last.At), y(last.NonCompliant))
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// niceCeil rounds up to 1, 2 or 5 times a power of ten (at least 4, so the
// four grid steps are whole numbers).
func niceCeil(v int) int {
	if v <= 4 {
		return 4
	}
	p := 1
	for p*10 < v {
		p *= 10
	}
	for _, m := range []int{1, 2, 4, 5, 8, 10} {
		if m*p >= v && (m*p)%4 == 0 {
			return m * p
		}
	}
	return 10 * p
}

// stageBarSVG draws the keys per stage as one stacked bar.
func stageBarSVG(stages []stageCount) template.HTML {
	total := 0
	for _, s := range stages {
		total += s.Keys
	}
	if total == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString(`<svg class="stagebar" viewBox="0 0 1000 14" preserveAspectRatio="none" role="img" aria-label="Keys per stage">`)
	x := 0.0
	for _, s := range stages {
		if s.Keys == 0 {
			continue
		}
		w := float64(s.Keys) * 1000 / float64(total)
		fmt.Fprintf(&b, `<rect class="stage-%s" x="%.2f" y="0" width="%.2f" height="14"/>`, html.EscapeString(s.Stage), x, w)
		x += w
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// bar is a horizontal bar of a ranking, as an SVG width in percent.
type bar struct{ Width string }

func barWidth(n, maxN int) string {
	if maxN == 0 {
		return "0"
	}
	return fmt.Sprintf("%.1f", float64(n)*100/float64(maxN))
}
