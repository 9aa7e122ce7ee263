package config

import (
	"regexp"

	tmpl "github.com/keyage/keyage/internal/template"
)

// Owners says how keyage finds the person responsible for an IAM user.
type Owners struct {
	// TagKey is the user tag that holds the owner's address; default email.
	TagKey string `yaml:"tagKey"`
	// Template, when set, builds the address of a user without the tag,
	// e.g. "{{ .UserName }}@example.com".
	Template string `yaml:"template"`
	// Fallback names the receivers that get the findings of users without
	// an owner.
	Fallback []string `yaml:"fallback"`
}

// DefaultOwnerTagKey is the default of owners.tagKey.
const DefaultOwnerTagKey = "email"

// tagKeyRE is IAM's pattern for tag keys.
var tagKeyRE = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,128}$`)

func (o *Owners) setDefaults(c *checker) {
	defaultTo(c, "tagKey", &o.TagKey, DefaultOwnerTagKey)
}

func (o *Owners) validate(c *checker) {
	if !tagKeyRE.MatchString(o.TagKey) {
		c.errorf("tagKey", "%q: not an IAM tag key (1 to 128 letters, digits, spaces and _.:/=+-@)", o.TagKey)
	}
	c.templateOf(tmpl.OwnerKind, "template", o.Template)
	c.receiverNames("fallback", o.Fallback)
}
