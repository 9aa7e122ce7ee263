package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"
)

// sessionHash is what the state keeps of a session id: its SHA-256, so a
// reader of the file learns no session id.
func sessionHash(id string) string {
	h := sha256.Sum256([]byte(id))
	return hex.EncodeToString(h[:])
}

// RevokeSession records that the dashboard session id was logged out; it
// stays revoked until expires (its signed expiry), across restarts.
func (s *Store) RevokeSession(ctx context.Context, id string, expires time.Time) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO revoked_sessions (id_sha256, expires_at) VALUES (?, ?)
		ON CONFLICT (id_sha256) DO UPDATE SET expires_at = MAX(expires_at, excluded.expires_at)`, sessionHash(id), ms64(expires))
	if err != nil {
		return fmt.Errorf("record the revocation of a session expiring %s in %s: %w", expires.UTC().Format(time.RFC3339), s.path, err)
	}
	return nil
}

// SessionRevoked reports whether the session id was revoked and has not
// expired at now.
func (s *Store) SessionRevoked(ctx context.Context, id string, now time.Time) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM revoked_sessions WHERE id_sha256 = ? AND expires_at > ?`, sessionHash(id), ms64(now)).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("read session revocations from %s: %w", s.path, err)
	}
	return n > 0, nil
}
