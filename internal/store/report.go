package store

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"
)

// Remediation is one spell of a user being non-compliant that ended: from
// its evaluation turning NON_COMPLIANT (a key past the limit) to it turning
// anything else (the key rotated, deactivated or deleted, or the user gone).
type Remediation struct {
	AccountID, ResourceID, UserName string
	Flagged, Fixed                  time.Time
}

// Remediations lists the non-compliant spells that ended in [from, to],
// oldest end first: the input of the time to remediate.
func (s *Store) Remediations(ctx context.Context, from, to time.Time) ([]Remediation, error) {
	out, err := queryRows(ctx, s.db, `SELECT h.account_id, h.resource_id, h.user_name, h.at,
			COALESCE((SELECT MAX(p.at) FROM evaluation_history p WHERE p.account_id = h.account_id AND p.resource_id = h.resource_id
				AND p.to_compliance = 'NON_COMPLIANT' AND p.at <= h.at), h.at)
		FROM evaluation_history h
		WHERE h.from_compliance = 'NON_COMPLIANT' AND h.to_compliance <> 'NON_COMPLIANT' AND h.at >= ? AND h.at <= ?
		ORDER BY h.at, h.id`, func(r rowScanner) (Remediation, error) {
		var m Remediation
		var fixed, flagged int64
		err := r.Scan(&m.AccountID, &m.ResourceID, &m.UserName, &fixed, &flagged)
		m.Fixed, m.Flagged = fromMS(fixed), fromMS(flagged)
		return m, err
	}, ms64(from), ms64(to))
	if err != nil {
		return nil, fmt.Errorf("read remediations from %s to %s: %w", from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339), err)
	}
	return out, nil
}

// auditSinceQuery walks the (at) index newest first (migration 18).
const auditSinceQuery = `SELECT ` + auditColumns + ` FROM audit WHERE at >= ? ORDER BY at DESC, id DESC LIMIT ?`

// AuditSince lists the audit records at or after since, newest first, at
// most limit (<= 0: all). With a limit, the newest limit records are kept in
// the read cache until the data changes, and those at or after since are
// their first ones.
func (s *Store) AuditSince(ctx context.Context, since time.Time, limit int) ([]AuditRecord, error) {
	if limit <= 0 {
		return s.auditSince(ctx, ms64(since), -1)
	}
	newest, err := cachedRead(ctx, s, cacheKey("auditNewest", limit), func() ([]AuditRecord, error) {
		return s.auditSince(ctx, math.MinInt64, limit)
	}, identity)
	if err != nil {
		return nil, err
	}
	n, _ := slices.BinarySearchFunc(newest, since, func(r AuditRecord, since time.Time) int {
		if r.At.Before(since) {
			return 1
		}
		return -1
	})
	return slices.Clone(newest[:n]), nil
}

func (s *Store) auditSince(ctx context.Context, sinceMS int64, limit int) ([]AuditRecord, error) {
	out, err := queryRows(ctx, s.db, auditSinceQuery, scanAudit, sinceMS, limit)
	if err != nil {
		return nil, fmt.Errorf("read audit since %s (at most %d): %w", time.UnixMilli(sinceMS).UTC().Format(time.RFC3339), limit, err)
	}
	return out, nil
}

// AuditOfUser lists the audit records of one user's keys, oldest first.
func (s *Store) AuditOfUser(ctx context.Context, accountID, resourceID, userName string) ([]AuditRecord, error) {
	out, err := queryRows(ctx, s.db, `SELECT `+auditColumns+` FROM audit WHERE account_id = ? AND (resource_id = ? OR (resource_id = '' AND user_name = ?)) ORDER BY at, id`,
		scanAudit, accountID, resourceID, userName)
	if err != nil {
		return nil, fmt.Errorf("read audit of %s in %s: %w", resourceID, accountID, err)
	}
	return out, nil
}

// DeactivationNoticeList lists the deactivation notices, the earliest
// deactivation first; kept in the read cache until the data changes.
func (s *Store) DeactivationNoticeList(ctx context.Context) ([]DeactivationNotice, error) {
	return cachedRead(ctx, s, "deactivationNoticeList", func() ([]DeactivationNotice, error) {
		out, err := queryRows(ctx, s.db, `SELECT `+noticeColumns+` FROM key_notice ORDER BY deactivate_at, access_key_id`, scanNotice)
		if err != nil {
			return nil, fmt.Errorf("read deactivation notices: %w", err)
		}
		return out, nil
	}, slices.Clone)
}
