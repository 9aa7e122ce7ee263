package remediate

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/keyage/keyage/internal/awsenv"
	"github.com/keyage/keyage/internal/sandbox"
	"github.com/keyage/keyage/internal/sandbox/sandboxtest"
)

// sandboxEnv is a sandbox organization served over HTTP for one test.
type sandboxEnv struct {
	url        string
	id, secret string // the management account's credentials
}

// serveSandbox serves a sandbox with opts until the test ends.
func serveSandbox(tb testing.TB, opts sandbox.Options) sandboxEnv {
	tb.Helper()
	s := sandboxtest.Serve(tb, opts)
	return sandboxEnv{url: s.URL, id: s.ID, secret: s.Secret}
}

// config is an AWS configuration for the sandbox with the credentials
// id and secret.
func (e sandboxEnv) config(ctx context.Context, tb testing.TB, id, secret string) aws.Config {
	tb.Helper()
	cfg, err := awsenv.Load(ctx, awsenv.Options{Region: "us-east-1", EndpointURL: e.url, StaticCredentials: &aws.Credentials{AccessKeyID: id, SecretAccessKey: secret}})
	if err != nil {
		tb.Fatal(err)
	}
	return cfg
}

// assumer assumes roles in the sandbox's accounts from its management
// account.
func (e sandboxEnv) assumer(ctx context.Context, tb testing.TB) *awsenv.Assumer {
	tb.Helper()
	a, err := awsenv.NewAssumer(ctx, e.config(ctx, tb, e.id, e.secret), awsenv.AssumerOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	return a
}
