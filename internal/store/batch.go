package store

// Batched writes of the record path (RecordScan): one multi-row INSERT per
// batch instead of one statement per row, which is most of what a row costs
// in the driver outside SQLite's b-trees.

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/keyage/keyage/internal/rule"
)

// maxBatchParams keeps a batch's statement under SQLite's historical limit
// of 999 bound parameters (SQLITE_MAX_VARIABLE_NUMBER before 3.32).
const maxBatchParams = 999

// batch collects the rows of one multi-row statement: head, then
// "VALUES (?, ...), (?, ...)" with one group per row, then tail. A full
// batch uses a statement prepared once; the last, shorter one is prepared
// for its size.
type batch struct {
	tx         *sql.Tx
	what       string // what the rows are, for errors
	head, tail string
	cols, max  int
	args       []any
	full       *sql.Stmt
	before     *batch // flushed before this one
}

func newBatch(tx *sql.Tx, what, head string, cols int, tail string) *batch {
	return &batch{tx: tx, what: what, head: head, tail: tail, cols: cols, max: maxBatchParams / cols}
}

// add queues one row of b.cols values, writing the batch when it is full.
func (b *batch) add(ctx context.Context, row ...any) error {
	if len(row) != b.cols {
		return fmt.Errorf("%s: %d values for %d columns", b.what, len(row), b.cols)
	}
	b.args = append(b.args, row...)
	if len(b.args) == b.max*b.cols {
		return b.flush(ctx)
	}
	return nil
}

// flush writes the queued rows.
func (b *batch) flush(ctx context.Context) error {
	n := len(b.args) / b.cols
	if n == 0 {
		return nil
	}
	if b.before != nil {
		if err := b.before.flush(ctx); err != nil {
			return err
		}
	}
	var err error
	if n == b.max {
		if b.full == nil {
			if b.full, err = b.tx.PrepareContext(ctx, b.query(n)); err != nil {
				return fmt.Errorf("prepare %s: %w", b.what, err)
			}
		}
		_, err = b.full.ExecContext(ctx, b.args...)
	} else {
		_, err = b.tx.ExecContext(ctx, b.query(n), b.args...)
	}
	if err != nil {
		return fmt.Errorf("write %d %s: %w", n, b.what, err)
	}
	clear(b.args)
	b.args = b.args[:0]
	return nil
}

func (b *batch) query(rows int) string {
	group := "(" + strings.TrimSuffix(strings.Repeat("?, ", b.cols), ", ") + ")"
	return b.head + " VALUES " + strings.TrimSuffix(strings.Repeat(group+", ", rows), ", ") + " " + b.tail
}

func (b *batch) close() {
	if b.full != nil {
		b.full.Close()
	}
}

// keyRowColumns and keyRow are a row of evaluation_keys: key i of ev.
const keyRowColumns = `INSERT INTO evaluation_keys (account_id, resource_id, idx, access_key_id, user_name, compliance, owner, status, stage, age_days, created_at, last_used_at, last_used_service)`

func keyRow(ev *rule.Evaluation, i int, owner string) []any {
	k := &ev.Keys[i]
	return []any{ev.AccountID, ev.ResourceID, i, k.AccessKeyID, ev.UserName, string(ev.Compliance), owner,
		k.Status, string(k.Stage), k.AgeDays, keyTimeMS(k.CreateDate), lastUsedMS(k.LastUsedDate), k.LastUsedService}
}
