package config

import (
	"io"
	"regexp"
	"strings"
	"text/template"
)

// Funcs are the functions that message templates may call, beyond text/template's
// built-ins. The notification engine adds its own before it loads the
// configuration, so that a template calling an unknown function is a
// configuration error and not a failure at send time.
var Funcs = template.FuncMap{}

// ParseTemplate parses text as a message template with Funcs, as validation
// does. name appears in execution errors.
func ParseTemplate(name, text string) (*template.Template, error) {
	return template.New(name).Option("missingkey=error").Funcs(Funcs).Parse(text)
}

// IsTemplate reports whether s holds a template action ({{ ... }}).
func IsTemplate(s string) bool { return strings.Contains(s, "{{") }

var templateErrRE = regexp.MustCompile(`^template: [^:]*:(\d+):(?:\d+:)? ?(.*)$`)

// template reports key's value if it is not a valid template.
func (c *checker) template(key, text string) { c.templateOf(MessageTemplate, key, text) }

// Kinds of template, by the data they are executed with.
const (
	// MessageTemplate: receivers' template, subject, email to, jira
	// assignee and fields (the notification engine's Data).
	MessageTemplate = "message"
	// OwnerTemplate: owners.template.
	OwnerTemplate = "owner"
)

// TemplateSamples holds, per kind of template, a sample of the data it is
// executed with. Validation executes each template on its sample, so that a
// misspelled field ({{ .AccountId }} for {{ .AccountID }}) is a
// configuration error and not a failure at send time. The notification
// engine registers its samples, as it does Funcs.
var TemplateSamples = map[string]any{}

var fieldErrRE = regexp.MustCompile(`can't evaluate field \w+`)

func (c *checker) templateOf(kind, key, text string) {
	if text == "" {
		return
	}
	t, err := ParseTemplate("t", text)
	if err != nil {
		msg := err.Error()
		if m := templateErrRE.FindStringSubmatch(msg); m != nil {
			msg = "line " + m[1] + " of the template: " + m[2]
		}
		c.errorf(key, "invalid template: %s", msg)
		return
	}
	sample, ok := TemplateSamples[kind]
	if !ok {
		return
	}
	// Only a missing struct field is reported: other execution errors
	// depend on the data (a tag a user lacks, an index past the end).
	if err := t.Execute(io.Discard, sample); err != nil {
		if m := fieldErrRE.FindString(err.Error()); m != "" {
			c.errorf(key, "invalid template: %s (the fields are listed in docs/configuration.md, Templates)", m)
		}
	}
}
