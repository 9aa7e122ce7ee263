package config

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/invopop/jsonschema"
)

// SchemaID is the $id of the JSON Schema of keyage.yaml.
const SchemaID = "https://raw.githubusercontent.com/keyage/keyage/main/docs/keyage.schema.json"

// durationPattern is what ParseDuration accepts: 0, or parts such as 90d,
// 2w, 1d12h, 5m.
const durationPattern = `^[+-]?(0|(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h|d|w))+)$`

// Schema returns the JSON Schema (draft 2020-12) of keyage.yaml, generated
// from Config's yaml tags: editors use it for completion and to flag unknown
// keys. It checks shapes only; Validate (keyage config validate) also checks
// values and the rules between fields.
func Schema() ([]byte, error) {
	r := &jsonschema.Reflector{
		FieldNameTag:               "yaml",
		RequiredFromJSONSchemaTags: true, // defaults fill what is left out
		Mapper:                     schemaOf,
	}
	s := r.Reflect(&Config{})
	s.ID = SchemaID
	s.Title = "keyage.yaml"
	s.Description = "Configuration of keyage, which finds aged AWS IAM access keys across an organization."
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode the configuration's JSON Schema: %w", err)
	}
	return append(b, '\n'), nil
}

// schemaOf gives the types the strict decoder reads in their own way the
// shapes it accepts; nil leaves a type to the reflector.
func schemaOf(t reflect.Type) *jsonschema.Schema {
	switch t {
	case reflect.TypeFor[Duration]():
		return &jsonschema.Schema{
			Description: "a duration such as 90s, 5m, 2h, 90d, 2w or 1d12h",
			AnyOf: []*jsonschema.Schema{
				{Type: "string", Pattern: durationPattern},
				{Type: "integer", Enum: []any{0}},
			},
		}
	case reflect.TypeFor[Days]():
		return &jsonschema.Schema{
			Description: "a number of days: 90, or a duration of whole days such as 90d or 12w",
			AnyOf: []*jsonschema.Schema{
				{Type: "integer"},
				{Type: "string", Pattern: durationPattern},
			},
		}
	case stringListType:
		return &jsonschema.Schema{
			Description: "a string or a list of strings",
			AnyOf: []*jsonschema.Schema{
				{Type: "string"},
				{Type: "array", Items: &jsonschema.Schema{Type: "string"}},
			},
		}
	}
	return nil
}

//go:embed example.yaml
var example []byte

// Example is a commented keyage.yaml that sets every section, for keyage
// config example. It parses and matches Schema (a test checks both).
func Example() []byte { return append([]byte(nil), example...) }
