package store

import (
	"context"
	"fmt"
	"time"
)

// RotationRow is the stored state of one user's rotation: State is internal/rotate's JSON,
// which never holds a secret access key.
type RotationRow struct {
	AccountID, ResourceID string
	State                 []byte
	UpdatedAt             time.Time
}

// Rotations returns every rotation in progress or done.
func (s *Store) Rotations(ctx context.Context) ([]RotationRow, error) {
	rows, err := queryRows(ctx, s.db, `SELECT account_id, resource_id, state, updated_at FROM rotation ORDER BY account_id, resource_id`,
		func(r rowScanner) (RotationRow, error) {
			var row RotationRow
			var at int64
			err := r.Scan(&row.AccountID, &row.ResourceID, &row.State, &at)
			row.UpdatedAt = fromMS(at)
			return row, err
		})
	if err != nil {
		return nil, fmt.Errorf("read rotations: %w", err)
	}
	return rows, nil
}

// PutRotation writes a user's rotation state.
func (s *Store) PutRotation(ctx context.Context, r RotationRow) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO rotation (account_id, resource_id, state, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (account_id, resource_id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at`,
		r.AccountID, r.ResourceID, string(r.State), ms64(r.UpdatedAt))
	if err != nil {
		return fmt.Errorf("record rotation of user %s in %s: %w", r.ResourceID, r.AccountID, err)
	}
	return nil
}

// DeleteRotation forgets a user's rotation.
func (s *Store) DeleteRotation(ctx context.Context, accountID, resourceID string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM rotation WHERE account_id = ? AND resource_id = ?`, accountID, resourceID); err != nil {
		return fmt.Errorf("forget rotation of user %s in %s: %w", resourceID, accountID, err)
	}
	return nil
}
