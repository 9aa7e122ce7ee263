package remediate

import (
	"context"
	"slices"
	"time"

	"github.com/keyage/keyage/internal/config"
	"github.com/keyage/keyage/internal/notify"
	"github.com/keyage/keyage/internal/rule"
	"github.com/keyage/keyage/internal/scan"
	"github.com/keyage/keyage/internal/store"
)

// PlansByAccount reports whether plans made a few accounts at a time
// (PlanAccounts) decide what one plan over every account would: no route
// puts findings of several accounts in one message (groupBy owner) or
// sums up the run (groupBy run).
func (e *Engine) PlansByAccount() bool {
	for _, r := range e.cfg.Routes {
		if r.IsRun() || slices.Contains(r.GroupBy, config.GroupByOwner) {
			return false
		}
	}
	return true
}

// PlanAccounts is Plan for the accounts of res alone: it reads their
// notify state only, and Apply reads it again for them only, so that a run
// plans and applies a batch of accounts at a time.
func (e *Engine) PlanAccounts(ctx context.Context, st *store.Store, res *scan.Result, now time.Time) (*Plan, error) {
	ids := make([]string, len(res.Accounts))
	for i, a := range res.Accounts {
		ids[i] = a.AccountID
	}
	prior, err := st.NotifiedItemsOf(ctx, ids)
	if err != nil {
		return nil, err
	}
	p, err := e.plan(res, prior, now, nil)
	if err != nil {
		return nil, err
	}
	p.accounts = ids
	return p, nil
}

// notifiedIn reads, inside Apply's transaction, the notify state the plan
// was decided on: its accounts' (PlanAccounts) or all of it.
func (p *Plan) notifiedIn(ctx context.Context, tx *store.Tx) ([]store.Notified, error) {
	if p.accounts != nil {
		return tx.NotifiedItemsOf(ctx, p.accounts)
	}
	return tx.NotifiedItems(ctx)
}

// Add counts q, the plan of other accounts, into p, a run's plan made
// batch by batch: q's messages without their text and items (Apply has
// put them in the outbox), its suppressed findings, its users of unknown
// owner and its NON_COMPLIANT users, by name. p is a report: it cannot
// be applied.
func (p *Plan) Add(q *Plan) {
	for _, m := range q.Messages {
		p.Messages = append(p.Messages, Planned{Route: m.Route, NotBefore: m.NotBefore,
			Message: notify.Message{ID: m.Message.ID, Kind: m.Message.Kind, Receiver: m.Message.Receiver, GroupKey: m.Message.GroupKey}})
	}
	p.Suppressed += q.Suppressed
	p.OwnerUnknown = append(p.OwnerUnknown, q.OwnerUnknown...)
	for _, ev := range q.NonCompliant {
		p.NonCompliant = append(p.NonCompliant, rule.Evaluation{AccountID: ev.AccountID, ResourceType: ev.ResourceType,
			ResourceID: ev.ResourceID, UserName: ev.UserName, Compliance: ev.Compliance})
	}
}
