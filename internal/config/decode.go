package config

import (
	"bytes"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// maxNodes bounds the nodes the decoder visits, so that aliases cannot make
// a small file expand without limit.
const maxNodes = 100_000

// decoder walks a yaml.Node tree against a Go value. It never stops at the
// first problem: each one is recorded with its path and line, and the walk
// goes on with the next key.
type decoder struct {
	file   string
	lines  map[string]int  // path -> line of every key or list element with a non-null value
	bad    map[string]bool // paths with a decode error
	errs   []error
	budget int
}

// errorf reports a bad value at path; validation then leaves path alone.
func (d *decoder) errorf(n *yaml.Node, path, format string, args ...any) {
	d.bad[path] = true
	d.report(n, path, format, args...)
}

// report reports a problem that does not make path's value bad (a duplicate key).
func (d *decoder) report(n *yaml.Node, path, format string, args ...any) {
	d.errs = append(d.errs, &Error{File: d.file, Line: n.Line, Path: path, Msg: fmt.Sprintf(format, args...)})
}

var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

// value decodes n into v (addressable) at path.
func (d *decoder) value(n *yaml.Node, path string, v reflect.Value) {
	if d.budget--; d.budget < 0 {
		if d.budget == -1 {
			d.errorf(n, path, "the document is too large (aliases expand beyond %d nodes)", maxNodes)
		}
		return
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			d.errorf(n, path, "unknown alias %q", n.Value)
			return
		}
		n = n.Alias
	}
	if isNull(n) {
		if v.Kind() == reflect.Pointer && v.Type().Elem().Kind() == reflect.Struct {
			// A mapping with every default (stdout: is stdout: {}).
			d.lines[path] = n.Line
			v.Set(reflect.New(v.Type().Elem()))
		}
		return // unset: the zero value, then the default
	}
	n, done := d.special(n, path, v)
	if done {
		return
	}
	if v.Type() == stringListType {
		// One string or a list of strings; a single string records no
		// element line, so that problems name the key (see checker.elem).
		if n.Kind == yaml.ScalarNode && n.Tag != "!!bool" {
			v.Set(reflect.ValueOf(StringList{n.Value}))
			return
		}
		if n.Kind != yaml.SequenceNode {
			d.errorf(n, path, "expected a string or a list of strings, got %s", describe(n))
			return
		}
		// A list: decoded below as any other slice.
	} else if reflect.PointerTo(v.Type()).Implements(unmarshalerType) {
		if err := v.Addr().Interface().(yaml.Unmarshaler).UnmarshalYAML(n); err != nil {
			d.errorf(n, path, "%v", err)
		}
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		e := reflect.New(v.Type().Elem())
		d.value(n, path, e.Elem())
		v.Set(e)
	case reflect.Struct:
		d.structValue(n, path, v)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.errorf(n, path, "expected a list, got %s", describe(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, e := range n.Content {
			p := path + index(i)
			if !isNull(e) {
				d.lines[p] = e.Line
			}
			d.value(e, p, s.Index(i))
		}
		v.Set(s)
	case reflect.Map:
		d.mapValue(n, path, v)
	case reflect.String:
		// Numbers are accepted as written (an unquoted account id keeps its
		// leading zeros); booleans are a mistake more often than not.
		if n.Kind != yaml.ScalarNode || n.Tag == "!!bool" {
			d.errorf(n, path, "expected a string, got %s", describe(n))
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		var b bool
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" || n.Decode(&b) != nil {
			d.errorf(n, path, "expected true or false, got %s", describe(n))
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		var i int64
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || n.Decode(&i) != nil || v.OverflowInt(i) {
			d.errorf(n, path, "expected an integer, got %s", describe(n))
			return
		}
		v.SetInt(i)
	case reflect.Float32, reflect.Float64:
		var f float64
		if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") || n.Decode(&f) != nil {
			d.errorf(n, path, "expected a number, got %s", describe(n))
			return
		}
		v.SetFloat(f)
	default:
		panic(fmt.Sprintf("config: cannot decode into %s at %s", v.Type(), path))
	}
}

// field is one yaml-tagged field of a struct.
type field struct {
	name  string
	index int
}

func fields(t reflect.Type) []field {
	var fs []field
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		if name := yamlName(sf); name != "-" {
			fs = append(fs, field{name, i})
		}
	}
	return fs
}

func yamlName(sf reflect.StructField) string {
	name, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
	if name == "" {
		panic(fmt.Sprintf("config: field %s has no yaml name", sf.Name))
	}
	return name
}

func (d *decoder) structValue(n *yaml.Node, path string, v reflect.Value) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "expected a mapping, got %s", describe(n))
		return
	}
	fs := fields(v.Type())
	byName := make(map[string]int, len(fs))
	names := make([]string, len(fs))
	for i, f := range fs {
		byName[f.name] = f.index
		names[i] = f.name
	}
	d.eachKey(n, path, func(k, val *yaml.Node, key, p string) {
		fi, ok := byName[key]
		if !ok {
			d.errorf(k, p, "unknown key (%s)", suggest(key, names))
			return
		}
		if !isNull(val) {
			d.lines[p] = k.Line
		}
		d.value(val, p, v.Field(fi))
	})
}

func (d *decoder) mapValue(n *yaml.Node, path string, v reflect.Value) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "expected a mapping, got %s", describe(n))
		return
	}
	if v.Type().Key().Kind() != reflect.String {
		panic(fmt.Sprintf("config: map key type %s at %s", v.Type().Key(), path))
	}
	m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
	d.eachKey(n, path, func(k, val *yaml.Node, key, p string) {
		if !isNull(val) {
			d.lines[p] = k.Line
		}
		e := reflect.New(v.Type().Elem()).Elem()
		d.value(val, p, e)
		m.SetMapIndex(reflect.ValueOf(key).Convert(v.Type().Key()), e)
	})
	v.Set(m)
}

// eachKey calls fn for each entry of the mapping n whose key is a plain
// string (d.key) and not a duplicate (reported), with the key's node, the
// value's node, the key and its YAML path.
func (d *decoder) eachKey(n *yaml.Node, path string, fn func(k, val *yaml.Node, key, p string)) {
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		key, ok := d.key(k, path)
		if !ok {
			continue
		}
		p := joinPath(path, key)
		if first, dup := seen[key]; dup {
			d.report(k, p, "duplicate key (first at line %d)", first)
			continue
		}
		seen[key] = k.Line
		fn(k, val, key, p)
	}
}

// key returns a mapping key's text, reporting keys that are not plain scalars.
func (d *decoder) key(k *yaml.Node, path string) (string, bool) {
	if k.Kind == yaml.AliasNode && k.Alias != nil {
		k = k.Alias
	}
	if k.Kind != yaml.ScalarNode {
		d.errorf(k, path, "a mapping key must be a plain string, got %s", describe(k))
		return "", false
	}
	if k.Tag == "!!merge" {
		d.errorf(k, path, "merge keys (<<) are not supported; repeat the keys instead")
		return "", false
	}
	return k.Value, true
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// describe names a node's kind and value for an error message.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		v := n.Value
		if len(v) > 64 {
			v = v[:61] + "..."
		}
		switch n.Tag {
		case "!!str":
			return fmt.Sprintf("%q", v)
		case "!!int":
			return "the integer " + v
		case "!!float":
			return "the number " + v
		case "!!bool":
			return "the boolean " + v
		case "!!null":
			return "null"
		}
		return fmt.Sprintf("%s %q", n.Tag, v)
	}
	return "an empty document"
}

// suggest names the closest known key, or lists them all.
func suggest(key string, known []string) string {
	norm := func(s string) string {
		return strings.ToLower(strings.NewReplacer("_", "", "-", "").Replace(s))
	}
	if len(known) == 0 {
		return "this mapping takes no keys"
	}
	best, bestDist := "", 3
	for _, k := range known {
		if norm(k) == norm(key) {
			return "did you mean " + k + "?"
		}
		if dist := levenshtein(norm(key), norm(k)); dist < bestDist && dist <= max(1, len(k)/3) {
			best, bestDist = k, dist
		}
	}
	if best != "" {
		return "did you mean " + best + "?"
	}
	sorted := append([]string(nil), known...)
	sort.Strings(sorted)
	return "known keys: " + strings.Join(sorted, ", ")
}

func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

func trimYAMLPrefix(s string) string { return strings.TrimPrefix(s, "yaml: ") }
