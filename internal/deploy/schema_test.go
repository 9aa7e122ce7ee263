package deploy

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/awslabs/goformation/v7/schema"
)

// This file validates rendered templates against the CloudFormation JSON
// schema goformation ships (generated from the CloudFormation resource
// specification): resource types, property names, required properties,
// types and enums, recursively through property types. It interprets the
// subset of JSON Schema draft-04 that the schema uses, with two
// CloudFormation rules a generic validator lacks: an intrinsic function
// ({"Ref": ...}, {"Fn::...": ...}) stands for a value of any type, and
// scalars convert to each other as CloudFormation converts them (a Number
// parameter's Default may be 90 or "90").

var (
	cfnSchemaOnce sync.Once
	cfnSchema     map[string]any
	cfnSchemaErr  error
)

func loadSchema(t *testing.T) *schemaValidator {
	t.Helper()
	cfnSchemaOnce.Do(func() { cfnSchemaErr = json.Unmarshal([]byte(schema.CloudformationSchema), &cfnSchema) })
	if cfnSchemaErr != nil {
		t.Fatalf("parse goformation's CloudFormation schema: %v", cfnSchemaErr)
	}
	defs, _ := cfnSchema["definitions"].(map[string]any)
	if len(defs) < 1000 {
		t.Fatalf("goformation's CloudFormation schema has %d definitions: not the schema expected", len(defs))
	}
	return &schemaValidator{root: cfnSchema, defs: defs}
}

type schemaValidator struct {
	root map[string]any
	defs map[string]any
}

// Template validates a whole template and returns every problem found,
// each naming its path (Resources.Rule.Properties.Source.Owner: ...).
func (v *schemaValidator) Template(tmpl map[string]any) []error {
	var errs []error
	props, _ := v.root["properties"].(map[string]any)
	for _, key := range sortedKeys(tmpl) {
		if _, ok := props[key]; !ok {
			errs = append(errs, fmt.Errorf("%s: not a template section", key))
		}
	}
	if _, ok := tmpl["Resources"]; !ok {
		errs = append(errs, fmt.Errorf("Resources: required"))
	}
	params, _ := tmpl["Parameters"].(map[string]any)
	for _, name := range sortedKeys(params) {
		errs = append(errs, v.validate(params[name], v.def("Parameter"), "Parameters."+name)...)
	}
	resources, _ := tmpl["Resources"].(map[string]any)
	for _, name := range sortedKeys(resources) {
		path := "Resources." + name
		r, ok := resources[name].(map[string]any)
		if !ok {
			errs = append(errs, fmt.Errorf("%s: not an object", path))
			continue
		}
		typ, _ := r["Type"].(string)
		def := v.def(typ)
		if def == nil {
			errs = append(errs, fmt.Errorf("%s.Type: unknown resource type %q", path, typ))
			continue
		}
		errs = append(errs, v.validate(r, def, path)...)
	}
	outputs, _ := tmpl["Outputs"].(map[string]any)
	for _, name := range sortedKeys(outputs) {
		o, _ := outputs[name].(map[string]any)
		if _, ok := o["Value"]; !ok {
			errs = append(errs, fmt.Errorf("Outputs.%s.Value: required", name))
		}
		for _, k := range sortedKeys(o) {
			if !slices.Contains([]string{"Value", "Description", "Export", "Condition"}, k) {
				errs = append(errs, fmt.Errorf("Outputs.%s.%s: not an output field", name, k))
			}
		}
	}
	return errs
}

func (v *schemaValidator) def(name string) map[string]any {
	d, _ := v.defs[name].(map[string]any)
	return d
}

func (v *schemaValidator) validate(val any, s map[string]any, path string) []error {
	if ref, ok := s["$ref"].(string); ok {
		d := v.def(strings.TrimPrefix(ref, "#/definitions/"))
		if d == nil {
			return []error{fmt.Errorf("%s: schema reference %s not found", path, ref)}
		}
		s = d
	}
	if isIntrinsic(val) {
		return nil
	}
	if alts, ok := s["anyOf"].([]any); ok {
		var first []error
		for _, alt := range alts {
			errs := v.validate(val, alt.(map[string]any), path)
			if len(errs) == 0 {
				return nil
			}
			if first == nil {
				first = errs
			}
		}
		return first
	}
	if t, ok := s["type"]; ok && !typeMatches(val, t) {
		return []error{fmt.Errorf("%s: %s is not of type %v", path, jsonType(val), t)}
	}
	if enum, ok := s["enum"].([]any); ok {
		found := false
		for _, e := range enum {
			if fmt.Sprint(e) == fmt.Sprint(val) {
				found = true
			}
		}
		if !found {
			return []error{fmt.Errorf("%s: %v is not one of %v", path, val, enum)}
		}
	}
	var errs []error
	switch x := val.(type) {
	case map[string]any:
		props, _ := s["properties"].(map[string]any)
		patterns, _ := s["patternProperties"].(map[string]any)
		for _, key := range sortedKeys(x) {
			if ps, ok := props[key].(map[string]any); ok {
				errs = append(errs, v.validate(x[key], ps, path+"."+key)...)
				continue
			}
			matched := false
			for p, ps := range patterns {
				if regexp.MustCompile(p).MatchString(key) {
					matched = true
					errs = append(errs, v.validate(x[key], ps.(map[string]any), path+"."+key)...)
				}
			}
			if matched {
				continue
			}
			switch ap := s["additionalProperties"].(type) {
			case bool:
				if !ap {
					errs = append(errs, fmt.Errorf("%s.%s: unknown property", path, key))
				}
			case map[string]any:
				errs = append(errs, v.validate(x[key], ap, path+"."+key)...)
			}
		}
		if req, ok := s["required"].([]any); ok {
			for _, r := range req {
				if _, ok := x[r.(string)]; !ok {
					errs = append(errs, fmt.Errorf("%s.%s: required", path, r))
				}
			}
		}
	case []any:
		if items, ok := s["items"].(map[string]any); ok {
			for i, e := range x {
				errs = append(errs, v.validate(e, items, fmt.Sprintf("%s[%d]", path, i))...)
			}
		}
	}
	return errs
}

// isIntrinsic reports whether val is an intrinsic function, whose value
// only CloudFormation knows.
func isIntrinsic(val any) bool {
	m, ok := val.(map[string]any)
	if !ok || len(m) != 1 {
		return false
	}
	for k := range m {
		return k == "Ref" || strings.HasPrefix(k, "Fn::")
	}
	return false
}

func typeMatches(val any, t any) bool {
	switch tt := t.(type) {
	case string:
		return typeMatchesOne(val, tt)
	case []any:
		for _, one := range tt {
			if typeMatchesOne(val, one.(string)) {
				return true
			}
		}
	}
	return false
}

func typeMatchesOne(val any, t string) bool {
	switch t {
	case "object":
		_, ok := val.(map[string]any)
		return ok
	case "array":
		_, ok := val.([]any)
		return ok
	case "string":
		switch val.(type) {
		case string, float64, int, bool:
			return true
		}
	case "number", "integer":
		switch x := val.(type) {
		case float64, int:
			return true
		case string:
			_, err := strconv.ParseFloat(x, 64)
			return err == nil
		}
	case "boolean":
		switch x := val.(type) {
		case bool:
			return true
		case string:
			return x == "true" || x == "false"
		}
	}
	return false
}

func jsonType(val any) string {
	switch val.(type) {
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case bool:
		return "boolean"
	case nil:
		return "null"
	}
	return "number"
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
