package enforce

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/keyage/keyage/internal/awsenv"
	"github.com/keyage/keyage/internal/config"
	"github.com/keyage/keyage/internal/inventory"
	"github.com/keyage/keyage/internal/notify"
	"github.com/keyage/keyage/internal/outbox"
	"github.com/keyage/keyage/internal/rule"
	"github.com/keyage/keyage/internal/sandbox/sandboxtest"
	"github.com/keyage/keyage/internal/scan"
	"github.com/keyage/keyage/internal/store"
	"github.com/keyage/keyage/internal/store/storetest"
)

type env struct {
	audit, enforce *awsenv.Assumer
	store          *store.Store
	cfg            *config.Config
}

func newEnv(t *testing.T, yaml string) *env {
	t.Helper()
	// The roles have exactly the policies "keyage iam-policy" prints for them.
	org, cfg := sandboxtest.StartConfig(t, "testdata/org.yaml", yaml)
	return &env{cfg: cfg, audit: org.Audit, enforce: org.Enforce, store: storetest.Open(t)}
}

const policy = `
rule: {maxAccessKeyAge: 90}
lifecycle: {deactivateAge: 100, deleteAge: 110, deleteAfterInactive: 7}
`

// noNotice turns the notice period off, for the tests of what comes after
// it (TestNoticeBeforeDeactivation tests the period).
const noNotice = "enforce: {noticeDays: 0}\n"

func (e *env) run(t *testing.T, apply bool, now time.Time, mod func(*Enforcer)) *Report {
	t.Helper()
	res := scan.Run(context.Background(), e.audit, []inventory.Account{{ID: "222222222222"}}, scan.Options{Policy: rule.PolicyDays(90, 0), Now: now})
	if res.Summary.AccountsFailed != 0 {
		t.Fatalf("scan failed: %+v", res.Accounts)
	}
	en := &Enforcer{Actor: Actor{Config: e.cfg, Store: e.store, Accounts: e.enforce, CallerARN: e.audit.CallerARN(), Apply: apply, Now: func() time.Time { return now }, Logger: discard()}}
	if mod != nil {
		mod(en)
	}
	rep, err := en.Run(context.Background(), res)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// keys returns "user key status" lines of the account, sorted.
func (e *env) keys(t *testing.T) []string {
	t.Helper()
	cfg, err := e.audit.ForAccount(context.Background(), "222222222222") // the enforcer may not list users
	if err != nil {
		t.Fatal(err)
	}
	client := iam.NewFromConfig(cfg)
	users, err := client.ListUsers(context.Background(), &iam.ListUsersInput{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, u := range users.Users {
		ks, err := client.ListAccessKeys(context.Background(), &iam.ListAccessKeysInput{UserName: u.UserName})
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range ks.AccessKeyMetadata {
			out = append(out, aws.ToString(u.UserName)+" "+aws.ToString(k.AccessKeyId)+" "+string(k.Status))
		}
	}
	sort.Strings(out)
	return out
}

func find(rep *Report, user string) []Action {
	return slices.DeleteFunc(slices.Clone(rep.Actions), func(a Action) bool { return a.UserName != user })
}

func TestDryRunChangesNothing(t *testing.T) {
	e := newEnv(t, policy+noNotice)
	before := e.keys(t)
	rep := e.run(t, false, time.Now(), nil)
	if got := e.keys(t); strings.Join(got, "\n") != strings.Join(before, "\n") {
		t.Errorf("dry run changed IAM:\nbefore %v\nafter  %v", before, got)
	}
	if rep.DryRun == 0 || rep.Applied != 0 {
		t.Errorf("dry run report: %+v", rep)
	}
	audit, _ := e.store.AuditRecords(context.Background(), "", "")
	if len(audit) != len(rep.Actions) || !audit[0].DryRun {
		t.Errorf("audit has %d records for %d planned actions: %+v", len(audit), len(rep.Actions), audit)
	}
}

func TestApply(t *testing.T) {
	e := newEnv(t, policy+noNotice)
	rep := e.run(t, true, time.Now(), nil)

	two := find(rep, "two-keys")
	if len(two) != 1 || two[0].Outcome != OutcomeApplied || two[0].AgeDays != 120 {
		t.Fatalf("two-keys actions = %+v, want only the 120-day key deactivated", two)
	}
	var states []string
	for _, k := range e.keys(t) {
		if strings.HasPrefix(k, "two-keys ") {
			states = append(states, strings.Fields(k)[2])
		}
	}
	sort.Strings(states)
	if strings.Join(states, ",") != "Active,Inactive" {
		t.Errorf("two-keys key states after apply = %v, want one Active (the 10-day key) and one Inactive", states)
	}
	if busy := find(rep, "busy"); len(busy) != 1 || busy[0].Outcome != OutcomeEscalated || !strings.Contains(busy[0].Detail, "recentUseGuard") {
		t.Errorf("busy (used 2h ago) = %+v, want escalated, not deactivated", busy)
	}
	if got := find(rep, "exempt-now"); len(got) != 0 {
		t.Errorf("exempt user acted on: %+v", got)
	}
	if got := find(rep, "exempt-expired"); len(got) != 1 || got[0].Outcome != OutcomeApplied {
		t.Errorf("expired exemption still exempts: %+v", got)
	}
	if got := find(rep, "tag-without-reason"); len(got) != 1 || got[0].Outcome != OutcomeApplied {
		t.Errorf("an exemption tag without a reason exempted: %+v", got)
	}
	if got := find(rep, "retired"); len(got) != 0 {
		t.Errorf("a key seen inactive for the first time was acted on at once: %+v", got)
	}
	audit, _ := e.store.AuditRecords(context.Background(), "222222222222", two[0].AccessKeyID)
	if len(audit) != 1 || audit[0].BeforeStatus != "Active" || audit[0].AfterStatus != "Inactive" || audit[0].DryRun || audit[0].CallerARN == "" {
		t.Errorf("audit of the deactivation = %+v", audit)
	}
}

func TestDeleteOnlyAfterInactivePeriod(t *testing.T) {
	e := newEnv(t, policy+noNotice)
	now := time.Now()
	if got := find(e.run(t, true, now, nil), "retired"); len(got) != 0 {
		t.Fatalf("first run deleted at once: %+v", got)
	}
	if got := find(e.run(t, true, now.Add(6*rule.Day), nil), "retired"); len(got) != 0 {
		t.Fatalf("deleted after 6 of 7 days: %+v", got)
	}
	got := find(e.run(t, true, now.Add(8*rule.Day), nil), "retired")
	if len(got) != 1 || got[0].Action != "delete" || got[0].Outcome != OutcomeApplied {
		t.Fatalf("after 8 days inactive: %+v, want deleted", got)
	}
	for _, k := range e.keys(t) {
		if strings.HasPrefix(k, "retired ") {
			t.Errorf("retired key still exists: %s", k)
		}
	}
}

func TestReactivatedKeyIsNotDeleted(t *testing.T) {
	e := newEnv(t, policy+noNotice)
	now := time.Now()
	rep := e.run(t, true, now, nil) // deactivates two-keys' old key
	old := find(rep, "two-keys")[0].AccessKeyID
	// Its owner turns it back on.
	cfg, _ := e.enforce.ForAccount(context.Background(), "222222222222")
	if _, err := iam.NewFromConfig(cfg).UpdateAccessKey(context.Background(), &iam.UpdateAccessKeyInput{UserName: aws.String("two-keys"), AccessKeyId: aws.String(old), Status: "Active"}); err != nil {
		t.Fatal(err)
	}
	e.cfg.Lifecycle.DeactivateAge = 0 // only deletion is on now
	rep = e.run(t, true, now.Add(30*rule.Day), nil)
	for _, a := range find(rep, "two-keys") {
		if a.Action == "delete" {
			t.Errorf("a key its owner reactivated was deleted: %+v", a)
		}
	}
}

func TestLimitsAndSafety(t *testing.T) {
	e := newEnv(t, policy+"enforce: {noticeDays: 0, maxActionsPerRun: 1}\n")
	rep := e.run(t, true, time.Now(), nil)
	if rep.Applied != 1 || rep.Refused == 0 {
		t.Errorf("maxActionsPerRun 1: %d applied, %d refused; want 1 and the rest refused", rep.Applied, rep.Refused)
	}

	e = newEnv(t, policy+noNotice)
	var target string
	rep = e.run(t, false, time.Now(), nil)
	for _, a := range rep.Actions {
		if a.UserName == "two-keys" {
			target = a.AccessKeyID
		}
	}
	rep = e.run(t, true, time.Now(), func(en *Enforcer) { en.CallerKeyID = target })
	if got := find(rep, "two-keys"); len(got) != 1 || got[0].Outcome != OutcomeRefused || !strings.Contains(got[0].Detail, "keyage runs with") {
		t.Errorf("the caller's own key: %+v, want refused", got)
	}

	e = newEnv(t, policy+"enforce: {noticeDays: 0, enabled: false}\n")
	before := e.keys(t)
	rep = e.run(t, true, time.Now(), nil)
	if rep.Stopped == "" || len(rep.Actions) != 0 || strings.Join(e.keys(t), ",") != strings.Join(before, ",") {
		t.Errorf("kill switch: %+v", rep)
	}
	stop := filepath.Join(t.TempDir(), "STOP")
	e = newEnv(t, policy+"enforce: {noticeDays: 0, killSwitchFile: "+stop+"}\n")
	if rep := e.run(t, false, time.Now(), nil); rep.Stopped != "" {
		t.Fatalf("stopped without the file: %s", rep.Stopped)
	}
	if err := os.WriteFile(stop, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if rep := e.run(t, true, time.Now(), nil); !strings.Contains(rep.Stopped, "STOP exists") || rep.Applied != 0 {
		t.Errorf("kill switch file: %+v", rep)
	}
}

// The per-account limit is checked before the run-wide one, so it
// triggers with its own reason.
func TestPerAccountLimit(t *testing.T) {
	e := newEnv(t, policy+"enforce: {noticeDays: 0, maxActionsPerRun: 10, maxActionsPerAccount: 1}\n")
	rep := e.run(t, true, time.Now(), nil)
	var refused []string
	for _, a := range rep.Actions {
		if a.Outcome == OutcomeRefused {
			refused = append(refused, a.Detail)
		}
	}
	if rep.Applied != 1 || len(refused) == 0 || !strings.Contains(refused[0], "maxActionsPerAccount (1) reached for account 222222222222") {
		t.Errorf("maxActionsPerAccount 1: %d applied, refused %q; want 1 applied and the rest refused for the account", rep.Applied, refused)
	}
}

// A user whose UserId is not the one scanned (the name was reused) is
// refused, with a reason that says so.
func TestUserIDMismatchRefuses(t *testing.T) {
	e := newEnv(t, policy+noNotice)
	before := e.keys(t)
	now := time.Now()
	res := scan.Run(context.Background(), e.audit, []inventory.Account{{ID: "222222222222"}}, scan.Options{Policy: rule.PolicyDays(90, 0), Now: now})
	for i := range res.Evaluations {
		if res.Evaluations[i].UserName == "two-keys" {
			res.Evaluations[i].ResourceID = "AIDAREPLACEDUSER0000" // the user scanned was deleted and its name reused
		}
	}
	en := &Enforcer{Actor: Actor{Config: e.cfg, Store: e.store, Accounts: e.enforce, Apply: true, Now: func() time.Time { return now }, Logger: discard()}}
	rep, err := en.Run(context.Background(), res)
	if err != nil {
		t.Fatal(err)
	}
	got := find(rep, "two-keys")
	if len(got) != 1 || got[0].Outcome != OutcomeRefused || !strings.Contains(got[0].Detail, "not AIDAREPLACEDUSER0000 as scanned") {
		t.Errorf("two-keys with another UserId = %+v, want refused", got)
	}
	for i, k := range e.keys(t) {
		if strings.HasPrefix(k, "two-keys ") && k != before[i] {
			t.Errorf("key of the replaced user changed: %s, was %s", k, before[i])
		}
	}
}

// An intent left without an outcome (a crash between the intent and the
// IAM call's outcome) is reconciled on start from what IAM shows.
func TestReconcileIntents(t *testing.T) {
	e := newEnv(t, policy+noNotice)
	ctx := context.Background()
	now := time.Now()
	rep := e.run(t, false, now, nil)
	var done, notDone Action
	for _, a := range rep.Actions {
		switch a.UserName {
		case "two-keys":
			done = a
		case "exempt-expired":
			notDone = a
		}
	}
	for _, a := range []Action{done, notDone} {
		if _, err := e.store.Audit(ctx, store.AuditRecord{At: now, CallerARN: "x", AccountID: a.AccountID, UserName: a.UserName, ResourceID: a.ResourceID,
			AccessKeyID: a.AccessKeyID, Action: "deactivate", Outcome: store.OutcomePending, BeforeStatus: "Active", AfterStatus: "Inactive"}); err != nil {
			t.Fatal(err)
		}
	}
	// The IAM call of the first went through before the crash.
	cfg, _ := e.enforce.ForAccount(ctx, "222222222222")
	if _, err := iam.NewFromConfig(cfg).UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("two-keys"), AccessKeyId: aws.String(done.AccessKeyID), Status: "Inactive"}); err != nil {
		t.Fatal(err)
	}
	rep = e.run(t, false, now, nil)
	if len(rep.Reconciled) != 2 {
		t.Fatalf("reconciled %+v, want the 2 pending intents", rep.Reconciled)
	}
	for _, tt := range []struct {
		key, outcome, after string
	}{
		{done.AccessKeyID, OutcomeApplied, "Inactive"},
		{notDone.AccessKeyID, OutcomeFailed, "Active"},
	} {
		recs, _ := e.store.AuditRecords(ctx, "222222222222", tt.key)
		var intent *store.AuditRecord
		for i := range recs {
			if recs[i].CallerARN == "x" {
				intent = &recs[i]
			}
		}
		if intent == nil || intent.Outcome != tt.outcome || intent.AfterStatus != tt.after || !strings.Contains(intent.Reason, "reconciled") {
			t.Errorf("intent on %s after reconcile = %+v, want %s, after %s", tt.key, intent, tt.outcome, tt.after)
		}
	}
	if pending, _ := e.store.PendingAudit(ctx); len(pending) != 0 {
		t.Errorf("still pending: %+v", pending)
	}
	states, _ := e.store.KeyStates(ctx)
	if st := states[rule.KeyRef{AccountID: "222222222222", AccessKeyID: done.AccessKeyID}]; !st.DeactivatedByKeyage {
		t.Errorf("key state of the reconciled deactivation = %+v, want deactivated by keyage", st)
	}
}

// A key already past deactivateAge when enforcement starts is noticed and
// scheduled first, and deactivated only noticeDays later.
func TestNoticeBeforeDeactivation(t *testing.T) {
	e := newEnv(t, policy+"enforce: {noticeDays: 7}\n")
	now := time.Now()
	for _, tt := range []struct {
		name    string
		at      time.Time
		outcome string
		status  string
	}{
		{"first run: scheduled", now, OutcomeScheduled, "Active"},
		{"6 days later: still scheduled", now.Add(6 * rule.Day), OutcomeScheduled, "Active"},
		{"8 days later: deactivated", now.Add(8 * rule.Day), OutcomeApplied, "Inactive"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rep := e.run(t, true, tt.at, nil)
			two := find(rep, "two-keys")
			if len(two) != 1 || two[0].Outcome != tt.outcome {
				t.Fatalf("two-keys = %+v, want %s", two, tt.outcome)
			}
			if tt.outcome == OutcomeScheduled && two[0].Deadline.Sub(now.Add(7*rule.Day)).Abs() > time.Millisecond {
				t.Errorf("deadline = %v, want %v (7 days after the first notice)", two[0].Deadline, now.Add(7*rule.Day))
			}
			for _, k := range e.keys(t) {
				if strings.HasPrefix(k, "two-keys "+two[0].AccessKeyID) && !strings.HasSuffix(k, tt.status) {
					t.Errorf("key = %s, want %s", k, tt.status)
				}
			}
			if tt.outcome == OutcomeScheduled {
				var scheduled int
				for _, n := range Notices(e.cfg, &scan.Result{}, rep, tt.at) {
					if n.Stage == "deactivation-scheduled" && n.AccessKeyID == two[0].AccessKeyID && !n.Deadline.IsZero() {
						scheduled++
					}
				}
				if scheduled != 1 {
					t.Errorf("owner notices of the schedule = %d, want 1 with its date", scheduled)
				}
			}
		})
	}
}

// stopAfter creates the kill switch file when the n-th account config is
// handed out: a stop in the middle of a run.
type stopAfter struct {
	AccountConfigs
	n    int
	file string
}

func (s *stopAfter) ForAccount(ctx context.Context, id string) (aws.Config, error) {
	if s.n--; s.n == 0 {
		if err := os.WriteFile(s.file, nil, 0o600); err != nil {
			return aws.Config{}, err
		}
	}
	return s.AccountConfigs.ForAccount(ctx, id)
}

// A stop mid-run reports what was changed before it.
func TestStopMidRunReportsChanges(t *testing.T) {
	stop := filepath.Join(t.TempDir(), "STOP")
	e := newEnv(t, policy+"enforce: {noticeDays: 0, killSwitchFile: "+stop+"}\n")
	rep := e.run(t, true, time.Now(), func(en *Enforcer) { en.Accounts = &stopAfter{AccountConfigs: en.Accounts, n: 3, file: stop} })
	if rep.Stopped == "" || rep.Applied == 0 || len(rep.Changed()) != rep.Applied || rep.Changed()[0].Before != "Active" || rep.Changed()[0].After != "Inactive" {
		t.Fatalf("stopped run = %+v, want stopped after a change (Active -> Inactive)", rep)
	}
	var inactive int
	for _, k := range e.keys(t) {
		if strings.HasSuffix(k, " Inactive") && !strings.HasPrefix(k, "retired ") {
			inactive++
		}
	}
	if inactive != rep.Applied {
		t.Errorf("%d keys deactivated in IAM, report says %d", inactive, rep.Applied)
	}
}

// Reactivate is idempotent: a second call changes and records nothing.
func TestReactivateTwice(t *testing.T) {
	e := newEnv(t, policy+noNotice)
	ctx := context.Background()
	rep := e.run(t, true, time.Now(), nil)
	two := find(rep, "two-keys")[0]
	en := &Enforcer{Actor: Actor{Config: e.cfg, Store: e.store, Accounts: e.enforce, CallerARN: "caller", Apply: true, Logger: discard()}}
	for i, want := range []string{OutcomeApplied, OutcomeUnchanged} {
		a, err := en.Reactivate(ctx, "222222222222", "two-keys", two.ResourceID, two.AccessKeyID)
		if err != nil || a.Outcome != want {
			t.Fatalf("Reactivate #%d = %+v, %v; want %s", i+1, a, err, want)
		}
	}
	recs, _ := e.store.AuditRecords(ctx, "222222222222", two.AccessKeyID)
	var reactivations []string
	for _, r := range recs {
		if r.Action == "reactivate" {
			reactivations = append(reactivations, r.Outcome+" "+r.BeforeStatus+" -> "+r.AfterStatus)
		}
	}
	if strings.Join(reactivations, ",") != "applied Inactive -> Active" {
		t.Errorf("reactivations recorded = %q, want one applied Inactive -> Active", reactivations)
	}
	if _, err := en.Reactivate(ctx, "222222222222", "two-keys", "AIDAREPLACEDUSER0000", two.AccessKeyID); err == nil || !strings.Contains(err.Error(), "a different user") {
		t.Errorf("Reactivate of a replaced user: %v, want refused", err)
	}
}

// The owner's notice of what a run did carries the key's true last use,
// whatever the scan knew of it (a credential report has no key ids).
func TestNoticesCarryLastUsed(t *testing.T) {
	e := newEnv(t, policy+noNotice)
	now := time.Now()
	rep := e.run(t, true, now, nil)
	notices := map[string]notify.Item{}
	for _, n := range Notices(e.cfg, &scan.Result{}, rep, now) {
		notices[n.UserName] = n
	}
	for _, tt := range []struct {
		user, stage string
		usedAgo     time.Duration
	}{
		{"two-keys", "deactivated", 5 * rule.Day},
		{"busy", "escalated", 2 * time.Hour},
		{"exempt-expired", "deactivated", 3 * rule.Day},
	} {
		t.Run(tt.user, func(t *testing.T) {
			n, ok := notices[tt.user]
			if !ok || n.Stage != tt.stage {
				t.Fatalf("notice for %s = %+v, want stage %s", tt.user, n, tt.stage)
			}
			if want := now.Add(-tt.usedAgo); n.LastUsed.IsZero() || n.LastUsed.Sub(want).Abs() > 2*time.Hour || n.CreateDate.IsZero() {
				t.Errorf("notice for %s: last used %v, created %v; want last used about %v", tt.user, n.LastUsed, n.CreateDate, want)
			}
		})
	}
}

// A deactivation waits for a notice that was delivered (outbox state
// SENT), not one merely queued: a notice still PENDING or FAILED keeps the
// key active past its date, and the plan says why.
func TestDeactivationWaitsForDeliveredNotice(t *testing.T) {
	now := time.Now()
	for _, tt := range []struct {
		name    string
		outcome *notify.Outcome // the notice's delivery; nil: still pending
		enqueue bool
		want    string
		detail  string
		status  string
	}{
		{name: "notice pending", enqueue: true, want: OutcomeScheduled, detail: "notice not delivered yet", status: "Active"},
		{name: "notice failed", enqueue: true, outcome: &notify.Outcome{Err: "smtp: 550 mailbox unavailable", Final: true}, want: OutcomeScheduled,
			detail: "notice failed: smtp: 550 mailbox unavailable", status: "Active"},
		{name: "notice retrying", enqueue: true, outcome: &notify.Outcome{Err: "HTTP 503", NextAttemptAt: now.Add(time.Hour)}, want: OutcomeScheduled,
			detail: "notice not delivered yet", status: "Active"},
		{name: "notice sent", enqueue: true, outcome: &notify.Outcome{}, want: OutcomeApplied, status: "Inactive"},
		{name: "no route takes notices", want: OutcomeApplied, status: "Inactive"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, policy+"enforce: {noticeDays: 7}\n")
			ctx := context.Background()
			rep := e.run(t, true, now, nil)
			if tt.enqueue {
				msg := notify.Message{ID: "notice-1", Kind: "finding", Receiver: "owner-email", GroupKey: "owner", CreatedAt: now}
				for _, n := range Notices(e.cfg, &scan.Result{}, rep, now) {
					if n.Stage == "deactivation-scheduled" {
						msg.Items = append(msg.Items, n)
					}
				}
				if len(msg.Items) == 0 {
					t.Fatalf("first run planned no deactivation notice: %+v", rep.Actions)
				}
				body, err := notify.EncodeMessage(msg)
				if err != nil {
					t.Fatal(err)
				}
				if err := e.store.Update(ctx, func(tx *store.Tx) error {
					return tx.Enqueue(ctx, store.Message{ID: msg.ID, Receiver: msg.Receiver, Kind: msg.Kind, GroupKey: msg.GroupKey, JSON: body,
						MaxAttempts: 3, NextAttemptAt: now, CreatedAt: now})
				}); err != nil {
					t.Fatal(err)
				}
				if tt.outcome != nil {
					o := *tt.outcome
					o.ID, o.At = msg.ID, now.Add(time.Minute)
					if err := outbox.New(e.store).RecordOutcomes(ctx, []notify.Outcome{o}); err != nil {
						t.Fatal(err)
					}
				}
			}
			rep = e.run(t, true, now.Add(8*rule.Day), nil)
			two := find(rep, "two-keys")
			if len(two) != 1 || two[0].Outcome != tt.want {
				t.Fatalf("8 days after the notice (%s): two-keys = %+v, want %s", tt.name, two, tt.want)
			}
			if !strings.Contains(two[0].Detail, tt.detail) {
				t.Errorf("8 days after the notice (%s): detail %q, want it to say %q", tt.name, two[0].Detail, tt.detail)
			}
			for _, k := range e.keys(t) {
				if strings.HasPrefix(k, "two-keys "+two[0].AccessKeyID) && !strings.HasSuffix(k, tt.status) {
					t.Errorf("8 days after the notice (%s): key = %s, want %s", tt.name, k, tt.status)
				}
			}
		})
	}
}
