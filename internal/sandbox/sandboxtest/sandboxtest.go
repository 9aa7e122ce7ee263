// Package sandboxtest serves a sandbox organization to a test: the fixture
// over httptest, every role with exactly the policy `keyage iam-policy`
// prints for it, and the management account's AWS configuration with the
// audit and enforcement role assumers built on it. Only tests import it.
package sandboxtest

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/keyage/keyage/internal/awsenv"
	"github.com/keyage/keyage/internal/config"
	"github.com/keyage/keyage/internal/deploy"
	"github.com/keyage/keyage/internal/sandbox"
)

// Region is the region the served sandbox's configurations name.
const Region = "us-east-1"

// Served is a sandbox served over HTTP until the test ends.
type Served struct {
	Server *sandbox.Server
	URL    string
	// ID and Secret are the management account's credentials.
	ID, Secret string
}

// Serve serves a sandbox built from opts until the test ends.
func Serve(t testing.TB, opts sandbox.Options) *Served {
	t.Helper()
	srv, err := sandbox.New(opts)
	if err != nil {
		t.Fatalf("sandbox.New: %v", err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	id, secret := srv.ManagementCredentials()
	return &Served{Server: srv, URL: hs.URL, ID: id, Secret: secret}
}

// LoadFixture loads the fixture file at path or ends the test.
func LoadFixture(t testing.TB, path string) *sandbox.Fixture {
	t.Helper()
	fx, err := sandbox.LoadFixture(path)
	if err != nil {
		t.Fatalf("sandbox.LoadFixture(%s): %v", path, err)
	}
	return fx
}

// ServeFile serves the fixture file at path with the sandbox's default options.
func ServeFile(t testing.TB, path string) *Served {
	t.Helper()
	return Serve(t, sandbox.Options{Fixture: LoadFixture(t, path)})
}

// Config is the management account's configuration as a plain aws.Config:
// static credentials, the sandbox's endpoint, nothing read from the
// environment.
func (s *Served) Config() aws.Config {
	return aws.Config{Region: Region, BaseEndpoint: aws.String(s.URL),
		Credentials: credentials.NewStaticCredentialsProvider(s.ID, s.Secret, "")}
}

// Options are the awsenv options that reach the sandbox as its management
// account.
func (s *Served) Options() awsenv.Options {
	return awsenv.Options{Region: Region, EndpointURL: s.URL,
		StaticCredentials: &aws.Credentials{AccessKeyID: s.ID, SecretAccessKey: s.Secret}}
}

// Load is awsenv.Load of Options after mod (nil for none) changed them.
func (s *Served) Load(t testing.TB, mod func(*awsenv.Options)) aws.Config {
	t.Helper()
	o := s.Options()
	if mod != nil {
		mod(&o)
	}
	cfg, err := awsenv.Load(context.Background(), o)
	if err != nil {
		t.Fatalf("awsenv.Load: %v", err)
	}
	return cfg
}

// Assumer is an audit role assumer (awsenv.AssumerOptions{} defaults) from
// the management account.
func (s *Served) Assumer(t testing.TB) *awsenv.Assumer {
	t.Helper()
	return assumer(t, s.Load(t, nil), awsenv.AssumerOptions{})
}

func assumer(t testing.TB, base aws.Config, o awsenv.AssumerOptions) *awsenv.Assumer {
	t.Helper()
	a, err := awsenv.NewAssumer(context.Background(), base, o)
	if err != nil {
		t.Fatalf("awsenv.NewAssumer(%+v): %v", o, err)
	}
	return a
}

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

// StartConfig parses yaml as a keyage config (named keyage.yaml) and starts
// the fixture file at path with the config's enforce.roleName.
func StartConfig(t testing.TB, path, yaml string) (*Org, *config.Config) {
	t.Helper()
	cfg, err := config.Parse([]byte(yaml), "keyage.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return Start(t, path, cfg.Enforce.RoleName), cfg
}

// Start serves the fixture file at path until the test ends; enforceRole is
// the role the Enforce assumer takes (the config's enforce.roleName).
func Start(t testing.TB, path, enforceRole string) *Org {
	t.Helper()
	policies, err := deploy.RolePolicies(deploy.PolicyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s := Serve(t, sandbox.Options{Fixture: LoadFixture(t, path), DefaultRolePolicies: policies})
	o := &Org{Server: s.Server, URL: s.URL, Base: s.Load(t, nil)}
	o.Audit = assumer(t, o.Base, awsenv.AssumerOptions{})
	o.Enforce = assumer(t, o.Base, awsenv.AssumerOptions{RoleName: enforceRole})
	return o
}

// ServeAccounts serves the management account 111111111111 and two member
// accounts, prod (222222222222) and dev (333333333333), each member with the
// audit role and the named roles.
func ServeAccounts(t testing.TB, roles ...string) *Served {
	t.Helper()
	fr := []sandbox.FixtureRole{{Name: sandbox.DefaultAuditRoleName}}
	for _, r := range roles {
		fr = append(fr, sandbox.FixtureRole{Name: r})
	}
	return Serve(t, sandbox.Options{Fixture: &sandbox.Fixture{ManagementAccountID: "111111111111", Accounts: []sandbox.FixtureAccount{
		{ID: "111111111111", Name: "management"},
		{ID: "222222222222", Name: "prod", Roles: fr},
		{ID: "333333333333", Name: "dev", Roles: fr},
	}}})
}

// AssumeRole is base with the credentials of one STS AssumeRole call into
// role in account acct.
func AssumeRole(ctx context.Context, base aws.Config, acct, role, session string) (aws.Config, error) {
	arn := "arn:aws:iam::" + acct + ":role/" + role
	out, err := sts.NewFromConfig(base).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(arn), RoleSessionName: aws.String(session)})
	if err != nil {
		return aws.Config{}, fmt.Errorf("assume %s: %w", arn, err)
	}
	c := base.Copy()
	c.Credentials = credentials.NewStaticCredentialsProvider(*out.Credentials.AccessKeyId, *out.Credentials.SecretAccessKey, *out.Credentials.SessionToken)
	return c, nil
}

// CredentialReport has the account cfg acts in generate its credential
// report, as a client would (GenerateCredentialReport until COMPLETE; the
// sandbox's report is ready for the next call), and returns its CSV.
func CredentialReport(t testing.TB, cfg aws.Config) []byte {
	t.Helper()
	ctx, c := context.Background(), iam.NewFromConfig(cfg)
	for state := iamtypes.ReportStateType(""); state != iamtypes.ReportStateTypeComplete; {
		out, err := c.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{})
		if err != nil {
			t.Fatalf("GenerateCredentialReport: %v", err)
		}
		state = out.State
	}
	out, err := c.GetCredentialReport(ctx, &iam.GetCredentialReportInput{})
	if err != nil {
		t.Fatalf("GetCredentialReport: %v", err)
	}
	return out.Content
}
