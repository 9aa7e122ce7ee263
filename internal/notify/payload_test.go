package notify

import (
	"strings"
	"testing"
)

func TestFIFOIDs(t *testing.T) {
	long := strings.Repeat("g", 129)
	for _, tt := range []struct {
		name          string
		m             Message
		group, dedupe string
	}{
		{name: "group key and id", m: Message{ID: "msg-1", GroupKey: "user:2222/AIDA1"}, group: "user:2222/AIDA1", dedupe: "msg-1"},
		{name: "no group key", m: Message{ID: "msg-2"}, group: "keyage", dedupe: "msg-2"},
		{name: "spaces become dashes", m: Message{ID: "a b", GroupKey: "run 1"}, group: "run-1", dedupe: "a-b"},
		{name: "long group key hashed", m: Message{ID: "msg-3", GroupKey: long}, group: DedupeID(long), dedupe: "msg-3"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			group, dedupe := tt.m.FIFOIDs()
			if group != tt.group || dedupe != tt.dedupe {
				t.Errorf("FIFOIDs() = %q, %q; want %q, %q", group, dedupe, tt.group, tt.dedupe)
			}
			if len(group) > 128 || len(dedupe) > 128 {
				t.Errorf("FIFOIDs() lengths %d, %d; want at most 128", len(group), len(dedupe))
			}
		})
	}
}

func TestAttributeType(t *testing.T) {
	for _, tt := range []struct{ name, want string }{
		{"ageDays", "Number"},
		{"kind", "String"},
		{"accountId", "String"},
		{"stage", "String"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := AttributeType(tt.name); got != tt.want {
				t.Errorf("AttributeType(%q) = %q, want %q", tt.name, got, tt.want)
			}
		})
	}
}
