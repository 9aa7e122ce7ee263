package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
)

// Executions lists remediation executions, in one state or all ("").
func (s *Store) Executions(ctx context.Context, state string) ([]Execution, error) {
	q := `SELECT ` + executionColumns + ` FROM remediation_executions`
	var args []any
	if state != "" {
		q += ` WHERE state = ?`
		args = append(args, strings.ToUpper(state))
	}
	q += ` ORDER BY account_id, user_name, resource_id`
	out, err := queryRows(ctx, s.db, q, scanExecution, args...)
	if err != nil {
		return nil, fmt.Errorf("read executions: %w", err)
	}
	return out, nil
}

const executionColumns = `id, account_id, resource_id, rule, user_name, state, attempts, steps_json, last_error, created_at, updated_at`

// scanExecution reads a remediation_executions row of executionColumns.
func scanExecution(r rowScanner) (Execution, error) {
	var e Execution
	var steps string
	var created, updated int64
	if err := r.Scan(&e.ID, &e.AccountID, &e.ResourceID, &e.Rule, &e.UserName, &e.State, &e.Attempts, &steps, &e.LastError, &created, &updated); err != nil {
		return e, err
	}
	if err := json.Unmarshal([]byte(steps), &e.Steps); err != nil {
		return e, fmt.Errorf("decode steps of execution %d: %w", e.ID, err)
	}
	e.CreatedAt, e.UpdatedAt = fromMS(created), fromMS(updated)
	return e, nil
}
