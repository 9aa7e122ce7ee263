package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/keyage/keyage/internal/lifecycle"
	"github.com/keyage/keyage/internal/notify"
	"github.com/keyage/keyage/internal/outbox"
	"github.com/keyage/keyage/internal/rule"
	"github.com/keyage/keyage/internal/scan"
	"github.com/keyage/keyage/internal/store"
	"github.com/keyage/keyage/internal/store/storetest"
)

var (
	t0  = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	day = rule.Day
)

// Accounts of the test org.
const (
	acctProd    = "111111111111"
	acctHostile = "222222222222"
	acctFailed  = "333333333333"
	hostileName = `<script>alert(1)</script>`
)

// openStore is a fresh state database in t.TempDir().
var openStore = storetest.Open

func key(id string, age int, stage lifecycle.Stage, now time.Time) rule.KeyResult {
	status := rule.StatusActive
	if stage == lifecycle.Inactive {
		status = rule.StatusInactive
	}
	return rule.KeyResult{Key: rule.Key{AccessKeyID: id, Status: status, CreateDate: now.Add(-time.Duration(age) * day)}, AgeDays: age, Stage: string(stage)}
}

func user(acct, id, name, email string, keys ...rule.KeyResult) rule.Evaluation {
	ev := rule.Evaluation{AccountID: acct, ResourceType: rule.ResourceTypeUser, ResourceID: id, UserName: name,
		ARN: "arn:aws:iam::" + acct + ":user/" + name, Compliance: rule.Compliant, Keys: keys}
	if email != "" {
		ev.Tags = map[string]string{"email": email}
		ev.Owner = email // as lifecycle.Evaluator finds it, by the default owners.tagKey
	}
	for _, k := range keys {
		if k.Stage == string(lifecycle.Expired) {
			ev.Compliance = rule.NonCompliant
			ev.Annotation = fmt.Sprintf("Access key %s is %d days old; the limit is 90 days.", k.AccessKeyID, k.AgeDays)
		}
	}
	return ev
}

// testOrg is the store of the handler tests: two scans a day apart.
//
//	prod (111...): alice NON_COMPLIANT (expired 200d + ok 5d), bob NON_COMPLIANT (expired 120d),
//	               carol COMPLIANT (warning 85d), dave COMPLIANT (inactive 400d)
//	hostile (222...) named <script>alert(1)</script>: eve NON_COMPLIANT (expired 95d), frank COMPLIANT (ok 10d)
//	failed (333...): failed in the second scan; gina NON_COMPLIANT (expired 300d) kept from the first
//
// alice has an execution and a sent message; bob a pending one.
func testOrg(t testing.TB) *store.Store {
	t.Helper()
	ctx := context.Background()
	st := openStore(t)
	first := t0.Add(-24 * time.Hour)
	res1 := &scan.Result{Rule: rule.Name, EvaluatedAt: first, Source: "auto", Parameters: scan.Parameters{MaxAccessKeyAge: 90},
		Accounts: []scan.AccountResult{
			{AccountID: acctProd, Name: "prod", Status: scan.StatusOK, Users: 3, DurationMS: 1200},
			{AccountID: acctHostile, Name: hostileName, Status: scan.StatusOK, Users: 1, DurationMS: 800},
			{AccountID: acctFailed, Name: "legacy", Status: scan.StatusOK, Users: 1, DurationMS: 500},
		},
		Evaluations: []rule.Evaluation{
			user(acctProd, "AIDAALICE", "alice", "alice@example.com", key("AKIAALICE1", 199, lifecycle.Expired, first), key("AKIAALICE2", 4, lifecycle.OK, first)),
			user(acctProd, "AIDABOB", "bob", "bob@example.com", key("AKIABOB1", 40, lifecycle.OK, first)),
			user(acctProd, "AIDACAROL", "carol", "", key("AKIACAROL1", 84, lifecycle.Warning, first)),
			user(acctHostile, "AIDAEVE", "eve", "eve@example.com", key("AKIAEVE1", 94, lifecycle.Expired, first)),
			user(acctFailed, "AIDAGINA", "gina", "gina@example.com", key("AKIAGINA1", 299, lifecycle.Expired, first)),
		}}
	if _, err := st.RecordScan(ctx, first.Add(-time.Minute), first, res1); err != nil {
		t.Fatal(err)
	}
	res2 := &scan.Result{Rule: rule.Name, EvaluatedAt: t0, Source: "auto", Parameters: scan.Parameters{MaxAccessKeyAge: 90},
		Accounts: []scan.AccountResult{
			{AccountID: acctProd, Name: "prod", Status: scan.StatusOK, Users: 4, DurationMS: 1500},
			{AccountID: acctHostile, Name: hostileName, Status: scan.StatusOK, Users: 2, DurationMS: 900},
			{AccountID: acctFailed, Name: "legacy", Status: scan.StatusError, Error: "assume role: AccessDenied", DurationMS: 300},
		},
		Evaluations: []rule.Evaluation{
			user(acctProd, "AIDAALICE", "alice", "alice@example.com", key("AKIAALICE1", 200, lifecycle.Expired, t0), key("AKIAALICE2", 5, lifecycle.OK, t0)),
			user(acctProd, "AIDABOB", "bob", "bob@example.com", key("AKIABOB1", 120, lifecycle.Expired, t0)),
			user(acctProd, "AIDACAROL", "carol", "", key("AKIACAROL1", 85, lifecycle.Warning, t0)),
			user(acctProd, "AIDADAVE", "dave", "dave@example.com", key("AKIADAVE1", 400, lifecycle.Inactive, t0)),
			user(acctHostile, "AIDAEVE", "eve", "eve@example.com", key("AKIAEVE1", 95, lifecycle.Expired, t0)),
			user(acctHostile, "AIDAFRANK", "frank", "frank@example.com", key("AKIAFRANK1", 10, lifecycle.OK, t0)),
		}}
	res2.Evaluations[0].Keys[0].LastUsedDate = t0.Add(-2 * day)
	res2.Evaluations[0].Keys[0].LastUsedService = "s3"
	if _, err := st.RecordScan(ctx, t0.Add(-2*time.Minute), t0, res2); err != nil {
		t.Fatal(err)
	}
	err := st.Update(ctx, func(tx *store.Tx) error {
		for _, x := range []struct {
			rid, name, state, msgState string
		}{{"AIDAALICE", "alice", store.ExecutionSucceeded, store.MessageSent}, {"AIDABOB", "bob", store.ExecutionInProgress, store.MessagePending}} {
			id, err := tx.PutExecution(ctx, store.Execution{AccountID: acctProd, ResourceID: x.rid, Rule: rule.Name, UserName: x.name, State: x.state, Attempts: 1,
				Steps:     []store.Step{{Name: "Evaluate", State: store.ExecutionSucceeded}, {Name: store.PublishStep, State: x.state, Detail: "1 sent"}},
				CreatedAt: t0, UpdatedAt: t0})
			if err != nil {
				return err
			}
			item := notify.Item{AccountID: acctProd, ResourceID: x.rid, UserName: x.name, AccessKeyID: "AKIA" + strings.ToUpper(x.name) + "1", Stage: "expired"}
			body, _ := json.Marshal(notify.Message{ID: "msg-" + x.name, Kind: notify.KindFinding, Receiver: "ops", Subject: "Rotate the key of " + x.name, Items: []notify.Item{item}})
			if err := tx.Enqueue(ctx, store.Message{ID: "msg-" + x.name, Receiver: "ops", Kind: notify.KindFinding, GroupKey: "user:" + acctProd + "/" + x.rid,
				ExecutionIDs: []int64{id}, JSON: body, MaxAttempts: 5, NextAttemptAt: t0, CreatedAt: t0.Add(-time.Hour)}); err != nil {
				return err
			}
			ib, _ := json.Marshal(item)
			if err := tx.SetNotified(ctx, store.Notified{Receiver: "ops", Route: 0, ItemKey: acctProd + "/" + x.rid + "/" + item.AccessKeyID, AccountID: acctProd,
				ResourceID: x.rid, Stage: "expired", NotifiedAt: t0.Add(-time.Hour), ItemJSON: ib}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := outbox.New(st).RecordOutcomes(ctx, []notify.Outcome{{ID: "msg-alice", At: t0}}); err != nil {
		t.Fatal(err)
	}
	return st
}

// newTestServer serves st at t0 + 1h.
func newTestServer(t testing.TB, st *store.Store, opts Options) (*Server, *httptest.Server) {
	t.Helper()
	opts.Store = st
	if opts.Now == nil {
		opts.Now = func() time.Time { return t0.Add(time.Hour) }
	}
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(testWriter{t}, nil))
	}
	opts.Version = "test"
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return s, ts
}

// get fetches path with optional headers (name, value pairs).
func get(t testing.TB, ts *httptest.Server, path string, headers ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, ts.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	c := *ts.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// testWriter sends the server's log to the test's.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
