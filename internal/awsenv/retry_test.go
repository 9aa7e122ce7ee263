package awsenv_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/keyage/keyage/internal/awsenv"
	"github.com/keyage/keyage/internal/sandbox"
	"github.com/keyage/keyage/internal/sandbox/sandboxtest"
)

// loadSandbox serves o's fixture (a small generated organization when nil)
// with o's faults and returns the management account's config with
// maxAttempts and observe.
func loadSandbox(t *testing.T, o sandbox.Options, maxAttempts int, observe func(string, string, bool)) aws.Config {
	t.Helper()
	if o.Fixture == nil {
		o.Fixture = sandbox.Generate(sandbox.GenerateOptions{Accounts: 1, Users: 2, Seed: 1})
	}
	return sandboxtest.Serve(t, o).Load(t, func(ao *awsenv.Options) {
		ao.MaxAttempts, ao.Observe = maxAttempts, observe
	})
}

// Throttling slows calls down instead of failing them: at 2 requests a
// second, 12 clients calling at once all succeed although most are
// throttled more times than maxAttempts (3) allows for other errors.
func TestThrottledCallsSlowDownNotFail(t *testing.T) {
	var throttled atomic.Int64
	cfg := loadSandbox(t, sandbox.Options{ThrottleRPS: 2}, 3, func(_, _ string, th bool) {
		if th {
			throttled.Add(1)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, 12)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = iam.NewFromConfig(cfg).ListUsers(ctx, &iam.ListUsersInput{})
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Errorf("throttled calls failed: %v", awsenv.Simplify(err))
	}
	if throttled.Load() <= 2*3 {
		t.Errorf("%d throttled attempts: the sandbox barely throttled, the test proves nothing", throttled.Load())
	}
}

// Other retryable errors still end a call after maxAttempts.
func TestOtherErrorsEndAfterMaxAttempts(t *testing.T) {
	var attempts atomic.Int64
	cfg := loadSandbox(t, sandbox.Options{FailRate: 1}, 3, func(string, string, bool) { attempts.Add(1) })
	_, err := iam.NewFromConfig(cfg).ListUsers(context.Background(), &iam.ListUsersInput{})
	var me *retry.MaxAttemptsError
	if !errors.As(err, &me) || me.Attempt != 3 || attempts.Load() != 3 {
		t.Errorf("ListUsers against a failing IAM = %v after %d attempts, want a MaxAttemptsError after 3", err, attempts.Load())
	}
}
