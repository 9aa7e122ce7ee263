package store

// The audit report's overdue list (internal/report): the few columns the
// report shows, read in the order of an index and kept in the read cache.

import (
	"context"
	"fmt"
	"slices"
	"time"
)

const overdueKeysQuery = `SELECT k.account_id, k.resource_id, k.user_name, k.owner, k.access_key_id, k.created_at
	FROM evaluation_keys k WHERE k.stage = 'expired' ORDER BY k.created_at, k.account_id, k.user_name, k.resource_id, k.idx LIMIT ?`

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
	out, err := queryNamed(ctx, s, overdueKeysQuery, func(r rowScanner, names map[string]string) (OverdueKey, error) {
		var k OverdueKey
		var created int64
		err := r.Scan(&k.AccountID, &k.ResourceID, &k.UserName, &k.Owner, &k.AccessKeyID, &created)
		k.CreatedAt, k.AccountName = fromMS(created), names[k.AccountID]
		return k, err
	}, limit)
	if err != nil {
		return nil, fmt.Errorf("read overdue keys (at most %d): %w", limit, err)
	}
	return out, nil
}

// exemptKeysSelect reads the exempt keys' exemptions out of their users'
// keys_json, the rows of exempt_keys (migration 18), for the accounts the
// condition on k keeps.
const exemptKeysSelect = `SELECT * FROM (SELECT k.account_id, k.resource_id, k.idx, k.access_key_id, e.user_name, e.arn,
		json_extract(e.keys_json, '$[' || k.idx || '].lifecycle.exemption.until') AS until,
		COALESCE(json_extract(e.keys_json, '$[' || k.idx || '].lifecycle.exemption.reason'), '') AS reason,
		COALESCE(json_extract(e.keys_json, '$[' || k.idx || '].lifecycle.exemption.source'), '') AS source
	FROM evaluation_keys k JOIN evaluations e ON e.account_id = k.account_id AND e.resource_id = k.resource_id
	WHERE k.stage = 'exempt' AND %s) WHERE until IS NOT NULL`

// rewriteExemptKeys is recountAccounts' statement for exempt_keys: an
// account's rows from its exempt key rows (a range of the (account_id,
// stage) index) and their users' keys_json.
var rewriteExemptKeys = `INSERT INTO exempt_keys (account_id, resource_id, idx, access_key_id, user_name, arn, until, reason, source) ` +
	fmt.Sprintf(exemptKeysSelect, `k.account_id = ?1`)

const exemptKeysQuery = `SELECT account_id, user_name, resource_id, arn, access_key_id, until, reason, source FROM exempt_keys ORDER BY account_id, resource_id, idx`

// ExemptKey is a key in stage exempt with the exemption the lifecycle
// applied to it at the last scan.
type ExemptKey struct {
	AccountID, AccountName, UserName, ResourceID, ARN, AccessKeyID string
	Until                                                          time.Time
	Reason, Source                                                 string
}

// ExemptKeys lists the exempt keys that carry an exemption, by account,
// user and the key's position: the report's and the exemptions page's
// rows, read from exempt_keys. The result depends only on the data, so it is cached until the
// data changes.
func (s *Store) ExemptKeys(ctx context.Context) ([]ExemptKey, error) {
	return cachedRead(ctx, s, "exemptKeys", func() ([]ExemptKey, error) { return s.exemptKeys(ctx) }, slices.Clone)
}

func (s *Store) exemptKeys(ctx context.Context) ([]ExemptKey, error) {
	out, err := queryNamed(ctx, s, exemptKeysQuery, func(r rowScanner, names map[string]string) (ExemptKey, error) {
		var k ExemptKey
		var until string
		if err := r.Scan(&k.AccountID, &k.UserName, &k.ResourceID, &k.ARN, &k.AccessKeyID, &until, &k.Reason, &k.Source); err != nil {
			return k, err
		}
		k.AccountName = names[k.AccountID]
		t, err := time.Parse(time.RFC3339Nano, until)
		if err != nil {
			return k, fmt.Errorf("exemption of key %s in %s ends at %q: %w", k.AccessKeyID, k.AccountID, until, err)
		}
		k.Until = t
		return k, nil
	})
	if err != nil {
		return nil, fmt.Errorf("read exempt keys: %w", err)
	}
	return out, nil
}

// queryNamed is queryRows for the report's lists, whose rows take their
// account's name from accountNames: one pass over account_latest instead
// of a search for each listed key.
func queryNamed[T any](ctx context.Context, s *Store, query string, scan func(rowScanner, map[string]string) (T, error), args ...any) ([]T, error) {
	names, err := s.accountNames(ctx)
	if err != nil {
		return nil, err
	}
	return queryRows(ctx, s.db, query, func(r rowScanner) (T, error) { return scan(r, names) }, args...)
}

// accountNames maps each scanned account to its name, kept in the read
// cache until the data changes; callers must not change the map.
func (s *Store) accountNames(ctx context.Context) (map[string]string, error) {
	return cachedRead(ctx, s, "accountNames", func() (map[string]string, error) {
		rows, err := queryRows(ctx, s.db, `SELECT account_id, name FROM account_latest`, func(r rowScanner) ([2]string, error) {
			var v [2]string
			err := r.Scan(&v[0], &v[1])
			return v, err
		})
		if err != nil {
			return nil, fmt.Errorf("read account names: %w", err)
		}
		m := make(map[string]string, len(rows))
		for _, v := range rows {
			m[v[0]] = v[1]
		}
		return m, nil
	}, identity)
}
