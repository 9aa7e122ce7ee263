package store

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A revoked session stays revoked until its expiry, across a reopen of the
// state file, and Prune forgets it once it has expired; the file holds no
// session id.
func TestRevokedSessions(t *testing.T) {
	exp, path := t0.Add(12*time.Hour), filepath.Join(t.TempDir(), "keyage.db")
	ctx := context.Background()
	openState := func() *Store {
		t.Helper()
		s, err := Open(ctx, path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := openState()
	if err := s.RevokeSession(ctx, "SESSIONID1", exp); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openState() // a restart
	defer s.Close()
	for _, tt := range []struct {
		name string
		id   string
		at   time.Time
		want bool
	}{
		{"revoked, after a reopen", "SESSIONID1", t0.Add(time.Hour), true},
		{"another session", "SESSIONID2", t0.Add(time.Hour), false},
		{"at its expiry", "SESSIONID1", exp, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.SessionRevoked(ctx, tt.id, tt.at)
			if err != nil || got != tt.want {
				t.Errorf("SessionRevoked(%s, %v) = %v, %v; want %v", tt.id, tt.at, got, err, tt.want)
			}
		})
	}
	var stored string
	if err := s.db.QueryRowContext(ctx, `SELECT id_sha256 FROM revoked_sessions`).Scan(&stored); err != nil || strings.Contains(stored, "SESSIONID1") {
		t.Errorf("stored revocation = %q, %v; want the id's hash only", stored, err)
	}
	for _, tt := range []struct {
		name string
		at   time.Time
		want int64
	}{
		{"before its expiry: kept", exp.Add(-time.Minute), 0},
		{"after its expiry: pruned", exp.Add(time.Minute), 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, err := s.Prune(ctx, tt.at, DefaultRetention)
			if err != nil || p.Sessions != tt.want {
				t.Errorf("Prune(%v) = %+v, %v; want %d session revocations pruned", tt.at, p, err, tt.want)
			}
		})
	}
}
