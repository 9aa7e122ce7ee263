package output

import "testing"

func TestCount(t *testing.T) {
	for _, tt := range []struct {
		name string
		n    int
		unit string
		want string
	}{
		{"none", 0, "notification", "0 notifications"},
		{"one", 1, "active root key", "1 active root key"},
		{"two", 2, "active root key", "2 active root keys"},
		{"one user", 1, "user", "1 user"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := Count(tt.n, tt.unit); got != tt.want {
				t.Errorf("Count(%d, %q) = %q, want %q", tt.n, tt.unit, got, tt.want)
			}
		})
	}
}
