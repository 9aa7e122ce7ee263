package config

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
)

// SecretRef says where one secret comes from: written in the configuration
// (Value), an environment variable (Env) or a file (File). At most one is
// set; none means the secret is not configured. The configuration holds the
// reference; the value is read at run time by Resolve.
type SecretRef struct {
	Value string // the secret itself, written inline
	Env   string // the name of an environment variable
	File  string // the path of a file
}

// IsSet reports whether the reference names a source.
func (s SecretRef) IsSet() bool { return s.Value != "" || s.Env != "" || s.File != "" }

// String describes the source without the value: "environment variable
// SLACK_WEBHOOK_URL", "file /run/secrets/hook", "inline value" or "not set".
func (s SecretRef) String() string {
	switch {
	case s.Env != "":
		return "environment variable " + s.Env
	case s.File != "":
		return "file " + s.File
	case s.Value != "":
		return "inline value"
	}
	return "not set"
}

// Resolve returns the secret. A file's trailing line break is dropped. An
// unset reference resolves to "" without an error (validation makes the
// required secrets set). Errors name the environment variable or the file,
// never the value.
func (s SecretRef) Resolve() (string, error) {
	switch {
	case s.Env != "":
		v, ok := os.LookupEnv(s.Env)
		if !ok {
			return "", fmt.Errorf("read secret: environment variable %s is not set", s.Env)
		}
		if v == "" {
			return "", fmt.Errorf("read secret: environment variable %s is empty", s.Env)
		}
		return v, nil
	case s.File != "":
		b, err := os.ReadFile(s.File)
		if err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				// The path error names the file and the cause, nothing read.
				return "", fmt.Errorf("read secret file %s: %w", s.File, pe.Err)
			}
			return "", fmt.Errorf("read secret file %s: %w", s.File, err)
		}
		v := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
		if v == "" {
			return "", fmt.Errorf("read secret file %s: the file is empty", s.File)
		}
		return v, nil
	}
	return s.Value, nil
}

var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// secret checks the shape of the secret given by the keys base (inline;
// only when inline is true), base+"Env" and base+"File": at most one of
// them, exactly one when required. Values are never echoed, and the
// environment and files are not read.
func (c *checker) secret(base string, s SecretRef, inline, required bool) {
	type source struct {
		key, value string
	}
	var all []source
	if inline {
		all = append(all, source{base, s.Value})
	}
	all = append(all, source{base + "Env", s.Env}, source{base + "File", s.File})
	keys := make([]string, len(all))
	var given []string
	for i, src := range all {
		keys[i] = src.key
		switch {
		case src.value != "":
			given = append(given, src.key)
		case c.set(src.key):
			c.errorf(src.key, "empty; leave the key out or give a value")
		}
	}
	alternatives := orList(keys)
	switch {
	case len(given) > 1:
		c.errorf(given[1], "%s is set too; give the secret one way: %s", given[0], alternatives)
	case len(given) == 0 && required:
		c.errorf("", "%s is required", alternatives)
	}
	if s.Env != "" && !envNameRE.MatchString(s.Env) {
		c.errorf(base+"Env", "not an environment variable name (letters, digits and _, not starting with a digit)")
	}
}

// orList joins words as "a, b or c".
func orList(words []string) string {
	if len(words) <= 1 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}
