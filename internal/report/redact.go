package report

import (
	"fmt"
	"reflect"

	"gopkg.in/yaml.v3"

	"github.com/keyage/keyage/internal/config"
	"github.com/keyage/keyage/internal/notify"
)

// RedactedConfig is cfg as YAML with every secret written inline in it
// replaced by notify.Redacted. The secrets are what the config's accessors
// (SlackConfig.WebhookURLSecret, JiraConfig.TokenSecret, ...) return as a
// config.SecretRef's Value; secrets read from the environment or a file
// are not in the config, only their names.
func RedactedConfig(cfg *config.Config) (string, error) {
	b, err := yaml.Marshal(cfg)
	if err != nil {
		return "", fmt.Errorf("encode the configuration: %w", err)
	}
	return notify.Redact(string(b), inlineSecrets(reflect.ValueOf(cfg), nil)...), nil
}

var secretRefType = reflect.TypeFor[config.SecretRef]()

// inlineSecrets collects the inline values of every secret accessor (a
// method without arguments returning a config.SecretRef) of v and of what
// v holds.
func inlineSecrets(v reflect.Value, out []string) []string {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			out = inlineSecrets(v.Elem(), out)
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumMethod() {
			m := t.Method(i)
			if m.Type.NumIn() == 1 && m.Type.NumOut() == 1 && m.Type.Out(0) == secretRefType {
				if s := v.Method(i).Call(nil)[0].Interface().(config.SecretRef).Value; s != "" {
					out = append(out, s)
				}
			}
		}
		for i := range t.NumField() {
			if t.Field(i).IsExported() {
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
