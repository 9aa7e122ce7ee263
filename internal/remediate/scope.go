package remediate

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/keyage/keyage/internal/config"
	"github.com/keyage/keyage/internal/inventory"
	"github.com/keyage/keyage/internal/scan"
)

// ErrOutOfScope is the error of an event or a request for an account
// outside the configured accounts (see Scope).
var ErrOutOfScope = errors.New("account outside the configured scope")

// OutOfScopeError says which account was refused, and what the scope is.
type OutOfScopeError struct {
	AccountID, Scope string
}

func (e *OutOfScopeError) Error() string {
	return fmt.Sprintf("account %s is outside the configured scope (%s): refused, no role assumed there", e.AccountID, e.Scope)
}

// Is makes errors.Is(err, ErrOutOfScope) hold.
func (e *OutOfScopeError) Is(target error) bool { return target == ErrOutOfScope }

// Scope is the set of accounts keyage acts in, as the config's accounts
// section selects them for a scan: accounts.ids; the ACTIVE accounts of the
// organization or of the subtree of accounts.ou; else the caller's own
// account. An event or a request for any other account is refused before a
// role is assumed there: whoever can send to the events queue must not
// steer keyage into every account that trusts it.
type Scope struct {
	sel    config.Accounts
	caller string
	org    aws.Config
	// Now is the clock of the organization listing's cache (default
	// time.Now).
	Now func() time.Time

	mu       sync.Mutex
	members  map[string]bool
	listedAt time.Time
}

// relistAfter bounds how often an unknown account makes Scope list the
// organization again (an account that just joined).
const relistAfter = time.Minute

// NewScope builds the scope of sel. callerAccount is the account of the
// credentials keyage runs with; org acts in the management account (or a
// delegated administrator) to list the organization.
func NewScope(sel config.Accounts, callerAccount string, org aws.Config) *Scope {
	return &Scope{sel: sel, caller: callerAccount, org: org}
}

func (s *Scope) String() string {
	switch {
	case s.sel.OU != "":
		return "accounts.ou " + s.sel.OU
	case s.sel.Organization:
		return "accounts.organization"
	case len(s.sel.IDs) > 0:
		return fmt.Sprintf("accounts.ids %v", s.sel.IDs)
	}
	return "the caller's account " + s.caller
}

// Check returns nil when keyage may act in accountID, an *OutOfScopeError
// when not, or the error of listing the organization.
func (s *Scope) Check(ctx context.Context, accountID string) error {
	ok, err := s.contains(ctx, accountID)
	if err != nil {
		return fmt.Errorf("check account %s against %s: %w", accountID, s, err)
	}
	if !ok {
		return &OutOfScopeError{AccountID: accountID, Scope: s.String()}
	}
	return nil
}

func (s *Scope) contains(ctx context.Context, accountID string) (bool, error) {
	switch {
	case s.sel.OU == "" && !s.sel.Organization && len(s.sel.IDs) > 0:
		for _, id := range s.sel.IDs {
			if id == accountID {
				return true, nil
			}
		}
		return false, nil
	case s.sel.OU == "" && !s.sel.Organization:
		return s.caller != "" && accountID == s.caller, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if s.Now != nil {
		now = s.Now()
	}
	if s.members[accountID] {
		return true, nil
	}
	if s.members != nil && now.Sub(s.listedAt) < relistAfter {
		return false, nil
	}
	var accts []inventory.Account
	var err error
	if s.sel.OU != "" {
		accts, err = inventory.OUAccounts(ctx, s.org, s.sel.OU)
	} else {
		accts, err = inventory.OrgAccounts(ctx, s.org)
	}
	if err != nil {
		return false, scan.AsListError(err)
	}
	s.members, s.listedAt = make(map[string]bool, len(accts)), now
	for _, a := range accts {
		s.members[a.ID] = true
	}
	return s.members[accountID], nil
}

// orgAccess is what an AccountConfigs may offer to build the default scope
// (awsenv.Assumer does).
type orgAccess interface {
	Base() aws.Config
	CallerAccount() string
}
