// Package outbox is the notification outbox on the state file, as a
// notify.Dispatcher delivers from it: claims under leases, lease renewal
// and release, delivery outcomes (which bring their executions up to
// date) and requeueing. remediate enqueues in the store's decision
// transaction; from here a message passes to notify and its receiver.
package outbox

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/keyage/keyage/internal/notify"
	"github.com/keyage/keyage/internal/store"
)

// Outbox is the outbox table of one state file.
type Outbox struct {
	st *store.Store
	db *sql.DB
}

var (
	_ notify.Outbox         = (*Outbox)(nil)
	_ notify.BacklogCounter = (*Outbox)(nil)
)

// New returns st's outbox.
func New(st *store.Store) *Outbox { return &Outbox{st: st, db: st.DB()} }

// claimed is a claimed message with its order keys.
type claimed struct {
	notify.Queued
	next, created int64
}

// ClaimDue leases to owner, until now+lease, up to limit PENDING messages
// due at now that no other dispatcher holds (or whose holder's lease ran
// out), leaving out the receivers in skip, and returns them oldest first.
// Messages owner already holds are not returned again. Through the
// outbox_free and outbox_leased indexes it reads free messages in due
// order and expired leases, never another dispatcher's live leases.
func (o *Outbox) ClaimDue(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int, skip ...string) ([]notify.Queued, error) {
	skipJSON, err := json.Marshal(append([]string{}, skip...))
	if err != nil {
		return nil, fmt.Errorf("encode receivers to skip: %w", err)
	}
	// A claim takes the write lock, which every other process's commits
	// wait behind; a read (which never waits in WAL mode) says first
	// whether there is anything to claim.
	var due bool
	if err := o.db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM (`+claimableIDs+`))`, ms(now), 1, string(skipJSON)).Scan(&due); err != nil {
		return nil, fmt.Errorf("look for due messages: %w", err)
	}
	if !due {
		return nil, nil
	}
	var out []claimed
	err = o.st.Update(ctx, func(t *store.Tx) error {
		rows, err := t.SQL().QueryContext(ctx, `UPDATE outbox SET lease_owner = ?4, lease_until = ?5
			WHERE id IN (`+claimableIDs+`)
			RETURNING id, receiver, attempts, max_attempts, message_json, next_attempt_at, created_at`,
			ms(now), limit, string(skipJSON), owner, ms(now.Add(lease)))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var c claimed
			var body string
			if err := rows.Scan(&c.ID, &c.Receiver, &c.Attempts, &c.MaxAttempts, &body, &c.next, &c.created); err != nil {
				return err
			}
			c.Body = []byte(body)
			out = append(out, c)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("claim due messages: %w", err)
	}
	slices.SortFunc(out, func(a, b claimed) int {
		return cmp.Or(cmp.Compare(a.next, b.next), cmp.Compare(a.created, b.created), cmp.Compare(a.ID, b.ID))
	})
	qs := make([]notify.Queued, len(out))
	for i, c := range out {
		qs[i] = c.Queued
	}
	return qs, nil
}

// renewQuery extends one owner's leases (?2) to ?1, reading only its rows.
const renewQuery = `UPDATE outbox INDEXED BY outbox_lease_owner SET lease_until = ?1 WHERE lease_owner = ?2 AND state = 'PENDING' AND lease_until > 0`

// claimableIDs selects up to ?2 ids of PENDING messages due at ?1 and free
// at ?1, of receivers not in the JSON array ?3: expired leases first (a
// dead dispatcher's), then free messages oldest first.
const claimableIDs = `SELECT id FROM (SELECT id FROM outbox INDEXED BY outbox_leased
		WHERE state = 'PENDING' AND lease_until > 0 AND lease_until <= ?1 AND next_attempt_at <= ?1
			AND receiver NOT IN (SELECT value FROM json_each(?3)) LIMIT ?2)
	UNION ALL SELECT id FROM (SELECT id FROM outbox INDEXED BY outbox_free
		WHERE state = 'PENDING' AND lease_until = 0 AND next_attempt_at <= ?1
			AND receiver NOT IN (SELECT value FROM json_each(?3))
		ORDER BY next_attempt_at, created_at LIMIT ?2)
	LIMIT ?2`

// RenewLeases extends owner's leases on the messages it still holds to
// now+lease.
func (o *Outbox) RenewLeases(ctx context.Context, owner string, now time.Time, lease time.Duration) error {
	_, err := o.renew(ctx, owner, now, lease)
	return err
}

// renew is RenewLeases, and returns how many messages owner holds.
func (o *Outbox) renew(ctx context.Context, owner string, now time.Time, lease time.Duration) (int, error) {
	var n int64
	err := o.st.Update(ctx, func(t *store.Tx) error {
		r, err := t.SQL().ExecContext(ctx, renewQuery, ms(now.Add(lease)), owner)
		if err == nil {
			n, err = r.RowsAffected()
		}
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("renew outbox leases: %w", err)
	}
	return int(n), nil
}

// ExtendLease extends owner's lease on message id to now+lease if owner
// still holds it live at now (no other dispatcher can have claimed it), and
// reports whether it did. When owner's lease on id has lapsed, it is
// released in the same transaction: owner will not send the message, and a
// later RenewLeases (which extends every lease owner holds) must not take
// it back unsent; any dispatcher, owner's own next claim included, may
// claim it at once.
func (o *Outbox) ExtendLease(ctx context.Context, owner, id string, now time.Time, lease time.Duration) (bool, error) {
	var n int64
	err := o.st.Update(ctx, func(t *store.Tx) error {
		r, err := t.SQL().ExecContext(ctx, `UPDATE outbox SET lease_until = ? WHERE id = ? AND lease_owner = ? AND lease_until > ? AND state = 'PENDING'`,
			ms(now.Add(lease)), id, owner, ms(now))
		if err == nil {
			n, err = r.RowsAffected()
		}
		if err != nil || n == 1 {
			return err
		}
		_, err = t.SQL().ExecContext(ctx, `UPDATE outbox SET lease_owner = '', lease_until = 0 WHERE id = ? AND lease_owner = ? AND lease_until > 0 AND state = 'PENDING'`, id, owner)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("extend the lease on message %s: %w", id, err)
	}
	return n == 1, nil
}

// ReleaseLeases gives up owner's leases on the messages it did not get to
// send (ids, or all when none is given), for another dispatcher to claim at
// once.
func (o *Outbox) ReleaseLeases(ctx context.Context, owner string, ids ...string) error {
	err := o.st.Update(ctx, func(t *store.Tx) error {
		q := `UPDATE outbox INDEXED BY outbox_lease_owner SET lease_owner = '', lease_until = 0 WHERE lease_owner = ? AND state = 'PENDING' AND lease_until > 0`
		args := []any{owner}
		if len(ids) > 0 {
			q += ` AND id IN (` + strings.TrimSuffix(strings.Repeat("?,", len(ids)), ",") + `)`
			for _, id := range ids {
				args = append(args, id)
			}
		}
		_, err := t.SQL().ExecContext(ctx, q, args...)
		return err
	})
	if err != nil {
		return fmt.Errorf("release outbox leases: %w", err)
	}
	return nil
}

// NextDue returns when the next PENDING message that owner holds or could
// claim at now is due (zero if none). Messages another dispatcher holds a
// live lease on are its business, not counted; nor are messages held for
// later and never attempted (a run summary waiting for its schedule): a
// Drain does not wait for them, a running dispatcher claims them when due.
func (o *Outbox) NextDue(ctx context.Context, owner string, now time.Time) (time.Time, error) {
	var v sql.NullInt64
	// Three index reads (outbox_free in due order, outbox_leased,
	// outbox_lease_owner), none of another dispatcher's live leases.
	if err := o.db.QueryRowContext(ctx, `SELECT MIN(n) FROM (
		SELECT next_attempt_at AS n FROM (SELECT next_attempt_at FROM outbox INDEXED BY outbox_free WHERE state = 'PENDING' AND lease_until = 0
			AND NOT (attempts = 0 AND next_attempt_at > ?2) ORDER BY next_attempt_at, created_at LIMIT 1)
		UNION ALL SELECT MIN(next_attempt_at) FROM outbox INDEXED BY outbox_leased WHERE state = 'PENDING' AND lease_until > 0 AND lease_until <= ?2
			AND NOT (attempts = 0 AND next_attempt_at > ?2)
		UNION ALL SELECT MIN(next_attempt_at) FROM outbox INDEXED BY outbox_lease_owner WHERE state = 'PENDING' AND lease_until > 0 AND lease_owner = ?1
			AND NOT (attempts = 0 AND next_attempt_at > ?2))`, owner, ms(now)).Scan(&v); err != nil {
		return time.Time{}, fmt.Errorf("read next due message: %w", err)
	}
	return fromNullMS(v), nil
}

// Backlog counts the PENDING messages at now: held under a live lease of
// another owner than owner (a running or recently killed dispatcher), and
// the others (due later, or free to claim).
func (o *Outbox) Backlog(ctx context.Context, owner string, now time.Time) (held, pending int, err error) {
	err = o.db.QueryRowContext(ctx, `SELECT COALESCE(SUM(lease_owner != ?1 AND lease_owner != '' AND lease_until > ?2), 0),
		COALESCE(SUM(NOT (lease_owner != ?1 AND lease_owner != '' AND lease_until > ?2)), 0)
		FROM outbox WHERE state = 'PENDING'`, owner, ms(now)).Scan(&held, &pending)
	if err != nil {
		return 0, 0, fmt.Errorf("count pending messages: %w", err)
	}
	return held, pending, nil
}

// RecordOutcomes stores delivery outcomes in one transaction, and brings the
// executions they belong to up to date: SUCCEEDED when all their messages
// were sent, FAILED when one failed for good, IN_PROGRESS otherwise.
func (o *Outbox) RecordOutcomes(ctx context.Context, outcomes []notify.Outcome) error {
	if len(outcomes) == 0 {
		return nil
	}
	return o.st.Update(ctx, func(t *store.Tx) error {
		execs := map[int64]bool{}
		for _, o := range outcomes {
			var err error
			switch {
			case o.Err == "":
				_, err = t.Exec(ctx, `UPDATE outbox SET state = 'SENT', attempts = attempts + 1, sent_at = ?, last_error = '', lease_owner = '', lease_until = 0 WHERE id = ?`, ms(o.At), o.ID)
			case o.Final:
				_, err = t.Exec(ctx, `UPDATE outbox SET state = 'FAILED', attempts = attempts + 1, last_error = ?, lease_owner = '', lease_until = 0 WHERE id = ?`, o.Err, o.ID)
			default:
				_, err = t.Exec(ctx, `UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ?, lease_owner = '', lease_until = 0 WHERE id = ?`, ms(o.NextAttemptAt), o.Err, o.ID)
			}
			if err != nil {
				return fmt.Errorf("record outcome of message %s: %w", o.ID, err)
			}
			ids, err := t.ExecutionsOfMessage(ctx, o.ID)
			if err != nil {
				return err
			}
			for _, id := range ids {
				execs[id] = true
			}
		}
		now := outcomes[len(outcomes)-1].At
		for id := range execs {
			if err := t.RefreshExecution(ctx, id, now); err != nil {
				return err
			}
		}
		return nil
	})
}

// RequeueFailed makes FAILED messages PENDING again, due now, with a fresh
// attempt budget (keyage run --retry-failed). It returns how many.
func (o *Outbox) RequeueFailed(ctx context.Context, now time.Time) (int, error) {
	var n int64
	err := o.st.Update(ctx, func(t *store.Tx) error {
		r, err := t.SQL().ExecContext(ctx, `UPDATE outbox SET state = 'PENDING', attempts = 0, next_attempt_at = ? WHERE state = 'FAILED'`, ms(now))
		if err != nil {
			return err
		}
		n, _ = r.RowsAffected()
		_, err = t.SQL().ExecContext(ctx, `UPDATE remediation_executions SET state = 'QUEUED', updated_at = ? WHERE state = 'FAILED'`, ms(now))
		return err
	})
	return int(n), err
}

// ms is t in Unix milliseconds, 0 for the zero time (as the store writes).
func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// fromNullMS reads a time the store wrote as Unix milliseconds.
func fromNullMS(v sql.NullInt64) time.Time {
	if !v.Valid || v.Int64 == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v.Int64).UTC()
}
