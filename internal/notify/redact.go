package notify

import (
	"net/url"
	"strings"
)

// Redacted replaces secrets in error messages.
const Redacted = "[REDACTED]"

// Redact returns s with every non-empty secret replaced by [REDACTED],
// longest secrets first so that a secret containing another is hidden
// whole. Secrets shorter than 4 bytes are ignored: hiding every "a" would
// make messages unreadable without protecting anything.
func Redact(s string, secrets ...string) string {
	sorted := make([]string, 0, len(secrets))
	for _, sec := range secrets {
		if len(sec) >= 4 {
			sorted = append(sorted, sec)
		}
	}
	// Few secrets: insertion sort by length, longest first.
	for i := 1; i < len(sorted); i++ {
		for j := i; j > 0 && len(sorted[j]) > len(sorted[j-1]); j-- {
			sorted[j], sorted[j-1] = sorted[j-1], sorted[j]
		}
	}
	for _, sec := range sorted {
		s = strings.ReplaceAll(s, sec, Redacted)
		if esc := url.QueryEscape(sec); esc != sec {
			s = strings.ReplaceAll(s, esc, Redacted)
		}
		if esc := url.PathEscape(sec); esc != sec {
			s = strings.ReplaceAll(s, esc, Redacted)
		}
	}
	return s
}

// Endpoint describes a URL for error messages without its secrets: the
// scheme and host only, never user info, path or query (a Slack webhook
// URL's path is its credential). An unparsable URL is described as
// "invalid URL".
func Endpoint(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return "invalid URL"
	}
	if u.Scheme == "" {
		return u.Host
	}
	return u.Scheme + "://" + u.Host
}
