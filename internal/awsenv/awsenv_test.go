package awsenv_test

import (
	"context"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/keyage/keyage/internal/awsenv"
	"github.com/keyage/keyage/internal/sandbox"
)

// Observe sees every attempt, throttled ones included, through the real SDK.
func TestObserveAttempts(t *testing.T) {
	srv, err := sandbox.New(sandbox.Options{Fixture: sandbox.Generate(sandbox.GenerateOptions{Accounts: 1, Users: 5, Seed: 1}), ThrottleRPS: 1})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	id, secret := srv.ManagementCredentials()
	var mu sync.Mutex
	calls, throttled := map[string]int{}, 0
	cfg, err := awsenv.Load(context.Background(), awsenv.Options{Region: "us-east-1", EndpointURL: hs.URL,
		StaticCredentials: &aws.Credentials{AccessKeyID: id, SecretAccessKey: secret},
		Observe: func(service, op string, th bool) {
			mu.Lock()
			defer mu.Unlock()
			calls[service+":"+op]++
			if th {
				throttled++
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	client := iam.NewFromConfig(cfg)
	for range 3 {
		if _, err := client.ListUsers(context.Background(), &iam.ListUsersInput{}); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if calls["IAM:ListUsers"] < 3 || throttled == 0 || calls["IAM:ListUsers"] != 3+throttled {
		t.Errorf("observed %v with %d throttled; want 3 successful ListUsers plus every throttled attempt", calls, throttled)
	}
}
