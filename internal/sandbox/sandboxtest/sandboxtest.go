// Package sandboxtest serves a sandbox organization to a test: the fixture
// over httptest, every role with exactly the policy `keyage iam-policy`
// prints for it, and the management account's AWS configuration with the
// audit and enforcement role assumers built on it. Only tests import it.
package sandboxtest

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/keyage/keyage/internal/awsenv"
	"github.com/keyage/keyage/internal/deploy"
	"github.com/keyage/keyage/internal/sandbox"
)

// Org is an organization served for one test.
type Org struct {
	Server *sandbox.Server
	URL    string
	// Base acts as the management account's administrator.
	Base aws.Config
	// Audit assumes the audit role in each account, Enforce the role
	// given to Start.
	Audit, Enforce *awsenv.Assumer
}

// Start serves the fixture file at path until the test ends; enforceRole is
// the role the Enforce assumer takes (the config's enforce.roleName).
func Start(t testing.TB, path, enforceRole string) *Org {
	t.Helper()
	fx, err := sandbox.LoadFixture(path)
	if err != nil {
		t.Fatal(err)
	}
	policies, err := deploy.RolePolicies(deploy.PolicyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sandbox.New(sandbox.Options{Fixture: fx, DefaultRolePolicies: policies})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	id, secret := srv.ManagementCredentials()
	ctx := context.Background()
	o := &Org{Server: srv, URL: hs.URL}
	if o.Base, err = awsenv.Load(ctx, awsenv.Options{Region: "us-east-1", EndpointURL: hs.URL,
		StaticCredentials: &aws.Credentials{AccessKeyID: id, SecretAccessKey: secret}}); err != nil {
		t.Fatal(err)
	}
	if o.Audit, err = awsenv.NewAssumer(ctx, o.Base, awsenv.AssumerOptions{}); err != nil {
		t.Fatal(err)
	}
	if o.Enforce, err = awsenv.NewAssumer(ctx, o.Base, awsenv.AssumerOptions{RoleName: enforceRole}); err != nil {
		t.Fatal(err)
	}
	return o
}
