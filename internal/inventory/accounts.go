package inventory

import (
	"context"
	"fmt"
	"iter"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/organizations/types"

	"github.com/keyage/keyage/internal/awsenv"
)

// Account is one account to scan.
type Account struct {
	ID   string
	Name string
	// OU is the account's OU path below the root (e.g. Workloads/Prod) when
	// known; "" for the root or when the accounts came from a list.
	OU string
}

// OrgAccounts lists the organization's ACTIVE accounts with Organizations
// ListAccounts; cfg must act in the management account (or a delegated
// administrator).
func OrgAccounts(ctx context.Context, cfg aws.Config) ([]Account, error) {
	var out []Account
	for a, err := range OrgAccountSeq(ctx, cfg) {
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// OrgAccountSeq yields the organization's ACTIVE accounts page by page as
// ListAccounts returns them (20 to a page), so that a scan can start on the
// first page instead of waiting for the last; a page that fails ends the
// sequence with its error.
func OrgAccountSeq(ctx context.Context, cfg aws.Config) iter.Seq2[Account, error] {
	return func(yield func(Account, error) bool) {
		client := organizations.NewFromConfig(cfg)
		p := organizations.NewListAccountsPaginator(client, &organizations.ListAccountsInput{})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				yield(Account{}, fmt.Errorf("list organization accounts: %w", awsenv.Simplify(err)))
				return
			}
			for _, a := range page.Accounts {
				if active(a) && !yield(Account{ID: aws.ToString(a.Id), Name: aws.ToString(a.Name)}, nil) {
					return
				}
			}
		}
	}
}

// OUAccounts lists the ACTIVE accounts in the subtree of the OU (or root)
// parentID, walking ListOrganizationalUnitsForParent and
// ListAccountsForParent; each account's OU path is relative to parentID.
func OUAccounts(ctx context.Context, cfg aws.Config, parentID string) ([]Account, error) {
	client := organizations.NewFromConfig(cfg)
	var out []Account
	var walk func(id, path string) error
	walk = func(id, path string) error {
		ap := organizations.NewListAccountsForParentPaginator(client, &organizations.ListAccountsForParentInput{ParentId: aws.String(id)})
		for ap.HasMorePages() {
			page, err := ap.NextPage(ctx)
			if err != nil {
				return fmt.Errorf("list accounts of %s: %w", id, awsenv.Simplify(err))
			}
			for _, a := range page.Accounts {
				if active(a) {
					out = append(out, Account{ID: aws.ToString(a.Id), Name: aws.ToString(a.Name), OU: path})
				}
			}
		}
		op := organizations.NewListOrganizationalUnitsForParentPaginator(client, &organizations.ListOrganizationalUnitsForParentInput{ParentId: aws.String(id)})
		for op.HasMorePages() {
			page, err := op.NextPage(ctx)
			if err != nil {
				return fmt.Errorf("list organizational units of %s: %w", id, awsenv.Simplify(err))
			}
			for _, ou := range page.OrganizationalUnits {
				if err := walk(aws.ToString(ou.Id), joinPath(path, aws.ToString(ou.Name))); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk(parentID, ""); err != nil {
		return nil, err
	}
	return out, nil
}

func joinPath(a, b string) string {
	if a == "" {
		return b
	}
	return a + "/" + b
}

// active reads the account's State (the newer field) or, failing that, its
// deprecated Status.
func active(a types.Account) bool {
	if a.State != "" {
		return a.State == types.AccountStateActive
	}
	return a.Status == types.AccountStatusActive
}

// OUPaths maps every account of the organization to its OU path below the
// root (Workloads/Prod), walking ListRoots, ListOrganizationalUnitsForParent
// and ListAccountsForParent: a few calls per OU, for routes and lifecycle
// overrides that match on OUs.
func OUPaths(ctx context.Context, cfg aws.Config) (map[string]string, error) {
	client := organizations.NewFromConfig(cfg)
	roots, err := client.ListRoots(ctx, &organizations.ListRootsInput{})
	if err != nil {
		return nil, fmt.Errorf("list organization roots: %w", awsenv.Simplify(err))
	}
	out := map[string]string{}
	for _, r := range roots.Roots {
		accts, err := OUAccounts(ctx, cfg, aws.ToString(r.Id))
		if err != nil {
			return nil, err
		}
		for _, a := range accts {
			out[a.ID] = a.OU
		}
	}
	return out, nil
}
