// Package config is keyage's YAML configuration: the schema (one file per
// section), a strict decoder that reports unknown keys, wrong types and bad
// values with their YAML path and line, defaults, and cross-field validation.
//
// A section is a struct with yaml tags (camelCase keys) and two methods,
// setDefaults and validate (see section); adding one to Config is all it takes
// for the decoder, the defaults and Validate to handle it.
package config

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"

	"gopkg.in/yaml.v3"
)

// Config is the whole configuration file.
type Config struct {
	Accounts Accounts `yaml:"accounts"`
	Rule     Rule     `yaml:"rule"`
	Scan     Scan     `yaml:"scan"`

	Remediation Remediation `yaml:"remediation"`
	Schedule    Schedule    `yaml:"schedule"`
	Lifecycle   Lifecycle   `yaml:"lifecycle"`
	Enforce     Enforce     `yaml:"enforce"`
	Exemptions  Exemptions  `yaml:"exemptions"`
	Owners      Owners      `yaml:"owners"`
	Receivers   Receivers   `yaml:"receivers"`
	Routes      Routes      `yaml:"routes"`
	State       State       `yaml:"state"`
	Server      Server      `yaml:"server,omitempty"`

	file  string         // the name errors start with
	lines map[string]int // YAML path -> line, for every key present in the file
	bad   map[string]bool
}

// section is implemented by every field of Config.
type section interface {
	// setDefaults fills in what the file left unset (c.set tells).
	setDefaults(c *checker)
	// validate reports every problem with c.errorf.
	validate(c *checker)
}

// Error is one problem in a configuration, located by file, line and YAML path.
type Error struct {
	File string // "" for a configuration not read from a file
	Line int    // 0 when unknown
	Path string // e.g. accounts.ids[1]; "" for the document itself
	Msg  string
}

func (e *Error) Error() string {
	var s string
	switch {
	case e.File != "" && e.Line > 0:
		s = fmt.Sprintf("%s:%d: ", e.File, e.Line)
	case e.File != "":
		s = e.File + ": "
	case e.Line > 0:
		s = fmt.Sprintf("line %d: ", e.Line)
	}
	if e.Path != "" {
		s += e.Path + ": "
	}
	return s + e.Msg
}

// Default returns the configuration of an empty file.
func Default() *Config {
	c := &Config{}
	c.forSections(func(s section, ch *checker) { s.setDefaults(ch) })
	return c
}

// Load reads, decodes, defaults and validates the configuration file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(data, path)
}

// Parse decodes data strictly, applies defaults and validates the result.
// filename prefixes every error. All problems are reported at once, joined
// with errors.Join, each an *Error.
func Parse(data []byte, filename string) (*Config, error) {
	c := &Config{file: filename, lines: map[string]int{}, bad: map[string]bool{}}
	d := &decoder{file: filename, lines: c.lines, bad: c.bad, budget: maxNodes}
	root, err := parseYAML(data, filename)
	if err != nil {
		return nil, err
	}
	if root != nil {
		d.value(root, "", reflect.ValueOf(c).Elem())
	}
	c.forSections(func(s section, ch *checker) { s.setDefaults(ch) })
	errs := d.errs
	if err := c.Validate(); err != nil {
		errs = append(errs, err.(interface{ Unwrap() []error }).Unwrap()...)
	}
	if len(errs) > 0 {
		sortErrors(errs)
		return nil, errors.Join(errs...)
	}
	return c, nil
}

// Validate checks values and cross-field rules, reporting every problem at
// once (errors.Join of *Error). A configuration built or changed in code (for
// example by command-line flags) should be validated again.
func (c *Config) Validate() error {
	var errs []error
	c.forSections(func(s section, ch *checker) {
		ch.errs = &errs
		s.validate(ch)
	})
	if len(errs) == 0 {
		return nil
	}
	sortErrors(errs)
	return errors.Join(errs...)
}

// forSections calls f for each section of c with a checker rooted at the
// section's key.
func (c *Config) forSections(f func(section, *checker)) {
	v := reflect.ValueOf(c).Elem()
	t := v.Type()
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		s, ok := v.Field(i).Addr().Interface().(section)
		if !ok {
			panic(fmt.Sprintf("config: section %s does not implement section", sf.Name))
		}
		var discard []error
		f(s, &checker{file: c.file, lines: c.lines, bad: c.bad, path: yamlName(sf), errs: &discard, cfg: c})
	}
}

func sortErrors(errs []error) {
	// Problems without a line (values set in code) go last, in report order.
	line := func(err error) int {
		var e *Error
		if errors.As(err, &e) && e.Line > 0 {
			return e.Line
		}
		return math.MaxInt
	}
	sort.SliceStable(errs, func(i, j int) bool { return line(errs[i]) < line(errs[j]) })
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseYAML parses data into the root node of its single document; nil for an
// empty document.
func parseYAML(data []byte, filename string) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytesReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if err == io.EOF {
			return nil, nil
		}
		return nil, syntaxError(err, filename)
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == io.EOF:
	case err != nil:
		return nil, syntaxError(err, filename)
	default:
		return nil, &Error{File: filename, Line: extra.Line, Msg: "a second YAML document; the configuration is one document"}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, nil
	}
	return doc.Content[0], nil
}

func syntaxError(err error, filename string) error {
	if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{File: filename, Line: line, Msg: "invalid YAML: " + m[2]}
	}
	return &Error{File: filename, Msg: "invalid YAML: " + trimYAMLPrefix(err.Error())}
}
