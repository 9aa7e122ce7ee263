package report

import (
	"fmt"
	"reflect"

	"gopkg.in/yaml.v3"

	"github.com/keyage/keyage/internal/config"
	"github.com/keyage/keyage/internal/notify"
)

// RedactedConfig is cfg as YAML with every secret written in it replaced
// by notify.Redacted: a secret reference (config.SecretRef) shows where the
// secret comes from (an environment variable or a file), never an inline
// value, and any inline value that appears elsewhere is redacted too.
func RedactedConfig(cfg *config.Config) (string, error) {
	var doc yaml.Node
	if err := doc.Encode(cfg); err != nil {
		return "", fmt.Errorf("encode the configuration: %w", err)
	}
	redactSecretRefs(&doc)
	b, err := yaml.Marshal(&doc)
	if err != nil {
		return "", fmt.Errorf("encode the configuration: %w", err)
	}
	return notify.Redact(string(b), inlineSecrets(reflect.ValueOf(cfg), nil)...), nil
}

// redactSecretRefs rewrites every mapping shaped like a config.SecretRef
// (keys value, env, file): the value redacted, empty sources dropped.
func redactSecretRefs(n *yaml.Node) {
	if n.Kind == yaml.MappingNode && isSecretRef(n) {
		var kept []*yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if v.Value == "" {
				continue
			}
			if k.Value == "value" {
				v.Value, v.Tag, v.Style = notify.Redacted, "!!str", 0
			}
			kept = append(kept, k, v)
		}
		n.Content = kept
		if len(kept) == 0 {
			n.Kind, n.Tag, n.Value, n.Style, n.Content = yaml.ScalarNode, "!!str", "not set", 0, nil
		}
		return
	}
	for _, c := range n.Content {
		redactSecretRefs(c)
	}
}

func isSecretRef(n *yaml.Node) bool {
	if len(n.Content) != 6 {
		return false
	}
	want := map[string]bool{"value": true, "env": true, "file": true}
	for i := 0; i < len(n.Content); i += 2 {
		if !want[n.Content[i].Value] {
			return false
		}
	}
	return true
}

var secretRefType = reflect.TypeFor[config.SecretRef]()

// inlineSecrets collects the inline values of every config.SecretRef in v.
func inlineSecrets(v reflect.Value, out []string) []string {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			out = inlineSecrets(v.Elem(), out)
		}
	case reflect.Struct:
		if v.Type() == secretRefType {
			if s := v.Interface().(config.SecretRef).Value; s != "" {
				out = append(out, s)
			}
			return out
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				out = inlineSecrets(v.Field(i), out)
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			out = inlineSecrets(v.Index(i), out)
		}
	case reflect.Map:
		for it := v.MapRange(); it.Next(); {
			out = inlineSecrets(it.Value(), out)
		}
	}
	return out
}
