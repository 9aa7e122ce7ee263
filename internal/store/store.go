// Package store keeps keyage's state in an embedded SQLite database (pure Go,
// WAL): scans, the current evaluation of every resource and its history,
// remediation executions, the notification outbox and what was notified.
// Versioned migrations are embedded; every write is transactional.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the database/sql driver "sqlite"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is an open state database.
type Store struct {
	db    *sql.DB
	path  string
	cache readCache
}

// ErrNewerSchema is returned by Open for a database written by a newer keyage.
var ErrNewerSchema = errors.New("state database has a newer schema")

// ErrCorrupt is returned by Open for a file that is not a keyage state
// database: not SQLite, damaged, or another program's database.
var ErrCorrupt = errors.New("state file is not a keyage state database")

// ErrNoState is returned by Open with MustExist for a path that does not
// exist.
var ErrNoState = errors.New("state file does not exist")

// Options configures Open.
type Options struct {
	// Now is the store's clock: when a migration is applied. Default time.Now.
	Now func() time.Time
	// MustExist refuses a path that does not exist (ErrNoState) instead of
	// creating it: for commands that only read the state.
	MustExist bool
}

// Open opens (creating if needed, readable by its owner only) the SQLite
// database at path and migrates it to the current schema. A file that is
// not a keyage state (ErrCorrupt) or of a newer schema version
// (ErrNewerSchema) is refused before anything is written to it.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if err := create(path, opts.MustExist); err != nil {
		return nil, err
	}
	// journal_mode is not among these pragmas: WAL is switched on (once; it
	// persists in the file) only after the version check.
	dsn := "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_pragma=temp_store(MEMORY)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open state %s: %w", path, err)
	}
	s := &Store{db: db, path: path}
	if err := s.migrate(ctx, opts.Now); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// create makes an empty state file at path, mode 0600 (it holds the
// organization's inventory), unless one exists; with mustExist a missing
// file is ErrNoState. SQLite gives its -wal and -shm files the same mode.
func create(path string, mustExist bool) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("open state %s: %w", path, err)
	}
	if mustExist {
		return fmt.Errorf("%w: %s (give --state the file keyage run or serve writes)", ErrNoState, path)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil // created meanwhile by another keyage
	}
	if err != nil {
		return fmt.Errorf("create state %s: %w", path, err)
	}
	return f.Close()
}

// Close closes the database.
func (s *Store) Close() error {
	s.cache.close()
	return s.db.Close()
}

// Path is the database file.
func (s *Store) Path() string { return s.path }

type migration struct {
	version int
	name    string
	sql     string
}

func loadMigrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrations, "migrations")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range entries {
		v, err := strconv.Atoi(strings.SplitN(e.Name(), "_", 2)[0])
		if err != nil {
			return nil, fmt.Errorf("migration %s: name must start with its version", e.Name())
		}
		b, err := migrations.ReadFile("migrations/" + e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: e.Name(), sql: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

// SchemaVersion is the schema version this build writes.
func SchemaVersion() int {
	ms, err := loadMigrations()
	if err != nil || len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].version
}

// migrate applies the migrations the database has not had, each in its own
// transaction, recording when (now) it was applied.
func (s *Store) migrate(ctx context.Context, now func() time.Time) error {
	ms, err := loadMigrations()
	if err != nil {
		return fmt.Errorf("load migrations: %w", err)
	}
	// Read only, until the file is known to be ours and not newer.
	tables, err := queryRows(ctx, s.db, `SELECT name FROM sqlite_master WHERE type = 'table'`, scanValue[string])
	if err != nil {
		return fmt.Errorf("%w: %s: %v (the file was not changed)", ErrCorrupt, s.path, err)
	}
	var versions []int
	switch {
	case slices.Contains(tables, "schema_migrations"):
		if versions, err = queryRows(ctx, s.db, `SELECT version FROM schema_migrations`, scanValue[int]); err != nil {
			return fmt.Errorf("%w: %s: read schema version: %v (the file was not changed)", ErrCorrupt, s.path, err)
		}
	case len(tables) > 0:
		return fmt.Errorf("%w: %s holds tables but no schema version: another program's database? (the file was not changed)", ErrCorrupt, s.path)
	}
	applied := map[int]bool{}
	current := 0
	for _, v := range versions {
		applied[v] = true
		current = max(current, v)
	}
	latest := ms[len(ms)-1].version
	if current > latest {
		return fmt.Errorf("%w: %s is at schema version %d, this keyage knows up to %d; upgrade keyage (the file was not changed)", ErrNewerSchema, s.path, current, latest)
	}
	if _, err := s.db.ExecContext(ctx, `PRAGMA journal_mode=WAL`); err != nil {
		return fmt.Errorf("switch state %s to WAL: %w", s.path, err)
	}
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("open state %s: %w", s.path, err)
	}
	for _, m := range ms {
		if applied[m.version] {
			continue
		}
		err := s.tx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, m.sql); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`, m.version, m.name, ms64(now()))
			return err
		})
		if err != nil {
			return fmt.Errorf("apply migration %s to %s: %w", m.name, s.path, err)
		}
	}
	return nil
}

// tx runs f in one transaction, committed when f returns nil.
func (s *Store) tx(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

func ms64(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

func nullMS(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return fromMS(v.Int64)
}
