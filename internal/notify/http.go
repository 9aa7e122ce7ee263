package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// maxErrorBody caps how much of a response body an HTTPError quotes.
const maxErrorBody = 512

// maxResponseBody caps how much of a successful response Send reads.
const maxResponseBody = 1 << 20

// UserAgent returns the User-Agent header of keyage's HTTP receivers:
// keyage/<version>, keyage/dev when version is empty.
func UserAgent(version string) string {
	if version == "" {
		version = "dev"
	}
	return "keyage/" + version
}

// NewHTTPClient returns the default client of the HTTP receivers: the
// default transport, and redirects are not followed (a redirected POST
// becomes a GET and loses its body; the 3xx is reported instead).
func NewHTTPClient() *http.Client {
	return &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// RetryableStatus reports whether an HTTP status is transient: 408
// Request Timeout, 425 Too Early, 429 Too Many Requests and every 5xx.
// Other statuses, 4xx in particular, will fail the same way again.
func RetryableStatus(code int) bool {
	switch {
	case code == http.StatusRequestTimeout, code == http.StatusTooEarly, code == http.StatusTooManyRequests:
		return true
	case code >= 500 && code <= 599:
		return true
	}
	return false
}

// HTTPError is a non-2xx answer from an HTTP receiver.
type HTTPError struct {
	// Endpoint is the redacted endpoint: scheme and host only.
	Endpoint   string
	StatusCode int
	// Body is the start of the response body, secrets redacted.
	Body string
	// RetryAfter is the server's Retry-After, 0 when absent.
	RetryAfter time.Duration
}

func (e *HTTPError) Error() string {
	s := fmt.Sprintf("%s answered HTTP %d", e.Endpoint, e.StatusCode)
	if t := http.StatusText(e.StatusCode); t != "" {
		s += " " + t
	}
	if e.Body != "" {
		s += ": " + e.Body
	}
	if e.RetryAfter > 0 {
		s += fmt.Sprintf(" (retry after %s)", e.RetryAfter)
	}
	return s
}

// Retryable reports whether the status is transient (see RetryableStatus).
func (e *HTTPError) Retryable() bool { return RetryableStatus(e.StatusCode) }

// Send performs req and returns the body of a 2xx response. Any other
// status is an *HTTPError; retry follows RetryableStatus. Network errors
// and timeouts are retryable, except TLS certificate errors, which are
// configuration problems. Errors name endpoint (pass Endpoint(url)), never
// the request URL, and have every secret redacted.
func Send(client *http.Client, req *http.Request, endpoint string, secrets ...string) (body []byte, retry bool, err error) {
	if client == nil {
		client = NewHTTPClient()
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, NetworkRetryable(err), fmt.Errorf("%s %s: %s", req.Method, endpoint, Redact(transportError(err).Error(), secrets...))
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
		if err != nil {
			return nil, true, fmt.Errorf("read response from %s: %s", endpoint, Redact(transportError(err).Error(), secrets...))
		}
		return body, false, nil
	}
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	herr := &HTTPError{
		Endpoint:   endpoint,
		StatusCode: resp.StatusCode,
		Body:       Redact(cleanBody(snippet), secrets...),
		RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()),
	}
	return nil, herr.Retryable(), herr
}

// NetworkRetryable classifies an error that came with no response:
// retryable unless it is a TLS certificate problem. Cancellation is
// retryable too: the message was not delivered and the next attempt may
// succeed.
func NetworkRetryable(err error) bool {
	var certErr *tls.CertificateVerificationError
	if errors.As(err, &certErr) {
		return false
	}
	var recErr tls.RecordHeaderError
	if errors.As(err, &recErr) {
		return false // e.g. https to a plain-HTTP port
	}
	return true
}

// transportError strips *url.Error, whose message quotes the full request
// URL, keeping the underlying cause.
func transportError(err error) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		if errors.Is(uerr.Err, context.DeadlineExceeded) || uerr.Timeout() {
			return errors.New("timeout: " + uerr.Err.Error())
		}
		return uerr.Err
	}
	return err
}

// cleanBody turns a response snippet into one printable line.
func cleanBody(b []byte) string {
	if !utf8.Valid(b) {
		b = []byte(strings.ToValidUTF8(string(b), "?"))
	}
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 200 {
		cut := 200
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	return s
}

// maxRetryAfter caps a parsed Retry-After, so that huge values neither
// overflow a time.Duration nor look small; the dispatcher decides whether
// to honour it.
const maxRetryAfter = 100 * 365 * 24 * time.Hour

// parseRetryAfter reads a Retry-After header: delay-seconds or HTTP-date,
// capped at maxRetryAfter; 0 when absent, invalid or in the past.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if isDigits(v) {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n > int64(maxRetryAfter/time.Second) {
			return maxRetryAfter // out of range: all digits, so too large
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), maxRetryAfter)
	}
	return 0
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// HTTPOptions are the options the HTTP receivers (slack, webhook, jira)
// share. Embed them in a receiver's options.
type HTTPOptions struct {
	// Timeout bounds one request; the receiver's default when zero.
	Timeout time.Duration
	// Version is keyage's version, sent as User-Agent: keyage/<Version>.
	Version string
	// Client sends the requests; NewHTTPClient() when nil.
	Client *http.Client
}

// WithDefaults returns o with a zero Timeout replaced by timeout and a nil
// Client by NewHTTPClient().
func (o HTTPOptions) WithDefaults(timeout time.Duration) HTTPOptions {
	if o.Timeout == 0 {
		o.Timeout = timeout
	}
	if o.Client == nil {
		o.Client = NewHTTPClient()
	}
	return o
}

// JSONRequest is one request of an HTTP receiver.
type JSONRequest struct {
	// Method is POST when empty.
	Method string
	URL    string
	// Body is the encoded JSON body; nil sends none (and no Content-Type).
	Body []byte
	// ContentType of Body; application/json when empty.
	ContentType string
	// Header holds further headers, set first: they cannot replace
	// Content-Type or User-Agent.
	Header http.Header
	// Endpoint describes URL in errors (see Endpoint); Secrets are
	// redacted from errors.
	Endpoint string
	Secrets  []string
}

// ParseURL parses rawURL, the value of an HTTP receiver's option field,
// for the receiver's New. Its error names the receiver and the field but
// not the URL, which may be a credential.
func ParseURL(receiver, field, rawURL string) (*url.URL, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("%s: parse %s: not a URL", receiver, field)
	}
	return u, nil
}

// DoJSON sends r within o.Timeout, with keyage's User-Agent and r's JSON
// body, and returns the body of a 2xx answer; see Send for errors and
// retry.
func (o HTTPOptions) DoJSON(ctx context.Context, r JSONRequest) (body []byte, retry bool, err error) {
	if o.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Timeout)
		defer cancel()
	}
	method := r.Method
	if method == "" {
		method = http.MethodPost
	}
	var rd io.Reader
	if r.Body != nil {
		rd = bytes.NewReader(r.Body)
	}
	req, err := http.NewRequestWithContext(ctx, method, r.URL, rd)
	if err != nil {
		return nil, false, fmt.Errorf("build request to %s: %s", r.Endpoint, Redact(err.Error(), r.Secrets...))
	}
	for name, values := range r.Header {
		req.Header[name] = values
	}
	if r.Body != nil {
		ct := r.ContentType
		if ct == "" {
			ct = "application/json"
		}
		req.Header.Set("Content-Type", ct)
	}
	req.Header.Set("User-Agent", UserAgent(o.Version))
	return Send(o.Client, req, r.Endpoint, r.Secrets...)
}

// PostJSON posts body as JSON to url; see DoJSON.
func (o HTTPOptions) PostJSON(ctx context.Context, url, endpoint string, body []byte, secrets ...string) (answer []byte, retry bool, err error) {
	return o.DoJSON(ctx, JSONRequest{URL: url, Body: body, Endpoint: endpoint, Secrets: secrets})
}

// Poster posts the messages of one HTTP receiver (Slack, a webhook) to one
// URL: the request every message shares, but for its body and headers.
type Poster struct {
	receiver string
	opts     HTTPOptions
	req      JSONRequest
}

// NewPoster returns receiver's Poster of req.URL, the value of its option
// field, with opts' defaults (timeout when opts has none). It refuses only
// a URL it cannot parse, without quoting it. Errors hide the URL and what
// secrets, given the parsed URL, lists.
func NewPoster(receiver, field string, req JSONRequest, opts HTTPOptions, timeout time.Duration, secrets func(*url.URL) []string) (*Poster, error) {
	u, err := ParseURL(receiver, field, req.URL)
	if err != nil {
		return nil, err
	}
	req.Endpoint = Endpoint(req.URL)
	req.Secrets = append([]string{req.URL}, secrets(u)...)
	return &Poster{receiver: receiver, opts: opts.WithDefaults(timeout), req: req}, nil
}

// Post posts body, with header (nil for none), as the delivery of message
// id; see DoJSON for retry.
func (p *Poster) Post(ctx context.Context, id string, body []byte, header http.Header) (retry bool, err error) {
	req := p.req
	req.Body, req.Header = body, header
	if _, retry, err = p.opts.DoJSON(ctx, req); err != nil {
		return retry, fmt.Errorf("post message %s to %s: %w", id, p.receiver, err)
	}
	return false, nil
}
