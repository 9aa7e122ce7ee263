package config

import (
	"strings"

	tmpl "github.com/keyage/keyage/internal/template"
)

// IsTemplate reports whether s holds a template action ({{ ... }}).
func IsTemplate(s string) bool { return strings.Contains(s, "{{") }

// template reports key's value if it is not a valid message template.
func (c *checker) template(key, text string) { c.templateOf(tmpl.Message, key, text) }

// templateOf reports key's value if it does not parse, or names a field
// the data of its kind lacks (internal/template checks it on a sample of
// the data it is executed with, with the functions it is rendered with).
func (c *checker) templateOf(kind tmpl.Kind, key, text string) {
	if text == "" {
		return
	}
	err := tmpl.Check(kind, text)
	switch {
	case err == nil:
	case tmpl.IsFieldError(err):
		c.errorf(key, "invalid template: %s (the fields are listed in docs/configuration.md, Templates)", err)
	default:
		c.errorf(key, "invalid template: %s", err)
	}
}
