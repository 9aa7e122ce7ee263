//go:build unix

package store

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/keyage/keyage/internal/lifecycle"
	"github.com/keyage/keyage/internal/rule"
	"github.com/keyage/keyage/internal/scan"
)

var (
	yearAccounts = flag.Int("year-accounts", 1000, "BenchmarkStateYear: accounts (x 100 users)")
	yearDays     = flag.Int("year-days", 365, "BenchmarkStateYear: days of daily scans")
	yearEvery    = flag.Int("year-log-every", 10, "BenchmarkStateYear: print the file size every this many days (0: only at the end)")
)

// yearScan is day d of an organization whose users rotate their key every
// 120 days (so every user is NON_COMPLIANT for 30 days of each 120, and
// compliance changes twice per rotation), each at its own phase.
func yearScan(at time.Time, d, accounts int) *scan.Result {
	res := &scan.Result{Rule: rule.Name, EvaluatedAt: at, Source: "auto", Parameters: scan.Parameters{MaxAccessKeyAge: 90, WarnAge: 80}}
	for a := range accounts {
		acct := fmt.Sprintf("%012d", 100000000000+a)
		res.Accounts = append(res.Accounts, scan.AccountResult{AccountID: acct, Name: fmt.Sprintf("account-%04d", a), Status: scan.StatusOK, Users: 100, DurationMS: 900})
		for u := range 100 {
			phase := (u*37 + a*11) % 120
			age, gen := (d+phase)%120, (d+phase)/120
			stage, c := lifecycle.OK, rule.Compliant
			switch {
			case age > 90:
				stage, c = lifecycle.Expired, rule.NonCompliant
			case age > 80:
				stage = lifecycle.Warning
			}
			keys := []rule.KeyResult{{Key: rule.Key{AccessKeyID: fmt.Sprintf("AKIA%06d%04d%02d", a, u, gen), Status: rule.StatusActive,
				CreateDate: at.Add(-time.Duration(age) * rule.Day), LastUsedDate: at.Add(-time.Hour), LastUsedService: "s3"}, AgeDays: age, Stage: string(stage)}}
			res.Evaluations = append(res.Evaluations, rule.Evaluation{AccountID: acct, ResourceType: rule.ResourceTypeUser, ResourceID: fmt.Sprintf("AIDA%08d%04d", a, u),
				UserName: fmt.Sprintf("user-%03d", u), ARN: "arn:aws:iam::" + acct + ":user/user-" + fmt.Sprint(u), Compliance: c,
				Tags: map[string]string{"email": fmt.Sprintf("owner-%d@example.com", u%50)}, Owner: fmt.Sprintf("owner-%d@example.com", u%50), Keys: keys})
		}
	}
	return res
}

// BenchmarkStateYear measures the state file after a year of daily scans
// on a simulated clock: each day a scan of -year-accounts x 100 users is
// recorded, every NON_COMPLIANT user gets a message (sent at once) on the
// first day and weekly after, an enforcement audit record is written for
// every user past 100 days, and DefaultRetention is applied, as keyage run
// does. It reports the file size (database and WAL, after a checkpoint)
// before and after a vacuum. One iteration takes minutes: -benchtime 1x.
func BenchmarkStateYear(b *testing.B) {
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		path := filepath.Join(b.TempDir(), "keyage.db")
		s, err := Open(ctx, path, Options{})
		if err != nil {
			b.Fatal(err)
		}
		var cpu time.Duration
		for d := range *yearDays {
			at := t0.Add(time.Duration(d) * rule.Day)
			res := yearScan(at, d, *yearAccounts)
			start := cpuTime()
			if _, err := s.RecordScan(ctx, at, at, res); err != nil {
				b.Fatal(err)
			}
			var sent []string
			err := s.Update(ctx, func(tx *Tx) error {
				for _, ev := range res.Evaluations {
					age := ev.Keys[0].AgeDays
					if ev.Compliance != rule.NonCompliant || (age-91)%7 != 0 {
						continue
					}
					id := fmt.Sprintf("%s-%s-%d", ev.AccountID, ev.ResourceID, d)
					exec, err := tx.PutExecution(ctx, Execution{AccountID: ev.AccountID, ResourceID: ev.ResourceID, Rule: rule.Name, UserName: ev.UserName,
						State: ExecutionSucceeded, Steps: []Step{{Name: PublishStep, State: ExecutionSucceeded}}, CreatedAt: at, UpdatedAt: at})
					if err != nil {
						return err
					}
					msg := fmt.Sprintf(`{"id":%q,"subject":"Account %s User %s needs to rotate their access key","text":"Access key %s is %d days old (limit 90). Rotate it: create a new key, switch to it, deactivate and delete the old one.","owner":%q}`,
						id, ev.AccountID, ev.UserName, ev.Keys[0].AccessKeyID, age, ev.Owner)
					if err := tx.Enqueue(ctx, Message{ID: id, Receiver: "owner-email", Kind: "finding", GroupKey: ev.Owner, ExecutionIDs: []int64{exec},
						JSON: []byte(msg), MaxAttempts: 5, NextAttemptAt: at, CreatedAt: at}); err != nil {
						return err
					}
					sent = append(sent, id)
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
			if err := recordSent(ctx, s, at, sent...); err != nil {
				b.Fatal(err)
			}
			for _, ev := range res.Evaluations {
				if ev.Keys[0].AgeDays == 100 {
					if _, err := s.Audit(ctx, AuditRecord{At: at, CallerARN: "arn:aws:sts::100000000000:assumed-role/KeyageEnforceRole/keyage", AccountID: ev.AccountID,
						UserName: ev.UserName, ResourceID: ev.ResourceID, AccessKeyID: ev.Keys[0].AccessKeyID, Action: "deactivate", Outcome: "applied",
						BeforeStatus: "Active", AfterStatus: "Inactive"}); err != nil {
						b.Fatal(err)
					}
				}
			}
			if _, err := s.Prune(ctx, at, DefaultRetention); err != nil {
				b.Fatal(err)
			}
			cpu += cpuTime() - start
			if n := *yearEvery; n > 0 && (d+1)%n == 0 {
				yearProgress(b, s, path, d+1, cpu)
			}
		}
		if _, err := s.db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
			b.Fatal(err)
		}
		size := fileSize(b, path)
		for _, tb := range []string{"scans", "scan_accounts", "evaluations", "evaluation_keys", "evaluation_history", "outbox", "remediation_executions", "audit"} {
			var n int
			if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM `+tb).Scan(&n); err != nil {
				b.Fatal(err)
			}
			b.Logf("%s: %d rows", tb, n)
		}
		if err := s.Vacuum(ctx); err != nil {
			b.Fatal(err)
		}
		vacuumed := fileSize(b, path)
		s.Close()
		b.Logf("%d accounts x 100 users, %d days: %.1f MB, %.1f MB after vacuum, %.0f CPU-s", *yearAccounts, *yearDays, float64(size)/1e6, float64(vacuumed)/1e6, cpu.Seconds())
		b.ReportMetric(float64(size)/1e6, "MB")
		b.ReportMetric(float64(vacuumed)/1e6, "MB-vacuumed")
	}
}

// yearProgress prints the state file size after day days to stderr at
// once (not through b.Logf, which prints only when the benchmark ends),
// so that a run stopped early still shows the growth curve and whether it
// has flattened: after a checkpoint, the file (database and WAL) and the
// bytes in use (pages not on the free list).
func yearProgress(b *testing.B, s *Store, path string, days int, cpu time.Duration) {
	ctx := context.Background()
	if _, err := s.db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		b.Fatal(err)
	}
	var pages, free, pageSize int64
	for _, q := range []struct {
		pragma string
		dst    *int64
	}{{"page_count", &pages}, {"freelist_count", &free}, {"page_size", &pageSize}} {
		if err := s.db.QueryRowContext(ctx, `PRAGMA `+q.pragma).Scan(q.dst); err != nil {
			b.Fatalf("read PRAGMA %s: %v", q.pragma, err)
		}
	}
	fmt.Fprintf(os.Stderr, "BenchmarkStateYear: %d accounts x 100 users, day %d: file %.1f MB, in use %.1f MB, %.0f CPU-s\n",
		*yearAccounts, days, float64(fileSize(b, path))/1e6, float64((pages-free)*pageSize)/1e6, cpu.Seconds())
}

func fileSize(b *testing.B, path string) int64 {
	var n int64
	for _, p := range []string{path, path + "-wal"} {
		if fi, err := os.Stat(p); err == nil {
			n += fi.Size()
		}
	}
	return n
}
