package report

import (
	"html/template"
	"strings"
	"testing"
	"time"

	"github.com/keyage/keyage/internal/store"
)

// TestRowsAsTheTemplateWroteThem: the long tables' rows, written in Go,
// are byte for byte what the report's template wrote for them before
// (the reference templates below), hostile text included.
func TestRowsAsTheTemplateWroteThem(t *testing.T) {
	hostile := `a<b>&"c'+` + "\x00é"
	r := &Report{}
	for i := range 3 {
		k := Key{AccountID: "1234" + hostile, UserName: "u" + hostile, ResourceID: "AIDA", AccessKeyID: "AKIA" + hostile}
		r.Overdue = append(r.Overdue, OverdueKey{Key: k, AccountName: []string{"", "name" + hostile, "x"}[i], Owner: "o" + hostile,
			CreateDate: now.Add(-time.Duration(i) * day), Deadline: []time.Time{now, {}, now}[i], OverdueDays: i})
		r.Exemptions = append(r.Exemptions, Exemption{AccountID: "1" + hostile, UserName: "u" + hostile, Keys: []string{"K1" + hostile, "K2", "K3"}[:i+1],
			Until: now, DaysLeft: i - 1, Reason: "r" + hostile, Source: "tag" + hostile})
		r.Enforcement.Planned = append(r.Enforcement.Planned, Planned{Key: k, NoticedAt: now, DeactivateAt: now.Add(day)})
		r.Enforcement.Actions = append(r.Enforcement.Actions, store.AuditRecord{At: now, AccountID: "1" + hostile, UserName: "u" + hostile,
			AccessKeyID: "K" + hostile, Action: "deactivate" + hostile, Outcome: []string{"applied", "dry-run", hostile}[i], DryRun: i == 1, Reason: "why" + hostile})
	}
	funcs := template.FuncMap{"day": dayOf, "stamp": stamp}
	for _, tt := range []struct {
		name      string
		got       template.HTML
		reference string
		data      any
	}{
		{"overdue", tableRows(r.Overdue, overdueRow), `{{range .}}<tr><td>{{if .AccountName}}{{.AccountName}} {{end}}<code>{{.AccountID}}</code></td><td>{{.UserName}}</td><td><code>{{.AccessKeyID}}</code></td><td>{{.Owner}}</td><td>{{day .CreateDate}}</td><td>{{day .Deadline}}</td><td class="num">{{.OverdueDays}}</td></tr>
{{end}}`, r.Overdue},
		{"exemptions", tableRows(r.Exemptions, exemptionRow), `{{range .}}<tr><td>{{day .Until}}</td><td class="num">{{.DaysLeft}}</td><td><code>{{.AccountID}}</code></td><td>{{.UserName}}</td><td>{{range $i, $k := .Keys}}{{if $i}}, {{end}}<code>{{$k}}</code>{{end}}</td><td>{{.Source}}</td><td class="reason">{{.Reason}}</td></tr>
{{end}}`, r.Exemptions},
		{"planned", tableRows(r.Enforcement.Planned, plannedRow), `{{range .}}<tr><td>{{day .DeactivateAt}}</td><td><code>{{.AccountID}}</code></td><td>{{.UserName}}</td><td><code>{{.AccessKeyID}}</code></td><td>{{day .NoticedAt}}</td></tr>
{{end}}`, r.Enforcement.Planned},
		{"actions", tableRows(r.Enforcement.Actions, actionRow), `{{range .}}<tr><td>{{stamp .At}}</td><td><code>{{.AccountID}}</code></td><td>{{.UserName}}</td><td><code>{{.AccessKeyID}}</code></td><td>{{.Action}}{{if .DryRun}} (dry run){{end}}</td><td class="outcome-{{.Outcome}}">{{.Outcome}}</td><td class="reason">{{.Reason}}</td></tr>
{{end}}`, r.Enforcement.Actions},
		{"no rows", tableRows([]Planned{}, plannedRow), `{{range .}}<tr></tr>{{end}}`, []Planned{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var want strings.Builder
			if err := template.Must(template.New(tt.name).Funcs(funcs).Parse(`<table><tbody>`+tt.reference+`</tbody></table>`)).Execute(&want, tt.data); err != nil {
				t.Fatal(err)
			}
			if got := `<table><tbody>` + string(tt.got) + `</tbody></table>`; got != want.String() {
				t.Errorf("rows of %s:\n got %s\nwant %s", tt.name, got, want.String())
			}
		})
	}
}
