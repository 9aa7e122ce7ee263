package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/keyage/keyage/internal/rule"
	"github.com/keyage/keyage/internal/scan"
)

// Scan statuses. A scan recorded account by account (ScanWriter) is
// running until it finishes; readers of "the latest scan" see only done
// ones. A scan that never finished (its process crashed or was stopped) is
// marked interrupted when the next one begins.
const (
	ScanRunning     = "running"
	ScanDone        = "done"
	ScanInterrupted = "interrupted"
)

// ScanWriter records a scan account by account, each account in its own
// transaction, as the scan hands it over: memory does not grow with the
// organization. Begin it with BeginScan, then Account for each account in
// any order, then Finish (or Abort).
//
// Atomicity: each account is atomic; the scan is not. The current
// evaluations of an account change when that account is recorded, so while
// the scan runs they are a mix of this scan's and the previous one's, each
// resource at the time it was last evaluated. The scan itself (its summary,
// LatestScan) appears only when it finishes.
type ScanWriter struct {
	s           *Store
	id          int64
	evaluatedAt time.Time
}

// BeginScan records the head of a scan (rule parameters, evaluation time,
// source) as running, and marks interrupted every scan still running from
// before: a process that died mid-scan never finishes its own.
func (s *Store) BeginScan(ctx context.Context, started time.Time, head *scan.Result) (*ScanWriter, error) {
	w := &ScanWriter{s: s, evaluatedAt: head.EvaluatedAt}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE scans SET status = ? WHERE status = ?`, ScanInterrupted, ScanRunning); err != nil {
			return fmt.Errorf("mark unfinished scans: %w", err)
		}
		var err error
		w.id, err = insertScan(ctx, tx, started, nil, head, ScanRunning)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("begin scan in %s: %w", s.path, err)
	}
	return w, nil
}

// insertScan inserts a scans row and returns its id; finished nil leaves
// finished_at and the summary empty (a running scan).
func insertScan(ctx context.Context, tx *sql.Tx, started time.Time, finished *time.Time, res *scan.Result, status string) (int64, error) {
	var fin, summary any
	if finished != nil {
		js, err := json.Marshal(res.Summary)
		if err != nil {
			return 0, fmt.Errorf("encode scan summary: %w", err)
		}
		fin, summary = ms64(*finished), string(js)
	}
	r, err := tx.ExecContext(ctx, `INSERT INTO scans (started_at, finished_at, evaluated_at, source, max_age, warn_age, status, summary_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		ms64(started), fin, ms64(res.EvaluatedAt), res.Source, res.Parameters.MaxAccessKeyAge, res.Parameters.WarnAge, status, summary)
	if err != nil {
		return 0, fmt.Errorf("insert scan: %w", err)
	}
	return r.LastInsertId()
}

// ID is the scan's id.
func (w *ScanWriter) ID() int64 { return w.id }

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

// Finish marks the scan done at finished with its summary: from now on it
// is the latest scan.
func (w *ScanWriter) Finish(ctx context.Context, finished time.Time, summary scan.Summary) error {
	js, err := json.Marshal(summary)
	if err != nil {
		return fmt.Errorf("encode summary of scan %d: %w", w.id, err)
	}
	if _, err := w.s.db.ExecContext(ctx, `UPDATE scans SET status = ?, finished_at = ?, summary_json = ? WHERE id = ?`, ScanDone, ms64(finished), string(js), w.id); err != nil {
		return fmt.Errorf("finish scan %d in %s: %w", w.id, w.s.path, err)
	}
	return nil
}

// Abort marks the scan interrupted at finished: the accounts recorded so
// far keep their evaluations, and the scan never becomes the latest.
func (w *ScanWriter) Abort(ctx context.Context, finished time.Time) error {
	if _, err := w.s.db.ExecContext(ctx, `UPDATE scans SET status = ?, finished_at = ? WHERE id = ?`, ScanInterrupted, ms64(finished), w.id); err != nil {
		return fmt.Errorf("mark scan %d interrupted in %s: %w", w.id, w.s.path, err)
	}
	return nil
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
