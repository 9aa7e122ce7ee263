package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// ExecutionsOfMessage returns the ids of the executions outbox message id
// serves.
func (t *Tx) ExecutionsOfMessage(ctx context.Context, id string) ([]int64, error) {
	ids, err := queryRows(ctx, t.tx, `SELECT execution_id FROM outbox_executions WHERE message_id = ?`, scanValue[int64], id)
	if err != nil {
		return nil, fmt.Errorf("read executions of message %s: %w", id, err)
	}
	return ids, nil
}

// RefreshExecution derives an execution's state from its messages (after
// their delivery outcomes were recorded, by internal/outbox).
func (t *Tx) RefreshExecution(ctx context.Context, id int64, now time.Time) error {
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
