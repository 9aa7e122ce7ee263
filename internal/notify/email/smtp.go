package email

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/keyage/keyage/internal/notify"
)

// SMTP connection security.
const (
	// StartTLS upgrades a plain connection (port 587) and refuses servers
	// that do not offer STARTTLS. The default.
	StartTLS = "starttls"
	// TLS is implicit TLS from the first byte (port 465).
	TLS = "tls"
	// None sends in clear text: allowed only to a loopback relay.
	None = "none"
)

// DefaultSMTPTimeout bounds one SMTP session when SMTPOptions.Timeout is zero.
const DefaultSMTPTimeout = 30 * time.Second

// SMTPOptions configure delivery through an SMTP server.
type SMTPOptions struct {
	Host string
	// Port defaults to 587 (starttls), 465 (tls) or 25 (none).
	Port int
	// Security is StartTLS (default), TLS or None.
	Security string
	// Username and Password authenticate with AUTH PLAIN, or LOGIN when
	// the server offers only that; no authentication when Username is
	// empty. Credentials are only sent over TLS (or to a loopback relay).
	Username string
	Password string
	// LocalName is the EHLO name; "localhost" when empty.
	LocalName string
	// TLSConfig overrides the TLS settings (e.g. RootCAs for a private
	// CA); ServerName defaults to Host.
	TLSConfig *tls.Config
	// Timeout bounds one session; DefaultSMTPTimeout when zero.
	Timeout time.Duration
}

type smtpTransport struct {
	opts SMTPOptions
	addr string
	tls  *tls.Config
}

func newSMTP(o SMTPOptions) (*smtpTransport, error) {
	var errs []error
	if o.Host == "" {
		errs = append(errs, errors.New("smtp.host: required"))
	}
	if o.Security == "" {
		o.Security = StartTLS
	}
	defaultPort := map[string]int{StartTLS: 587, TLS: 465, None: 25}[o.Security]
	switch {
	case defaultPort == 0:
		errs = append(errs, fmt.Errorf("smtp.security: %q, want %s, %s or %s", o.Security, StartTLS, TLS, None))
	case o.Security == None && o.Host != "" && !loopback(o.Host):
		errs = append(errs, fmt.Errorf("smtp.security: none is allowed only for a local relay (localhost), not %s", o.Host))
	}
	if o.Port == 0 {
		o.Port = defaultPort
	}
	if o.Port < 0 || o.Port > 65535 {
		errs = append(errs, fmt.Errorf("smtp.port: %d out of range", o.Port))
	}
	if o.Password != "" && o.Username == "" {
		errs = append(errs, errors.New("smtp.username: required with a password"))
	}
	if o.Timeout < 0 {
		errs = append(errs, errors.New("smtp.timeout: must not be negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultSMTPTimeout
	}
	if o.LocalName == "" {
		o.LocalName = "localhost"
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.TLSConfig != nil {
		cfg = o.TLSConfig.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = o.Host
	}
	return &smtpTransport{opts: o, addr: net.JoinHostPort(o.Host, strconv.Itoa(o.Port)), tls: cfg}, nil
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// send delivers e in one SMTP session. 4xx replies, network errors and
// timeouts are retryable; 5xx replies (authentication failed, recipient
// refused) and TLS certificate errors are not.
func (t *smtpTransport) send(ctx context.Context, e *envelope) (bool, error) {
	msg, err := buildMIME(e)
	if err != nil {
		return false, fmt.Errorf("build MIME message: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, t.opts.Timeout)
	defer cancel()
	c, err := t.dial(ctx)
	if err != nil {
		return t.classify(err)
	}
	defer c.Close()
	if err := t.auth(c); err != nil {
		return t.classify(err)
	}
	rcpts := append(addresses(e.to), addresses(e.cc)...)
	if err := c.SendMail(e.from.Address, rcpts, bytes.NewReader(msg)); err != nil {
		return t.classify(err)
	}
	if err := c.Quit(); err != nil {
		// The message was accepted at the final dot: a failing QUIT does
		// not make it undelivered.
		return false, nil
	}
	return false, nil
}

// dial connects, says EHLO and sets up TLS as configured. The connection
// is closed when ctx ends, which aborts any command in flight.
func (t *smtpTransport) dial(ctx context.Context) (*smtp.Client, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", t.addr)
	if err != nil {
		return nil, err
	}
	if deadline, ok := ctx.Deadline(); ok {
		conn.SetDeadline(deadline)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	fail := func(err error) (*smtp.Client, error) {
		stop()
		conn.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	var c *smtp.Client
	switch t.opts.Security {
	case TLS:
		tc := tls.Client(conn, t.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			return fail(err)
		}
		c = smtp.NewClient(tc)
	case StartTLS:
		// NewClientStartTLS greets as "localhost" before the upgrade; the
		// configured name is sent after it.
		c, err = smtp.NewClientStartTLS(conn, t.tls)
		if err != nil {
			if strings.Contains(err.Error(), "doesn't support STARTTLS") {
				// go-smtp's plain error: a server configuration problem.
				err = errPermanent{errors.New("server does not offer STARTTLS")}
			}
			return fail(fmt.Errorf("start TLS: %w", err))
		}
	default:
		c = smtp.NewClient(conn)
	}
	c.CommandTimeout = t.opts.Timeout
	c.SubmissionTimeout = t.opts.Timeout
	if err := c.Hello(t.opts.LocalName); err != nil {
		c.Close()
		return fail(err)
	}
	return c, nil
}

func (t *smtpTransport) auth(c *smtp.Client) error {
	if t.opts.Username == "" {
		return nil
	}
	if _, isTLS := c.TLSConnectionState(); !isTLS && !loopback(t.opts.Host) {
		return errPermanent{errors.New("refusing to send credentials over an unencrypted connection")}
	}
	switch {
	case c.SupportsAuth(sasl.Plain):
		return c.Auth(sasl.NewPlainClient("", t.opts.Username, t.opts.Password))
	case c.SupportsAuth(sasl.Login):
		return c.Auth(sasl.NewLoginClient(t.opts.Username, t.opts.Password))
	}
	return errPermanent{errors.New("server offers neither AUTH PLAIN nor AUTH LOGIN")}
}

// errPermanent marks an error that will not go away on retry.
type errPermanent struct{ error }

func (e errPermanent) Unwrap() error { return e.error }

func (t *smtpTransport) classify(err error) (bool, error) {
	retry := true
	var smtpErr *smtp.SMTPError
	var perm errPermanent
	switch {
	case errors.As(err, &smtpErr):
		retry = smtpErr.Temporary()
	case errors.As(err, &perm):
		retry = false
	default:
		retry = notify.NetworkRetryable(err)
	}
	msg := notify.Redact(err.Error(), notify.CredentialSecrets(t.opts.Username, t.opts.Password)...)
	return retry, fmt.Errorf("smtp %s: %s", t.addr, msg)
}
