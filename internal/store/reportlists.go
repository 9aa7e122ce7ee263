package store

// The audit report's overdue list (internal/report): the few columns the
// report shows, read in the order of an index and kept in the read cache.

import (
	"context"
	"fmt"
	"slices"
	"time"
)

const overdueKeysQuery = `SELECT k.account_id, COALESCE(a.name, ''), k.resource_id, k.user_name, k.owner, k.access_key_id, k.created_at
	FROM evaluation_keys k LEFT JOIN account_latest a ON a.account_id = k.account_id
	WHERE k.stage = 'expired' ORDER BY k.created_at, k.account_id, k.user_name, k.resource_id, k.idx LIMIT ?`

// OverdueKey is an expired access key as the audit report lists it.
type OverdueKey struct {
	AccountID, AccountName, ResourceID, UserName, Owner, AccessKeyID string
	CreatedAt                                                        time.Time
}

// OverdueKeys lists the keys in stage expired, the oldest first (the most
// overdue), at most limit (<= 0: all). It walks the (stage, created_at,
// account_id, user_name) index and reads only the listed rows; the result
// depends only on the data, so it is cached until the data changes.
func (s *Store) OverdueKeys(ctx context.Context, limit int) ([]OverdueKey, error) {
	return cachedRead(ctx, s, cacheKey("overdueKeys", limit), func() ([]OverdueKey, error) {
		return s.overdueKeys(ctx, limit)
	}, slices.Clone)
}

func (s *Store) overdueKeys(ctx context.Context, limit int) ([]OverdueKey, error) {
	if limit <= 0 {
		limit = -1
	}
	out, err := queryRows(ctx, s.db, overdueKeysQuery, func(r rowScanner) (OverdueKey, error) {
		var k OverdueKey
		var created int64
		err := r.Scan(&k.AccountID, &k.AccountName, &k.ResourceID, &k.UserName, &k.Owner, &k.AccessKeyID, &created)
		k.CreatedAt = fromMS(created)
		return k, err
	}, limit)
	if err != nil {
		return nil, fmt.Errorf("read overdue keys (at most %d): %w", limit, err)
	}
	return out, nil
}
