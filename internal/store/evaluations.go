package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/keyage/keyage/internal/rule"
)

// RecordEvaluations stores evaluations of single resources made outside a
// scan (keyage remediate, change-triggered re-evaluation), with a history
// row on each compliance change; gone lists resources whose user no longer
// exists, removed with a DELETED history row.
func (s *Store) RecordEvaluations(ctx context.Context, at time.Time, evs []rule.Evaluation, gone []rule.ResourceRef) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		rm := newReadModel(tx)
		defer rm.close()
		now := ms64(at)
		recount := map[string]bool{}
		var trend trendDelta
		for i := range evs {
			ev := &evs[i]
			var c current
			err := tx.QueryRowContext(ctx, `SELECT compliance, user_name, first_seen, changed_at, keys_json, owner FROM evaluations WHERE account_id = ? AND resource_id = ?`,
				ev.AccountID, ev.ResourceID).Scan(&c.compliance, &c.userName, &c.firstSeen, &c.changedAt, &c.keysJSON, &c.owner)
			existed := err == nil
			if err != nil && err != sql.ErrNoRows {
				return err
			}
			first, changed := now, now
			if existed {
				first, changed = c.firstSeen, c.changedAt
			}
			recount[ev.AccountID] = true
			if !existed || c.compliance != string(ev.Compliance) {
				changed = now
				trend.add(c.compliance, string(ev.Compliance))
				if _, err := tx.ExecContext(ctx, `INSERT INTO evaluation_history (account_id, resource_id, user_name, from_compliance, to_compliance, annotation, at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
					ev.AccountID, ev.ResourceID, ev.UserName, c.compliance, string(ev.Compliance), ev.Annotation, now); err != nil {
					return err
				}
			}
			tags, _ := json.Marshal(ev.Tags)
			keys, err := json.Marshal(ev.Keys)
			if err != nil {
				return fmt.Errorf("encode keys of %s in %s: %w", ev.ResourceID, ev.AccountID, err)
			}
			owner := ev.Owner
			if _, err := tx.ExecContext(ctx, `INSERT INTO evaluations (account_id, resource_id, resource_type, user_name, path, arn, compliance, annotation, tags_json, keys_json, first_seen, changed_at, evaluated_at, owner)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (account_id, resource_id) DO UPDATE SET user_name = excluded.user_name, path = excluded.path, arn = excluded.arn,
					compliance = excluded.compliance, annotation = excluded.annotation, tags_json = excluded.tags_json, keys_json = excluded.keys_json,
					changed_at = excluded.changed_at, evaluated_at = excluded.evaluated_at, owner = excluded.owner`,
				ev.AccountID, ev.ResourceID, ev.ResourceType, ev.UserName, ev.Path, ev.ARN, string(ev.Compliance), ev.Annotation,
				string(tags), string(keys), first, changed, now, owner); err != nil {
				return fmt.Errorf("save evaluation of %s in %s: %w", ev.ResourceID, ev.AccountID, err)
			}
			if !existed || keysChanged(c, ev, string(keys), owner) {
				if err := rm.putKeys(ctx, ev, owner, existed); err != nil {
					return err
				}
			}
		}
		for _, g := range gone {
			var c current
			err := tx.QueryRowContext(ctx, `SELECT compliance, user_name FROM evaluations WHERE account_id = ? AND resource_id = ?`, g.AccountID, g.ResourceID).Scan(&c.compliance, &c.userName)
			if err == sql.ErrNoRows {
				continue
			}
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM evaluations WHERE account_id = ? AND resource_id = ?`, g.AccountID, g.ResourceID); err != nil {
				return err
			}
			recount[g.AccountID] = true
			trend.add(c.compliance, ComplianceDeleted)
			if err := rm.dropKeys(ctx, g.AccountID, g.ResourceID); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO evaluation_history (account_id, resource_id, user_name, from_compliance, to_compliance, annotation, at) VALUES (?, ?, ?, ?, ?, '', ?)`,
				g.AccountID, g.ResourceID, c.userName, c.compliance, ComplianceDeleted, now); err != nil {
				return err
			}
		}
		if err := recountAccounts(ctx, tx, recount); err != nil {
			return err
		}
		return addTrendDay(ctx, tx, now, trend)
	})
	if err != nil {
		return fmt.Errorf("record evaluations in %s: %w", s.path, err)
	}
	return nil
}
