package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Retention says how long the state keeps what only history needs. Zero
// keeps forever. What is current (every resource's evaluation, each
// account's latest scan, pending and leased messages, what was notified) is
// never pruned.
type Retention struct {
	// History is kept for compliance changes, scans, finished remediation
	// executions and failed messages.
	History time.Duration
	// Audit is kept for the enforcement audit trail.
	Audit time.Duration
	// Outbox is kept for sent messages.
	Outbox time.Duration
	// ScanAccounts is kept for scans' per-account rows (the account pages'
	// scan history).
	ScanAccounts time.Duration
}

// DefaultRetention is state.retention's default.
var DefaultRetention = Retention{History: 400 * 24 * time.Hour, Audit: 400 * 24 * time.Hour,
	Outbox: 30 * 24 * time.Hour, ScanAccounts: 30 * 24 * time.Hour}

// Pruned counts the rows Prune deleted, by table.
type Pruned struct {
	History      int64 `json:"history"`
	Audit        int64 `json:"audit"`
	Outbox       int64 `json:"outbox"`
	Executions   int64 `json:"executions"`
	Scans        int64 `json:"scans"`
	ScanAccounts int64 `json:"scanAccounts"`
	// Sessions are revocations of dashboard sessions that have expired
	// (not history: not in Total, which keyage state prune itemizes).
	Sessions int64 `json:"sessions"`
}

// Total is the number of rows deleted.
func (p Pruned) Total() int64 {
	return p.History + p.Audit + p.Outbox + p.Executions + p.Scans + p.ScanAccounts
}

// Prune deletes, in one transaction, what is older than r keeps at now.
// keyage run and serve call it after recording each scan; the freed pages
// are reused, and Vacuum returns them to the file system.
func (s *Store) Prune(ctx context.Context, now time.Time, r Retention) (Pruned, error) {
	var p Pruned
	cutoff := func(d time.Duration) int64 { return ms64(now.Add(-d)) }
	steps := []struct {
		keep time.Duration
		n    *int64
		what string
		q    string
	}{
		{r.History, &p.History, "compliance history", `DELETE FROM evaluation_history WHERE at < ?`},
		{r.Audit, &p.Audit, "audit records", `DELETE FROM audit WHERE at < ?`},
		{r.Outbox, &p.Outbox, "sent messages", `DELETE FROM outbox WHERE state = 'SENT' AND COALESCE(sent_at, created_at) < ?`},
		{r.History, &p.Outbox, "failed messages", `DELETE FROM outbox WHERE state = 'FAILED' AND created_at < ?`},
		// An execution still linked to a message that is not finished stays.
		{r.History, &p.Executions, "finished executions", `DELETE FROM remediation_executions WHERE state IN ('SUCCEEDED', 'FAILED') AND updated_at < ?
			AND id NOT IN (SELECT oe.execution_id FROM outbox_executions oe JOIN outbox o ON o.id = oe.message_id WHERE o.state NOT IN ('SENT', 'FAILED'))`},
		{r.ScanAccounts, &p.ScanAccounts, "scans' account rows", `DELETE FROM scan_accounts WHERE scan_id IN (SELECT id FROM scans WHERE started_at < ?)
			AND scan_id NOT IN (SELECT scan_id FROM account_latest UNION SELECT last_ok_scan_id FROM account_latest WHERE last_ok_scan_id IS NOT NULL)`},
		// A scan an account or an evaluation still points at stays.
		{r.History, &p.Scans, "scans", `DELETE FROM scans WHERE started_at < ? AND status != 'running'
			AND id != (SELECT COALESCE(MAX(id), 0) FROM scans WHERE status = 'done')
			AND id NOT IN (SELECT scan_id FROM account_latest UNION SELECT last_ok_scan_id FROM account_latest WHERE last_ok_scan_id IS NOT NULL)
			AND id NOT IN (SELECT scan_id FROM evaluations WHERE scan_id IS NOT NULL)`},
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		for _, st := range steps {
			if st.keep <= 0 {
				continue
			}
			res, err := tx.ExecContext(ctx, st.q, cutoff(st.keep))
			if err != nil {
				return fmt.Errorf("prune %s older than %v from %s: %w", st.what, st.keep, s.path, err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return fmt.Errorf("prune %s from %s: %w", st.what, s.path, err)
			}
			*st.n += n
		}
		if r.History > 0 {
			if err := pruneDays(ctx, tx, cutoff(r.History)); err != nil {
				return fmt.Errorf("prune compliance history from %s: %w", s.path, err)
			}
		}
		// A revocation is needed only until its session expires: the
		// signed expiry refuses the cookie after that.
		res, err := tx.ExecContext(ctx, `DELETE FROM revoked_sessions WHERE expires_at <= ?`, ms64(now))
		if err != nil {
			return fmt.Errorf("prune expired session revocations from %s: %w", s.path, err)
		}
		p.Sessions, err = res.RowsAffected()
		if err != nil {
			return fmt.Errorf("prune expired session revocations from %s: %w", s.path, err)
		}
		return nil
	})
	if err != nil {
		return Pruned{}, err
	}
	return p, nil
}

// Vacuum rewrites the database to its smallest size (after Prune): it
// needs as much free disk as the file, and holds the write lock while it
// runs.
func (s *Store) Vacuum(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `VACUUM`); err != nil {
		return fmt.Errorf("vacuum state %s: %w", s.path, err)
	}
	if _, err := s.db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		return fmt.Errorf("checkpoint state %s: %w", s.path, err)
	}
	return nil
}
