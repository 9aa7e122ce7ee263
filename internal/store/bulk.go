package store

// The first scan into an empty state, or a rescan that rewrites most rows
// of a table: its rows are written without the secondary indexes of the
// tables they go to, which are built afterwards.
// Building an index sorts its entries once and fills its pages in order,
// far cheaper than as many inserts at random places in a b-tree.

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
)

// bulkMinRows is the fewest rows written to a table that holds rows for
// its indexes to be built after them: below it, counting the table's rows
// costs more than the writes could save.
var bulkMinRows = 10000

// deferIndexes drops, within tx, the secondary indexes of each table of
// writes (the rows about to be written to or removed from it) that holds
// no row, or fewer than twice the rows about to be written: their
// entries would be rewritten anyway, and building an index is cheaper. It
// returns what creates them again from their stored definitions (call it
// before commit). The schema change is part of the transaction: a
// rollback restores the indexes, and other connections see them
// throughout.
func deferIndexes(ctx context.Context, tx *sql.Tx, writes map[string]int) (rebuild func() error, err error) {
	type index struct{ name, sql string }
	var dropped []index
	for _, t := range slices.Sorted(maps.Keys(writes)) {
		var empty bool
		if err := tx.QueryRowContext(ctx, `SELECT NOT EXISTS (SELECT 1 FROM `+t+`)`).Scan(&empty); err != nil {
			return nil, fmt.Errorf("check whether %s is empty: %w", t, err)
		}
		if !empty {
			if writes[t] < bulkMinRows {
				continue
			}
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+t).Scan(&n); err != nil {
				return nil, fmt.Errorf("count rows of %s: %w", t, err)
			}
			if writes[t]*2 < n {
				continue
			}
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
				return nil, fmt.Errorf("drop index %s of %s: %w", x.name, t, err)
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
