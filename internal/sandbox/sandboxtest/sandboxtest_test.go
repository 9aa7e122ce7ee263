package sandboxtest

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/keyage/keyage/internal/awsenv"
)

// TestAssumeRoleInServeAccounts assumes each member account's roles, through
// the SDK, as the findings tests do.
func TestAssumeRoleInServeAccounts(t *testing.T) {
	ctx, s := context.Background(), ServeAccounts(t, "KeyageFindingsRole")
	for _, tt := range []struct {
		name, acct, role string
		wantErr          string // in the error; "" for none
	}{
		{"named role in prod", "222222222222", "KeyageFindingsRole", ""},
		{"named role in dev", "333333333333", "KeyageFindingsRole", ""},
		{"audit role in prod", "222222222222", "KeyageAuditRole", ""},
		{"no such role in the management account", "111111111111", "KeyageFindingsRole", "assume arn:aws:iam::111111111111:role/KeyageFindingsRole"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := AssumeRole(ctx, s.Config(), tt.acct, tt.role, "test")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("AssumeRole(%s, %s) = %v, want an error with %q", tt.acct, tt.role, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("AssumeRole(%s, %s): %v", tt.acct, tt.role, err)
			}
			id, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			if err != nil {
				t.Fatalf("GetCallerIdentity as %s in %s: %v", tt.role, tt.acct, err)
			}
			if got := aws.ToString(id.Account); got != tt.acct {
				t.Errorf("GetCallerIdentity as %s in %s: account %s, want %s", tt.role, tt.acct, got, tt.acct)
			}
		})
	}
}

func TestLoadAppliesMod(t *testing.T) {
	s := ServeFile(t, "../../cli/testdata/org.yaml")
	for _, tt := range []struct {
		name   string
		mod    func(*awsenv.Options)
		region string
	}{
		{"no mod", nil, Region},
		{"region changed", func(o *awsenv.Options) { o.Region = "eu-west-1" }, "eu-west-1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := s.Load(t, tt.mod).Region; got != tt.region {
				t.Errorf("Load(%s).Region = %q, want %q", tt.name, got, tt.region)
			}
		})
	}
}
