package awsenv

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
)

func TestForQueue(t *testing.T) {
	base := aws.Config{Region: "eu-west-1"}
	for _, tt := range []struct {
		name, url, want string
	}{
		{"queue in us-east-1", "https://sqs.us-east-1.amazonaws.com/111111111111/keyage-events", "us-east-1"},
		{"queue in the default region", "https://sqs.eu-west-1.amazonaws.com/111111111111/q", "eu-west-1"},
		{"China partition", "https://sqs.cn-north-1.amazonaws.com.cn/111111111111/q", "cn-north-1"},
		{"legacy host", "https://us-west-2.queue.amazonaws.com/111111111111/q", "us-west-2"},
		{"endpoint override", "http://127.0.0.1:4566/111111111111/q", "eu-west-1"},
		{"not a URL", "::", "eu-west-1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := ForQueue(base, tt.url).Region; got != tt.want {
				t.Errorf("ForQueue(region eu-west-1, %s).Region = %s, want %s", tt.url, got, tt.want)
			}
		})
	}
}
