package slack

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/keyage/keyage/internal/notify"
)

// stageOrder lists stages in the order a summary counts them.
var stageOrder = []string{"expired", "warning", "inactive", "deactivation-scheduled", "deactivated", "deleted", "escalated", "ok"}

// summaryBlocks lays out a run summary: a header, the counts, then one
// section each for new keys, open findings by account, the oldest keys and
// resolved keys. A section that does not fit Slack's 3,000 characters
// ends with "and N more", and the dashboard link (when known) closes the
// message; at most a dozen blocks, far below Slack's 50.
func summaryBlocks(m notify.Message) []Block {
	s := m.Summary
	var blocks []Block
	if h := oneLine(m.Subject); h != "" {
		blocks = append(blocks, Block{Type: "header", Text: &Text{Type: "plain_text", Text: truncate(h, maxHeaderText), Emoji: true}})
	}
	blocks = append(blocks, Block{Type: "section", Text: &Text{Type: "mrkdwn", Text: fmt.Sprintf(
		"*%d* open access key findings in *%d* accounts: *%d* new, *%d* resolved.", s.Open, len(s.Accounts), len(s.New), len(s.Resolved))}})
	cut := false
	section := func(title string, lines []string) {
		if len(lines) == 0 {
			return
		}
		text, more := fitLines("*"+title+"*", lines, maxSectionText)
		cut = cut || more > 0
		blocks = append(blocks, Block{Type: "section", Text: &Text{Type: "mrkdwn", Text: text}})
	}
	section("New", keyLines(s.New))
	var accounts []string
	for _, a := range s.Accounts {
		accounts = append(accounts, accountLine(a))
	}
	section("Open by account", accounts)
	section("Oldest keys", keyLines(s.Worst))
	section("Resolved", keyLines(s.Resolved))
	switch {
	case s.URL != "" && !strings.ContainsAny(s.URL, "|<> "):
		blocks = append(blocks, Block{Type: "context", Elements: []Text{{Type: "mrkdwn", Text: "<" + s.URL + "|All findings on the keyage dashboard>"}}})
	case cut:
		blocks = append(blocks, Block{Type: "context", Elements: []Text{{Type: "mrkdwn", Text: "Some lists were cut to fit Slack; set server.externalURL to link to the dashboard."}}})
	}
	return blocks
}

// fitLines joins title and lines with newlines in at most max characters;
// lines that do not fit are replaced by "…and N more", and more says how
// many.
func fitLines(title string, lines []string, max int) (text string, more int) {
	for i, l := range lines {
		lines[i] = truncate(l, max/4)
	}
	if all := title + "\n" + strings.Join(lines, "\n"); utf8.RuneCountInString(all) <= max {
		return all, 0
	}
	var b strings.Builder
	b.WriteString(title)
	n := utf8.RuneCountInString(title)
	for i, l := range lines {
		// keep room for the "and N more" line that will follow
		need := 1 + utf8.RuneCountInString(l) + utf8.RuneCountInString(fmt.Sprintf("\n…and %d more", len(lines)-i-1))
		if n+need > max {
			more = len(lines) - i
			fmt.Fprintf(&b, "\n…and %d more", more)
			return b.String(), more
		}
		b.WriteString("\n" + l)
		n += 1 + utf8.RuneCountInString(l)
	}
	return b.String(), 0 // not reached: the lines did not all fit
}

func keyLines(items []notify.Item) []string {
	out := make([]string, len(items))
	for i, it := range items {
		key := "(no key id)"
		if it.AccessKeyID != "" {
			key = "`" + escape(it.AccessKeyID) + "`"
		}
		out[i] = fmt.Sprintf("• %s %s %s: %d days, %s", accountLabel(it.AccountID, it.AccountName), escape(it.UserName), key, it.AgeDays, escape(it.Stage))
	}
	return out
}

func accountLine(a notify.AccountCount) string {
	var parts []string
	for _, st := range stageOrder {
		if n := a.Stages[st]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, st))
		}
	}
	return fmt.Sprintf("• %s: *%d* (%s)", accountLabel(a.AccountID, a.AccountName), a.Total, strings.Join(parts, ", "))
}

func accountLabel(id, name string) string {
	if name == "" {
		return escape(id)
	}
	return escape(id) + " (" + escape(name) + ")"
}
