package cycle_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/keyage/keyage/internal/config"
	"github.com/keyage/keyage/internal/cycle"
	"github.com/keyage/keyage/internal/notify"
	"github.com/keyage/keyage/internal/sandbox"
)

// strictSlack is an incoming webhook that refuses, as Slack does, more than
// 50 blocks, section or context texts over 3,000 characters and headers
// over 150; it keeps the messages it accepts.
type strictSlack struct {
	mu       sync.Mutex
	accepted [][]byte
	refused  []string
}

func (s *strictSlack) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := slackLimits(body); err != nil {
		s.refused = append(s.refused, err.Error())
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, "invalid_blocks")
		return
	}
	s.accepted = append(s.accepted, body)
	io.WriteString(w, "ok")
}

func slackLimits(body []byte) error {
	var p struct {
		Text   string `json:"text"`
		Blocks []struct {
			Type     string `json:"type"`
			Text     *struct{ Text string }
			Elements []struct{ Text string }
		} `json:"blocks"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return err
	}
	if p.Text == "" || len([]rune(p.Text)) > 40000 {
		return fmt.Errorf("fallback text of %d characters", len([]rune(p.Text)))
	}
	if len(p.Blocks) > 50 {
		return fmt.Errorf("%d blocks, more than 50", len(p.Blocks))
	}
	for i, b := range p.Blocks {
		limit := 3000
		if b.Type == "header" {
			limit = 150
		}
		if b.Text != nil && len([]rune(b.Text.Text)) > limit {
			return fmt.Errorf("block %d (%s): text of %d characters, more than %d", i, b.Type, len([]rune(b.Text.Text)), limit)
		}
		for _, e := range b.Elements {
			if len([]rune(e.Text)) > 3000 {
				return fmt.Errorf("block %d: element of %d characters", i, len([]rune(e.Text)))
			}
		}
	}
	return nil
}

// fiftyAccounts is an organization of 50 accounts, each with four users
// whose keys are past the limit and one in the warning stage.
func fiftyAccounts() *sandbox.Fixture {
	age := func(d float64) *float64 { return &d }
	fx := &sandbox.Fixture{ManagementAccountID: "100000000000"}
	for a := range 50 {
		acct := sandbox.FixtureAccount{ID: fmt.Sprintf("%012d", 100000000000+a), Name: fmt.Sprintf("workload-%02d", a)}
		for u := range 5 {
			days := 100 + float64(a*5+u)
			if u == 4 {
				days = 85
			}
			acct.Users = append(acct.Users, sandbox.FixtureUser{Name: fmt.Sprintf("service-user-with-a-long-name-%02d", u),
				Keys: []sandbox.FixtureKey{{AgeDays: age(days), Status: "Active"}}})
		}
		fx.Accounts = append(fx.Accounts, acct)
	}
	return fx
}

// A run over 50 accounts with a groupBy: [run] route sends exactly one
// Slack message per run, within Slack's limits; a scheduled run route holds
// its summary in the outbox until the next working hour.
func TestRunSummaryFiftyAccounts(t *testing.T) {
	e := newEnvFor(t, fiftyAccounts())
	slack := &strictSlack{}
	slackSrv := httptest.NewServer(slack)
	t.Cleanup(slackSrv.Close)
	dir := e.dir
	digest := filepath.Join(dir, "digest.jsonl")
	cfg, err := config.Parse([]byte(`accounts: {organization: true}
rule: {warnAge: 80}
server: {externalURL: "https://keyage.example.com"}
receivers:
  - {name: team, slack: {webhookUrl: "`+slackSrv.URL+`/services/T0/B0/X"}}
  - {name: digest, format: json, file: {path: `+digest+`}}
routes:
  - {match: {stage: [expired, warning]}, receivers: [team], groupBy: [run], continue: true}
  - {match: {stage: [expired, warning]}, receivers: [digest], groupBy: [run], schedule: "Mon-Fri 09:00 Europe/Berlin"}
`), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// The sandbox ages keys by the real clock, so the runs do too.
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r := e.runner(t, cfg, cycle.Options{Store: e.store(t), Deliver: true})
	ctx := context.Background()
	for run := 1; run <= 2; run++ {
		now := start.Add(time.Duration(run) * time.Minute)
		rep, err := r.RunOnce(ctx, now)
		if err != nil {
			t.Fatalf("RunOnce %d: %v", run, err)
		}
		if len(slack.refused) > 0 {
			t.Fatalf("run %d: Slack refused: %v", run, slack.refused)
		}
		if len(slack.accepted) != run {
			t.Fatalf("after run %d Slack has %d messages, want %d", run, len(slack.accepted), run)
		}
		var m notify.Message
		var held int
		for _, p := range rep.Plan.Messages {
			switch p.Message.Receiver {
			case "team":
				m = p.Message
			case "digest":
				held++
				at := p.NotBefore.In(berlin)
				if at.Before(now) || at.Sub(now) > 4*24*time.Hour || at.Hour() != 9 || at.Minute() != 0 || at.Weekday() == time.Saturday || at.Weekday() == time.Sunday {
					t.Errorf("run %d at %s: digest summary not before %s, want the next weekday 09:00 in Berlin", run, now.In(berlin), at)
				}
			}
		}
		if m.Summary == nil || m.Summary.Open != 250 || len(m.Summary.Accounts) != 50 {
			var open, accounts int
			if m.Summary != nil {
				open, accounts = m.Summary.Open, len(m.Summary.Accounts)
			}
			t.Fatalf("run %d: team summary of %d open findings in %d accounts, want 250 in 50", run, open, accounts)
		}
		if wantNew := map[int]int{1: 250, 2: 0}[run]; len(m.Summary.New) != wantNew {
			t.Errorf("run %d: %d new findings, want %d", run, len(m.Summary.New), wantNew)
		}
		if wantHeld := map[int]int{1: 1, 2: 0}[run]; held != wantHeld {
			t.Errorf("run %d planned %d digest summaries, want %d (one per send time)", run, held, wantHeld)
		}
	}
	if b, err := os.ReadFile(digest); err == nil && len(b) > 0 {
		t.Errorf("the digest was sent before its send time:\n%.500s", b)
	}
	var last struct {
		Blocks []struct{ Elements []struct{ Text string } } `json:"blocks"`
	}
	json.Unmarshal(slack.accepted[1], &last)
	if n := len(last.Blocks); n == 0 || len(last.Blocks[n-1].Elements) == 0 || last.Blocks[n-1].Elements[0].Text != "<https://keyage.example.com/noncompliant|All findings on the keyage dashboard>" {
		t.Errorf("the summary does not end with the dashboard link: %s", slack.accepted[1])
	}
}
