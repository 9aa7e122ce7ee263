package store

// The first scan into an empty state: its rows are written without the
// secondary indexes of the tables they go to, which are built afterwards.
// Building an index sorts its entries once and fills its pages in order,
// far cheaper than as many inserts at random places in a b-tree.

import (
	"context"
	"database/sql"
	"fmt"
)

// recordTables are the tables RecordScan writes per resource.
var recordTables = []string{"evaluations", "evaluation_keys", "evaluation_history"}

// deferIndexes drops, within tx, the secondary indexes of those of tables
// that hold no row, and returns what creates them again from their stored
// definitions (call it before commit). The schema change is part of the
// transaction: a rollback restores the indexes, and other connections see
// them throughout.
func deferIndexes(ctx context.Context, tx *sql.Tx, tables ...string) (rebuild func() error, err error) {
	type index struct{ name, sql string }
	var dropped []index
	for _, t := range tables {
		var empty bool
		if err := tx.QueryRowContext(ctx, `SELECT NOT EXISTS (SELECT 1 FROM `+t+`)`).Scan(&empty); err != nil {
			return nil, fmt.Errorf("check whether %s is empty: %w", t, err)
		}
		if !empty {
			continue
		}
		idx, err := queryRows(ctx, tx, `SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL ORDER BY name`,
			func(r rowScanner) (index, error) {
				var x index
				err := r.Scan(&x.name, &x.sql)
				return x, err
			}, t)
		if err != nil {
			return nil, fmt.Errorf("read indexes of %s: %w", t, err)
		}
		for _, x := range idx {
			if _, err := tx.ExecContext(ctx, `DROP INDEX `+x.name); err != nil {
				return nil, fmt.Errorf("drop index %s of empty %s: %w", x.name, t, err)
			}
		}
		dropped = append(dropped, idx...)
	}
	return func() error {
		for _, x := range dropped {
			if _, err := tx.ExecContext(ctx, x.sql); err != nil {
				return fmt.Errorf("build index %s: %w", x.name, err)
			}
		}
		return nil
	}, nil
}
