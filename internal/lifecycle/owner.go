package lifecycle

import (
	"bytes"
	"fmt"
	"strings"
	"text/template"

	"github.com/keyage/keyage/internal/config"
	"github.com/keyage/keyage/internal/rule"
	tmpl "github.com/keyage/keyage/internal/template"
)

// Owners finds who answers for an IAM user under the config's owners
// section: the owners.tagKey tag, else owners.template, else no one ("":
// the findings go to the owners.fallback receivers). It is the one owner
// resolver: the Evaluator stores its answer in Evaluation.Owner, and the
// store, the dashboard, the API and the notices read that.
type Owners struct {
	tagKey string
	tmpl   *template.Template
}

// NewOwners builds the owner resolver of the config's owners section.
func NewOwners(o config.Owners) (*Owners, error) {
	ow := &Owners{tagKey: o.TagKey}
	if o.Template != "" {
		t, err := tmpl.Parse("owners.template", o.Template)
		if err != nil {
			return nil, fmt.Errorf("owners.template: %w", err)
		}
		ow.tmpl = t
	}
	return ow, nil
}

// Owner returns the owner address of ev's user, "" when unknown.
func (o *Owners) Owner(ev *rule.Evaluation) string {
	if o == nil {
		return ""
	}
	if v := strings.TrimSpace(ev.Tags[o.tagKey]); v != "" && o.tagKey != "" {
		return v
	}
	if o.tmpl == nil {
		return ""
	}
	var b bytes.Buffer
	if err := o.tmpl.Execute(&b, tmpl.Owner{AccountID: ev.AccountID, UserName: ev.UserName, Path: ev.Path, ARN: ev.ARN, ResourceID: ev.ResourceID, Tags: ev.Tags}); err != nil {
		return ""
	}
	return strings.TrimSpace(b.String())
}
