package scan_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/keyage/keyage/internal/awsenv"
	"github.com/keyage/keyage/internal/inventory"
	"github.com/keyage/keyage/internal/sandbox"
	"github.com/keyage/keyage/internal/sandbox/sandboxtest"
)

// env is a sandbox organization served over HTTP and an Assumer acting as
// its management account, through the real AWS SDK.
type env struct {
	srv     *sandbox.Server
	url     string
	base    aws.Config
	assumer *awsenv.Assumer
}

func newEnv(t *testing.T, fx *sandbox.Fixture, mod func(*sandbox.Options)) *env {
	t.Helper()
	opts := sandbox.Options{Fixture: fx, Seed: 1}
	if mod != nil {
		mod(&opts)
	}
	s := sandboxtest.Serve(t, opts)
	base := s.Load(t, nil)
	return &env{srv: s.Server, url: s.URL, base: base, assumer: s.Assumer(t)}
}

func (e *env) orgAccounts(t *testing.T) []inventory.Account {
	t.Helper()
	accts, err := inventory.OrgAccounts(context.Background(), e.base)
	if err != nil {
		t.Fatalf("OrgAccounts: %v", err)
	}
	return accts
}

var testNow = func() time.Time { return time.Now() }
