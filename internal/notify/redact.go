package notify

import (
	"encoding/base64"
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
		// SASL LOGIN sends the secret alone in base64.
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if b := enc.EncodeToString([]byte(sec)); len(b) >= 4 {
				s = strings.ReplaceAll(s, b, Redacted)
			}
		}
	}
	return s
}

// CredentialSecrets returns the forms in which a protocol sends a user
// name and its secret, for Redact: the secret, HTTP Basic's
// base64(user:secret), SASL PLAIN's base64(\0user\0secret) (and with the
// user as authorization identity), and the URL user info user:secret. A
// server that echoes what it received cannot leak any of them. Nil when
// secret is empty.
func CredentialSecrets(user, secret string) []string {
	if secret == "" {
		return nil
	}
	out := []string{secret}
	for _, raw := range []string{user + ":" + secret, "\x00" + user + "\x00" + secret, user + "\x00" + user + "\x00" + secret} {
		out = append(out, base64.StdEncoding.EncodeToString([]byte(raw)), base64.RawStdEncoding.EncodeToString([]byte(raw)))
	}
	info := url.UserPassword(user, secret).String()
	out = append(out, info)
	if _, pass, ok := strings.Cut(info, ":"); ok && pass != secret {
		out = append(out, pass)
	}
	return out
}

// URLSecrets returns what of a URL Redact must hide: the URL, and, when it
// embeds credentials (https://user:secret@host), their forms as
// CredentialSecrets gives them (Go's HTTP client sends them as Basic auth).
func URLSecrets(rawURL string) []string {
	out := []string{rawURL}
	if u, err := url.Parse(rawURL); err == nil && u.User != nil {
		pass, _ := u.User.Password()
		out = append(out, CredentialSecrets(u.User.Username(), pass)...)
	}
	return out
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
