package remediate

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyage/keyage/internal/config"
	"github.com/keyage/keyage/internal/lifecycle"
	"github.com/keyage/keyage/internal/notify"
	"github.com/keyage/keyage/internal/outbox"
	"github.com/keyage/keyage/internal/rule"
	"github.com/keyage/keyage/internal/scan"
	"github.com/keyage/keyage/internal/store"
	"github.com/keyage/keyage/internal/store/storetest"
)

var t0 = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)

func mustConfig(t *testing.T, yaml string) *config.Config {
	t.Helper()
	cfg, err := config.Parse([]byte(yaml), "test.yaml")
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

// openStore is a fresh state database in t.TempDir().
var openStore = storetest.Open

type user struct {
	id, name, owner string
	keyAges         []float64 // days; negative = inactive
}

// org evaluates users of account 222222222222 at now.
func org(now time.Time, users ...user) *scan.Result {
	res := &scan.Result{EvaluatedAt: now, Parameters: scan.Parameters{MaxAccessKeyAge: 90, WarnAge: 80},
		Accounts: []scan.AccountResult{{AccountID: "222222222222", Name: "prod", Status: scan.StatusOK, Users: len(users)}}}
	for _, u := range users {
		ru := rule.User{AccountID: "222222222222", UserID: u.id, UserName: u.name, Path: "/"}
		if u.owner != "" {
			ru.Tags = map[string]string{"email": u.owner}
		}
		for i, age := range u.keyAges {
			k := rule.Key{AccessKeyID: u.id + "KEY" + string(rune('0'+i)), Status: rule.StatusActive}
			if age < 0 {
				k.Status, age = rule.StatusInactive, -age
			}
			k.CreateDate = now.Add(-time.Duration(age * float64(rule.Day)))
			ru.Keys = append(ru.Keys, k)
		}
		res.Evaluations = append(res.Evaluations, defaultEvaluator.Evaluate(ru, "", now))
	}
	return res
}

// defaultEvaluator evaluates as keyage does without a config file: owners
// by the email tag.
var defaultEvaluator = func() *lifecycle.Evaluator {
	cfg, err := config.Parse(nil, "none")
	if err != nil {
		panic(err)
	}
	e, err := lifecycle.NewEvaluator(cfg, rule.PolicyDays(90, 80))
	if err != nil {
		panic(err)
	}
	return e
}()

// cycle plans and applies, as keyage run does, and returns the plan.
func cycle(t *testing.T, e *Engine, st *store.Store, res *scan.Result, now time.Time) *Plan {
	t.Helper()
	p, err := e.Plan(context.Background(), st, res, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Apply(context.Background(), st, p); err != nil {
		t.Fatal(err)
	}
	return p
}

func texts(p *Plan, receiver string) []string {
	var out []string
	for _, m := range p.Messages {
		if m.Message.Receiver == receiver {
			out = append(out, m.Message.Kind+": "+m.Message.Text)
		}
	}
	return out
}

func TestSeedMessage(t *testing.T) {
	e, err := NewEngine(mustConfig(t, "receivers: [{name: topic, file: {path: x.jsonl}}]\nroutes: [{receivers: [topic]}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.Plan(context.Background(), nil, org(t0, user{"AIDA1", "alice", "", []float64{120}}), t0)
	if err != nil {
		t.Fatal(err)
	}
	got := texts(p, "topic")
	want := `finding: Account "222222222222" User "alice" needs to rotate their access key.`
	if len(got) != 1 || got[0] != want {
		t.Errorf("messages = %q, want exactly %q", got, want)
	}
	attrs := p.Messages[0].Message.Attributes()
	if attrs["accountId"] != "222222222222" || attrs["userName"] != "alice" || attrs["stage"] != "expired" || attrs["ageDays"] != "120" || attrs["accessKeyId"] != "AIDA1KEY0" {
		t.Errorf("attributes = %v", attrs)
	}
}

func TestDedupeRemindersAndResolved(t *testing.T) {
	cfg := mustConfig(t, `
receivers:
  - {name: topic, file: {path: a.jsonl}}
  - {name: owners, email: {smtp: {host: 127.0.0.1, tls: none}, from: keyage@example.com, to: ["{{ .Owner }}"]}, sendResolved: true}
  - {name: security, file: {path: b.jsonl}}
owners: {fallback: [security]}
routes:
  - receivers: [topic]
  - match: {stage: [warning, expired]}
    receivers: [owners]
    groupBy: [owner]
    repeatInterval: 7d
`)
	e, err := NewEngine(cfg)
	if err != nil {
		t.Fatal(err)
	}
	st := openStore(t)
	alice := user{"AIDA1", "alice", "alice@example.com", []float64{120, 10}}
	bob := user{"AIDA2", "bob", "bob@example.com", []float64{85}}
	carol := user{"AIDA3", "carol", "", []float64{200}} // no owner tag
	dave := user{"AIDA4", "dave", "", []float64{-300}}  // inactive key only

	for _, step := range []struct {
		name       string
		at         time.Time
		users      []user
		topic      int
		owners     []string
		security   int
		suppressed int
	}{
		{"first run", t0, []user{alice, bob, carol, dave}, 2, []string{"finding: alice@example.com", "finding: bob@example.com"}, 1, 0},
		{"an hour later nothing new", t0.Add(time.Hour), []user{alice, bob, carol, dave}, 0, nil, 0, 5},
		{"bob's key crosses the limit: stage change", t0.Add(6 * rule.Day), []user{alice, {bob.id, bob.name, bob.owner, []float64{91}}, carol, dave}, 1, []string{"finding: bob@example.com"}, 0, 4},
		{"after the repeat interval: reminders", t0.Add(8 * rule.Day), []user{alice, {bob.id, bob.name, bob.owner, []float64{93}}, carol, dave}, 2, []string{"finding: alice@example.com"}, 1, 2},
		{"alice rotates: resolved", t0.Add(8*rule.Day + time.Hour), []user{{alice.id, alice.name, alice.owner, []float64{0, 10}}, {bob.id, bob.name, bob.owner, []float64{93}}, carol, dave}, 0, []string{"resolved: alice@example.com"}, 0, 4},
	} {
		t.Run(step.name, func(t *testing.T) {
			p := cycle(t, e, st, org(step.at, step.users...), step.at)
			if got := len(texts(p, "topic")); got != step.topic {
				t.Errorf("topic messages = %d, want %d: %q", got, step.topic, texts(p, "topic"))
			}
			var owners []string
			for _, m := range p.Messages {
				if m.Message.Receiver == "owners" {
					owners = append(owners, m.Message.Kind+": "+strings.Join(m.Message.Recipients, ","))
				}
			}
			if strings.Join(owners, ";") != strings.Join(step.owners, ";") {
				t.Errorf("owner mails = %q, want %q", owners, step.owners)
			}
			if got := len(texts(p, "security")); got != step.security {
				t.Errorf("fallback messages = %d, want %d", got, step.security)
			}
			if p.Suppressed != step.suppressed {
				t.Errorf("suppressed = %d, want %d", p.Suppressed, step.suppressed)
			}
			if step.name == "first run" && (len(p.OwnerUnknown) != 1 || p.OwnerUnknown[0].UserName != "carol") {
				t.Errorf("owner unknown = %+v, want carol", p.OwnerUnknown)
			}
		})
	}
	execs, err := st.Executions(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(execs) != 3 { // alice, bob (warning mail, then non-compliant), carol
		t.Errorf("executions = %d, want 3: %+v", len(execs), execs)
	}
}

// recorder is a Notifier that fails the first failures calls.
type recorder struct {
	mu       sync.Mutex
	failures int
	got      []notify.Message
	block    bool
}

func (r *recorder) Notify(ctx context.Context, m notify.Message) (bool, error) {
	if r.block {
		<-ctx.Done()
		return true, ctx.Err()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failures > 0 {
		r.failures--
		return true, errors.New("HTTP 500")
	}
	r.got = append(r.got, m)
	return false, nil
}

func (r *recorder) count() int { r.mu.Lock(); defer r.mu.Unlock(); return len(r.got) }

func TestDispatchRetriesAndIsolation(t *testing.T) {
	cfg := mustConfig(t, `
remediation: {maximumAutomaticAttempts: 3, retryAttemptSeconds: 1}
receivers:
  - {name: flaky, file: {path: a.jsonl}}
  - {name: dead, file: {path: b.jsonl}}
routes:
  - receivers: [flaky, dead]
`)
	e, _ := NewEngine(cfg)
	st := openStore(t)
	cycle(t, e, st, org(t0, user{"AIDA1", "alice", "", []float64{120}}, user{"AIDA2", "bob", "", []float64{100}}), time.Now())
	flaky, dead := &recorder{failures: 1}, &recorder{block: true}
	d := &notify.Dispatcher{Outbox: outbox.New(st), Notifiers: map[string]notify.Notifier{"flaky": flaky, "dead": dead}, Window: time.Second, Timeout: 100 * time.Millisecond, Workers: 4}
	stats, err := d.Drain(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if flaky.count() != 2 {
		t.Errorf("flaky receiver got %d messages, want both after one retry", flaky.count())
	}
	if stats.Sent != 2 || stats.Failed != 2 || stats.Retried != 1+4 {
		t.Errorf("stats = %+v, want 2 sent, 2 failed (dead, after 3 attempts each), 5 retried", stats)
	}
	failed, _ := st.Executions(context.Background(), store.ExecutionFailed)
	if len(failed) != 2 || !strings.Contains(failed[0].LastError, "dead: context deadline exceeded") {
		t.Errorf("failed executions = %+v, want both naming the dead receiver", failed)
	}
}

// A message committed to the outbox but never delivered (keyage killed
// between the two) goes out when the next dispatcher starts.
func TestCrashBetweenOutboxAndSend(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "keyage.db")
	st, err := store.Open(ctx, path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e, _ := NewEngine(mustConfig(t, "receivers: [{name: topic, file: {path: x.jsonl}}]\nroutes: [{receivers: [topic]}]\n"))
	cycle(t, e, st, org(t0, user{"AIDA1", "alice", "", []float64{120}}), time.Now())
	st.Close() // the process dies here

	st, err = store.Open(ctx, path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	r := &recorder{}
	var calls atomic.Int32
	d := &notify.Dispatcher{Outbox: outbox.New(st), Notifiers: map[string]notify.Notifier{"topic": r}, Observe: func(string, error) { calls.Add(1) }}
	if _, err := d.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if r.count() != 1 || r.got[0].Text != SeedText("222222222222", "alice") {
		t.Errorf("after restart delivered %d messages (%+v), want the one left in the outbox", r.count(), r.got)
	}
	if st2, _ := st.OutboxStats(ctx); st2.Pending != 0 || st2.Sent != 1 {
		t.Errorf("outbox after delivery = %+v", st2)
	}
}

// gatedRecorder holds each delivery until the test lets it through: arrived gets a value
// when a delivery starts, and a value received from proceed (or its close) lets one finish.
type gatedRecorder struct {
	recorder
	arrived chan struct{}
	proceed chan struct{}
}

func (g *gatedRecorder) Notify(ctx context.Context, m notify.Message) (bool, error) {
	g.arrived <- struct{}{}
	<-g.proceed
	return g.recorder.Notify(ctx, m)
}

// Stopping the dispatcher (SIGTERM) finishes the deliveries in flight and
// leaves the rest PENDING; the next start delivers them: nothing is lost.
func TestShutdownKeepsPending(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	e, _ := NewEngine(mustConfig(t, "receivers: [{name: topic, file: {path: x.jsonl}}]\nroutes: [{receivers: [topic]}]\n"))
	var users []user
	for i := range 40 {
		users = append(users, user{fmt.Sprintf("AIDA%02d", i), fmt.Sprintf("user%02d", i), "", []float64{100}})
	}
	cycle(t, e, st, org(t0, users...), time.Now())
	slow := &gatedRecorder{arrived: make(chan struct{}, 100), proceed: make(chan struct{})}
	d := &notify.Dispatcher{Outbox: outbox.New(st), Notifiers: map[string]notify.Notifier{"topic": slow}, Workers: 2, PerReceiver: 2}
	stop, cancel := context.WithCancel(ctx)
	defer cancel()
	ran := make(chan error, 1)
	go func() { ran <- d.Run(stop) }()
	for range 5 { // five delivered
		<-slow.arrived
		slow.proceed <- struct{}{}
	}
	<-slow.arrived // and one in flight when the dispatcher stops
	cancel()
	close(slow.proceed)
	if err := <-ran; err != nil {
		t.Fatal(err)
	}
	first := slow.count()
	os, _ := st.OutboxStats(ctx)
	if first == 0 || first >= 40 || os.Sent != first || os.Pending != 40-first {
		t.Fatalf("after shutdown: %d delivered, outbox %+v; want some delivered, the rest pending", first, os)
	}
	if _, err := (&notify.Dispatcher{Outbox: outbox.New(st), Notifiers: map[string]notify.Notifier{"topic": slow}}).Drain(ctx); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, m := range slow.got {
		seen[m.ID] = true
	}
	if len(seen) != 40 {
		t.Errorf("delivered %d distinct messages after restart, want all 40", len(seen))
	}
}

// Crossing an extra reminder age (lifecycle.reminders) notifies again within
// the repeat interval; staying between two does not.
func TestReminderAges(t *testing.T) {
	e, _ := NewEngine(mustConfig(t, "receivers: [{name: owners, file: {path: x.jsonl}}]\nroutes: [{match: {stage: warning}, receivers: [owners]}]\n"))
	st := openStore(t)
	at := func(day float64, reminder int) *scan.Result {
		now := t0.Add(time.Duration(day * float64(rule.Day)))
		res := org(now, user{"AIDA1", "bob", "", []float64{day}})
		res.Evaluations[0].Keys[0].Lifecycle = &rule.KeyLifecycle{Reminder: reminder}
		return res
	}
	for _, step := range []struct {
		day      float64
		reminder int
		want     int
	}{{81, 80, 1}, {82, 80, 0}, {83.5, 83, 1}, {85, 83, 0}, {87.5, 87, 1}} {
		now := t0.Add(time.Duration(step.day * float64(rule.Day)))
		p := cycle(t, e, st, at(step.day, step.reminder), now)
		if len(p.Messages) != step.want {
			t.Errorf("day %v (reminder %d): %d messages, want %d", step.day, step.reminder, len(p.Messages), step.want)
		}
	}
}

// TestExecutionsOnlyForNonCompliant: as AWS Config, a remediation execution
// only for a NON_COMPLIANT user; a warning-stage user routed to its owner
// gets a notification and no execution.
func TestExecutionsOnlyForNonCompliant(t *testing.T) {
	e, err := NewEngine(mustConfig(t, `
receivers: [{name: owners, file: {path: a.jsonl}}]
routes: [{match: {stage: [warning, expired]}, receivers: [owners]}]
`))
	if err != nil {
		t.Fatal(err)
	}
	st := openStore(t)
	p := cycle(t, e, st, org(t0, user{"AIDA1", "alice", "", []float64{120}}, user{"AIDA2", "bob", "", []float64{85}}, user{"AIDA3", "carol", "", []float64{10}}), t0)
	if got := len(texts(p, "owners")); got != 2 {
		t.Fatalf("owner messages = %d, want 2 (alice expired, bob warning)", got)
	}
	execs, err := st.Executions(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	has := map[string]bool{}
	for _, x := range execs {
		has[x.UserName] = true
	}
	for _, tt := range []struct {
		user string
		want bool
	}{
		{"alice", true}, // NON_COMPLIANT
		{"bob", false},  // warning: a notification only
		{"carol", false},
	} {
		if has[tt.user] != tt.want {
			t.Errorf("execution for %s = %v, want %v (executions %+v)", tt.user, has[tt.user], tt.want, execs)
		}
	}
}
