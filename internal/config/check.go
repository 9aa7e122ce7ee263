package config

import (
	"fmt"
	"strings"
)

// checker is what a section's setDefaults and validate see: its place in the
// file and where to report problems.
type checker struct {
	file  string
	lines map[string]int  // nil for a configuration built in code
	bad   map[string]bool // paths the decoder already reported
	path  string          // the section's key, e.g. "accounts"
	errs  *[]error
	cfg   *Config // the whole configuration, for rules that span sections
}

// in returns a checker for the mapping or list element at key inside c's
// path, reporting to the same place.
func (c *checker) in(key string) *checker {
	sub := *c
	sub.path = c.at(key)
	return &sub
}

// elem returns the key of element i of the list at key. A StringList written
// as a single string has no elements in the file: its problems are reported
// at key itself.
func (c *checker) elem(key string, i int) string {
	if c.lines != nil && i == 0 && c.set(key) && !c.set(key+index(i)) {
		return key
	}
	return key + index(i)
}

// at returns the YAML path of key (a field name or an index like "[1]")
// inside the checker's section.
func (c *checker) at(key string) string { return joinPath(c.path, key) }

func joinPath(parent, key string) string {
	switch {
	case parent == "":
		return key
	case key == "":
		return parent
	case strings.HasPrefix(key, "["):
		return parent + key
	}
	return parent + "." + key
}

// set reports whether the file gave key a (non-null) value.
func (c *checker) set(key string) bool {
	_, ok := c.lines[c.at(key)]
	return ok
}

// defaultTo sets *p to def when *p is its zero value and key is not in the
// file: a key written with a zero value ("concurrency: 0") is kept for
// validate to judge, not replaced by the default.
func defaultTo[T comparable](c *checker, key string, p *T, def T) {
	var zero T
	if *p == zero && !c.set(key) {
		*p = def
	}
}

// errorf reports a problem with key, unless the decoder already reported one
// at or inside it.
func (c *checker) errorf(key, format string, args ...any) {
	p := c.at(key)
	for q := p; q != ""; q = parentPath(q) {
		if c.bad[q] {
			return
		}
	}
	*c.errs = append(*c.errs, &Error{File: c.file, Line: lineOf(c.lines, p), Path: p, Msg: fmt.Sprintf(format, args...)})
}

// lineOf returns the line of path, or of its nearest parent in the file.
func lineOf(lines map[string]int, path string) int {
	for p := path; p != ""; p = parentPath(p) {
		if l, ok := lines[p]; ok {
			return l
		}
	}
	return 0
}

// parentPath strips the last element: a.b[1] -> a.b, a.b -> a, a -> "".
func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}

// index formats a list index as a path element.
func index(i int) string { return fmt.Sprintf("[%d]", i) }
