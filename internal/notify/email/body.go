package email

import (
	"fmt"
	"html/template"
	"strings"
	"time"

	"github.com/keyage/keyage/internal/notify"
)

// textBody is the message text followed by one paragraph per key.
func textBody(m notify.Message) string {
	var b strings.Builder
	b.WriteString(m.Text)
	for i, it := range m.Items {
		if i == 0 && m.Text != "" {
			b.WriteString("\n\n")
		} else if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "- Account %s, user %s", account(it), it.UserName)
		if it.AccessKeyID != "" {
			fmt.Fprintf(&b, ", access key %s", it.AccessKeyID)
		}
		fmt.Fprintf(&b, "\n  Age: %s. Stage: %s. Last used: %s.", age(it), orDash(it.Stage), lastUsed(it))
		if d := it.DeadlineText(); d != "" {
			fmt.Fprintf(&b, " Deadline: %s.", d)
		}
		if it.ConsoleURL != "" {
			fmt.Fprintf(&b, "\n  %s", it.ConsoleURL)
		}
		b.WriteString("\n")
	}
	return b.String()
}

var htmlTemplate = template.Must(template.New("email").Funcs(template.FuncMap{
	"account": account, "age": age, "lastUsed": lastUsed, "date": date, "orDash": orDash,
}).Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{{.Subject}}</title></head>
<body style="font-family: sans-serif">
<p style="white-space: pre-wrap">{{.Text}}</p>
{{- if .Items}}
<table cellpadding="6" style="border-collapse: collapse" border="1">
<tr><th>Account</th><th>User</th><th>Access key</th><th>Age</th><th>Stage</th><th>Last used</th><th>Deadline</th></tr>
{{- range .Items}}
<tr><td>{{account .}}</td><td>{{if .ConsoleURL}}<a href="{{.ConsoleURL}}">{{.UserName}}</a>{{else}}{{.UserName}}{{end}}</td><td><code>{{orDash .AccessKeyID}}</code></td><td>{{age .}}</td><td>{{orDash .Stage}}</td><td>{{lastUsed .}}</td><td>{{orDash .DeadlineText}}</td></tr>
{{- end}}
</table>
{{- end}}
<p style="color: #666; font-size: small">Sent by keyage.</p>
</body></html>
`))

// htmlBody renders m with html/template: every value is escaped.
func htmlBody(m notify.Message) (string, error) {
	var b strings.Builder
	if err := htmlTemplate.Execute(&b, struct {
		Subject string
		Text    string
		Items   []notify.Item
	}{subject(m), m.Text, m.Items}); err != nil {
		return "", err
	}
	return b.String(), nil
}

func account(it notify.Item) string {
	if it.AccountName != "" {
		return it.AccountID + " (" + it.AccountName + ")"
	}
	return it.AccountID
}

func age(it notify.Item) string {
	s := fmt.Sprintf("%d days", it.AgeDays)
	if it.MaxAge > 0 {
		s += fmt.Sprintf(" (limit %d)", it.MaxAge)
	}
	return s
}

func lastUsed(it notify.Item) string {
	if it.LastUsed.IsZero() {
		return "never"
	}
	s := date(it.LastUsed)
	if it.LastService != "" {
		s += " (" + it.LastService + ")"
	}
	return s
}

func date(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
