package remediate

import (
	"context"
	"fmt"

	"github.com/keyage/keyage/internal/notify"
	"github.com/keyage/keyage/internal/rule"
	"github.com/keyage/keyage/internal/store"
)

// Apply records a plan in one transaction: a remediation execution per
// NON_COMPLIANT resource (as AWS Config remediates only those; warnings,
// reminders and lifecycle notices are messages without one), the messages
// in the outbox, and what was notified. Nothing is sent here: the
// dispatcher delivers the outbox, so a crash after Apply loses nothing.
//
// What is already notified is decided again inside the transaction: when
// another process (a concurrent run, serve) notified since p was planned, p
// is planned again on what it recorded, and Apply updates p, so that each
// finding is enqueued once per state file whatever runs concurrently.
func (e *Engine) Apply(ctx context.Context, st *store.Store, p *Plan) error {
	maxAttempts := e.cfg.Remediation.MaximumAutomaticAttempts
	if maxAttempts < 1 {
		maxAttempts = 1
	}
	return st.Update(ctx, func(tx *store.Tx) error {
		if p.replan != nil {
			cur, err := p.notifiedIn(ctx, tx)
			if err != nil {
				return err
			}
			if !sameNotified(cur, p.prior) {
				np, err := p.replan(cur)
				if err != nil {
					return err
				}
				*p = *np
			}
		}
		execs := map[rule.ResourceRef]int64{}
		names := map[rule.ResourceRef]string{}
		nonCompliant := map[rule.ResourceRef]bool{}
		for _, ev := range p.NonCompliant {
			names[ev.Ref()] = ev.UserName
			nonCompliant[ev.Ref()] = true
		}
		for _, m := range p.Messages {
			for _, it := range m.Message.Items {
				names[rule.ResourceRef{AccountID: it.AccountID, ResourceID: it.ResourceID}] = it.UserName
			}
		}
		detail := func(r rule.ResourceRef) string {
			if d, ok := p.resolveDetail[r]; ok {
				return fmt.Sprintf("user name %q via %s", names[r], d)
			}
			return fmt.Sprintf("user name %q from the scan", names[r])
		}
		execFor := func(r rule.ResourceRef) (int64, error) {
			if id, ok := execs[r]; ok {
				return id, nil
			}
			id, err := tx.PutExecution(ctx, store.Execution{
				AccountID: r.AccountID, ResourceID: r.ResourceID, Rule: rule.Name, UserName: names[r], State: store.ExecutionQueued,
				Steps: []store.Step{
					{Name: StepResolve, State: store.ExecutionSucceeded, Detail: detail(r), StartedAt: p.now, EndedAt: p.now},
					{Name: StepPublish, State: store.ExecutionQueued, StartedAt: p.now},
				},
				CreatedAt: p.now, UpdatedAt: p.now,
			})
			execs[r] = id
			return id, err
		}
		for _, m := range p.Messages {
			body, err := notify.EncodeMessage(m.Message)
			if err != nil {
				return err
			}
			var ids []int64
			if m.Message.Kind != "resolved" {
				for _, r := range m.Resources {
					if !nonCompliant[r] {
						continue // a notification, not a remediation
					}
					id, err := execFor(r)
					if err != nil {
						return err
					}
					ids = append(ids, id)
				}
			}
			due := p.now
			if m.NotBefore.After(due) {
				due = m.NotBefore // a run summary waits for its schedule
			}
			if err := tx.Enqueue(ctx, store.Message{
				ID: m.Message.ID, Receiver: m.Message.Receiver, Kind: m.Message.Kind, GroupKey: m.Message.GroupKey,
				ExecutionIDs: ids, JSON: body, MaxAttempts: maxAttempts, NextAttemptAt: due, CreatedAt: p.now,
			}); err != nil {
				return err
			}
		}
		// NON_COMPLIANT resources that no route sends anywhere, seen for the
		// first time: their execution succeeds with nothing to publish.
		for _, ev := range p.NonCompliant {
			r := ev.Ref()
			if _, ok := execs[r]; ok {
				continue
			}
			exists, err := tx.HasExecution(ctx, ev.AccountID, ev.ResourceID, rule.Name)
			if err != nil {
				return err
			}
			if exists {
				continue
			}
			if _, err := tx.PutExecution(ctx, store.Execution{
				AccountID: ev.AccountID, ResourceID: ev.ResourceID, Rule: rule.Name, UserName: ev.UserName, State: store.ExecutionSucceeded,
				Steps: []store.Step{
					{Name: StepResolve, State: store.ExecutionSucceeded, Detail: detail(r), StartedAt: p.now, EndedAt: p.now},
					{Name: StepPublish, State: store.ExecutionSucceeded, Detail: "no route selects this resource", StartedAt: p.now, EndedAt: p.now},
				},
				CreatedAt: p.now, UpdatedAt: p.now,
			}); err != nil {
				return err
			}
		}
		for _, n := range p.notified {
			if err := tx.SetNotified(ctx, n); err != nil {
				return err
			}
		}
		for _, n := range p.forget {
			if err := tx.ForgetNotified(ctx, n.Receiver, n.Route, n.ItemKey); err != nil {
				return err
			}
		}
		return nil
	})
}

// sameNotified reports whether two reads of the notify state agree.
func sameNotified(a, b []store.Notified) bool {
	if len(a) != len(b) {
		return false
	}
	seen := byNotifiedKey(a)
	for _, n := range b {
		m, ok := seen[notifiedKeyOf(n)]
		if !ok || m.Stage != n.Stage || !m.NotifiedAt.Equal(n.NotifiedAt) {
			return false
		}
	}
	return true
}

// notifiedKey identifies a notify state row: a receiver, a route and an item.
type notifiedKey struct {
	receiver string
	route    int
	item     string
}

func notifiedKeyOf(n store.Notified) notifiedKey {
	return notifiedKey{n.Receiver, n.Route, n.ItemKey}
}

// byNotifiedKey indexes notify state rows by their key.
func byNotifiedKey(ns []store.Notified) map[notifiedKey]store.Notified {
	m := make(map[notifiedKey]store.Notified, len(ns))
	for _, n := range ns {
		m[notifiedKeyOf(n)] = n
	}
	return m
}
