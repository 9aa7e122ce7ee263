// Package slack posts messages to a Slack incoming webhook as Block Kit:
// a header with the subject, a section with the text, one section of
// fields per access key, and the plain text as the notification fallback.
package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/keyage/keyage/internal/notify"
)

// Slack's limits (https://api.slack.com/reference/block-kit/blocks).
const (
	MaxBlocks        = 50
	maxHeaderText    = 150
	maxSectionText   = 3000
	maxFieldText     = 2000
	maxFallbackText  = 40000
	DefaultTimeout   = 10 * time.Second
	lastUsedDateForm = "2006-01-02"
)

// Options configure a Slack receiver. Values are resolved: the caller
// reads the webhook URL from a file or the environment.
type Options struct {
	// WebhookURL is the incoming webhook URL. It is a credential: errors
	// show only its scheme and host.
	WebhookURL string
	// Channel, Username and IconEmoji override the webhook's defaults
	// where Slack allows it (legacy webhooks); empty keeps them.
	Channel   string
	Username  string
	IconEmoji string
	// HTTPOptions: Timeout bounds one delivery (DefaultTimeout when zero).
	notify.HTTPOptions
}

// Notifier posts messages to one Slack incoming webhook.
type Notifier struct {
	opts Options
	post *notify.Poster
}

var _ notify.Notifier = (*Notifier)(nil)

// New returns a Notifier for opts. config is the one validator of the
// webhook URL (notify/receivers checks one read from the environment or a
// file with config's rule); New only refuses a URL it cannot parse.
func New(opts Options) (*Notifier, error) {
	req := notify.JSONRequest{URL: opts.WebhookURL, ContentType: "application/json; charset=utf-8"}
	post, err := notify.NewPoster("slack", "webhookUrl", req, opts.HTTPOptions, DefaultTimeout, func(u *url.URL) []string {
		return []string{u.EscapedPath(), u.Path, u.RawQuery}
	})
	if err != nil {
		return nil, err
	}
	return &Notifier{opts: opts, post: post}, nil
}

// Notify posts m. Slack answers 200 "ok"; 429 (with Retry-After) and 5xx
// are retryable, other 4xx (invalid_payload, no_service,
// channel_not_found...) are not.
func (n *Notifier) Notify(ctx context.Context, m notify.Message) (retry bool, err error) {
	body, err := json.Marshal(n.Payload(m))
	if err != nil {
		return false, fmt.Errorf("encode slack payload of message %s: %w", m.ID, err)
	}
	return n.post.Post(ctx, m.ID, body, nil)
}

// Payload is the JSON body of an incoming-webhook request.
type Payload struct {
	Text      string  `json:"text"`
	Channel   string  `json:"channel,omitempty"`
	Username  string  `json:"username,omitempty"`
	IconEmoji string  `json:"icon_emoji,omitempty"`
	Blocks    []Block `json:"blocks"`
}

// Block is a Block Kit layout block: header, section or context.
type Block struct {
	Type     string `json:"type"`
	Text     *Text  `json:"text,omitempty"`
	Fields   []Text `json:"fields,omitempty"`
	Elements []Text `json:"elements,omitempty"`
}

// Text is a Block Kit text object.
type Text struct {
	Type  string `json:"type"` // plain_text or mrkdwn
	Text  string `json:"text"`
	Emoji bool   `json:"emoji,omitempty"`
}

// Payload builds the webhook body for m: a header (the subject), a
// section (the text), one fields section per item, within Slack's 50
// blocks: past that, the last block says "and N more". A run summary has
// its own layout (summaryBlocks).
func (n *Notifier) Payload(m notify.Message) Payload {
	p := Payload{
		Text:      truncate(escape(fallback(m)), maxFallbackText),
		Channel:   n.opts.Channel,
		Username:  n.opts.Username,
		IconEmoji: n.opts.IconEmoji,
	}
	if m.Summary != nil {
		p.Blocks = summaryBlocks(m)
		return p
	}
	if s := oneLine(m.Subject); s != "" {
		p.Blocks = append(p.Blocks, Block{Type: "header", Text: &Text{Type: "plain_text", Text: truncate(s, maxHeaderText), Emoji: true}})
	}
	if m.Text != "" {
		p.Blocks = append(p.Blocks, Block{Type: "section", Text: &Text{Type: "mrkdwn", Text: truncate(escape(m.Text), maxSectionText)}})
	}
	budget := MaxBlocks - len(p.Blocks)
	items := m.Items
	more := 0
	if len(items) > budget {
		more = len(items) - (budget - 1)
		items = items[:budget-1]
	}
	for _, it := range items {
		p.Blocks = append(p.Blocks, Block{Type: "section", Fields: fields(it)})
	}
	if more > 0 {
		p.Blocks = append(p.Blocks, Block{Type: "context", Elements: []Text{{Type: "mrkdwn", Text: fmt.Sprintf("and %d more", more)}}})
	}
	return p
}

// fields describes one key: account, user, key id, age, stage, last used.
func fields(it notify.Item) []Text {
	account := escape(it.AccountID)
	if it.AccountName != "" {
		account += " (" + escape(it.AccountName) + ")"
	}
	user := escape(it.UserName)
	if it.ConsoleURL != "" && !strings.ContainsAny(it.ConsoleURL, "|<> ") {
		user = "<" + it.ConsoleURL + "|" + user + ">"
	}
	key := "(user)"
	if it.AccessKeyID != "" {
		key = "`" + escape(it.AccessKeyID) + "`"
	}
	age := fmt.Sprintf("%d days", it.AgeDays)
	if it.MaxAge > 0 {
		age += fmt.Sprintf(" (limit %d)", it.MaxAge)
	}
	lastUsed := "never"
	if !it.LastUsed.IsZero() {
		lastUsed = it.LastUsed.UTC().Format(lastUsedDateForm)
		if it.LastService != "" {
			lastUsed += " (" + escape(it.LastService) + ")"
		}
	}
	stage := escape(it.Stage)
	if stage == "" {
		stage = "-"
	}
	field := func(label, value string) Text {
		return Text{Type: "mrkdwn", Text: truncate("*"+label+"*\n"+value, maxFieldText)}
	}
	return []Text{
		field("Account", account),
		field("User", user),
		field("Access key", key),
		field("Age", age),
		field("Stage", stage),
		field("Last used", lastUsed),
	}
}

func fallback(m notify.Message) string {
	if m.Text != "" {
		return m.Text
	}
	return m.Subject
}

// escape applies Slack's three control-character escapes.
func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// truncate cuts s to at most max characters, ending with an ellipsis.
func truncate(s string, max int) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	r := []rune(s)
	return string(r[:max-1]) + "…"
}
