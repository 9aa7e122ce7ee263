package config

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
)

var updateSchema = flag.Bool("update-schema", false, "rewrite docs/keyage.schema.json from Schema()")

var reflectTypeOfConfig = reflect.TypeFor[Config]()

var schemaFile = filepath.Join("..", "..", "docs", "keyage.schema.json")

// compiledSchema compiles Schema() with a JSON Schema validator.
func compiledSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	b, err := Schema()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("Schema() is not JSON: %v", err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(SchemaID, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(SchemaID)
	if err != nil {
		t.Fatalf("compile Schema(): %v", err)
	}
	return s
}

// yamlInstance is the YAML document data as the JSON value a schema
// validator (or an editor's YAML language server) checks.
func yamlInstance(t *testing.T, data []byte) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatalf("yaml: %v", err)
	}
	if v == nil {
		v = map[string]any{}
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("yaml as json: %v", err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return inst
}

// docs/keyage.schema.json is what keyage config schema prints.
func TestSchemaFileInStep(t *testing.T) {
	b, err := Schema()
	if err != nil {
		t.Fatal(err)
	}
	if *updateSchema {
		if err := os.WriteFile(schemaFile, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, b) {
		t.Errorf("%s differs from Schema(); run go test ./internal/config -run TestSchemaFileInStep -update-schema", schemaFile)
	}
}

// The example and every configuration in the docs parse and match the
// schema; documents the decoder rejects are rejected by the schema too.
func TestSchemaAcceptsExamples(t *testing.T) {
	s := compiledSchema(t)
	docs := map[string][]byte{"config example": Example(), "empty file": nil}
	md, err := os.ReadFile(filepath.Join("..", "..", "docs", "configuration.md"))
	if err != nil {
		t.Fatal(err)
	}
	for i, b := range regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllSubmatch(md, -1) {
		docs["docs/configuration.md yaml block "+strconv.Itoa(i+1)] = b[1]
	}
	for name, data := range docs {
		t.Run(name, func(t *testing.T) {
			if _, err := Parse(data, name); err != nil {
				t.Errorf("Parse: %v", err)
			}
			if err := s.Validate(yamlInstance(t, data)); err != nil {
				t.Errorf("schema: %v", err)
			}
		})
	}
}

func TestSchemaRejects(t *testing.T) {
	s := compiledSchema(t)
	for _, tt := range []struct {
		name string
		yaml string
	}{
		{"unknown top-level key", "acounts: {ids: ['1']}"},
		{"unknown nested key", "rule: {maxAge: 90}"},
		{"duration that is not one", "scan: {accountTimeout: soon}"},
		{"days as a boolean", "rule: {maxAccessKeyAge: true}"},
		{"receiver list as a mapping", "receivers: {name: x}"},
		{"unknown receiver key", "receivers: [{name: x, smtp: {}}]"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Parse([]byte(tt.yaml), "keyage.yaml"); err == nil {
				t.Fatalf("Parse(%q) accepted it; the case is wrong", tt.yaml)
			}
			if err := s.Validate(yamlInstance(t, []byte(tt.yaml))); err == nil {
				t.Errorf("schema accepted %q, which Parse rejects", tt.yaml)
			}
		})
	}
}

func TestExampleSetsEverySection(t *testing.T) {
	var top map[string]any
	if err := yaml.Unmarshal(Example(), &top); err != nil {
		t.Fatal(err)
	}
	for _, f := range fields(reflectTypeOfConfig) {
		if _, ok := top[f.name]; !ok {
			t.Errorf("config example lacks section %s", f.name)
		}
	}
}
