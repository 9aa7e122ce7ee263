package remediate

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/keyage/keyage/internal/awsenv"
	"github.com/keyage/keyage/internal/config"
	"github.com/keyage/keyage/internal/lifecycle"
	"github.com/keyage/keyage/internal/rule"
	"github.com/keyage/keyage/internal/sandbox"
)

// countingAccounts records the accounts a role was assumed in.
type countingAccounts struct {
	*awsenv.Assumer
	assumed []string
}

func (c *countingAccounts) ForAccount(ctx context.Context, id string) (aws.Config, error) {
	c.assumed = append(c.assumed, id)
	return c.Assumer.ForAccount(ctx, id)
}

// An event or request for an account outside the configured accounts is
// refused and logged, and no role is assumed there.
func TestSingleRefusesAccountsOutOfScope(t *testing.T) {
	ctx := context.Background()
	fx := &sandbox.Fixture{ManagementAccountID: "111111111111", Accounts: []sandbox.FixtureAccount{
		{ID: "111111111111", Name: "master"},
		{ID: "222222222222", Name: "prod", Roles: []sandbox.FixtureRole{{Name: "KeyageAuditRole"}}, Users: []sandbox.FixtureUser{{Name: "alice"}}},
		{ID: "333333333333", Name: "other", Roles: []sandbox.FixtureRole{{Name: "KeyageAuditRole"}}, Users: []sandbox.FixtureUser{{Name: "mallory"}}},
	}}
	assumer := serveSandbox(t, sandbox.Options{Fixture: fx}).assumer(ctx, t)
	st := openStore(t)
	for _, tt := range []struct {
		name, yaml, account, user string
		refused                   bool
	}{
		{"listed account", `accounts: {ids: ["222222222222"]}`, "222222222222", "alice", false},
		{"account not listed", `accounts: {ids: ["222222222222"]}`, "333333333333", "mallory", true},
		{"no selection: only the caller's account", ``, "222222222222", "alice", true},
		{"organization member", `accounts: {organization: true}`, "333333333333", "mallory", false},
		{"not a member of the organization", `accounts: {organization: true}`, "999999999999", "x", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.Parse([]byte(tt.yaml), "keyage.yaml")
			if err != nil {
				t.Fatal(err)
			}
			engine, err := NewEngine(cfg)
			if err != nil {
				t.Fatal(err)
			}
			var logs strings.Builder
			accts := &countingAccounts{Assumer: assumer}
			single := &Single{Engine: engine, Store: st, Accounts: accts, Evaluator: lifecycle.RuleOnly(rule.DefaultPolicy()),
				Logger: slog.New(slog.NewTextHandler(&logs, nil))}
			_, err = single.Remediate(ctx, tt.account, "", tt.user, false)
			if got := errors.Is(err, ErrOutOfScope); got != tt.refused {
				t.Fatalf("Remediate(%s) error = %v, refused %v, want %v", tt.account, err, got, tt.refused)
			}
			if !tt.refused {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if len(accts.assumed) != 0 {
				t.Errorf("roles assumed in %v for a refused account", accts.assumed)
			}
			if !strings.Contains(logs.String(), "outside the configured scope") || !strings.Contains(logs.String(), tt.account) {
				t.Errorf("refusal not logged: %s", logs.String())
			}
		})
	}
}
