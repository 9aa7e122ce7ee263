// Package notify defines what keyage sends and the interface every receiver
// implements: one package per integration under notify/, behind Notifier.
package notify

import (
	"context"
	"strconv"
	"time"

	"github.com/keyage/keyage/internal/template"
)

// Kinds of notification.
const (
	KindFinding  = "finding"  // a key is past the warning age or the limit
	KindResolved = "resolved" // a previously notified key was rotated or removed
	KindTest     = "test"     // keyage receivers test
	KindSummary  = "summary"  // one run's summary for a groupBy: [run] route
)

// Item is one finding: one access key of one IAM user. It is defined in
// the template leaf, which message templates see it through.
type Item = template.Item

// Message is one notification for one receiver: a group of items (one user
// by default, or everything for an owner or an account) with its rendered
// text. Receivers deliver it; they do not render it again, except for
// structured formats (Slack blocks, Jira fields, e-mail HTML) built from
// Items.
type Message struct {
	// ID is unique per message and stable across retries: receivers that
	// support idempotency keys use it.
	ID       string `json:"id"`
	Kind     string `json:"kind"`
	Receiver string `json:"receiver"`
	// GroupKey identifies the group (e.g. "user:222222222222/AIDA...").
	GroupKey string `json:"groupKey"`
	// Subject is a one-line title (e-mail subject, Jira summary).
	Subject string `json:"subject"`
	// Text is the rendered message body; by default the seed's sentence:
	// Account "222222222222" User "alice" needs to rotate their access key.
	Text string `json:"text"`
	// JSON asks for a structured body (format: json) instead of Text.
	JSON bool `json:"-"`
	// Recipients are addresses resolved by the route (owners, to:), for
	// receivers that address people (e-mail).
	Recipients []string  `json:"recipients,omitempty"`
	Items      []Item    `json:"items"`
	CreatedAt  time.Time `json:"createdAt"`
	// Summary is set on a run summary (KindSummary), whose Items are all
	// the findings still open.
	Summary *Summary `json:"summary,omitempty"`
}

// Summary is what one run changed and left open, for one route.
type Summary struct {
	// Open counts the findings still open (New included).
	Open int `json:"open"`
	// New are the findings this route had not sent before.
	New []Item `json:"new"`
	// Resolved are findings sent before whose key was rotated, deactivated
	// or deleted since.
	Resolved []Item `json:"resolved"`
	// Accounts count the open findings by account and stage, the account
	// with the most first.
	Accounts []AccountCount `json:"accounts"`
	// Worst are the oldest open keys, oldest first.
	Worst []Item `json:"worst"`
	// URL is the dashboard's list of NON_COMPLIANT users when
	// server.externalURL is set, for what a message cannot hold.
	URL string `json:"url,omitempty"`
}

// AccountCount is one account's open findings by stage.
type AccountCount struct {
	AccountID   string         `json:"accountId"`
	AccountName string         `json:"accountName,omitempty"`
	Total       int            `json:"total"`
	Stages      map[string]int `json:"stages"`
}

// Attributes are the message attributes SNS and SQS carry, so subscribers
// can filter with subscription filter policies. With several items, values
// that differ between items are left out.
func (m Message) Attributes() map[string]string {
	if len(m.Items) == 0 {
		return map[string]string{"kind": m.Kind}
	}
	first := m.Items[0]
	attrs := map[string]string{
		"kind":        m.Kind,
		"accountId":   first.AccountID,
		"userName":    first.UserName,
		"accessKeyId": first.AccessKeyID,
		"ageDays":     itoa(first.AgeDays),
		"stage":       first.Stage,
	}
	for _, it := range m.Items[1:] {
		for k, v := range map[string]string{"accountId": it.AccountID, "userName": it.UserName, "accessKeyId": it.AccessKeyID, "ageDays": itoa(it.AgeDays), "stage": it.Stage} {
			if attrs[k] != v {
				delete(attrs, k)
			}
		}
	}
	for k, v := range attrs {
		if v == "" {
			delete(attrs, k)
		}
	}
	return attrs
}

// Notifier delivers one message. retry reports whether a failure is
// transient (network, 5xx, throttling) and worth another attempt. A
// Notifier never logs: the dispatcher logs once per attempt. Errors never
// contain secrets (tokens, passwords, webhook URLs).
type Notifier interface {
	Notify(ctx context.Context, m Message) (retry bool, err error)
}

func itoa(n int) string { return strconv.Itoa(n) }
