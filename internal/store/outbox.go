package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// ClaimDue leases to owner, until now+lease, up to limit PENDING messages
// due at now that no other dispatcher holds (or whose holder's lease ran
// out), leaving out the receivers in skip, and returns them oldest first.
// Messages owner already holds are not returned again. Through the
// outbox_free and outbox_leased indexes it reads free messages in due
// order and expired leases, never another dispatcher's live leases.
func (s *Store) ClaimDue(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int, skip ...string) ([]Message, error) {
	skipJSON, err := json.Marshal(append([]string{}, skip...))
	if err != nil {
		return nil, fmt.Errorf("encode receivers to skip: %w", err)
	}
	// A claim takes the write lock, which every other process's commits
	// wait behind; a read (which never waits in WAL mode) says first
	// whether there is anything to claim.
	var due bool
	if err := s.db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM (`+claimableIDs+`))`, ms64(now), 1, string(skipJSON)).Scan(&due); err != nil {
		return nil, fmt.Errorf("look for due messages: %w", err)
	}
	if !due {
		return nil, nil
	}
	var out []Message
	err = s.Update(ctx, func(t *Tx) error {
		var err error
		out, err = queryRows(ctx, t.tx, `UPDATE outbox SET lease_owner = ?4, lease_until = ?5
			WHERE id IN (`+claimableIDs+`)
			RETURNING `+messageColumns, scanMessage, ms64(now), limit, string(skipJSON), owner, ms64(now.Add(lease)))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("claim due messages: %w", err)
	}
	slices.SortFunc(out, func(a, b Message) int {
		return cmp.Or(a.NextAttemptAt.Compare(b.NextAttemptAt), a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// claimableIDs selects up to ?2 ids of PENDING messages due at ?1 and free
// at ?1, of receivers not in the JSON array ?3: expired leases first (a
// dead dispatcher's), then free messages oldest first.
const claimableIDs = `SELECT id FROM (SELECT id FROM outbox
		WHERE state = 'PENDING' AND lease_until > 0 AND lease_until <= ?1 AND next_attempt_at <= ?1
			AND receiver NOT IN (SELECT value FROM json_each(?3)) LIMIT ?2)
	UNION ALL SELECT id FROM (SELECT id FROM outbox
		WHERE state = 'PENDING' AND lease_until = 0 AND next_attempt_at <= ?1
			AND receiver NOT IN (SELECT value FROM json_each(?3))
		ORDER BY next_attempt_at, created_at LIMIT ?2)
	LIMIT ?2`

// RenewLeases extends owner's leases on the messages it still holds to
// now+lease, and returns how many it holds.
func (s *Store) RenewLeases(ctx context.Context, owner string, now time.Time, lease time.Duration) (int, error) {
	var n int64
	err := s.Update(ctx, func(t *Tx) error {
		r, err := t.tx.ExecContext(ctx, `UPDATE outbox SET lease_until = ? WHERE lease_owner = ? AND state = 'PENDING' AND lease_until > 0`, ms64(now.Add(lease)), owner)
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
// reports whether it did.
func (s *Store) ExtendLease(ctx context.Context, owner, id string, now time.Time, lease time.Duration) (bool, error) {
	var n int64
	err := s.Update(ctx, func(t *Tx) error {
		r, err := t.tx.ExecContext(ctx, `UPDATE outbox SET lease_until = ? WHERE id = ? AND lease_owner = ? AND lease_until > ? AND state = 'PENDING'`,
			ms64(now.Add(lease)), id, owner, ms64(now))
		if err == nil {
			n, err = r.RowsAffected()
		}
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
func (s *Store) ReleaseLeases(ctx context.Context, owner string, ids ...string) error {
	err := s.Update(ctx, func(t *Tx) error {
		q := `UPDATE outbox SET lease_owner = '', lease_until = 0 WHERE lease_owner = ? AND state = 'PENDING' AND lease_until > 0`
		args := []any{owner}
		if len(ids) > 0 {
			q += ` AND id IN (` + strings.TrimSuffix(strings.Repeat("?,", len(ids)), ",") + `)`
			for _, id := range ids {
				args = append(args, id)
			}
		}
		_, err := t.tx.ExecContext(ctx, q, args...)
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
func (s *Store) NextDue(ctx context.Context, owner string, now time.Time) (time.Time, error) {
	var v sql.NullInt64
	// Three index reads (outbox_free in due order, outbox_leased,
	// outbox_lease_owner), none of another dispatcher's live leases.
	if err := s.db.QueryRowContext(ctx, `SELECT MIN(n) FROM (
		SELECT next_attempt_at AS n FROM (SELECT next_attempt_at FROM outbox WHERE state = 'PENDING' AND lease_until = 0
			AND NOT (attempts = 0 AND next_attempt_at > ?2) ORDER BY next_attempt_at, created_at LIMIT 1)
		UNION ALL SELECT MIN(next_attempt_at) FROM outbox WHERE state = 'PENDING' AND lease_until > 0 AND lease_until <= ?2
			AND NOT (attempts = 0 AND next_attempt_at > ?2)
		UNION ALL SELECT MIN(next_attempt_at) FROM outbox WHERE state = 'PENDING' AND lease_until > 0 AND lease_owner = ?1
			AND NOT (attempts = 0 AND next_attempt_at > ?2))`, owner, ms64(now)).Scan(&v); err != nil {
		return time.Time{}, fmt.Errorf("read next due message: %w", err)
	}
	return nullMS(v), nil
}

// Backlog counts the PENDING messages at now: held under a live lease of
// another owner than owner (a running or recently killed dispatcher), and
// the others (due later, or free to claim).
func (s *Store) Backlog(ctx context.Context, owner string, now time.Time) (held, pending int, err error) {
	err = s.db.QueryRowContext(ctx, `SELECT COALESCE(SUM(lease_owner != ?1 AND lease_owner != '' AND lease_until > ?2), 0),
		COALESCE(SUM(NOT (lease_owner != ?1 AND lease_owner != '' AND lease_until > ?2)), 0)
		FROM outbox WHERE state = 'PENDING'`, owner, ms64(now)).Scan(&held, &pending)
	if err != nil {
		return 0, 0, fmt.Errorf("count pending messages: %w", err)
	}
	return held, pending, nil
}

// Outcome is the result of one delivery attempt.
type Outcome struct {
	ID string
	At time.Time
	// Err is empty on success.
	Err string
	// Final marks a failure as the last attempt (FAILED); otherwise the
	// message is retried at NextAttemptAt.
	Final         bool
	NextAttemptAt time.Time
}

// RecordOutcomes stores delivery outcomes in one transaction, and brings the
// executions they belong to up to date: SUCCEEDED when all their messages
// were sent, FAILED when one failed for good, IN_PROGRESS otherwise.
func (s *Store) RecordOutcomes(ctx context.Context, outcomes []Outcome) error {
	if len(outcomes) == 0 {
		return nil
	}
	return s.Update(ctx, func(t *Tx) error {
		execs := map[int64]bool{}
		for _, o := range outcomes {
			var err error
			switch {
			case o.Err == "":
				_, err = t.tx.ExecContext(ctx, `UPDATE outbox SET state = 'SENT', attempts = attempts + 1, sent_at = ?, last_error = '', lease_owner = '', lease_until = 0 WHERE id = ?`, ms64(o.At), o.ID)
			case o.Final:
				_, err = t.tx.ExecContext(ctx, `UPDATE outbox SET state = 'FAILED', attempts = attempts + 1, last_error = ?, lease_owner = '', lease_until = 0 WHERE id = ?`, o.Err, o.ID)
			default:
				_, err = t.tx.ExecContext(ctx, `UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ?, lease_owner = '', lease_until = 0 WHERE id = ?`, ms64(o.NextAttemptAt), o.Err, o.ID)
			}
			if err != nil {
				return fmt.Errorf("record outcome of message %s: %w", o.ID, err)
			}
			ids, err := queryRows(ctx, t.tx, `SELECT execution_id FROM outbox_executions WHERE message_id = ?`, scanValue[int64], o.ID)
			if err != nil {
				return fmt.Errorf("read executions of message %s: %w", o.ID, err)
			}
			for _, id := range ids {
				execs[id] = true
			}
		}
		now := outcomes[len(outcomes)-1].At
		for id := range execs {
			if err := t.refreshExecution(ctx, id, now); err != nil {
				return err
			}
		}
		return nil
	})
}

// refreshExecution derives an execution's state from its messages.
func (t *Tx) refreshExecution(ctx context.Context, id int64, now time.Time) error {
	var pending, sent, failed int
	var lastErr sql.NullString
	err := t.tx.QueryRowContext(ctx, `SELECT
		COALESCE(SUM(o.state = 'PENDING'), 0), COALESCE(SUM(o.state = 'SENT'), 0), COALESCE(SUM(o.state = 'FAILED'), 0),
		(SELECT f.receiver || ': ' || f.last_error FROM outbox f JOIN outbox_executions fe ON fe.message_id = f.id
			WHERE fe.execution_id = ?1 AND f.state = 'FAILED' ORDER BY f.created_at DESC LIMIT 1)
		FROM outbox o JOIN outbox_executions oe ON oe.message_id = o.id WHERE oe.execution_id = ?1`, id).Scan(&pending, &sent, &failed, &lastErr)
	if err != nil {
		return fmt.Errorf("read messages of execution %d: %w", id, err)
	}
	var stepsJSON string
	var attempts int
	if err := t.tx.QueryRowContext(ctx, `SELECT steps_json, attempts FROM remediation_executions WHERE id = ?`, id).Scan(&stepsJSON, &attempts); err != nil {
		return fmt.Errorf("read execution %d: %w", id, err)
	}
	var steps []Step
	_ = json.Unmarshal([]byte(stepsJSON), &steps)
	state, stepState, detail := ExecutionInProgress, ExecutionInProgress, fmt.Sprintf("%d sent, %d pending", sent, pending)
	switch {
	case failed > 0 && pending == 0:
		state, stepState = ExecutionFailed, ExecutionFailed
		detail = fmt.Sprintf("%d sent, %d failed", sent, failed)
	case pending == 0:
		state, stepState = ExecutionSucceeded, ExecutionSucceeded
		detail = fmt.Sprintf("%d sent", sent)
	}
	for i := range steps {
		if steps[i].Name == PublishStep {
			steps[i].State, steps[i].Detail = stepState, detail
			if stepState != ExecutionInProgress {
				steps[i].EndedAt = now
			}
		}
	}
	b, _ := json.Marshal(steps)
	errText := ""
	if state == ExecutionFailed && lastErr.Valid {
		errText = lastErr.String
	}
	_, err = t.tx.ExecContext(ctx, `UPDATE remediation_executions SET state = ?, steps_json = ?, last_error = ?, attempts = MAX(attempts, (SELECT COALESCE(MAX(o.attempts), 0) FROM outbox o JOIN outbox_executions oe ON oe.message_id = o.id WHERE oe.execution_id = ?)), updated_at = ? WHERE id = ?`,
		state, string(b), errText, id, ms64(now), id)
	return err
}

// RequeueFailed makes FAILED messages PENDING again, due now, with a fresh
// attempt budget (keyage run --retry-failed). It returns how many.
func (s *Store) RequeueFailed(ctx context.Context, now time.Time) (int, error) {
	var n int64
	err := s.Update(ctx, func(t *Tx) error {
		r, err := t.tx.ExecContext(ctx, `UPDATE outbox SET state = 'PENDING', attempts = 0, next_attempt_at = ? WHERE state = 'FAILED'`, ms64(now))
		if err != nil {
			return err
		}
		n, _ = r.RowsAffected()
		_, err = t.tx.ExecContext(ctx, `UPDATE remediation_executions SET state = 'QUEUED', updated_at = ? WHERE state = 'FAILED'`, ms64(now))
		return err
	})
	return int(n), err
}

// OutboxStats counts messages per state and finds the oldest undelivered.
type OutboxStats struct {
	Pending, Sent, Failed int
	OldestPending         time.Time
}

// OutboxStats reads the outbox's counts.
func (s *Store) OutboxStats(ctx context.Context) (OutboxStats, error) {
	var st OutboxStats
	var oldest sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT COALESCE(SUM(state='PENDING'),0), COALESCE(SUM(state='SENT'),0), COALESCE(SUM(state='FAILED'),0),
		MIN(CASE WHEN state = 'PENDING' THEN created_at END) FROM outbox`).Scan(&st.Pending, &st.Sent, &st.Failed, &oldest)
	if err != nil {
		return st, fmt.Errorf("read outbox counts: %w", err)
	}
	st.OldestPending = nullMS(oldest)
	return st, nil
}

// Messages lists outbox messages in a state ("" for all), newest first.
func (s *Store) Messages(ctx context.Context, state string, limit int) ([]Message, error) {
	q := `SELECT ` + messageColumns + ` FROM outbox`
	var args []any
	if state != "" {
		q += ` WHERE state = ?`
		args = append(args, strings.ToUpper(state))
	}
	q += ` ORDER BY created_at DESC, id LIMIT ?`
	args = append(args, limit)
	out, err := queryRows(ctx, s.db, q, scanMessage, args...)
	if err != nil {
		return nil, fmt.Errorf("read outbox: %w", err)
	}
	return out, nil
}

const messageColumns = `id, receiver, kind, group_key, message_json, state, attempts, max_attempts, next_attempt_at, last_error, created_at, COALESCE(sent_at, 0)`

// scanMessage reads an outbox row of messageColumns.
func scanMessage(r rowScanner) (Message, error) {
	var m Message
	var body string
	var next, created, sent int64
	if err := r.Scan(&m.ID, &m.Receiver, &m.Kind, &m.GroupKey, &body, &m.State, &m.Attempts, &m.MaxAttempts, &next, &m.LastError, &created, &sent); err != nil {
		return m, err
	}
	m.JSON, m.NextAttemptAt, m.CreatedAt, m.SentAt = []byte(body), fromMS(next), fromMS(created), fromMS(sent)
	return m, nil
}
