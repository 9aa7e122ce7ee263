package config

import "testing"

func TestDefaultTo(t *testing.T) {
	for _, tt := range []struct {
		name  string
		lines map[string]int // the keys the file sets
		value int
		want  int
	}{
		{"absent key takes the default", map[string]int{}, 0, 8},
		{"a zero written in the file stays for validate", map[string]int{"scan.concurrency": 3}, 0, 0},
		{"a value stays", map[string]int{"scan.concurrency": 3}, 2, 2},
		{"configuration built in code takes the default", nil, 0, 8},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := &checker{lines: tt.lines, path: "scan"}
			got := tt.value
			defaultTo(c, "concurrency", &got, 8)
			if got != tt.want {
				t.Errorf("defaultTo(concurrency %d) = %d, want %d", tt.value, got, tt.want)
			}
		})
	}
}
