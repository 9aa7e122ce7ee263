package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

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
