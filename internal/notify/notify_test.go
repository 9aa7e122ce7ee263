package notify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

func TestRetryableStatus(t *testing.T) {
	for _, tt := range []struct {
		code int
		want bool
	}{
		{200, false}, {301, false}, {400, false}, {401, false}, {403, false}, {404, false},
		{408, true}, {410, false}, {422, false}, {425, true}, {429, true},
		{500, true}, {502, true}, {503, true}, {504, true}, {599, true},
	} {
		if got := RetryableStatus(tt.code); got != tt.want {
			t.Errorf("RetryableStatus(%d) = %v, want %v", tt.code, got, tt.want)
		}
	}
}

func TestRedact(t *testing.T) {
	for _, tt := range []struct {
		name    string
		s       string
		secrets []string
		want    string
	}{
		{"plain", "post https://hooks.slack.com/services/T/B/abcd: refused", []string{"https://hooks.slack.com/services/T/B/abcd"}, "post [REDACTED]: refused"},
		{"longest first", "key abcdef", []string{"abcd", "abcdef"}, "key [REDACTED]"},
		{"query escaped", "GET /x?p=a%2Fb%3Dc", []string{"a/b=c"}, "GET /x?p=[REDACTED]"},
		{"short secrets ignored", "a b c", []string{"a", ""}, "a b c"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := Redact(tt.s, tt.secrets...); got != tt.want {
				t.Errorf("Redact(%q) = %q, want %q", tt.s, got, tt.want)
			}
		})
	}
}

func TestEndpoint(t *testing.T) {
	for in, want := range map[string]string{
		"https://hooks.slack.com/services/T0/B0/XXXX":  "https://hooks.slack.com",
		"https://user:pass@example.com:8443/x?token=1": "https://example.com:8443",
		"http://127.0.0.1:9/hook":                      "http://127.0.0.1:9",
		"::not a url":                                  "invalid URL",
		"/relative":                                    "invalid URL",
	} {
		if got := Endpoint(in); got != want {
			t.Errorf("Endpoint(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"":                              0,
		"30":                            30 * time.Second,
		"-1":                            0,
		"Mon, 01 Jun 2026 00:01:00 GMT": time.Minute,
		"soon":                          0,
		"999999999":                     999999999 * time.Second,
		"99999999999999999999999":       maxRetryAfter,
		"Fri, 01 Jun 9999 00:00:00 GMT": maxRetryAfter,
	} {
		if got := parseRetryAfter(in, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestPayloadItemsNeverNull(t *testing.T) {
	b, err := MarshalPayload(Message{ID: "x", CreatedAt: time.Date(2026, 6, 1, 2, 0, 0, 0, time.FixedZone("CEST", 2*3600))})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"x","kind":"","receiver":"","groupKey":"","subject":"","text":"","items":[],"createdAt":"2026-06-01T00:00:00Z"}`
	if string(b) != want {
		t.Errorf("MarshalPayload = %s, want %s", b, want)
	}
}

func awsErr(status int, code string, fault smithy.ErrorFault) error {
	resp := &http.Response{StatusCode: status, Header: http.Header{}}
	return &smithy.OperationError{ServiceID: "SNS", OperationName: "Publish", Err: &awshttp.ResponseError{
		ResponseError: &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: resp}, Err: &smithy.GenericAPIError{Code: code, Fault: fault}},
	}}
}

func TestAWSRetryable(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  error
		want bool
	}{
		{"throttling 400", awsErr(400, "Throttling", smithy.FaultClient), true},
		{"too many requests 429", awsErr(429, "TooManyRequestsException", smithy.FaultClient), true},
		{"internal error 500", awsErr(500, "InternalError", smithy.FaultServer), true},
		{"kms throttling", awsErr(400, "KMSThrottling", smithy.FaultClient), true},
		{"authorization error 403", awsErr(403, "AuthorizationError", smithy.FaultClient), false},
		{"not found 404", awsErr(404, "NotFound", smithy.FaultClient), false},
		{"invalid parameter 400", awsErr(400, "InvalidParameter", smithy.FaultClient), false},
		{"canceled", fmt.Errorf("publish: %w", context.Canceled), true},
		{"connection refused", &smithy.OperationError{Err: errors.New("dial tcp 127.0.0.1:1: connect: connection refused")}, true},
		{"nil", nil, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := AWSRetryable(tt.err); got != tt.want {
				t.Errorf("AWSRetryable(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestHTTPErrorMessage(t *testing.T) {
	err := &HTTPError{Endpoint: "https://hooks.slack.com", StatusCode: 429, Body: "rate_limited", RetryAfter: 30 * time.Second}
	want := "https://hooks.slack.com answered HTTP 429 Too Many Requests: rate_limited (retry after 30s)"
	if got := err.Error(); got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !strings.Contains(cleanBody([]byte("a\n  b\tc")), "a b c") {
		t.Errorf("cleanBody does not fold whitespace")
	}
}

// FuzzParseRetryAfter: any header value parses to a delay within
// [0, maxRetryAfter], never a negative or overflowed one.
func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"", "30", "-1", "999999999", "99999999999999999999999", "Mon, 01 Jun 2026 00:01:00 GMT", "soon", " 7 "} {
		f.Add(s)
	}
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		if got := parseRetryAfter(v, now); got < 0 || got > maxRetryAfter {
			t.Errorf("parseRetryAfter(%q) = %v, want within [0, %v]", v, got, maxRetryAfter)
		}
	})
}
