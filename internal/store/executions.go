package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
)

// Executions lists remediation executions, in one state or all ("").
func (s *Store) Executions(ctx context.Context, state string) ([]Execution, error) {
	q := `SELECT id, account_id, resource_id, rule, user_name, state, attempts, steps_json, last_error, created_at, updated_at FROM remediation_executions`
	var args []any
	if state != "" {
		q += ` WHERE state = ?`
		args = append(args, strings.ToUpper(state))
	}
	q += ` ORDER BY account_id, user_name, resource_id`
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read executions: %w", err)
	}
	return scanExecutions(rows)
}

// scanExecutions reads execution rows (id, account_id, resource_id, rule,
// user_name, state, attempts, steps_json, last_error, created_at,
// updated_at) and closes them.
func scanExecutions(rows *sql.Rows) ([]Execution, error) {
	defer rows.Close()
	var out []Execution
	for rows.Next() {
		var e Execution
		var steps string
		var created, updated int64
		if err := rows.Scan(&e.ID, &e.AccountID, &e.ResourceID, &e.Rule, &e.UserName, &e.State, &e.Attempts, &steps, &e.LastError, &created, &updated); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(steps), &e.Steps); err != nil {
			return nil, fmt.Errorf("decode steps of execution %d: %w", e.ID, err)
		}
		e.CreatedAt, e.UpdatedAt = fromMS(created), fromMS(updated)
		out = append(out, e)
	}
	return out, rows.Err()
}
