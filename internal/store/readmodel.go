package store

// The read models of the dashboard, the API and the metrics (queries.go):
// evaluation_keys, one row per access key of every current evaluation, and
// account_latest, each account's newest scan. The store writes them here, in
// the transaction that writes the evaluations and scan accounts they derive
// from (until migration 6, SQL triggers kept them by parsing keys_json).

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/keyage/keyage/internal/rule"
	"github.com/keyage/keyage/internal/scan"
)

// readModel writes the read models within one transaction. Its statements
// are prepared on first use and closed by close.
type readModel struct {
	tx                           *sql.Tx
	insKey, delKeys, putAccountS *sql.Stmt
}

func newReadModel(tx *sql.Tx) *readModel { return &readModel{tx: tx} }

func (m *readModel) close() {
	for _, st := range []*sql.Stmt{m.insKey, m.delKeys, m.putAccountS} {
		if st != nil {
			st.Close()
		}
	}
}

// stmt prepares query into *st unless it is already.
func (m *readModel) stmt(ctx context.Context, st **sql.Stmt, query string) (*sql.Stmt, error) {
	if *st == nil {
		p, err := m.tx.PrepareContext(ctx, query)
		if err != nil {
			return nil, err
		}
		*st = p
	}
	return *st, nil
}

// keysChanged reports whether the key rows of an evaluation must be
// rewritten: what they hold (the keys, the user's name, compliance or owner)
// changed. A rescan that finds the same keys writes none.
func keysChanged(prev current, ev *rule.Evaluation, keysJSON, owner string) bool {
	return prev.keysJSON != keysJSON || prev.compliance != string(ev.Compliance) || prev.owner != owner || prev.userName != ev.UserName
}

// putKeys adds the key rows of a newly stored evaluation (replace false) or
// replaces those of an existing one.
func (m *readModel) putKeys(ctx context.Context, ev *rule.Evaluation, owner string, replace bool) error {
	if replace {
		if err := m.dropKeys(ctx, ev.AccountID, ev.ResourceID); err != nil {
			return err
		}
	}
	ins, err := m.stmt(ctx, &m.insKey, keyRowColumns+` VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("prepare key rows: %w", err)
	}
	for i := range ev.Keys {
		if _, err := ins.ExecContext(ctx, keyRow(ev, i, owner)...); err != nil {
			return fmt.Errorf("save key %d of %s in %s: %w", i, ev.ResourceID, ev.AccountID, err)
		}
	}
	return nil
}

// dropKeys removes the key rows of an evaluation.
func (m *readModel) dropKeys(ctx context.Context, accountID, resourceID string) error {
	del, err := m.stmt(ctx, &m.delKeys, `DELETE FROM evaluation_keys WHERE account_id = ? AND resource_id = ?`)
	if err == nil {
		_, err = del.ExecContext(ctx, accountID, resourceID)
	}
	if err != nil {
		return fmt.Errorf("remove keys of %s in %s: %w", resourceID, accountID, err)
	}
	return nil
}

// putAccount folds an account's outcome in scan scanID into account_latest:
// a newer scan replaces status, error and duration; a name or OU is kept
// when the scan has none; the user count and root keys are those of the
// latest successful scan.
func (m *readModel) putAccount(ctx context.Context, scanID int64, a *scan.AccountResult, rootKeysJSON string) error {
	put, err := m.stmt(ctx, &m.putAccountS, `INSERT INTO account_latest (account_id, name, ou, scan_id, status, error, users, root_keys_json, duration_ms, last_ok_scan_id)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (account_id) DO UPDATE SET
			name = CASE WHEN excluded.name <> '' THEN excluded.name ELSE account_latest.name END,
			ou = CASE WHEN excluded.ou <> '' THEN excluded.ou ELSE account_latest.ou END,
			scan_id = excluded.scan_id, status = excluded.status, error = excluded.error,
			users = CASE WHEN excluded.status = 'ok' THEN excluded.users ELSE account_latest.users END,
			root_keys_json = CASE WHEN excluded.status = 'ok' THEN excluded.root_keys_json ELSE account_latest.root_keys_json END,
			duration_ms = excluded.duration_ms,
			last_ok_scan_id = COALESCE(excluded.last_ok_scan_id, account_latest.last_ok_scan_id)
		WHERE excluded.scan_id >= account_latest.scan_id`)
	if err == nil {
		lastOK := sql.NullInt64{Int64: scanID, Valid: a.Status == scan.StatusOK}
		_, err = put.ExecContext(ctx, a.AccountID, a.Name, a.OU, scanID, a.Status, a.Error, a.Users, rootKeysJSON, a.DurationMS, lastOK)
	}
	if err != nil {
		return fmt.Errorf("save latest scan of account %s: %w", a.AccountID, err)
	}
	return nil
}

// keyTimeMS is a key's time in Unix milliseconds as evaluation_keys holds
// it: rounded the way SQLite's unixepoch rounded the JSON time when triggers
// wrote the table (the fraction of a second capped at 0.999, then the
// seconds within the minute rounded half up to a millisecond, in floating
// point), so that rows written before and after migration 6 compare and
// sort alike. A zero time is year 1, as its JSON was.
func keyTimeMS(t time.Time) int64 {
	frac := float64(t.Nanosecond()) / 1e9
	if frac > 0.999 {
		frac = 0.999
	}
	sec := float64(t.Second()) + frac
	return (t.Unix()-int64(t.Second()))*1000 + int64(float64(sec*1000)+0.5)
}

// lastUsedMS is a key's last use as evaluation_keys holds it: 0 when never
// (the JSON left lastUsedDate out).
func lastUsedMS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return keyTimeMS(t)
}
