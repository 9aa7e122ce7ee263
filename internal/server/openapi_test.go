package server

import (
	"os"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestOpenAPIDescribesEveryRoute keeps docs/openapi.yaml in step with the API.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	b, err := os.ReadFile("../../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		OpenAPI string                    `yaml:"openapi"`
		Paths   map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("docs/openapi.yaml: %v", err)
	}
	for path, methods := range map[string][]string{
		"/api/v1/evaluations": {"get"}, "/api/v1/accounts": {"get"}, "/api/v1/accounts/{account}": {"get"},
		"/api/v1/users/{account}/{resourceId}": {"get"}, "/api/v1/executions": {"get"}, "/api/v1/scans": {"get", "post"},
		"/api/v1/status": {"get"}, "/api/v1/overview": {"get"}, "/overview/trend.csv": {"get"}, "/noncompliant.json": {"get"}, "/healthz": {"get"}, "/readyz": {"get"}, "/metrics": {"get"},
		"/api/v1/enforcement": {"get"}, "/api/v1/exemptions": {"get"}, "/api/v1/rotations": {"get"}, "/api/v1/report": {"get"}, "/report.html": {"get"},
	} {
		for _, m := range methods {
			if doc.Paths[path][m] == nil {
				t.Errorf("docs/openapi.yaml does not describe %s %s", m, path)
			}
		}
	}
	if doc.OpenAPI == "" {
		t.Error("docs/openapi.yaml: no openapi version")
	}
}
