// Package deploy builds the CloudFormation templates of keyage's AWS-native
// deployment, the architecture of the seed: a master stack with the central
// SNS topic and a target StackSet with the AWS Config rule
// access-keys-rotated, its SSM automation remediation and keyage's audit
// role. Templates are built from goformation's typed resources, so a
// misspelled property does not compile. The least-privilege IAM policies
// keyage itself needs are defined here too (policies.go).
//
// Stack and StackSet operations belong in this package as well, one file
// each, working on the templates returned by [Master] and [Target].
package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/awslabs/goformation/v7/cloudformation"
	"gopkg.in/yaml.v3"
)

// Template is a CloudFormation template built with goformation, plus the
// intrinsic values of properties that goformation types as numbers or
// booleans and that therefore cannot hold a Ref directly (for example
// MaximumAutomaticAttempts of a RemediationConfiguration).
type Template struct {
	*cloudformation.Template
	overrides []override
}

// override replaces one resource property of the rendered template.
type override struct {
	resource, property string
	value              any
}

func newTemplate(description string) *Template {
	t := cloudformation.NewTemplate()
	t.Description = description
	return &Template{Template: t}
}

// refProperty makes property of resource a Ref to parameter in the rendered
// template, for properties whose goformation type cannot hold a Ref.
func (t *Template) refProperty(resource, property, parameter string) {
	t.overrides = append(t.overrides, override{resource, property, map[string]any{"Ref": parameter}})
}

// object renders the template to generic data: goformation's JSON with its
// encoded intrinsic functions expanded, then the overrides applied.
func (t *Template) object() (map[string]any, error) {
	j, err := t.Template.JSON()
	if err != nil {
		return nil, fmt.Errorf("marshal template: %w", err)
	}
	// yaml.v3 keeps integers integers, where encoding/json would make them
	// float64 (goformation's own YAML method does the same).
	var obj map[string]any
	if err := yaml.Unmarshal(j, &obj); err != nil {
		return nil, fmt.Errorf("read back template JSON: %w", err)
	}
	resources, _ := obj["Resources"].(map[string]any)
	for _, o := range t.overrides {
		r, ok := resources[o.resource].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("override %s.%s: no such resource", o.resource, o.property)
		}
		props, ok := r["Properties"].(map[string]any)
		if !ok {
			props = map[string]any{}
			r["Properties"] = props
		}
		props[o.property] = o.value
	}
	return obj, nil
}

// YAML renders the template as YAML, keys sorted, intrinsic functions in
// their long form (Ref, Fn::GetAtt, ...).
func (t *Template) YAML() ([]byte, error) {
	obj, err := t.object()
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(obj); err != nil {
		return nil, fmt.Errorf("encode template YAML: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode template YAML: %w", err)
	}
	return buf.Bytes(), nil
}

// JSON renders the template as indented JSON, keys sorted.
func (t *Template) JSON() ([]byte, error) {
	obj, err := t.object()
	if err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(obj, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// Format is how templates are rendered.
type Format string

// Formats.
const (
	FormatYAML Format = "yaml"
	FormatJSON Format = "json"
)

// ParseFormat accepts yaml (or yml) and json.
func ParseFormat(s string) (Format, error) {
	switch s {
	case "yaml", "yml":
		return FormatYAML, nil
	case "json":
		return FormatJSON, nil
	}
	return "", fmt.Errorf("format %q: want yaml or json", s)
}

// File is one rendered template.
type File struct {
	Name string // master.yaml, target.json, ...
	Data []byte
}

// Templates returns keyage's templates by base name: master (the stack in
// the master account) and target (the StackSet of the target accounts).
func Templates() map[string]*Template {
	return map[string]*Template{"master": Master(), "target": Target()}
}

// Render renders every template in format, sorted by file name.
func Render(f Format) ([]File, error) {
	var files []File
	for name, t := range Templates() {
		var (
			b   []byte
			err error
		)
		switch f {
		case FormatYAML:
			b, err = t.YAML()
		case FormatJSON:
			b, err = t.JSON()
		default:
			return nil, fmt.Errorf("format %q: want yaml or json", f)
		}
		if err != nil {
			return nil, fmt.Errorf("render %s template: %w", name, err)
		}
		files = append(files, File{Name: name + "." + string(f), Data: b})
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
	return files, nil
}

// parameter builds a template parameter.
func parameter(typ, description string, def any) cloudformation.Parameter {
	return cloudformation.Parameter{Type: typ, Description: &description, Default: def}
}
