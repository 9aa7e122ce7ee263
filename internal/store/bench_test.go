//go:build unix

package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keyage/keyage/internal/lifecycle"
	"github.com/keyage/keyage/internal/rule"
	"github.com/keyage/keyage/internal/scan"
)

// benchScan is the server benchmark's organization: 1,000 accounts x 100
// users, every 10th user NON_COMPLIANT, every 10th+1 in warning, a second
// (inactive) key for every 3rd user: 133,334 keys. shift ages every key by
// that many days (a rescan in which every key changed).
func benchScan(at time.Time, shift int) *scan.Result {
	res := &scan.Result{Rule: rule.Name, EvaluatedAt: at, Source: "auto", Parameters: scan.Parameters{MaxAccessKeyAge: 90, WarnAge: 80}}
	for a := range 1000 {
		acct := fmt.Sprintf("%012d", 100000000000+a)
		res.Accounts = append(res.Accounts, scan.AccountResult{AccountID: acct, Name: fmt.Sprintf("account-%04d", a), Status: scan.StatusOK, Users: 100, DurationMS: 900})
		for u := range 100 {
			age, stage, c := (u*7+a)%80+shift, lifecycle.OK, rule.Compliant
			switch {
			case u%10 == 0:
				age, stage, c = 91+(u*13+a)%400+shift, lifecycle.Expired, rule.NonCompliant
			case u%10 == 1:
				age, stage = 81+(u+a)%9+shift, lifecycle.Warning
			}
			keys := []rule.KeyResult{{Key: rule.Key{AccessKeyID: fmt.Sprintf("AKIA%08d%04d", a, u), Status: rule.StatusActive, CreateDate: t0.Add(-time.Duration(age) * rule.Day)}, AgeDays: age, Stage: string(stage)}}
			if u%3 == 0 {
				keys = append(keys, rule.KeyResult{Key: rule.Key{AccessKeyID: fmt.Sprintf("AKIB%08d%04d", a, u), Status: rule.StatusInactive, CreateDate: t0.Add(-200 * rule.Day)}, AgeDays: 200, Stage: string(lifecycle.Inactive)})
			}
			res.Evaluations = append(res.Evaluations, rule.Evaluation{AccountID: acct, ResourceType: rule.ResourceTypeUser, ResourceID: fmt.Sprintf("AIDA%08d%04d", a, u),
				UserName: fmt.Sprintf("user-%03d", u), ARN: "arn:aws:iam::" + acct + ":user/u", Compliance: c,
				Tags: map[string]string{"email": fmt.Sprintf("owner-%d@example.com", u%50)}, Owner: fmt.Sprintf("owner-%d@example.com", u%50), Keys: keys})
		}
	}
	return res
}

// BenchmarkRecordScan records a 100k-user scan: into an empty store, again
// unchanged, and again with every key changed; in one transaction
// (RecordScan), and streamed, one transaction per account (ScanWriter, as
// keyage run and serve record). Run it with -benchtime 1x or 2x: one
// iteration takes seconds.
func BenchmarkRecordScan(b *testing.B) {
	ctx := context.Background()
	first, changed := benchScan(t0, 0), benchScan(t0.Add(rule.Day), 1)
	for _, bb := range []struct {
		name         string
		before, scan *scan.Result
		record       func(context.Context, *Store, *scan.Result) error
	}{
		{"first", nil, first, recordOnce},
		{"unchanged", first, first, recordOnce},
		{"changed", first, changed, recordOnce},
		{"streamed-first", nil, first, recordStreamed},
		{"streamed-unchanged", first, first, recordStreamed},
		{"streamed-changed", first, changed, recordStreamed},
	} {
		b.Run(bb.name, func(b *testing.B) {
			var cpu time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				s := openBench(ctx, b, "keyage", i)
				if bb.before != nil {
					if err := bb.record(ctx, s, bb.before); err != nil {
						b.Fatal(err)
					}
				}
				b.StartTimer()
				start := cpuTime()
				if err := bb.record(ctx, s, bb.scan); err != nil {
					b.Fatal(err)
				}
				cpu += cpuTime() - start
				b.StopTimer()
				s.Close()
			}
			// CPU time is steadier than wall time on a shared machine.
			b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/op")
		})
	}
}

// BenchmarkRecordFloor writes the rows a first scan of benchScan writes
// (100,000 evaluations and history rows, 133,334 key rows, the same values
// through the same batches) into tables with no primary key and no index,
// in one transaction: the floor of RecordScan in modernc.org/sqlite, below
// which only writing fewer or smaller rows goes.
func BenchmarkRecordFloor(b *testing.B) {
	ctx := context.Background()
	res := benchScan(t0, 0)
	var cpu time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s := openBench(ctx, b, "floor", i)
		for _, q := range []string{
			`CREATE TABLE floor_evaluations AS SELECT * FROM evaluations WHERE 0`,
			`CREATE TABLE floor_keys AS SELECT * FROM evaluation_keys WHERE 0`,
			`CREATE TABLE floor_history AS SELECT * FROM evaluation_history WHERE 0`,
		} {
			if _, err := s.db.ExecContext(ctx, q); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		start := cpuTime()
		err := s.tx(ctx, func(tx *sql.Tx) error {
			evals := newBatch(tx, "evaluations", strings.Replace(evaluationInsert, "evaluations", "floor_evaluations", 1), 15, "")
			hist := newBatch(tx, "history", `INSERT INTO floor_history (account_id, resource_id, user_name, from_compliance, to_compliance, annotation, at, scan_id)`, 8, "")
			keys := newBatch(tx, "keys", strings.Replace(keyRowColumns, "evaluation_keys", "floor_keys", 1), 13, "")
			now := ms64(t0)
			for j := range res.Evaluations {
				ev := &res.Evaluations[j]
				tags, _ := json.Marshal(ev.Tags)
				kj, _ := json.Marshal(ev.Keys)
				if err := evals.add(ctx, ev.AccountID, ev.ResourceID, ev.ResourceType, ev.UserName, ev.Path, ev.ARN, string(ev.Compliance), ev.Annotation,
					string(tags), string(kj), now, now, now, 1, ev.Owner); err != nil {
					return err
				}
				if err := hist.add(ctx, ev.AccountID, ev.ResourceID, ev.UserName, "", string(ev.Compliance), ev.Annotation, now, 1); err != nil {
					return err
				}
				for k := range ev.Keys {
					if err := keys.add(ctx, keyRow(ev, k, ev.Owner)...); err != nil {
						return err
					}
				}
			}
			for _, x := range []*batch{evals, hist, keys} {
				if err := x.flush(ctx); err != nil {
					return err
				}
				x.close()
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		cpu += cpuTime() - start
		b.StopTimer()
		s.Close()
	}
	b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/op")
}

// openBench opens a new state file for iteration i of a benchmark.
func openBench(ctx context.Context, b *testing.B, name string, i int) *Store {
	s, err := Open(ctx, filepath.Join(b.TempDir(), fmt.Sprintf("%s-%d.db", name, i)), Options{})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// cpuTime is the CPU time (user and system) the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
