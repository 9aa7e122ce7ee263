package report

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/keyage/keyage/internal/lifecycle"
	"github.com/keyage/keyage/internal/store"
)

// CSP is the report's Content-Security-Policy: nothing is loaded, styles
// are inline, images are data: URLs. The HTML carries it in a meta element;
// the dashboard sends it as a header too.
const CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"

//go:embed templates/report.html
var reportHTML string

var reportTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"day":        dayOf,
	"stamp":      stamp,
	"formatDays": formatDays,
	"csp":        func() string { return CSP },
}).Parse(reportHTML))

func dayOf(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format(time.DateOnly)
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

// view is what the template gets: the report and what is drawn from it.
type view struct {
	*Report
	Stages []stageCount
	Trend  template.HTML
	Since  int
	// The long tables' rows, written by tableRows.
	OverdueRows, ExemptionRows, PlannedRows, ActionRows template.HTML
}

type stageCount struct {
	Stage string
	Keys  int
}

// WriteHTML writes the report as one self-contained HTML page.
func (r *Report) WriteHTML(w io.Writer) error {
	v := view{Report: r, Trend: trendSVG(r.Trend), Since: int(r.Generated.Sub(r.From).Round(time.Hour) / day),
		OverdueRows: tableRows(r.Overdue, overdueRow), ExemptionRows: tableRows(r.Exemptions, exemptionRow),
		PlannedRows: tableRows(r.Enforcement.Planned, plannedRow), ActionRows: tableRows(r.Enforcement.Actions, actionRow),
	}
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

// trendSVG draws the non-compliant users over the window, one point per
// UTC day, as an inline SVG line with its first and last days and its peak.
func trendSVG(pts []TrendPoint) template.HTML {
	const w, h, pad = 720.0, 160.0, 24.0
	switch len(pts) {
	case 0:
		return `<p class="muted">No history in this window.</p>`
	case 1: // one day: a flat line across it
		pts = []TrendPoint{pts[0], pts[0]}
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
	return template.HTML(fmt.Sprintf(`<svg class="trend" viewBox="0 0 %[1]g %[2]g" role="img" aria-label="Non-compliant users from %[4]s (%[6]d) to %[5]s (%[7]d), peak %[8]d">
<line x1="%[3]g" y1="%[9]g" x2="%[10]g" y2="%[9]g" class="axis"/>
<polyline points="%[11]s" class="series"/>
<text x="%[3]g" y="%[2]g" class="tick">%[4]s</text><text x="%[10]g" y="%[2]g" class="tick end">%[5]s</text>
<text x="%[3]g" y="14" class="tick">peak %[8]d</text>
</svg>`, w, h-4, pad, dayOf(first.At), dayOf(last.At), first.NonCompliant, last.NonCompliant, peak,
		h-pad, w-pad, strings.TrimSpace(line.String())))
}

// The cells of the long tables' rows.

func overdueRow(w *rowWriter, k OverdueKey) {
	w.cell("")
	if k.AccountName != "" {
		w.text(k.AccountName)
		w.raw(" ")
	}
	w.code(k.AccountID)
	w.cells("", k.UserName)
	w.cell("")
	w.code(k.AccessKeyID)
	w.cells("", k.Owner, dayOf(k.CreateDate), dayOf(k.Deadline))
	w.cells(`class="num"`, strconv.Itoa(k.OverdueDays))
}

func exemptionRow(w *rowWriter, e Exemption) {
	w.cells("", dayOf(e.Until))
	w.cells(`class="num"`, strconv.Itoa(e.DaysLeft))
	w.cell("")
	w.code(e.AccountID)
	w.cells("", e.UserName)
	w.cell("")
	for i, k := range e.Keys {
		if i > 0 {
			w.raw(", ")
		}
		w.code(k)
	}
	w.cells("", e.Source)
	w.cells(`class="reason"`, e.Reason)
}

func plannedRow(w *rowWriter, p Planned) {
	w.cells("", dayOf(p.DeactivateAt))
	w.keyCells(p.AccountID, p.UserName, p.AccessKeyID)
	w.cells("", dayOf(p.NoticedAt))
}

func actionRow(w *rowWriter, a store.AuditRecord) {
	w.cells("", stamp(a.At))
	w.keyCells(a.AccountID, a.UserName, a.AccessKeyID)
	w.cells("", a.Action)
	if a.DryRun {
		w.raw(" (dry run)")
	}
	w.cells(`class="outcome-`+htmlText.Replace(a.Outcome)+`"`, a.Outcome)
	w.cells(`class="reason"`, a.Reason)
}

// htmlText escapes text and quoted attribute values as html/template does.
var htmlText = strings.NewReplacer("\x00", "\uFFFD", `"`, "&#34;", "&", "&amp;", "'", "&#39;", "+", "&#43;", "<", "&lt;", ">", "&gt;")

// rowWriter writes a table's rows: the report's long tables (up to 1,000
// rows each) are written in Go, because html/template spent more time on
// their ~30,000 actions than the report's queries took (issue 15). Text
// goes through htmlText, as the template's actions would.
type rowWriter struct {
	b    strings.Builder
	open bool // a cell is open
}

func (w *rowWriter) raw(s string)  { w.b.WriteString(s) }
func (w *rowWriter) text(s string) { _, _ = htmlText.WriteString(&w.b, s) }

// code writes s as code.
func (w *rowWriter) code(s string) {
	w.raw("<code>")
	w.text(s)
	w.raw("</code>")
}

// keyCells writes the cells account (as code), user and access key (as
// code).
func (w *rowWriter) keyCells(accountID, userName, accessKeyID string) {
	w.cell("")
	w.code(accountID)
	w.cells("", userName)
	w.cell("")
	w.code(accessKeyID)
}

// cell closes the open cell and opens one with attrs (HTML, may be "").
func (w *rowWriter) cell(attrs string) {
	if w.open {
		w.raw("</td>")
	}
	w.raw("<td")
	if attrs != "" {
		w.raw(" ")
		w.raw(attrs)
	}
	w.raw(">")
	w.open = true
}

// cells writes one cell per text, each with attrs.
func (w *rowWriter) cells(attrs string, texts ...string) {
	for _, t := range texts {
		w.cell(attrs)
		w.text(t)
	}
}

// tableRows writes one <tr> per item, its cells written by row.
func tableRows[T any](items []T, row func(*rowWriter, T)) template.HTML {
	var w rowWriter
	for _, it := range items {
		w.raw("<tr>")
		row(&w, it)
		if w.open {
			w.raw("</td>")
			w.open = false
		}
		w.raw("</tr>\n")
	}
	return template.HTML(w.b.String())
}
