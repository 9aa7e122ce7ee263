package store

import (
	"context"
	"database/sql"
)

// querier is what queryRows reads through: the database or a transaction.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// rowScanner is one row to read: *sql.Rows at a row, or *sql.Row.
type rowScanner interface {
	Scan(dest ...any) error
}

// queryRows runs query and reads every row it returns with scan.
func queryRows[T any](ctx context.Context, q querier, query string, scan func(rowScanner) (T, error), args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// scanValue reads a row of one column.
func scanValue[T any](r rowScanner) (T, error) {
	var v T
	err := r.Scan(&v)
	return v, err
}

// counted is a row of (key, count).
type counted struct {
	key string
	n   int
}

func scanCounted(r rowScanner) (counted, error) {
	var c counted
	err := r.Scan(&c.key, &c.n)
	return c, err
}
