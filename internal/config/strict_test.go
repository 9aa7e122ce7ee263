package config

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"
)

// strictDoc exercises DecodeStrict's hooks: a time, a Rewriter, nesting.
type strictDoc struct {
	When  *time.Time     `yaml:"when"`
	Items []strictItem   `yaml:"items"`
	Tags  map[string]int `yaml:"tags"`
}

// strictItem may be written as its bare name.
type strictItem struct {
	Name  string `yaml:"name"`
	Count int    `yaml:"count"`
}

func (*strictItem) RewriteYAML(n *yaml.Node) (*yaml.Node, error) {
	if n.Kind != yaml.ScalarNode {
		return n, nil
	}
	key := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "name", Line: n.Line}
	return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: n.Line, Content: []*yaml.Node{key, n}}, nil
}

func TestDecodeStrict(t *testing.T) {
	when := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name    string
		in      string
		want    strictDoc
		wantErr []string
	}{
		{name: "time and both shapes", in: "when: 2026-01-05T10:00:00Z\nitems: [a, {name: b, count: 2}]\n",
			want: strictDoc{When: &when, Items: []strictItem{{Name: "a"}, {Name: "b", Count: 2}}}},
		{name: "empty document", in: "# nothing\n"},
		{name: "not RFC 3339", in: "when: 5 Jan 2026\n",
			wantErr: []string{`x.yaml:1: when: expected an RFC 3339 time like 2026-01-05T10:00:00Z, got "5 Jan 2026"`}},
		{name: "problems inside a rewritten node keep their path", in: "items:\n  - a\n  - {name: b, conut: 2}\n  - {name: c, count: many}\n",
			wantErr: []string{
				`x.yaml:3: items[1].conut: unknown key (known keys: count, name)`,
				`x.yaml:4: items[2].count: expected an integer, got "many"`,
			}},
		{name: "map of values", in: "tags: {a: 1, b: 2}\n", want: strictDoc{Tags: map[string]int{"a": 1, "b": 2}}},
		{name: "duplicate key in a struct", in: "items:\n  - name: a\n    name: b\n",
			wantErr: []string{"x.yaml:3: items[0].name: duplicate key (first at line 2)"}},
		{name: "duplicate key in a map", in: "tags:\n  a: 1\n  a: 2\n",
			wantErr: []string{"x.yaml:3: tags.a: duplicate key (first at line 2)"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got strictDoc
			_, err := DecodeStrict("x.yaml", []byte(tt.in), &got)
			var errs []string
			if err != nil {
				errs = strings.Split(err.Error(), "\n")
			}
			if d := cmp.Diff(tt.wantErr, errs); d != "" {
				t.Errorf("DecodeStrict(%q) errors (-want +got):\n%s", tt.in, d)
			}
			if err == nil {
				if d := cmp.Diff(tt.want, got); d != "" {
					t.Errorf("DecodeStrict(%q) (-want +got):\n%s", tt.in, d)
				}
			}
		})
	}
}

func TestDecodeStrictLines(t *testing.T) {
	var doc strictDoc
	lines, err := DecodeStrict("x.yaml", []byte("when: 2026-01-05T10:00:00Z\nitems:\n  - a\n"), &doc)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(map[string]int{"when": 1, "items": 2, "items[0]": 3, "items[0].name": 3}, lines); d != "" {
		t.Errorf("DecodeStrict lines (-want +got):\n%s", d)
	}
	if _, err := DecodeStrict("x.yaml", nil, doc); err == nil {
		t.Error("DecodeStrict into a non-pointer: nil error")
	}
}
