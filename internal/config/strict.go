package config

import (
	"errors"
	"fmt"
	"reflect"
	"time"

	"gopkg.in/yaml.v3"
)

// Rewriter is implemented by a type written in more than one shape: RewriteYAML returns the
// node the strict decoder decodes in its place (for example a role written as its bare name
// becomes the mapping {name: X}). Unlike yaml.Unmarshaler, the rewritten node is still decoded
// strictly, so that problems inside it carry their own line and path.
type Rewriter interface {
	RewriteYAML(n *yaml.Node) (*yaml.Node, error)
}

var (
	rewriterType = reflect.TypeFor[Rewriter]()
	timeType     = reflect.TypeFor[time.Time]()
)

// DecodeStrict decodes the YAML (or JSON) document data into v, a non-nil pointer, as Parse
// decodes a configuration: unknown and duplicate keys and values of the wrong kind are errors
// naming name:line and the YAML path, with "did you mean" suggestions, all reported at once
// (errors.Join of *Error, in line order). Struct fields are named by their yaml tags;
// time.Time is an RFC 3339 time; a yaml.Unmarshaler decodes its own node and a Rewriter
// reshapes it first. It returns the line of every path that has a value, for the caller's
// validation messages. An empty document leaves v as it is.
func DecodeStrict(name string, data []byte, v any) (map[string]int, error) {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return nil, fmt.Errorf("decode %s: want a non-nil pointer, got %T", name, v)
	}
	root, err := parseYAML(data, name)
	if err != nil {
		return nil, err
	}
	d := &decoder{file: name, lines: map[string]int{}, bad: map[string]bool{}, budget: maxNodes}
	if root != nil {
		d.value(root, "", rv.Elem())
	}
	if len(d.errs) > 0 {
		sortErrors(d.errs)
		return d.lines, errors.Join(d.errs...)
	}
	return d.lines, nil
}

// special decodes the types the strict decoder handles apart from their kind: a Rewriter's
// node is replaced, a time.Time parsed. It returns the node to go on with, and whether v is
// decoded already.
func (d *decoder) special(n *yaml.Node, path string, v reflect.Value) (*yaml.Node, bool) {
	if reflect.PointerTo(v.Type()).Implements(rewriterType) {
		m, err := v.Addr().Interface().(Rewriter).RewriteYAML(n)
		if err != nil {
			d.errorf(n, path, "%v", err)
			return n, true
		}
		n = m
	}
	if v.Type() == timeType {
		var t time.Time
		var err error
		if n.Kind == yaml.ScalarNode {
			t, err = time.Parse(time.RFC3339, n.Value)
		}
		if n.Kind != yaml.ScalarNode || err != nil {
			d.errorf(n, path, "expected an RFC 3339 time like 2026-01-05T10:00:00Z, got %s", describe(n))
			return n, true
		}
		v.Set(reflect.ValueOf(t))
		return n, true
	}
	return n, false
}
