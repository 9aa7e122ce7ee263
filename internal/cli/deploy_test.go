package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestDeployRender(t *testing.T) {
	t.Run("yaml to a new directory", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "cfn")
		code, stdout, stderr := runCLI(t, "deploy", "render", "--out", dir)
		if code != ExitOK {
			t.Fatalf("keyage deploy render --out: exit %d, stderr:\n%s", code, stderr)
		}
		if stdout != "" {
			t.Errorf("stdout = %q, want nothing (the templates go to files)", stdout)
		}
		for _, name := range []string{"master.yaml", "target.yaml"} {
			data, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			var tmpl struct {
				AWSTemplateFormatVersion string `yaml:"AWSTemplateFormatVersion"`
				Resources                map[string]struct {
					Type string `yaml:"Type"`
				} `yaml:"Resources"`
			}
			if err := yaml.Unmarshal(data, &tmpl); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if tmpl.AWSTemplateFormatVersion != "2010-09-09" || len(tmpl.Resources) == 0 {
				t.Errorf("%s: version %q, %d resources; want a CloudFormation template", name, tmpl.AWSTemplateFormatVersion, len(tmpl.Resources))
			}
			if !strings.Contains(stderr, name) {
				t.Errorf("stderr does not report %s:\n%s", name, stderr)
			}
		}
		entries, _ := os.ReadDir(dir)
		if len(entries) != 2 {
			t.Errorf("wrote %d files, want 2", len(entries))
		}
	})
	t.Run("json", func(t *testing.T) {
		dir := t.TempDir()
		code, _, stderr := runCLI(t, "deploy", "render", "--out", dir, "--format", "json", "--log-level", "error")
		if code != ExitOK {
			t.Fatalf("exit %d, stderr:\n%s", code, stderr)
		}
		for _, name := range []string{"master.json", "target.json"} {
			data, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			var tmpl map[string]any
			if err := json.Unmarshal(data, &tmpl); err != nil {
				t.Errorf("%s is not valid JSON: %v", name, err)
			}
			if tmpl["Resources"] == nil {
				t.Errorf("%s has no Resources", name)
			}
		}
	})
	t.Run("one template to stdout", func(t *testing.T) {
		code, stdout, stderr := runCLI(t, "deploy", "render", "--template", "target", "--format", "json")
		if code != ExitOK {
			t.Fatalf("exit %d, stderr:\n%s", code, stderr)
		}
		var tmpl struct {
			Resources map[string]struct{ Type string }
		}
		if err := json.Unmarshal([]byte(stdout), &tmpl); err != nil {
			t.Fatalf("stdout is not one JSON template: %v", err)
		}
		if tmpl.Resources["AccessKeysRotatedRule"].Type != "AWS::Config::ConfigRule" {
			t.Errorf("stdout is not the target template: %v", tmpl.Resources)
		}
	})
	for _, tt := range []struct {
		name string
		args []string
	}{
		{"unknown format", []string{"deploy", "render", "--out", "x", "--format", "xml"}},
		{"unknown template", []string{"deploy", "render", "--template", "child"}},
		{"nowhere to write", []string{"deploy", "render"}},
		{"argument", []string{"deploy", "render", "out"}},
		{"unknown flag", []string{"deploy", "render", "--outdir", "x"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			t.Chdir(dir)
			code, _, stderr := runCLI(t, tt.args...)
			if code != ExitUsage {
				t.Errorf("keyage %s: exit %d, want %d; stderr:\n%s", strings.Join(tt.args, " "), code, ExitUsage, stderr)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("keyage %s wrote %d files despite the usage error", strings.Join(tt.args, " "), len(entries))
			}
		})
	}
}
