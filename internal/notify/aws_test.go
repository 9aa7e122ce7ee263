package notify

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/google/go-cmp/cmp"
)

func TestNewAWSMessage(t *testing.T) {
	m := Message{ID: "msg-1", GroupKey: "run 1", Subject: "s", Text: "body text"}
	for _, tt := range []struct {
		name          string
		fifo          bool
		group, dedupe *string
		wantBody      string
	}{
		{"standard topic or queue", false, nil, nil, "body text"},
		{"fifo", true, aws.String("run-1"), aws.String("msg-1"), "body text"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NewAWSMessage(m, tt.fifo)
			if err != nil {
				t.Fatal(err)
			}
			want := AWSMessage{Body: aws.String(tt.wantBody), GroupID: tt.group, DedupeID: tt.dedupe}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("NewAWSMessage(fifo %v) (-want +got):\n%s", tt.fifo, d)
			}
		})
	}
}

func TestMessageAttributes(t *testing.T) {
	type attr struct{ dataType, value string }
	m := Message{Kind: KindFinding, Items: []Item{{AccountID: "222222222222", UserName: "alice", AccessKeyID: "AKIA1", AgeDays: 120, Stage: "expired"}}}
	got := MessageAttributes(m, func(dataType, value *string) attr { return attr{*dataType, *value} })
	want := map[string]attr{}
	for k, v := range m.Attributes() {
		want[k] = attr{AttributeType(k), v}
	}
	if got["ageDays"] != (attr{"Number", "120"}) || got["userName"] != (attr{"String", "alice"}) {
		t.Errorf("MessageAttributes ageDays %+v, userName %+v; want Number 120, String alice", got["ageDays"], got["userName"])
	}
	if d := cmp.Diff(want, got, cmp.AllowUnexported(attr{})); d != "" {
		t.Errorf("MessageAttributes (-want +got):\n%s", d)
	}
}
