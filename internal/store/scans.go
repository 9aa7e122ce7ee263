package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/keyage/keyage/internal/rule"
	"github.com/keyage/keyage/internal/scan"
)

// ComplianceDeleted is the history's "to" state of a resource that
// disappeared from its account (the IAM user was deleted).
const ComplianceDeleted = "DELETED"

// Scan is one stored scan.
type Scan struct {
	ID          int64
	StartedAt   time.Time
	FinishedAt  time.Time
	EvaluatedAt time.Time
	Source      string
	MaxAge      int
	WarnAge     int
	Status      string
	Summary     scan.Summary
}

// RecordScan stores a finished scan in one transaction: the scan and its
// accounts, the current evaluation of every resource of the accounts that
// were scanned, and a history row for every compliance change. A resource
// that disappeared from a scanned account leaves the current evaluations
// with a DELETED history row. Accounts that failed keep their previous
// evaluations.
func (s *Store) RecordScan(ctx context.Context, started, finished time.Time, res *scan.Result) (int64, error) {
	var id int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		restore, err := recordCache(ctx, tx)
		if err != nil {
			return err
		}
		defer restore()
		if id, err = insertScan(ctx, tx, started, &finished, res, ScanDone); err != nil {
			return err
		}
		rm := newReadModel(tx)
		defer rm.close()
		scanned := map[string]bool{}
		for i := range res.Accounts {
			a := &res.Accounts[i]
			if err := insertScanAccount(ctx, tx, rm, id, a); err != nil {
				return err
			}
			if a.Status == scan.StatusOK {
				scanned[a.AccountID] = true
			}
		}
		return s.saveEvaluations(ctx, tx, rm, id, res.EvaluatedAt, scanned, res.Evaluations)
	})
	if err != nil {
		return 0, fmt.Errorf("record scan in %s: %w", s.path, err)
	}
	return id, nil
}

// recordCacheKiB is the page cache of the connection while it records a
// scan. SQLite's default (2 MB) is far smaller than the pages a large scan
// touches: the transaction would spill dirty pages to the WAL and read them
// back. The cache grows only as pages are used, and is set back after.
const recordCacheKiB = 256 << 10

// recordCache sets the connection's page cache for recording and returns
// what sets it back.
func recordCache(ctx context.Context, tx *sql.Tx) (func(), error) {
	var was int64
	if err := tx.QueryRowContext(ctx, `PRAGMA cache_size`).Scan(&was); err != nil {
		return nil, fmt.Errorf("read cache size: %w", err)
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA cache_size = %d`, -recordCacheKiB)); err != nil {
		return nil, fmt.Errorf("set cache size: %w", err)
	}
	return func() { _, _ = tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA cache_size = %d`, was)) }, nil
}

// current is what a new evaluation of a resource is compared with: its
// stored evaluation.
type current struct {
	compliance string
	userName   string
	firstSeen  int64
	changedAt  int64
	keysJSON   string
	owner      string
	// The rest of the row, compared by RecordScan to skip unchanged rows.
	resourceType, path, arn, annotation, tagsJSON string
}

// unchanged reports whether the stored row already holds what ev would
// write, but for evaluated_at and scan_id.
func (c *current) unchanged(ev *rule.Evaluation, tagsJSON, keysJSON string) bool {
	return !keysChanged(*c, ev, keysJSON, ev.Owner) && c.resourceType == ev.ResourceType && c.path == ev.Path &&
		c.arn == ev.ARN && c.annotation == ev.Annotation && c.tagsJSON == tagsJSON
}

// primaryKeyOrder is the order in which saveEvaluations writes evs: by
// account and resource, the primary key of the tables it writes, so that
// each insert lands next to the one before (appends, for a first scan).
// Evaluations of one resource keep their order: the last one wins.
func primaryKeyOrder(evs []rule.Evaluation) []int {
	order := make([]int, len(evs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return cmp.Or(strings.Compare(evs[a].AccountID, evs[b].AccountID), strings.Compare(evs[a].ResourceID, evs[b].ResourceID))
	})
	return order
}

// readCurrent reads the stored evaluations of the scanned accounts in one
// pass, one query per account over the primary key.
func readCurrent(ctx context.Context, tx *sql.Tx, scanned map[string]bool) (map[rule.ResourceRef]current, error) {
	type stored struct {
		rid string
		c   current
	}
	prev := map[rule.ResourceRef]current{}
	q, err := tx.PrepareContext(ctx, `SELECT resource_id, compliance, user_name, first_seen, changed_at, keys_json, owner, resource_type, path, arn, annotation, tags_json FROM evaluations WHERE account_id = ?`)
	if err != nil {
		return nil, fmt.Errorf("prepare read of evaluations: %w", err)
	}
	defer q.Close()
	for acct := range scanned {
		rows, err := q.QueryContext(ctx, acct)
		if err != nil {
			return nil, fmt.Errorf("read evaluations of %s: %w", acct, err)
		}
		for rows.Next() {
			var st stored
			if err := rows.Scan(&st.rid, &st.c.compliance, &st.c.userName, &st.c.firstSeen, &st.c.changedAt, &st.c.keysJSON, &st.c.owner,
				&st.c.resourceType, &st.c.path, &st.c.arn, &st.c.annotation, &st.c.tagsJSON); err != nil {
				rows.Close()
				return nil, fmt.Errorf("read evaluations of %s: %w", acct, err)
			}
			prev[rule.ResourceRef{AccountID: acct, ResourceID: st.rid}] = st.c
		}
		if err := rows.Close(); err != nil {
			return nil, fmt.Errorf("read evaluations of %s: %w", acct, err)
		}
	}
	return prev, nil
}

// recordBatches are the multi-row statements of saveEvaluations. keys
// writes only after delKeys (flush order), so a resource's old key rows go
// before its new ones.
//
// An evaluation whose indexed columns (resource_type, compliance, owner)
// are as stored goes to body, whose update sets only the other columns:
// SQLite rewrites an index entry only when the UPDATE sets one of the
// index's columns, so a rescan that changed keys but not compliance
// rewrites the row alone, not its three index entries.
type recordBatches struct {
	upsert, body, hist, delKeys, keys *batch
}

// evaluationInsert is the INSERT of a whole evaluations row, with the
// update of the columns every change sets.
const evaluationInsert = `INSERT INTO evaluations (account_id, resource_id, resource_type, user_name, path, arn, compliance, annotation, tags_json, keys_json, first_seen, changed_at, evaluated_at, scan_id, owner)`

const evaluationBodyUpdate = `ON CONFLICT (account_id, resource_id) DO UPDATE SET user_name = excluded.user_name, path = excluded.path,
			arn = excluded.arn, annotation = excluded.annotation, tags_json = excluded.tags_json, keys_json = excluded.keys_json,
			changed_at = excluded.changed_at, evaluated_at = excluded.evaluated_at, scan_id = excluded.scan_id`

func newRecordBatches(tx *sql.Tx) *recordBatches {
	b := &recordBatches{
		upsert: newBatch(tx, "evaluations", evaluationInsert, 15,
			evaluationBodyUpdate+`, resource_type = excluded.resource_type, compliance = excluded.compliance, owner = excluded.owner`),
		body:    newBatch(tx, "evaluation updates", evaluationInsert, 15, evaluationBodyUpdate),
		hist:    newBatch(tx, "history rows", `INSERT INTO evaluation_history (account_id, resource_id, user_name, from_compliance, to_compliance, annotation, at, scan_id)`, 8, ""),
		delKeys: newBatch(tx, "key row removals", `DELETE FROM evaluation_keys WHERE (account_id, resource_id) IN (`, 2, ")"),
		keys:    newBatch(tx, "key rows", keyRowColumns, 13, ""),
	}
	b.keys.before = b.delKeys
	return b
}

func (b *recordBatches) all() []*batch {
	return []*batch{b.upsert, b.body, b.hist, b.delKeys, b.keys}
}

func (b *recordBatches) flush(ctx context.Context) error {
	for _, x := range b.all() {
		if err := x.flush(ctx); err != nil {
			return err
		}
	}
	return nil
}

func (b *recordBatches) close() {
	for _, x := range b.all() {
		x.close()
	}
}

// How planEvaluations writes an evaluation's row: all of it (new, or its
// indexed columns changed), its other columns only, or not at all (as
// stored but for evaluated_at and scan_id).
const (
	rowAll = iota
	rowBody
	rowSame
)

// written is what saveEvaluations writes for evs[i].
type written struct {
	i          int
	prev       current // the stored row, when existed
	existed    bool
	again      bool // an earlier evaluation of the same resource is in evs
	row        int  // rowAll, rowBody or rowSame
	keyRows    bool // its key rows are rewritten
	tags, keys string
}

// planEvaluations decides, in primary key order, what saveEvaluations
// writes for each evaluation of a scanned account, taking the stored ones
// found out of prev (what is left there is gone), and counts the rows each
// table gets written or removed.
func planEvaluations(evs []rule.Evaluation, scanned map[string]bool, prev map[rule.ResourceRef]current) ([]written, map[string]int, error) {
	plan := make([]written, 0, len(evs))
	writes := map[string]int{}
	// seen holds the resources planned so far: a resource twice in evs gets
	// the key rows of its last evaluation.
	seen := make(map[rule.ResourceRef]struct{}, len(evs))
	for _, i := range primaryKeyOrder(evs) {
		ev := &evs[i]
		if !scanned[ev.AccountID] {
			continue
		}
		k := ev.Ref()
		w := written{i: i}
		w.prev, w.existed = prev[k]
		delete(prev, k)
		_, w.again = seen[k]
		seen[k] = struct{}{}
		tags, _ := json.Marshal(ev.Tags)
		keys, err := json.Marshal(ev.Keys)
		if err != nil {
			return nil, nil, fmt.Errorf("encode keys of %s in %s: %w", ev.ResourceID, ev.AccountID, err)
		}
		w.tags, w.keys = string(tags), string(keys)
		p := &w.prev
		switch {
		case !w.existed || w.again:
			w.row = rowAll
		case p.unchanged(ev, w.tags, w.keys):
			w.row = rowSame
		case p.resourceType == ev.ResourceType && p.compliance == string(ev.Compliance) && p.owner == ev.Owner:
			w.row = rowBody
		}
		if !w.existed || p.compliance != string(ev.Compliance) {
			writes["evaluation_history"]++
		}
		if w.row == rowAll { // rowBody writes no index entry
			writes["evaluations"]++
		}
		w.keyRows = !w.existed || w.again || keysChanged(*p, ev, w.keys, ev.Owner)
		if w.keyRows {
			writes["evaluation_keys"] += len(ev.Keys)
			if w.existed {
				writes["evaluation_keys"] += len(ev.Keys) // about as many old rows out
			}
		}
		plan = append(plan, w)
	}
	return plan, writes, nil
}

// saveEvaluations replaces the current evaluations of the scanned accounts,
// and their key rows in the read model. It reads what is stored in one pass,
// writes in batches only the rows that changed, their history and their key
// rows, and then marks the unchanged rows as evaluated now with one UPDATE
// per account, which touches no index.
func (s *Store) saveEvaluations(ctx context.Context, tx *sql.Tx, rm *readModel, scanID int64, at time.Time, scanned map[string]bool, evs []rule.Evaluation) error {
	prev, err := readCurrent(ctx, tx, scanned)
	if err != nil {
		return err
	}
	// First what each evaluation writes, then the writes: a table about to
	// have most of its rows rewritten has its indexes built after them.
	plan, writes, err := planEvaluations(evs, scanned, prev)
	if err != nil {
		return err
	}
	rebuild, err := deferIndexes(ctx, tx, writes)
	if err != nil {
		return err
	}
	now := ms64(at)
	// same holds the accounts with rows that this scan leaves as they are
	// but for evaluated_at and scan_id, set at the end.
	same := map[string]bool{}
	// recount holds the accounts whose counts (account_counts) this scan
	// may change; trend, what its history rows add to trend_days.
	recount := map[string]bool{}
	var trend trendDelta
	b := newRecordBatches(tx)
	defer b.close()
	for _, w := range plan {
		ev, p := &evs[w.i], &w.prev
		if w.again { // its earlier rows must be written before these
			if err := b.flush(ctx); err != nil {
				return err
			}
		}
		first, changed := now, now
		if w.existed {
			first = p.firstSeen
			changed = p.changedAt
		}
		if !w.existed || p.compliance != string(ev.Compliance) {
			changed = now
			trend.add(p.compliance, string(ev.Compliance))
			if err := b.hist.add(ctx, ev.AccountID, ev.ResourceID, ev.UserName, p.compliance, string(ev.Compliance), ev.Annotation, now, scanID); err != nil {
				return err
			}
		}
		owner := ev.Owner
		if w.row != rowSame || w.keyRows {
			recount[ev.AccountID] = true
		}
		switch w.row {
		case rowSame:
			same[ev.AccountID] = true
		default:
			to := b.upsert
			if w.row == rowBody {
				to = b.body
			}
			if err := to.add(ctx, ev.AccountID, ev.ResourceID, ev.ResourceType, ev.UserName, ev.Path, ev.ARN, string(ev.Compliance), ev.Annotation,
				w.tags, w.keys, first, changed, now, scanID, owner); err != nil {
				return err
			}
		}
		if w.keyRows {
			if w.existed || w.again {
				if err := b.delKeys.add(ctx, ev.AccountID, ev.ResourceID); err != nil {
					return err
				}
			}
			for i := range ev.Keys {
				if err := b.keys.add(ctx, keyRow(ev, i, owner)...); err != nil {
					return err
				}
			}
		}
	}
	if err := b.flush(ctx); err != nil {
		return err
	}
	for k, p := range prev { // gone from a scanned account
		recount[k.AccountID] = true
		trend.add(p.compliance, ComplianceDeleted)
		if _, err := tx.ExecContext(ctx, `DELETE FROM evaluations WHERE account_id = ? AND resource_id = ?`, k.AccountID, k.ResourceID); err != nil {
			return err
		}
		if err := rm.dropKeys(ctx, k.AccountID, k.ResourceID); err != nil {
			return err
		}
		if err := b.hist.add(ctx, k.AccountID, k.ResourceID, p.userName, p.compliance, ComplianceDeleted, "", now, scanID); err != nil {
			return err
		}
	}
	if err := b.hist.flush(ctx); err != nil {
		return err
	}
	if err := rebuild(); err != nil {
		return err
	}
	if err := recountAccounts(ctx, tx, recount); err != nil {
		return err
	}
	if err := addTrendDay(ctx, tx, now, trend); err != nil {
		return err
	}
	// The rows written above have this scan's id already: the condition
	// leaves them, and the UPDATE touches no index.
	for acct := range same {
		if _, err := tx.ExecContext(ctx, `UPDATE evaluations SET evaluated_at = ?, scan_id = ? WHERE account_id = ? AND scan_id IS NOT ?`, now, scanID, acct, scanID); err != nil {
			return fmt.Errorf("mark evaluations of %s: %w", acct, err)
		}
	}
	return nil
}

// LatestScan returns the newest finished scan, or nil when there is none.
func (s *Store) LatestScan(ctx context.Context) (*Scan, error) {
	sc, err := scanScan(s.db.QueryRowContext(ctx, `SELECT `+scanColumns+` FROM scans WHERE status = 'done' ORDER BY id DESC LIMIT 1`))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read latest scan: %w", err)
	}
	return &sc, nil
}

const scanColumns = `id, started_at, finished_at, evaluated_at, source, max_age, warn_age, status, COALESCE(summary_json, '{}')`

// scanScan reads a scans row of scanColumns.
func scanScan(r rowScanner) (Scan, error) {
	var sc Scan
	var started, evaluated int64
	var finished sql.NullInt64
	var summary string
	if err := r.Scan(&sc.ID, &started, &finished, &evaluated, &sc.Source, &sc.MaxAge, &sc.WarnAge, &sc.Status, &summary); err != nil {
		return sc, err
	}
	sc.StartedAt, sc.FinishedAt, sc.EvaluatedAt = fromMS(started), nullMS(finished), fromMS(evaluated)
	if err := json.Unmarshal([]byte(summary), &sc.Summary); err != nil {
		return sc, fmt.Errorf("decode summary of scan %d: %w", sc.ID, err)
	}
	return sc, nil
}

// Evaluation returns the current evaluation of a resource, or nil.
func (s *Store) Evaluation(ctx context.Context, accountID, resourceID string) (*rule.Evaluation, error) {
	row := s.db.QueryRowContext(ctx, `SELECT resource_type, user_name, path, arn, compliance, annotation, tags_json, keys_json FROM evaluations WHERE account_id = ? AND resource_id = ?`, accountID, resourceID)
	ev := rule.Evaluation{AccountID: accountID, ResourceID: resourceID}
	var tags, keys string
	err := row.Scan(&ev.ResourceType, &ev.UserName, &ev.Path, &ev.ARN, &ev.Compliance, &ev.Annotation, &tags, &keys)
	if err == sql.ErrNoRows {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read evaluation of %s in %s: %w", resourceID, accountID, err)
	}
	if err := json.Unmarshal([]byte(tags), &ev.Tags); err != nil {
		return nil, fmt.Errorf("decode tags of %s: %w", resourceID, err)
	}
	if err := json.Unmarshal([]byte(keys), &ev.Keys); err != nil {
		return nil, fmt.Errorf("decode keys of %s: %w", resourceID, err)
	}
	return &ev, nil
}

// Transition is one compliance change of a resource.
type Transition struct {
	AccountID, ResourceID, UserName string
	From, To                        string
	Annotation                      string
	At                              time.Time
	ScanID                          int64
}

// History lists a resource's compliance changes, oldest first.
func (s *Store) History(ctx context.Context, accountID, resourceID string) ([]Transition, error) {
	out, err := queryRows(ctx, s.db, `SELECT user_name, from_compliance, to_compliance, annotation, at, COALESCE(scan_id, 0) FROM evaluation_history WHERE account_id = ? AND resource_id = ? ORDER BY at, id`,
		func(r rowScanner) (Transition, error) {
			t := Transition{AccountID: accountID, ResourceID: resourceID}
			var at int64
			err := r.Scan(&t.UserName, &t.From, &t.To, &t.Annotation, &at, &t.ScanID)
			t.At = fromMS(at)
			return t, err
		}, accountID, resourceID)
	if err != nil {
		return nil, fmt.Errorf("read history of %s in %s: %w", resourceID, accountID, err)
	}
	return out, nil
}

// ResourceIDByName finds the resourceId of a user by name in the current
// evaluations (or, for a deleted user, its history), "" when unknown.
func (s *Store) ResourceIDByName(ctx context.Context, accountID, userName string) (string, error) {
	var id string
	err := s.db.QueryRowContext(ctx, `SELECT resource_id FROM evaluations WHERE account_id = ? AND user_name = ?
		UNION ALL SELECT resource_id FROM evaluation_history WHERE account_id = ? AND user_name = ? LIMIT 1`, accountID, userName, accountID, userName).Scan(&id)
	if err == sql.ErrNoRows {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("find user %q in %s: %w", userName, accountID, err)
	}
	return id, nil
}
