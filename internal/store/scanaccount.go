package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/keyage/keyage/internal/rule"
	"github.com/keyage/keyage/internal/scan"
)

// Account records one account's outcome and, when it was scanned, replaces
// its current evaluations by evs (as RecordScan does for every account),
// in one transaction.
func (w *ScanWriter) Account(ctx context.Context, a *scan.AccountResult, evs []rule.Evaluation) error {
	err := w.s.tx(ctx, func(tx *sql.Tx) error {
		restore, err := recordCache(ctx, tx)
		if err != nil {
			return err
		}
		defer restore()
		rm := newReadModel(tx)
		defer rm.close()
		if err := insertScanAccount(ctx, tx, rm, w.id, a); err != nil {
			return err
		}
		if a.Status != scan.StatusOK {
			return nil
		}
		return w.s.saveEvaluations(ctx, tx, rm, w.id, w.evaluatedAt, map[string]bool{a.AccountID: true}, evs)
	})
	if err != nil {
		return fmt.Errorf("record account %s of scan %d in %s: %w", a.AccountID, w.id, w.s.path, err)
	}
	return nil
}

// insertScanAccount records account a of scan scanID: its scan_accounts
// row and its row in the read model.
func insertScanAccount(ctx context.Context, tx *sql.Tx, rm *readModel, scanID int64, a *scan.AccountResult) error {
	rk, err := json.Marshal(a.RootKeys)
	if err != nil {
		return fmt.Errorf("encode root keys of %s: %w", a.AccountID, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO scan_accounts (scan_id, account_id, name, ou, status, error, users, root_keys_json, duration_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		scanID, a.AccountID, a.Name, a.OU, a.Status, a.Error, a.Users, string(rk), a.DurationMS); err != nil {
		return fmt.Errorf("insert scan account %s: %w", a.AccountID, err)
	}
	return rm.putAccount(ctx, scanID, a, string(rk))
}

// ScanEvaluations reads back the current evaluations of one account that
// scan scanID wrote, by user name (the scan's own order), keeping those
// keep accepts (nil keeps all): a caller plans from the store a page, an
// account, at a time instead of holding the whole scan.
func (s *Store) ScanEvaluations(ctx context.Context, scanID int64, accountID string, keep func(*rule.Evaluation) bool) ([]rule.Evaluation, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+evaluationRowColumns+` FROM evaluations e LEFT JOIN account_latest a ON a.account_id = e.account_id
		WHERE e.account_id = ? AND e.scan_id = ? ORDER BY e.user_name, e.resource_id`, accountID, scanID)
	if err != nil {
		return nil, fmt.Errorf("read evaluations of %s in scan %d: %w", accountID, scanID, err)
	}
	defer rows.Close()
	var out []rule.Evaluation
	for rows.Next() {
		r, err := scanEvaluationRow(rows)
		if err != nil {
			return nil, fmt.Errorf("read evaluations of %s in scan %d: %w", accountID, scanID, err)
		}
		if keep == nil || keep(&r.Evaluation) {
			out = append(out, r.Evaluation)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read evaluations of %s in scan %d: %w", accountID, scanID, err)
	}
	return out, nil
}
