package store

import (
	"context"
	"time"

	"github.com/keyage/keyage/internal/notify"
)

// DispatchOutbox is the store's outbox as a notify.Dispatcher sees it: the
// dispatcher claims, renews and records through it, so a finding passes from
// remediate (which enqueues) to notify (which delivers) without coming back.
type DispatchOutbox struct {
	Store *Store
}

var (
	_ notify.Outbox         = DispatchOutbox{}
	_ notify.BacklogCounter = DispatchOutbox{}
)

// NewOutbox returns st's outbox for a notify.Dispatcher.
func NewOutbox(st *Store) DispatchOutbox { return DispatchOutbox{Store: st} }

// ClaimDue implements notify.Outbox.
func (o DispatchOutbox) ClaimDue(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int, skip ...string) ([]notify.Queued, error) {
	ms, err := o.Store.ClaimDue(ctx, owner, now, lease, limit, skip...)
	if err != nil {
		return nil, err
	}
	out := make([]notify.Queued, len(ms))
	for i, m := range ms {
		out[i] = notify.Queued{ID: m.ID, Receiver: m.Receiver, Attempts: m.Attempts, MaxAttempts: m.MaxAttempts, Body: m.JSON}
	}
	return out, nil
}

// RenewLeases implements notify.Outbox.
func (o DispatchOutbox) RenewLeases(ctx context.Context, owner string, now time.Time, lease time.Duration) error {
	_, err := o.Store.RenewLeases(ctx, owner, now, lease)
	return err
}

// ExtendLease implements notify.Outbox.
func (o DispatchOutbox) ExtendLease(ctx context.Context, owner, id string, now time.Time, lease time.Duration) (bool, error) {
	return o.Store.ExtendLease(ctx, owner, id, now, lease)
}

// ReleaseLeases implements notify.Outbox.
func (o DispatchOutbox) ReleaseLeases(ctx context.Context, owner string, ids ...string) error {
	return o.Store.ReleaseLeases(ctx, owner, ids...)
}

// NextDue implements notify.Outbox.
func (o DispatchOutbox) NextDue(ctx context.Context, owner string, now time.Time) (time.Time, error) {
	return o.Store.NextDue(ctx, owner, now)
}

// RecordOutcomes implements notify.Outbox.
func (o DispatchOutbox) RecordOutcomes(ctx context.Context, outcomes []notify.Outcome) error {
	out := make([]Outcome, len(outcomes))
	for i, x := range outcomes {
		out[i] = Outcome{ID: x.ID, At: x.At, Err: x.Err, Final: x.Final, NextAttemptAt: x.NextAttemptAt}
	}
	return o.Store.RecordOutcomes(ctx, out)
}

// Backlog implements notify.BacklogCounter.
func (o DispatchOutbox) Backlog(ctx context.Context, owner string, now time.Time) (held, pending int, err error) {
	return o.Store.Backlog(ctx, owner, now)
}
