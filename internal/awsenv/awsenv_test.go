package awsenv_test

import (
	"context"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/keyage/keyage/internal/sandbox"
)

// Observe sees every attempt, throttled ones included, through the real SDK.
func TestObserveAttempts(t *testing.T) {
	var mu sync.Mutex
	calls, throttled := map[string]int{}, 0
	cfg := loadSandbox(t, sandbox.Options{Fixture: sandbox.Generate(sandbox.GenerateOptions{Accounts: 1, Users: 5, Seed: 1}), ThrottleRPS: 1}, 0,
		func(service, op string, th bool) {
			mu.Lock()
			defer mu.Unlock()
			calls[service+":"+op]++
			if th {
				throttled++
			}
		})
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
