package output

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/keyage/keyage/internal/rule"
)

// elements writes what json.MarshalIndent wrote before it, element by
// element, in one buffer.
func TestElementsMatchMarshalIndent(t *testing.T) {
	ev := rule.Evaluation{AccountID: "111122223333", ResourceID: "AIDAEXAMPLE", Annotation: `key <AKIA> & "quoted" é`}
	for _, tt := range []struct {
		name   string
		prefix string
		vs     []any
	}{
		{"one evaluation", "    ", []any{&ev}},
		{"evaluations in a row", "    ", []any{&ev, &rule.Evaluation{}, &ev}},
		{"scalars and nesting", "  ", []any{"<html>", 42, []int{}, map[string]any{"b": []string{"x"}, "a": time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got, want bytes.Buffer
			els := newElements(&got, tt.prefix)
			for _, v := range tt.vs {
				if err := els.add(v, itemSep); err != nil {
					t.Fatalf("add(%v): %v", v, err)
				}
				b, err := json.MarshalIndent(v, tt.prefix, "  ")
				if err != nil {
					t.Fatal(err)
				}
				want.WriteString(tt.prefix)
				want.Write(b)
				want.WriteString(itemSep)
			}
			if got.String() != want.String() {
				t.Errorf("elements wrote\n%s\nwant (MarshalIndent)\n%s", got.String(), want.String())
			}
		})
	}
}
