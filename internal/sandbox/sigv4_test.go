package sandbox

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// tamperTransport changes the request body after the SDK signed it.
type tamperTransport struct{ from, to string }

func (tt tamperTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		b = bytes.Replace(b, []byte(tt.from), []byte(tt.to), 1)
		r.Body = io.NopCloser(bytes.NewReader(b))
		r.ContentLength = int64(len(b))
	}
	return http.DefaultTransport.RoundTrip(r)
}

// TestSignatureErrors sends requests through the SDK that AWS refuses before any operation
// runs, over a query service (IAM), a JSON service (Organizations) and SQS (JSON with query
// error codes), and checks each protocol's error code.
func TestSignatureErrors(t *testing.T) {
	ts := newTestSandbox(t, Options{})
	ctx := context.Background()
	id, secret := ts.ManagementCredentials()

	// A short session, to expire.
	out, err := sts.NewFromConfig(ts.mgmtConfig()).AssumeRole(ctx, &sts.AssumeRoleInput{
		RoleArn: aws.String("arn:aws:iam::222222222222:role/KeyageAuditRole"), RoleSessionName: aws.String("short"), DurationSeconds: aws.Int32(900)})
	if err != nil {
		t.Fatal(err)
	}
	sess := out.Credentials
	expired := ts.config(*sess.AccessKeyId, *sess.SecretAccessKey, *sess.SessionToken)
	tampered := ts.mgmtConfig()
	tampered.HTTPClient = &http.Client{Transport: tamperTransport{from: "MaxItems=", to: "MaxItems=9"}}
	tamperedJSON := ts.mgmtConfig()
	tamperedJSON.HTTPClient = &http.Client{Transport: tamperTransport{from: "{", to: "{ "}}

	calls := map[string]func(cfg aws.Config) error{
		"query": func(cfg aws.Config) error {
			_, err := iam.NewFromConfig(cfg).ListUsers(ctx, &iam.ListUsersInput{MaxItems: aws.Int32(5)})
			return err
		},
		"json": func(cfg aws.Config) error {
			_, err := organizations.NewFromConfig(cfg).ListAccounts(ctx, &organizations.ListAccountsInput{MaxResults: aws.Int32(5)})
			return err
		},
		"sqs": func(cfg aws.Config) error {
			_, err := sqs.NewFromConfig(cfg).ListQueues(ctx, &sqs.ListQueuesInput{MaxResults: aws.Int32(5)})
			return err
		},
	}
	for _, tt := range []struct {
		name  string
		cfg   aws.Config
		proto string
		code  string
	}{
		{"wrong secret, query", ts.config(id, strings.Repeat("x", 40), ""), "query", "SignatureDoesNotMatch"},
		{"wrong secret, json", ts.config(id, strings.Repeat("x", 40), ""), "json", "InvalidSignatureException"},
		{"wrong secret, sqs", ts.config(id, strings.Repeat("x", 40), ""), "sqs", "SignatureDoesNotMatch"},
		{"unknown key id, query", ts.config("AKIAUNKNOWNUNKNOWN00", secret, ""), "query", "InvalidClientTokenId"},
		{"unknown key id, json", ts.config("AKIAUNKNOWNUNKNOWN00", secret, ""), "json", "UnrecognizedClientException"},
		{"expired session, query", expired, "query", "ExpiredToken"},
		{"expired session, json", expired, "json", "ExpiredTokenException"},
		{"tampered body, query", tampered, "query", "SignatureDoesNotMatch"},
		{"tampered body, json", tamperedJSON, "json", "InvalidSignatureException"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if strings.HasPrefix(tt.name, "expired") {
				ts.clock.Advance(16 * time.Minute)
				defer ts.clock.Advance(-16 * time.Minute)
			}
			tt.cfg.RetryMaxAttempts = 1
			err := calls[tt.proto](tt.cfg)
			if err == nil {
				t.Fatalf("%s call succeeded, want %s", tt.proto, tt.code)
			}
			if code, msg := apiErr(t, err); code != tt.code {
				t.Errorf("%s call: error %s: %s, want %s", tt.proto, code, msg, tt.code)
			}
		})
	}
	// The untampered calls work.
	for proto, call := range calls {
		if err := call(ts.mgmtConfig()); err != nil {
			t.Errorf("%s call with the management credentials: %v", proto, err)
		}
	}
}

func TestSignatureClockSkew(t *testing.T) {
	for _, tt := range []struct {
		name    string
		skew    time.Duration
		wantErr string
	}{
		{"on time", 0, ""},
		{"14 minutes fast", 14 * time.Minute, ""},
		{"16 minutes fast", 16 * time.Minute, "Signature expired: "},
		{"16 minutes slow", -16 * time.Minute, "Signature not yet current: "},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestSandbox(t, Options{RequestClock: func() time.Time { return time.Now().Add(tt.skew) }})
			cfg := ts.mgmtConfig()
			cfg.RetryMaxAttempts = 1
			_, err := iam.NewFromConfig(cfg).ListUsers(context.Background(), &iam.ListUsersInput{})
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ListUsers with the clock %v off: %v", tt.skew, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("ListUsers with the clock %v off succeeded", tt.skew)
			}
			if code, msg := apiErr(t, err); code != "SignatureDoesNotMatch" || !strings.HasPrefix(msg, tt.wantErr) {
				t.Errorf("ListUsers with the clock %v off: %s: %s, want SignatureDoesNotMatch: %s...", tt.skew, code, msg, tt.wantErr)
			}
		})
	}
}

// TestPresignedURL signs GetCallerIdentity in a URL, as EKS's aws-iam-authenticator does.
func TestPresignedURL(t *testing.T) {
	ts := newTestSandbox(t, Options{})
	ctx := context.Background()
	pre, err := sts.NewPresignClient(sts.NewFromConfig(ts.mgmtConfig())).PresignGetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	send := func(rawURL string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(pre.Method, rawURL, nil)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range pre.SignedHeader {
			if k != "Host" {
				req.Header[k] = v
			}
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	status, body := send(pre.URL)
	if status != http.StatusOK || !strings.Contains(body, "<Account>111111111111</Account>") {
		t.Fatalf("presigned GetCallerIdentity: %d %s", status, body)
	}
	u, _ := url.Parse(pre.URL)
	q := u.Query()
	q.Set("X-Amz-Date", time.Now().UTC().Add(-time.Minute).Format(amzDateFormat))
	u.RawQuery = q.Encode()
	if status, body := send(u.String()); status != http.StatusForbidden || !strings.Contains(body, "<Code>SignatureDoesNotMatch</Code>") {
		t.Errorf("tampered presigned URL: %d %s, want 403 SignatureDoesNotMatch", status, body)
	}
}

func TestPresignedURLExpires(t *testing.T) {
	now := time.Now()
	ts := newTestSandbox(t, Options{RequestClock: func() time.Time { return now }})
	pre, err := sts.NewPresignClient(sts.NewFromConfig(ts.mgmtConfig())).PresignGetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(16 * time.Minute) // the default X-Amz-Expires is 900 seconds
	req := httptest.NewRequest(pre.Method, pre.URL, nil)
	w := httptest.NewRecorder()
	ts.ServeHTTP(w, req)
	if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "Signature expired") {
		t.Errorf("presigned URL 16 minutes later: %d %s, want 403 Signature expired", w.Code, w.Body)
	}
}

// TestFixtureUserSigns checks that a fixture user can sign with the secret AccessKeySecret
// gives, and not with another.
func TestFixtureUserSigns(t *testing.T) {
	ts := newTestSandbox(t, Options{})
	ctx := context.Background()
	keys, err := ts.iam(t, "222222222222").ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("svc-deploy")})
	if err != nil {
		t.Fatal(err)
	}
	id := *keys.AccessKeyMetadata[0].AccessKeyId
	secret, ok := ts.AccessKeySecret(id)
	if !ok {
		t.Fatalf("AccessKeySecret(%s) = not found", id)
	}
	who, err := sts.NewFromConfig(ts.config(id, secret, "")).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if want := "arn:aws:iam::222222222222:user/service/svc-deploy"; *who.Arn != want {
		t.Errorf("GetCallerIdentity as svc-deploy = %s, want %s", *who.Arn, want)
	}
	created, err := iam.NewFromConfig(ts.config(id, secret, "")).CreateAccessKey(ctx, &iam.CreateAccessKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	k := created.AccessKey
	if _, err := sts.NewFromConfig(ts.config(*k.AccessKeyId, *k.SecretAccessKey, "")).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
		t.Errorf("GetCallerIdentity with a created key: %v", err)
	}
	_, err = sts.NewFromConfig(ts.config(*k.AccessKeyId, secret, "")).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if code, _ := apiErr(t, err); code != "SignatureDoesNotMatch" {
		t.Errorf("GetCallerIdentity with another key's secret: %s, want SignatureDoesNotMatch", code)
	}
}
