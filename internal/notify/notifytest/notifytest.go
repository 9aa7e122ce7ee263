// Package notifytest holds fixtures shared by the receiver tests: sample
// messages, delivery checks, and a check that errors carry no secrets.
package notifytest

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/keyage/keyage/internal/notify"
)

// Now is the fixed creation time of the sample messages.
var Now = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// Item returns a sample finding for user name in account 222222222222.
func Item(user, keyID string, age int) notify.Item {
	created := Now.AddDate(0, 0, -age)
	return notify.Item{
		AccountID:   "222222222222",
		AccountName: "workloads-prod",
		UserName:    user,
		UserPath:    "/",
		ARN:         "arn:aws:iam::222222222222:user/" + user,
		ResourceID:  "AIDA" + strings.ToUpper(user) + "EXAMPLE",
		AccessKeyID: keyID,
		AgeDays:     age,
		MaxAge:      90,
		Stage:       "expired",
		Compliance:  "NON_COMPLIANT",
		CreateDate:  created,
		LastUsed:    Now.AddDate(0, 0, -3),
		LastService: "s3",
		Owner:       user + "@example.com",
		Deadline:    created.AddDate(0, 0, 90),
		ConsoleURL:  "https://console.aws.amazon.com/iam/home#/users/" + user,
	}
}

// Message returns a sample finding message about alice's key.
func Message() notify.Message {
	return notify.Message{
		ID:        "msg-0001",
		Kind:      notify.KindFinding,
		Receiver:  "test",
		GroupKey:  "user:222222222222/AIDAALICEEXAMPLE",
		Subject:   "Access key of alice in 222222222222 needs rotation",
		Text:      `Account "222222222222" User "alice" needs to rotate their access key.`,
		Items:     []notify.Item{Item("alice", "AKIAALICEEXAMPLE0001", 120)},
		CreatedAt: Now,
	}
}

// NoSecrets fails the test if err's message contains any of secrets.
func NoSecrets(t testing.TB, err error, secrets ...string) {
	t.Helper()
	if err == nil {
		return
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(err.Error(), s) {
			t.Errorf("error %q contains the secret %q", err, s)
		}
	}
}

// AWSConfig returns an AWS configuration that sends every request to
// endpoint (an httptest server) with static test credentials, in
// us-east-1, without SDK retries so that tests see each failure.
func AWSConfig(endpoint string) aws.Config {
	return aws.Config{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDTESTEXAMPLE", "test-secret-key", ""),
		BaseEndpoint:     aws.String(endpoint),
		RetryMaxAttempts: 1,
	}
}

// New returns newFn(opts), a receiver's constructor applied to its
// options, and fails the test now if it returns an error.
func New[O, N any](t testing.TB, newFn func(O) (N, error), opts O) N {
	t.Helper()
	n, err := newFn(opts)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// Deliver sends m through n and fails the test now unless Notify returns
// false, nil.
func Deliver(t testing.TB, n notify.Notifier, m notify.Message) {
	t.Helper()
	if retry, err := n.Notify(context.Background(), m); err != nil || retry {
		t.Fatalf("Notify(%s) = %v, %v, want false, nil", m.ID, retry, err)
	}
}

// Refused sends the sample Message through n and fails the test unless
// Notify returns an error containing want, with retry equal to wantRetry.
// It returns that error.
func Refused(t testing.TB, n notify.Notifier, wantRetry bool, want string) error {
	t.Helper()
	retry, err := n.Notify(context.Background(), Message())
	if err == nil || retry != wantRetry || !strings.Contains(err.Error(), want) {
		t.Errorf("Notify = %v, %v, want retry %v and an error containing %q", retry, err, wantRetry, want)
	}
	return err
}

// SignedRegion returns the region of the SigV4 credential scope of r, a
// request signed with AWSConfig's credentials; "" when r is not signed so.
func SignedRegion(r *http.Request) string {
	_, scope, ok := strings.Cut(r.Header.Get("Authorization"), "Credential=AKIDTESTEXAMPLE/")
	if !ok {
		return ""
	}
	// scope is date/region/service/aws4_request, ...
	if parts := strings.Split(scope, "/"); len(parts) > 1 {
		return parts[1]
	}
	return ""
}

// NewFails calls newFn(opts), a receiver's constructor, and fails the test
// unless it returns an error that contains every one of want and none of
// secrets.
func NewFails[O, N any](t testing.TB, newFn func(O) (N, error), opts O, want []string, secrets ...string) {
	t.Helper()
	_, err := newFn(opts)
	if err == nil {
		t.Fatal("New = nil error")
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("New error %q does not contain %q", err, w)
		}
	}
	NoSecrets(t, err, secrets...)
}
