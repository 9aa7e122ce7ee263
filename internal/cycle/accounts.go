package cycle

import (
	"context"
	"iter"

	"github.com/keyage/keyage/internal/awsenv"
	"github.com/keyage/keyage/internal/config"
	"github.com/keyage/keyage/internal/inventory"
	"github.com/keyage/keyage/internal/scan"
)

// AccountSeq lists the accounts a selection names, as a sequence: a whole
// organization is listed page by page while the scan runs, unless OU paths
// are needed first (needOUs, see UsesOUs).
func AccountSeq(ctx context.Context, a *awsenv.Assumer, sel config.Accounts, needOUs bool) (iter.Seq2[inventory.Account, error], error) {
	if sel.Organization && sel.OU == "" && !needOUs {
		return inventory.OrgAccountSeq(ctx, a.Base()), nil
	}
	accts, err := selectAccounts(ctx, a, sel, needOUs)
	if err != nil {
		return nil, scan.AsListError(err)
	}
	return func(yield func(inventory.Account, error) bool) {
		for _, acct := range accts {
			if !yield(acct, nil) {
				return
			}
		}
	}, nil
}

// selectAccounts lists the accounts to scan. needOUs adds OU paths to an
// organization's accounts (for routes and lifecycle overrides on OUs).
func selectAccounts(ctx context.Context, a *awsenv.Assumer, sel config.Accounts, needOUs bool) ([]inventory.Account, error) {
	switch {
	case sel.OU != "":
		return inventory.OUAccounts(ctx, a.Base(), sel.OU)
	case sel.Organization:
		accts, err := inventory.OrgAccounts(ctx, a.Base())
		if err != nil || !needOUs {
			return accts, err
		}
		paths, err := inventory.OUPaths(ctx, a.Base())
		if err != nil {
			return nil, err
		}
		for i := range accts {
			accts[i].OU = paths[accts[i].ID]
		}
		return accts, nil
	case len(sel.IDs) > 0:
		seen := map[string]bool{}
		var out []inventory.Account
		for _, id := range sel.IDs {
			if !seen[id] {
				seen[id] = true
				out = append(out, inventory.Account{ID: id})
			}
		}
		return out, nil
	default:
		return []inventory.Account{{ID: a.CallerAccount()}}, nil
	}
}

// UsesOUs reports whether the config needs OU paths: it matches on them
// anywhere, or asks for them (accounts.ouPaths).
func UsesOUs(cfg *config.Config) bool {
	if cfg.Accounts.OUPaths {
		return true
	}
	for _, r := range cfg.Routes {
		if len(r.Match.OU) > 0 {
			return true
		}
	}
	for _, o := range cfg.Lifecycle.Overrides {
		if len(o.OU) > 0 {
			return true
		}
	}
	return false
}
