package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/keyage/keyage/internal/notify"
)

func TestFitLines(t *testing.T) {
	line := strings.Repeat("x", 9) // 10 characters with its newline
	lines := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = line
		}
		return out
	}
	for _, tt := range []struct {
		name     string
		lines    int
		max      int
		wantMore int
	}{
		{"all fit", 3, 100, 0},
		{"exactly fit", 5, 5 + 50, 0},
		{"cut, with room for the more line", 20, 100, 12},
		{"nothing fits but the title", 5, 20, 5},
	} {
		t.Run(tt.name, func(t *testing.T) {
			text, more := fitLines("title", lines(tt.lines), tt.max)
			if more != tt.wantMore {
				t.Errorf("fitLines(%d lines, max %d) more = %d, want %d\n%s", tt.lines, tt.max, more, tt.wantMore, text)
			}
			if n := len([]rune(text)); n > tt.max {
				t.Errorf("fitLines(%d lines, max %d) = %d characters", tt.lines, tt.max, n)
			}
			if tt.wantMore > 0 && !strings.HasSuffix(text, fmt.Sprintf("…and %d more", tt.wantMore)) {
				t.Errorf("fitLines(%d lines, max %d) does not end with the count:\n%s", tt.lines, tt.max, text)
			}
		})
	}
}

// A summary of 300 accounts and 2,000 keys stays within Slack's limits, the
// fake webhook accepts it, and the lists end with the dashboard link.
func TestNotifySummaryWithinLimits(t *testing.T) {
	for _, tt := range []struct {
		name     string
		url      string
		wantLast string
	}{
		{"with the dashboard", "https://keyage.example.com/noncompliant", "<https://keyage.example.com/noncompliant|All findings on the keyage dashboard>"},
		{"without it", "", "Some lists were cut to fit Slack; set server.externalURL to link to the dashboard."},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, srv := newServer(t)
			n, err := New(Options{WebhookURL: srv.URL + hookPath})
			if err != nil {
				t.Fatal(err)
			}
			s := &notify.Summary{URL: tt.url}
			var items []notify.Item
			for a := range 300 {
				acct := fmt.Sprintf("%012d", 100000000000+a)
				s.Accounts = append(s.Accounts, notify.AccountCount{AccountID: acct, AccountName: "account <" + acct + ">", Total: 7, Stages: map[string]int{"expired": 5, "warning": 2}})
				for k := range 7 {
					items = append(items, notify.Item{AccountID: acct, UserName: fmt.Sprintf("user-%d", k), AccessKeyID: fmt.Sprintf("AKIA%016d", a*10+k), AgeDays: 90 + k, Stage: "expired"})
				}
			}
			s.Open, s.New, s.Resolved, s.Worst = len(items), items, items[:500], items[:10]
			m := notify.Message{ID: "sum1", Kind: notify.KindSummary, Subject: "keyage: 2100 open access key findings", Text: strings.Repeat("long text\n", 10000), Items: items, Summary: s}
			if retry, err := n.Notify(context.Background(), m); err != nil || retry {
				t.Fatalf("Notify(summary) = %v, %v, want false, nil", retry, err)
			}
			var p Payload
			if err := json.Unmarshal(f.bodies[0], &p); err != nil {
				t.Fatal(err)
			}
			if len(p.Blocks) > 10 {
				t.Errorf("summary has %d blocks, want at most 10", len(p.Blocks))
			}
			if got := p.Blocks[len(p.Blocks)-1].Elements[0].Text; got != tt.wantLast {
				t.Errorf("last block = %q, want %q", got, tt.wantLast)
			}
			if !strings.Contains(p.Blocks[2].Text.Text, "…and ") {
				t.Errorf("the New section was not cut:\n%s", p.Blocks[2].Text.Text)
			}
		})
	}
}
