package config

import (
	"strings"
	"testing"
)

func TestStateRetention(t *testing.T) {
	for _, tt := range []struct {
		name    string
		yaml    string
		want    Retention
		wantErr string
	}{
		{"defaults", "", Retention{History: 400, Audit: 400, Outbox: 30, ScanAccounts: 30}, ""},
		{"durations and zero", "state:\n  retention:\n    history: 2w\n    outbox: 0\n", Retention{History: 14, Audit: 400, Outbox: 0, ScanAccounts: 30}, ""},
		{"negative", "state:\n  retention:\n    audit: -3\n", Retention{}, "state.retention.audit: -3 days: must be 0 (keep forever) or more"},
		{"not whole days", "state:\n  retention:\n    scanAccounts: 36h\n", Retention{}, "state.retention.scanAccounts"},
		{"unknown key", "state:\n  retention:\n    scans: 10\n", Retention{}, "state.retention.scans"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.yaml), "keyage.yaml")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Parse(%q) = %v, want an error with %q", tt.yaml, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.State.Retention != tt.want {
				t.Errorf("Parse(%q).State.Retention = %+v, want %+v", tt.yaml, c.State.Retention, tt.want)
			}
		})
	}
}
