package remediate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/keyage/keyage/internal/config"
	"github.com/keyage/keyage/internal/inventory"
	"github.com/keyage/keyage/internal/lifecycle"
	"github.com/keyage/keyage/internal/notify"
	"github.com/keyage/keyage/internal/rule"
	"github.com/keyage/keyage/internal/scan"
	"github.com/keyage/keyage/internal/store"
)

// AccountConfigs hands out an aws.Config acting in an account
// (awsenv.Assumer).
type AccountConfigs interface {
	ForAccount(ctx context.Context, accountID string) (aws.Config, error)
}

// Single re-evaluates and remediates one IAM user at a time, for a
// resourceId that arrives alone (keyage remediate, an AWS Config event) or a
// change event naming the user: GetUser, ListAccessKeys and
// GetAccessKeyLastUsed instead of a scan.
type Single struct {
	Engine     *Engine
	Store      *store.Store
	Dispatcher *notify.Dispatcher
	Accounts   AccountConfigs
	// Evaluator evaluates the user as a scan does (stages, lifecycle,
	// owner).
	Evaluator *lifecycle.Evaluator
	// AccountNames fills accountName/OU in notifications when known.
	AccountNames func(accountID string) (name, ou string)
	// Scope refuses accounts outside the configured ones; by default the
	// scope of the engine's config, built from Accounts (an
	// awsenv.Assumer).
	Scope  *Scope
	Now    func() time.Time
	Logger *slog.Logger

	scopeOnce sync.Once
}

// scope is s.Scope, or the default scope of the engine's config; nil when
// it cannot be built (Accounts offers no organization access).
func (s *Single) scope() *Scope {
	s.scopeOnce.Do(func() {
		if s.Scope != nil {
			return
		}
		var sel config.Accounts
		if s.Engine != nil && s.Engine.cfg != nil {
			sel = s.Engine.cfg.Accounts
		}
		if oa, ok := s.Accounts.(orgAccess); ok {
			s.Scope = NewScope(sel, oa.CallerAccount(), oa.Base())
		} else if len(sel.IDs) > 0 && !sel.Organization {
			s.Scope = NewScope(sel, "", aws.Config{})
		}
	})
	return s.Scope
}

// SingleResult is what one re-evaluation found and did.
type SingleResult struct {
	AccountID, ResourceID, UserName string
	// Compliance is empty when the user no longer exists.
	Compliance rule.Compliance
	Evaluation *rule.Evaluation
	Messages   int
	Stats      notify.DispatchStats
	// Unknown is set when neither AWS Config, IAM nor the state knows the
	// resourceId: nothing was recorded or planned.
	Unknown bool
}

// Remediate re-evaluates one user, records the evaluation, and sends what
// the routes select. Give resourceID (resolved to a name through AWS Config,
// then IAM) or userName. Deliver=false leaves delivery to a dispatcher that
// runs elsewhere (keyage serve). An account outside the scope is refused
// (an error matching ErrOutOfScope) and logged before any role is assumed.
func (s *Single) Remediate(ctx context.Context, accountID, resourceID, userName string, deliver bool) (*SingleResult, error) {
	now := time.Now()
	if s.Now != nil {
		now = s.Now()
	}
	sc := s.scope()
	if sc == nil {
		return nil, fmt.Errorf("remediate in account %s: the configured scope cannot be checked: %w", accountID, ErrOutOfScope)
	}
	if err := sc.Check(ctx, accountID); err != nil {
		if errors.Is(err, ErrOutOfScope) && s.Logger != nil {
			s.Logger.Warn("refused: account outside the configured scope", "account", accountID, "resource", resourceID, "user", userName, "scope", sc.String())
		}
		return nil, err
	}
	cfg, err := s.Accounts.ForAccount(ctx, accountID)
	if err != nil {
		return nil, err
	}
	via := "the event"
	if userName == "" {
		userName, via, err = ResolveUserName(ctx, cfg, accountID, resourceID)
	}
	out := &SingleResult{AccountID: accountID, ResourceID: resourceID, UserName: userName}
	acct := scan.AccountResult{AccountID: accountID, Status: scan.StatusOK}
	if s.AccountNames != nil {
		acct.Name, acct.OU = s.AccountNames(accountID)
	}
	policy := s.Evaluator.Rule()
	res := &scan.Result{Rule: rule.Name, EvaluatedAt: now.UTC(), Source: "api",
		Parameters: scan.Parameters{MaxAccessKeyAge: int(policy.MaxAge / rule.Day), WarnAge: int(policy.WarnAge / rule.Day)},
		Accounts:   []scan.AccountResult{acct}}
	var gone []rule.ResourceRef
	switch {
	case errors.Is(err, ErrUnknownResource):
		known, serr := s.Store.Evaluation(ctx, accountID, resourceID)
		if serr != nil {
			return nil, serr
		}
		if known == nil {
			out.Unknown = true
			return out, nil
		}
		gone = append(gone, rule.ResourceRef{AccountID: accountID, ResourceID: resourceID})
		via = "deleted"
	case err != nil:
		return nil, err
	default:
		u, err := inventory.User(ctx, cfg, accountID, userName)
		switch {
		case inventory.IsNoSuchUser(err) && resourceID != "":
			gone = append(gone, rule.ResourceRef{AccountID: accountID, ResourceID: resourceID})
		case inventory.IsNoSuchUser(err):
			// Deleted, and known only by name: find its resourceId in the store.
			id, ferr := s.Store.ResourceIDByName(ctx, accountID, userName)
			if ferr != nil {
				return nil, ferr
			}
			if id == "" {
				return out, nil // never seen: nothing to do
			}
			out.ResourceID, resourceID = id, id
			gone = append(gone, rule.ResourceRef{AccountID: accountID, ResourceID: id})
		case err != nil:
			return nil, err
		default:
			out.ResourceID, resourceID = u.UserID, u.UserID
			ev := s.Evaluator.Evaluate(u, acct.OU, now)
			res.Evaluations = []rule.Evaluation{ev}
			out.Compliance, out.Evaluation = ev.Compliance, &ev
		}
	}
	if err := s.Store.RecordEvaluations(ctx, now, res.Evaluations, gone); err != nil {
		return nil, err
	}
	plan, err := s.Engine.PlanResources(ctx, s.Store, res, now, map[rule.ResourceRef]string{{AccountID: accountID, ResourceID: resourceID}: via})
	if err != nil {
		return nil, err
	}
	if err := s.Engine.Apply(ctx, s.Store, plan); err != nil {
		return nil, err
	}
	out.Messages = len(plan.Messages)
	if deliver && s.Dispatcher != nil {
		if out.Stats, err = s.Dispatcher.Drain(ctx); err != nil {
			return nil, err
		}
	}
	return out, nil
}
