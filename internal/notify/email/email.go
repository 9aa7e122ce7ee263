// Package email sends messages as e-mail, with a plain-text and an HTML
// body, over SMTP (STARTTLS, implicit TLS, or plain to a local relay) or
// through Amazon SES v2 SendEmail.
//
// Recipients are the message's (owners resolved by the route) when it
// has any, else the configured To; Cc is always added. A message without
// any recipient is a permanent error.
package email

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/keyage/keyage/internal/notify"
)

// DefaultSubject is used when a message has no subject.
const DefaultSubject = "keyage: access keys need rotation"

// Options configure an e-mail receiver. Exactly one of SMTP and SES is
// set. Values are resolved: the caller reads the SMTP password from a
// file or the environment.
type Options struct {
	// From is the sender, "keyage@example.com" or "Keyage <keyage@example.com>".
	From string
	// To are the default recipients, used when a message has none.
	To []string
	// Cc are added to every message.
	Cc []string
	// SMTP sends through an SMTP server.
	SMTP *SMTPOptions
	// SES sends through Amazon SES v2.
	SES *SESOptions
	// Now returns the time of the Date header; time.Now when nil.
	Now func() time.Time
}

// Notifier sends messages as e-mail.
type Notifier struct {
	opts   Options
	from   *mail.Address
	to, cc []*mail.Address
	send   func(ctx context.Context, e *envelope) (retry bool, err error)
}

var _ notify.Notifier = (*Notifier)(nil)

// envelope is one rendered e-mail, ready for a transport.
type envelope struct {
	from    *mail.Address
	to, cc  []*mail.Address
	subject string
	text    string
	html    string
	msgID   string // Message-ID without angle brackets
	date    time.Time
}

// transport sends an envelope: SMTP or SES.
type transport interface {
	send(ctx context.Context, e *envelope) (retry bool, err error)
}

// New validates opts and returns a Notifier.
func New(opts Options) (*Notifier, error) {
	n := &Notifier{opts: opts}
	var errs []error
	var err error
	if opts.From == "" {
		errs = append(errs, errors.New("from: required"))
	} else if n.from, err = mail.ParseAddress(opts.From); err != nil {
		errs = append(errs, fmt.Errorf("from: %q: %w", opts.From, err))
	}
	if n.to, err = parseList("to", opts.To); err != nil {
		errs = append(errs, err)
	}
	if n.cc, err = parseList("cc", opts.Cc); err != nil {
		errs = append(errs, err)
	}
	var t transport
	var terr error
	switch {
	case opts.SMTP == nil && opts.SES == nil:
		errs = append(errs, errors.New("smtp or ses: one is required"))
	case opts.SMTP != nil && opts.SES != nil:
		errs = append(errs, errors.New("smtp and ses: set only one"))
	case opts.SMTP != nil:
		t, terr = newSMTP(*opts.SMTP)
	default:
		t, terr = newSES(*opts.SES)
	}
	if terr != nil {
		errs = append(errs, terr)
	} else if t != nil {
		n.send = t.send
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("email: %w", err)
	}
	if n.opts.Now == nil {
		n.opts.Now = time.Now
	}
	return n, nil
}

// Notify renders m and sends it to its recipients.
func (n *Notifier) Notify(ctx context.Context, m notify.Message) (retry bool, err error) {
	to := n.to
	if len(m.Recipients) > 0 {
		if to, err = parseList("recipients", m.Recipients); err != nil {
			return false, fmt.Errorf("e-mail message %s: %w", m.ID, err)
		}
	}
	if len(to) == 0 && len(n.cc) == 0 {
		return false, fmt.Errorf("e-mail message %s: no recipients (the message has none and no to: is configured)", m.ID)
	}
	e := &envelope{
		from:    n.from,
		to:      to,
		cc:      n.cc,
		subject: subject(m),
		text:    textBody(m),
		msgID:   messageID(m.ID, n.from.Address),
		date:    n.opts.Now(),
	}
	if e.html, err = htmlBody(m); err != nil {
		return false, fmt.Errorf("render e-mail message %s: %w", m.ID, err)
	}
	if retry, err := n.send(ctx, e); err != nil {
		return retry, fmt.Errorf("send e-mail message %s to %s: %w", m.ID, strings.Join(addresses(append(append([]*mail.Address{}, to...), n.cc...)), ", "), err)
	}
	return false, nil
}

func parseList(field string, list []string) ([]*mail.Address, error) {
	var out []*mail.Address
	var errs []error
	for i, s := range list {
		a, err := mail.ParseAddress(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s[%d]: %q: %w", field, i, s, err))
			continue
		}
		out = append(out, a)
	}
	return out, errors.Join(errs...)
}

func addresses(list []*mail.Address) []string {
	out := make([]string, len(list))
	for i, a := range list {
		out[i] = a.Address
	}
	return out
}

func subject(m notify.Message) string {
	if s := strings.Join(strings.Fields(m.Subject), " "); s != "" {
		return s
	}
	return DefaultSubject
}

// messageID builds a Message-ID from the message ID, stable across
// retries so that mail clients collapse duplicates.
func messageID(id, from string) string {
	domain := "keyage.invalid"
	if at := strings.LastIndexByte(from, '@'); at >= 0 && at < len(from)-1 {
		domain = from[at+1:]
	}
	clean := strings.Map(func(r rune) rune {
		if r < 0x80 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(".-_+=", r)) {
			return r
		}
		return '-'
	}, id)
	if clean == "" {
		clean = fmt.Sprintf("%d", time.Now().UnixNano())
	}
	return "keyage." + clean + "@" + domain
}
