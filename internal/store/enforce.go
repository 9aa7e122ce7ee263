package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/keyage/keyage/internal/rule"
)

// KeyState is what keyage knows of a key's inactivity.
type KeyState struct {
	AccountID, AccessKeyID, ResourceID, UserName string
	InactiveSince                                time.Time
	DeactivatedByKeyage                          bool
}

// KeyStates returns the inactivity records of every key, by account/key id.
func (s *Store) KeyStates(ctx context.Context) (map[rule.KeyRef]KeyState, error) {
	ks, err := queryRows(ctx, s.db, `SELECT account_id, access_key_id, resource_id, user_name, inactive_since, deactivated_by_keyage FROM key_state`,
		func(r rowScanner) (KeyState, error) {
			var k KeyState
			var since int64
			err := r.Scan(&k.AccountID, &k.AccessKeyID, &k.ResourceID, &k.UserName, &since, &k.DeactivatedByKeyage)
			k.InactiveSince = fromMS(since)
			return k, err
		})
	if err != nil {
		return nil, fmt.Errorf("read key state: %w", err)
	}
	return byKey(ks, func(k KeyState) rule.KeyRef { return rule.KeyRef{AccountID: k.AccountID, AccessKeyID: k.AccessKeyID} }), nil
}

// MarkInactive records a key seen inactive (keeping an earlier date) or
// deactivated by keyage.
func (s *Store) MarkInactive(ctx context.Context, k KeyState) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO key_state (account_id, access_key_id, resource_id, user_name, inactive_since, deactivated_by_keyage) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (account_id, access_key_id) DO UPDATE SET deactivated_by_keyage = MAX(deactivated_by_keyage, excluded.deactivated_by_keyage)`,
		k.AccountID, k.AccessKeyID, k.ResourceID, k.UserName, ms64(k.InactiveSince), k.DeactivatedByKeyage)
	if err != nil {
		return fmt.Errorf("record inactive key %s: %w", k.AccessKeyID, err)
	}
	return nil
}

// ForgetKey drops a key's inactivity record: it is active again (its owner
// reactivated it) or gone.
func (s *Store) ForgetKey(ctx context.Context, accountID, accessKeyID string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM key_state WHERE account_id = ? AND access_key_id = ?`, accountID, accessKeyID); err != nil {
		return fmt.Errorf("forget key %s: %w", accessKeyID, err)
	}
	return nil
}

// AuditRecord is one enforcement action, applied or not.
type AuditRecord struct {
	ID           int64     `json:"id"`
	At           time.Time `json:"at"`
	CallerARN    string    `json:"caller"`
	AccountID    string    `json:"accountId"`
	UserName     string    `json:"userName"`
	ResourceID   string    `json:"resourceId,omitempty"`
	AccessKeyID  string    `json:"accessKeyId"`
	Action       string    `json:"action"`
	Outcome      string    `json:"outcome"`
	Reason       string    `json:"reason"`
	BeforeStatus string    `json:"beforeStatus,omitempty"`
	AfterStatus  string    `json:"afterStatus,omitempty"`
	DryRun       bool      `json:"dryRun"`
}

// auditColumns are the columns scanAudit reads.
const auditColumns = `id, at, caller_arn, account_id, user_name, resource_id, access_key_id, action, outcome, reason, before_status, after_status, dry_run`

func scanAudit(row rowScanner) (AuditRecord, error) {
	var r AuditRecord
	var at int64
	err := row.Scan(&r.ID, &at, &r.CallerARN, &r.AccountID, &r.UserName, &r.ResourceID, &r.AccessKeyID, &r.Action, &r.Outcome, &r.Reason, &r.BeforeStatus, &r.AfterStatus, &r.DryRun)
	r.At = fromMS(at)
	return r, err
}

// Audit appends a record and returns its id.
func (s *Store) Audit(ctx context.Context, r AuditRecord) (int64, error) {
	res, err := s.db.ExecContext(ctx, `INSERT INTO audit (at, caller_arn, account_id, user_name, resource_id, access_key_id, action, outcome, reason, before_status, after_status, dry_run)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, ms64(r.At), r.CallerARN, r.AccountID, r.UserName, r.ResourceID, r.AccessKeyID, r.Action, r.Outcome, r.Reason, r.BeforeStatus, r.AfterStatus, r.DryRun)
	if err != nil {
		return 0, fmt.Errorf("write audit record for %s: %w", r.AccessKeyID, err)
	}
	return res.LastInsertId()
}

// AuditRecords lists the audit trail, oldest first, optionally for one
// account and key.
func (s *Store) AuditRecords(ctx context.Context, accountID, accessKeyID string) ([]AuditRecord, error) {
	q := `SELECT ` + auditColumns + ` FROM audit WHERE 1=1`
	var args []any
	if accountID != "" {
		q += ` AND account_id = ?`
		args = append(args, accountID)
	}
	if accessKeyID != "" {
		q += ` AND access_key_id = ?`
		args = append(args, accessKeyID)
	}
	out, err := queryRows(ctx, s.db, q+` ORDER BY at, id`, scanAudit, args...)
	if err != nil {
		return nil, fmt.Errorf("read audit: %w", err)
	}
	return out, nil
}

// OutcomePending is the outcome of an audit record written before its IAM
// call (the intent), until the outcome replaces it.
const OutcomePending = "pending"

// SetAuditOutcome records the outcome of an intent (a pending record): the
// outcome, the status after, and the reason.
func (s *Store) SetAuditOutcome(ctx context.Context, id int64, outcome, after, reason string) error {
	res, err := s.db.ExecContext(ctx, `UPDATE audit SET outcome = ?, after_status = ?, reason = ? WHERE id = ? AND outcome = ?`, outcome, after, reason, id, OutcomePending)
	if err != nil {
		return fmt.Errorf("record the outcome of audit record %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("record the outcome of audit record %d: no pending record with that id", id)
	}
	return nil
}

// PendingAudit lists the intents without an outcome (a run stopped between
// its intent and its outcome), oldest first.
func (s *Store) PendingAudit(ctx context.Context) ([]AuditRecord, error) {
	out, err := queryRows(ctx, s.db, `SELECT `+auditColumns+` FROM audit WHERE outcome = ? ORDER BY at, id`, scanAudit, OutcomePending)
	if err != nil {
		return nil, fmt.Errorf("read pending audit records: %w", err)
	}
	return out, nil
}

// DeactivationNotice records that a key's owner was told it will be
// deactivated, and the date it may be at the earliest.
type DeactivationNotice struct {
	AccountID, AccessKeyID, ResourceID, UserName string
	NoticedAt, DeactivateAt                      time.Time
}

const noticeColumns = `account_id, access_key_id, resource_id, user_name, noticed_at, deactivate_at`

func scanNotice(r rowScanner) (DeactivationNotice, error) {
	var n DeactivationNotice
	var noticed, at int64
	err := r.Scan(&n.AccountID, &n.AccessKeyID, &n.ResourceID, &n.UserName, &noticed, &at)
	n.NoticedAt, n.DeactivateAt = fromMS(noticed), fromMS(at)
	return n, err
}

// DeactivationNotices returns the notices of every key, by account/key id.
func (s *Store) DeactivationNotices(ctx context.Context) (map[rule.KeyRef]DeactivationNotice, error) {
	ns, err := queryRows(ctx, s.db, `SELECT `+noticeColumns+` FROM key_notice`, scanNotice)
	if err != nil {
		return nil, fmt.Errorf("read deactivation notices: %w", err)
	}
	return byKey(ns, func(n DeactivationNotice) rule.KeyRef {
		return rule.KeyRef{AccountID: n.AccountID, AccessKeyID: n.AccessKeyID}
	}), nil
}

// RecordDeactivationNotice records a notice; an earlier notice of the key
// stays.
func (s *Store) RecordDeactivationNotice(ctx context.Context, n DeactivationNotice) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO key_notice (account_id, access_key_id, resource_id, user_name, noticed_at, deactivate_at) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (account_id, access_key_id) DO NOTHING`, n.AccountID, n.AccessKeyID, n.ResourceID, n.UserName, ms64(n.NoticedAt), ms64(n.DeactivateAt))
	if err != nil {
		return fmt.Errorf("record deactivation notice of key %s in %s: %w", n.AccessKeyID, n.AccountID, err)
	}
	return nil
}

// ForgetDeactivationNotice drops a key's notice: the key is gone.
func (s *Store) ForgetDeactivationNotice(ctx context.Context, accountID, accessKeyID string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM key_notice WHERE account_id = ? AND access_key_id = ?`, accountID, accessKeyID); err != nil {
		return fmt.Errorf("forget deactivation notice of key %s in %s: %w", accessKeyID, accountID, err)
	}
	return nil
}

// NoticeDelivery is what became of the outbox messages that carry a key's
// deactivation notice (the items of stage deactivation-scheduled).
type NoticeDelivery struct {
	// Sent: at least one of them was delivered (outbox state SENT).
	Sent bool
	// Pending: one is still to be delivered or retried.
	Pending bool
	// Failed is the last error of a message that failed for good.
	Failed string
}

// NoticeDeliveries returns, by account/key id, the delivery of every
// deactivation notice in the outbox. A key without an entry has no
// message there: no route takes deactivation notices, or its message was
// sent and later pruned by retention.
func (s *Store) NoticeDeliveries(ctx context.Context) (map[rule.KeyRef]NoticeDelivery, error) {
	type row struct {
		ref          rule.KeyRef
		state, error string
	}
	rows, err := queryRows(ctx, s.db, `SELECT json_extract(i.value, '$.accountId'), json_extract(i.value, '$.accessKeyId'), o.state, o.last_error
		FROM outbox o, json_each(o.message_json, '$.items') i
		WHERE instr(o.message_json, ?) > 0 AND json_extract(i.value, '$.stage') = ? ORDER BY o.created_at, o.id`,
		func(r rowScanner) (row, error) {
			var x row
			var acct, key sql.NullString
			err := r.Scan(&acct, &key, &x.state, &x.error)
			x.ref = rule.KeyRef{AccountID: acct.String, AccessKeyID: key.String}
			return x, err
		}, noticeStage, noticeStage)
	if err != nil {
		return nil, fmt.Errorf("read the delivery of deactivation notices from %s: %w", s.path, err)
	}
	out := map[rule.KeyRef]NoticeDelivery{}
	for _, r := range rows {
		d := out[r.ref]
		switch r.state {
		case "SENT":
			d.Sent = true
		case "FAILED":
			d.Failed = r.error
		default:
			d.Pending = true
		}
		out[r.ref] = d
	}
	return out, nil
}

// noticeStage is the stage of a deactivation notice's items
// (lifecycle.DeactivationScheduled).
const noticeStage = "deactivation-scheduled"

// byKey indexes rows by their access key.
func byKey[T any](rows []T, key func(T) rule.KeyRef) map[rule.KeyRef]T {
	out := make(map[rule.KeyRef]T, len(rows))
	for _, r := range rows {
		out[key(r)] = r
	}
	return out
}
