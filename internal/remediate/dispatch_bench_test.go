package remediate

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/keyage/keyage/internal/notify"
	"github.com/keyage/keyage/internal/notify/webhook"
	"github.com/keyage/keyage/internal/outbox"
	"github.com/keyage/keyage/internal/store"
)

func enqueue(tb testing.TB, st *store.Store, n int, receiver string) {
	tb.Helper()
	now := time.Now()
	err := st.Update(context.Background(), func(tx *store.Tx) error {
		for i := range n {
			id := fmt.Sprintf("m%07d", i)
			body, err := notify.EncodeMessage(notify.Message{ID: id, Kind: notify.KindFinding, Receiver: receiver, Text: SeedText("222222222222", "alice"),
				Items: []notify.Item{{AccountID: "222222222222", UserName: "alice", ResourceID: "AIDA1", AccessKeyID: "AKIA1", AgeDays: 120, Stage: "expired"}}})
			if err != nil {
				return err
			}
			if err := tx.Enqueue(context.Background(), store.Message{ID: id, Receiver: receiver, Kind: notify.KindFinding, GroupKey: "g",
				JSON: body, MaxAttempts: 5, NextAttemptAt: now, CreatedAt: now}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkDispatchWebhook delivers 10,000 pending notifications to a local
// webhook with 16 workers; deliveries/s is the figure BENCHMARKS.md reports.
func BenchmarkDispatchWebhook(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	hook, err := webhook.New(webhook.Options{URL: srv.URL, Secret: "s3cret"})
	if err != nil {
		b.Fatal(err)
	}
	const n = 10000
	var total time.Duration
	for b.Loop() {
		b.StopTimer()
		st, err := store.Open(context.Background(), filepath.Join(b.TempDir(), "keyage.db"), store.Options{})
		if err != nil {
			b.Fatal(err)
		}
		enqueue(b, st, n, "hook")
		d := &notify.Dispatcher{Outbox: outbox.New(st), Notifiers: map[string]notify.Notifier{"hook": hook}, Workers: 16, PerReceiver: 16, Window: time.Second}
		b.StartTimer()
		start := time.Now()
		stats, err := d.Drain(context.Background())
		total += time.Since(start)
		b.StopTimer()
		if err != nil || stats.Sent != n {
			b.Fatalf("Drain = %+v, %v; want %d sent", stats, err, n)
		}
		st.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(n*b.N)/total.Seconds(), "deliveries/s")
}

// BenchmarkOutboxEnqueue is the SQLite cost of writing one message to the
// outbox inside a decision transaction of 1,000 messages.
func BenchmarkOutboxEnqueue(b *testing.B) {
	st, err := store.Open(context.Background(), filepath.Join(b.TempDir(), "keyage.db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	body, _ := notify.EncodeMessage(notify.Message{Kind: notify.KindFinding, Text: SeedText("222222222222", "alice")})
	now := time.Now()
	i := 0
	for b.Loop() {
		err := st.Update(context.Background(), func(tx *store.Tx) error {
			for range 1000 {
				i++
				if err := tx.Enqueue(context.Background(), store.Message{ID: fmt.Sprint(i), Receiver: "r", Kind: "finding", GroupKey: "g", JSON: body, MaxAttempts: 5, NextAttemptAt: now, CreatedAt: now}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(i), "µs/message")
}
