// Package webhook delivers messages as a signed JSON POST to an HTTP
// endpoint.
//
// The body is the stable notify.Payload. With a secret, the header
// X-Keyage-Signature carries "sha256=" and the hex HMAC-SHA256 of the
// exact body bytes, as GitHub does; X-Keyage-Delivery carries the message
// ID, stable across retries, for the receiver to de-duplicate.
package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/keyage/keyage/internal/notify"
)

// Header names set by the webhook receiver.
const (
	HeaderSignature = "X-Keyage-Signature"
	HeaderDelivery  = "X-Keyage-Delivery"
)

// DefaultTimeout bounds one delivery when Options.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// Options configure a webhook receiver. Values are resolved: secrets are
// read from files or the environment by the caller.
type Options struct {
	// URL is the http or https endpoint. It may carry a token in its path
	// or query; errors show only its scheme and host.
	URL string
	// Secret, when set, signs the body (X-Keyage-Signature).
	Secret string
	// Headers are added to every request (e.g. an Authorization header).
	// They cannot replace Content-Type, User-Agent or the X-Keyage-*
	// headers. Their values never appear in errors.
	Headers map[string]string
	// HTTPOptions: Timeout bounds one delivery (DefaultTimeout when zero).
	notify.HTTPOptions
}

// Notifier posts messages to one webhook endpoint.
type Notifier struct {
	secret  string
	headers map[string]string
	post    *notify.Poster
}

var _ notify.Notifier = (*Notifier)(nil)

// New returns a Notifier for opts. config is the one validator of a
// webhook's URL, headers and timeout (notify/receivers checks a URL read
// from the environment or a file with config's rule); New only refuses a
// URL it cannot parse, without quoting it.
func New(opts Options) (*Notifier, error) {
	post, err := notify.NewPoster("webhook", "url", notify.JSONRequest{URL: opts.URL}, opts.HTTPOptions, DefaultTimeout, func(u *url.URL) []string {
		secrets := []string{opts.Secret}
		if u.RawQuery != "" {
			secrets = append(secrets, u.RawQuery)
		}
		if u.User != nil {
			secrets = append(secrets, u.User.String())
			secrets = append(secrets, notify.URLSecrets(opts.URL)[1:]...)
		}
		for _, v := range opts.Headers {
			secrets = append(secrets, v)
		}
		return secrets
	})
	if err != nil {
		return nil, err
	}
	return &Notifier{secret: opts.Secret, headers: opts.Headers, post: post}, nil
}

// Sign returns the X-Keyage-Signature value of body under secret:
// "sha256=" and the hex HMAC-SHA256.
func Sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Notify posts m's JSON payload. 408, 429, 5xx and network errors are
// retryable; other statuses are not.
func (n *Notifier) Notify(ctx context.Context, m notify.Message) (retry bool, err error) {
	body, err := notify.MarshalPayload(m)
	if err != nil {
		return false, fmt.Errorf("encode webhook payload of message %s: %w", m.ID, err)
	}
	h := http.Header{}
	for name, value := range n.headers {
		h.Set(name, value)
	}
	h.Set(HeaderDelivery, m.ID)
	if n.secret != "" {
		h.Set(HeaderSignature, Sign(n.secret, body))
	}
	return n.post.Post(ctx, m.ID, body, h)
}
