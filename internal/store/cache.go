package store

// A cache of the read queries whose result depends only on the database's
// content (not on the time asked for): the dashboard's totals and counts
// per account, read by the overview, /metrics, /accounts and the report on
// every request (issue 15). An entry lives as long as the content does not
// change: the cache is keyed by SQLite's data_version, read on a connection
// of its own that never writes, whose value changes whenever any other
// connection, of this process or of another one (keyage run beside keyage
// serve), commits a transaction.

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
)

// maxCacheEntries bounds the cache: past it, it starts over.
const maxCacheEntries = 64

// readCache holds results read at one data version.
type readCache struct {
	mu      sync.Mutex
	conn    *sql.Conn // reads data_version only; opened on first use
	version int64
	entries map[string]any
}

// dataVersion reads the database's data_version on the cache's own
// connection; a new value empties the cache.
func (c *readCache) dataVersion(ctx context.Context, db *sql.DB) (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == nil {
		conn, err := db.Conn(ctx)
		if err != nil {
			return 0, err
		}
		c.conn = conn
	}
	var v int64
	if err := c.conn.QueryRowContext(ctx, `PRAGMA data_version`).Scan(&v); err != nil {
		c.conn.Close()
		c.conn = nil
		return 0, err
	}
	if v != c.version || c.entries == nil {
		c.version, c.entries = v, map[string]any{}
	}
	return v, nil
}

func (c *readCache) get(version int64, key string) (any, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.version != version {
		return nil, false
	}
	v, ok := c.entries[key]
	return v, ok
}

// put keeps a result read at version unless the data changed since.
func (c *readCache) put(version int64, key string, v any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.version != version || c.entries == nil {
		return
	}
	if len(c.entries) >= maxCacheEntries {
		c.entries = map[string]any{}
	}
	c.entries[key] = v
}

func (c *readCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
	c.entries = nil
}

// cachedRead returns read's result for key from the cache when the data
// has not changed since it was read, and reads (and keeps) it otherwise.
// Every caller gets its own copy (copy); a cache that cannot read the data
// version reads uncached.
func cachedRead[T any](ctx context.Context, s *Store, key string, read func() (T, error), copy func(T) T) (T, error) {
	version, err := s.cache.dataVersion(ctx, s.db)
	if err != nil {
		return read()
	}
	if v, ok := s.cache.get(version, key); ok {
		return copy(v.(T)), nil
	}
	v, err := read()
	if err != nil {
		return v, err
	}
	s.cache.put(version, key, v)
	return copy(v), nil
}

// cacheKey names a cached query and its arguments.
func cacheKey(query string, args ...any) string {
	return query + fmt.Sprint(args...)
}

// identity is the copy of a value that holds no reference.
func identity[T any](v T) T { return v }
