package remediate

import "testing"

func TestConsoleURL(t *testing.T) {
	for _, tt := range []struct{ arn, want string }{
		{"arn:aws:iam::222222222222:user/ops/alice", "https://console.aws.amazon.com/iam/home#/users/details/alice?section=security_credentials"},
		{"arn:aws-us-gov:iam::222222222222:user/alice", "https://console.amazonaws-us-gov.com/iam/home#/users/details/alice?section=security_credentials"},
		{"arn:aws-cn:iam::222222222222:user/alice", "https://console.amazonaws.cn/iam/home#/users/details/alice?section=security_credentials"},
		{"", "https://console.aws.amazon.com/iam/home#/users/details/alice?section=security_credentials"},
	} {
		if got := consoleURL(tt.arn, "alice"); got != tt.want {
			t.Errorf("consoleURL(%q) = %s, want %s", tt.arn, got, tt.want)
		}
	}
}
