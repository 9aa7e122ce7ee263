package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

// Tx is a write transaction: the decision to notify (executions, outbox
// messages, notify state) is committed at once or not at all.
type Tx struct {
	tx *stmtTx
}

// SQL is the transaction itself, for internal/outbox, which keeps the
// outbox's delivery side on the same database.
func (t *Tx) SQL() *sql.Tx { return t.tx.Tx }

// Exec runs query on the transaction as SQL().ExecContext does, but
// prepares it once per transaction (stmtTx): for internal/outbox's
// statements run once per message.
func (t *Tx) Exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return t.tx.ExecContext(ctx, query, args...)
}

// stmtTx is a transaction that prepares each statement text once and
// reuses it until the transaction ends (which closes the statements). The
// cycle's transactions run the same few statements for every execution and
// message, and modernc.org/sqlite parses a statement given as text anew
// each time: in a CPU profile of keyage run (300 accounts x 100 users)
// parsing was a third of the time spent enqueueing and recording delivery
// outcomes.
type stmtTx struct {
	*sql.Tx
	stmts map[string]*sql.Stmt
}

// prepared returns query prepared on the transaction, once.
func (t *stmtTx) prepared(ctx context.Context, query string) (*sql.Stmt, error) {
	if s, ok := t.stmts[query]; ok {
		return s, nil
	}
	s, err := t.Tx.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if t.stmts == nil {
		t.stmts = map[string]*sql.Stmt{}
	}
	t.stmts[query] = s
	return s, nil
}

func (t *stmtTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	s, err := t.prepared(ctx, query)
	if err != nil {
		return nil, err
	}
	return s.ExecContext(ctx, args...)
}

func (t *stmtTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	s, err := t.prepared(ctx, query)
	if err != nil {
		return nil, err
	}
	return s.QueryContext(ctx, args...)
}

// QueryRowContext reads one row; a statement that does not prepare is run
// as text, so that its error comes out of Row.Scan as before.
func (t *stmtTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	s, err := t.prepared(ctx, query)
	if err != nil {
		return t.Tx.QueryRowContext(ctx, query, args...)
	}
	return s.QueryRowContext(ctx, args...)
}

// DB is the state file's database, for internal/outbox's reads (which,
// in WAL mode, never wait for a writer).
func (s *Store) DB() *sql.DB { return s.db }

// Update runs f in one transaction, committed when f returns nil.
func (s *Store) Update(ctx context.Context, f func(*Tx) error) error {
	err := s.tx(ctx, func(tx *sql.Tx) error { return f(&Tx{tx: &stmtTx{Tx: tx}}) })
	if err != nil {
		return fmt.Errorf("update state %s: %w", s.path, err)
	}
	return nil
}

// Execution states, as AWS Config names them.
const (
	ExecutionQueued     = "QUEUED"
	ExecutionInProgress = "IN_PROGRESS"
	ExecutionSucceeded  = "SUCCEEDED"
	ExecutionFailed     = "FAILED"
)

// Step is one step of a remediation execution.
type Step struct {
	Name      string    `json:"name"`
	State     string    `json:"state"`
	Detail    string    `json:"detail,omitempty"`
	StartedAt time.Time `json:"startedAt,omitzero"`
	EndedAt   time.Time `json:"endedAt,omitzero"`
}

// Execution is a remediation execution of one resource for one rule.
type Execution struct {
	ID         int64
	AccountID  string
	ResourceID string
	Rule       string
	UserName   string
	State      string
	Attempts   int
	Steps      []Step
	LastError  string
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// PublishStep names the step whose outcome the outbox decides.
const PublishStep = "PublishNotification"

// PutExecution creates or replaces the execution of (account, resource,
// rule) and returns its id. CreatedAt is kept from an existing row.
func (t *Tx) PutExecution(ctx context.Context, e Execution) (int64, error) {
	steps, err := json.Marshal(e.Steps)
	if err != nil {
		return 0, err
	}
	var id int64
	err = t.tx.QueryRowContext(ctx, `INSERT INTO remediation_executions (account_id, resource_id, rule, user_name, state, attempts, steps_json, last_error, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (account_id, resource_id, rule) DO UPDATE SET user_name = excluded.user_name, state = excluded.state, attempts = excluded.attempts,
			steps_json = excluded.steps_json, last_error = excluded.last_error, updated_at = excluded.updated_at
		RETURNING id`,
		e.AccountID, e.ResourceID, e.Rule, e.UserName, e.State, e.Attempts, string(steps), e.LastError, ms64(e.CreatedAt), ms64(e.UpdatedAt)).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("save execution of %s in %s: %w", e.ResourceID, e.AccountID, err)
	}
	return id, nil
}

// Message is one outbox row.
type Message struct {
	ID       string
	Receiver string
	Kind     string
	GroupKey string
	// ExecutionIDs are the executions the message serves.
	ExecutionIDs  []int64
	JSON          []byte // the notify.Message, encoded
	State         string
	Attempts      int
	MaxAttempts   int
	NextAttemptAt time.Time
	LastError     string
	CreatedAt     time.Time
	SentAt        time.Time
}

// Outbox message states.
const (
	MessagePending = "PENDING"
	MessageSent    = "SENT"
	MessageFailed  = "FAILED"
)

// Enqueue adds a message to the outbox, PENDING and due at NextAttemptAt.
func (t *Tx) Enqueue(ctx context.Context, m Message) error {
	_, err := t.tx.ExecContext(ctx, `INSERT INTO outbox (id, receiver, kind, group_key, message_json, state, attempts, max_attempts, next_attempt_at, created_at)
		VALUES (?, ?, ?, ?, ?, 'PENDING', 0, ?, ?, ?)`,
		m.ID, m.Receiver, m.Kind, m.GroupKey, string(m.JSON), m.MaxAttempts, ms64(m.NextAttemptAt), ms64(m.CreatedAt))
	if err != nil {
		return fmt.Errorf("enqueue message %s for %s: %w", m.ID, m.Receiver, err)
	}
	for _, id := range m.ExecutionIDs {
		if _, err := t.tx.ExecContext(ctx, `INSERT OR IGNORE INTO outbox_executions (message_id, execution_id) VALUES (?, ?)`, m.ID, id); err != nil {
			return fmt.Errorf("link message %s to execution %d: %w", m.ID, id, err)
		}
	}
	return nil
}

// Notified records what a receiver was last told about one item (one key of
// one user) through one route.
type Notified struct {
	Receiver   string
	Route      int
	ItemKey    string
	AccountID  string
	ResourceID string
	Stage      string
	NotifiedAt time.Time
	ItemJSON   []byte
}

// SetNotified records a notification decision.
func (t *Tx) SetNotified(ctx context.Context, n Notified) error {
	_, err := t.tx.ExecContext(ctx, `INSERT INTO notify_state (receiver, route, item_key, account_id, resource_id, stage, notified_at, item_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (receiver, route, item_key) DO UPDATE SET stage = excluded.stage, notified_at = excluded.notified_at, item_json = excluded.item_json`,
		n.Receiver, n.Route, n.ItemKey, n.AccountID, n.ResourceID, n.Stage, ms64(n.NotifiedAt), string(n.ItemJSON))
	if err != nil {
		return fmt.Errorf("record notification of %s to %s: %w", n.ItemKey, n.Receiver, err)
	}
	return nil
}

// ForgetNotified removes a record, once its item is resolved.
func (t *Tx) ForgetNotified(ctx context.Context, receiver string, route int, itemKey string) error {
	_, err := t.tx.ExecContext(ctx, `DELETE FROM notify_state WHERE receiver = ? AND route = ? AND item_key = ?`, receiver, route, itemKey)
	if err != nil {
		return fmt.Errorf("forget notification of %s to %s: %w", itemKey, receiver, err)
	}
	return nil
}

// NotifiedItems lists every notify-state record.
func (s *Store) NotifiedItems(ctx context.Context) ([]Notified, error) {
	out, err := queryRows(ctx, s.db, `SELECT `+notifiedColumns+` FROM notify_state`, scanNotified)
	if err != nil {
		return nil, fmt.Errorf("read notify state: %w", err)
	}
	return out, nil
}

// NotifiedItems lists every notify-state record as this transaction sees
// it: a decision to notify made here cannot race another process's.
func (t *Tx) NotifiedItems(ctx context.Context) ([]Notified, error) {
	out, err := queryRows(ctx, t.tx, `SELECT `+notifiedColumns+` FROM notify_state`, scanNotified)
	if err != nil {
		return nil, fmt.Errorf("read notify state: %w", err)
	}
	return out, nil
}

const notifiedColumns = `receiver, route, item_key, account_id, resource_id, stage, notified_at, item_json`

// scanNotified reads a notify_state row of notifiedColumns.
func scanNotified(r rowScanner) (Notified, error) {
	var n Notified
	var at int64
	var item string
	if err := r.Scan(&n.Receiver, &n.Route, &n.ItemKey, &n.AccountID, &n.ResourceID, &n.Stage, &at, &item); err != nil {
		return n, err
	}
	n.NotifiedAt, n.ItemJSON = fromMS(at), []byte(item)
	return n, nil
}

// HasExecution reports whether (account, resource, rule) has an execution.
func (t *Tx) HasExecution(ctx context.Context, accountID, resourceID, ruleName string) (bool, error) {
	var n int
	err := t.tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM remediation_executions WHERE account_id = ? AND resource_id = ? AND rule = ?`, accountID, resourceID, ruleName).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("read execution of %s in %s: %w", resourceID, accountID, err)
	}
	return n > 0, nil
}
