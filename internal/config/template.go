package config

import (
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
func (c *checker) template(key, text string) {
	if text == "" {
		return
	}
	if _, err := ParseTemplate("t", text); err != nil {
		msg := err.Error()
		if m := templateErrRE.FindStringSubmatch(msg); m != nil {
			msg = "line " + m[1] + " of the template: " + m[2]
		}
		c.errorf(key, "invalid template: %s", msg)
	}
}
