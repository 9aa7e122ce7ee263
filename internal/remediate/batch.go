package remediate

import (
	"context"
	"slices"
	"time"

	"github.com/keyage/keyage/internal/config"
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

// Counts is how much a plan holds: what a run's report says of it.
type Counts struct {
	// Messages counts the messages planned, ByReceiver by receiver.
	Messages   int
	ByReceiver map[string]int
	// NonCompliant counts the NON_COMPLIANT users (a remediation
	// execution each), OwnerUnknown the users whose owner was not found.
	NonCompliant, OwnerUnknown int
	// Suppressed counts findings already notified and unchanged.
	Suppressed int
}

// ownerUnknownSample is how many users of unknown owner a summed plan
// (Add) keeps for display; it counts the others.
const ownerUnknownSample = 20

// Counts counts p: its messages and users, and those of the plans added
// to it (Add).
func (p *Plan) Counts() Counts {
	c := Counts{Messages: p.added.Messages, ByReceiver: map[string]int{}, NonCompliant: p.added.NonCompliant,
		OwnerUnknown: p.added.OwnerUnknown, Suppressed: p.Suppressed}
	for r, n := range p.added.ByReceiver {
		c.ByReceiver[r] = n
	}
	for _, m := range p.Messages {
		c.ByReceiver[m.Message.Receiver]++
	}
	c.Messages += len(p.Messages)
	c.NonCompliant += len(p.NonCompliant)
	c.OwnerUnknown += len(p.OwnerUnknown)
	return c
}

// Add counts q, the plan of other accounts, into p, a run's plan made
// batch by batch: p keeps q's counts (Counts), not its messages or users,
// so that a run's report does not grow with the organization; of q's users
// of unknown owner it keeps the first ownerUnknownSample overall for
// display. p is a report: it cannot be applied.
func (p *Plan) Add(q *Plan) {
	c := q.Counts()
	if p.added.ByReceiver == nil {
		p.added.ByReceiver = map[string]int{}
	}
	for r, n := range c.ByReceiver {
		p.added.ByReceiver[r] += n
	}
	p.added.Messages += c.Messages
	p.added.NonCompliant += c.NonCompliant
	p.Suppressed += c.Suppressed
	room := max(0, ownerUnknownSample-len(p.OwnerUnknown))
	kept := q.OwnerUnknown[:min(room, len(q.OwnerUnknown))]
	p.OwnerUnknown = append(p.OwnerUnknown, kept...)
	p.added.OwnerUnknown += c.OwnerUnknown - len(kept)
}
