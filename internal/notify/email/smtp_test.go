package email

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/google/go-cmp/cmp"

	"github.com/keyage/keyage/internal/notify/notifytest"
)

const (
	smtpUser = "keyage"
	smtpPass = "smtp-pa55word-value"
)

// received is one mail accepted by the test server.
type received struct {
	from  string
	rcpts []string
	data  []byte
	tls   bool
	auth  string // mechanism:user, "" without AUTH
}

// mailServer is an in-process SMTP server (github.com/emersion/go-smtp)
// that records what it receives.
type mailServer struct {
	mechs      []string // offered AUTH mechanisms
	rcptReject *smtp.SMTPError

	mu   sync.Mutex
	mail []received
}

func (s *mailServer) NewSession(c *smtp.Conn) (smtp.Session, error) {
	_, isTLS := c.TLSConnectionState()
	return &session{srv: s, cur: received{tls: isTLS}, conn: c}, nil
}

type session struct {
	srv  *mailServer
	conn *smtp.Conn
	cur  received
}

func (s *session) AuthMechanisms() []string { return s.srv.mechs }

func (s *session) Auth(mech string) (sasl.Server, error) {
	check := func(user, pass string) error {
		if user != smtpUser || pass != smtpPass {
			return smtp.ErrAuthFailed
		}
		s.cur.auth = mech + ":" + user
		return nil
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(identity, user, pass string) error { return check(user, pass) }), nil
	case sasl.Login:
		return &loginServer{check: check}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if len(s.srv.mechs) > 0 && s.cur.auth == "" {
		return smtp.ErrAuthRequired
	}
	s.cur.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.srv.rcptReject != nil {
		return s.srv.rcptReject
	}
	s.cur.rcpts = append(s.cur.rcpts, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, s.cur.tls = s.conn.TLSConnectionState()
	s.cur.data = b
	s.srv.mu.Lock()
	s.srv.mail = append(s.srv.mail, s.cur)
	s.srv.mu.Unlock()
	return nil
}

func (s *session) Reset()        { s.cur.from, s.cur.rcpts, s.cur.data = "", nil, nil }
func (s *session) Logout() error { return nil }

// loginServer is the server side of AUTH LOGIN, which go-sasl does not
// provide.
type loginServer struct {
	check      func(user, pass string) error
	step       int
	user       string
	challenges [2]string
}

func (l *loginServer) Next(response []byte) ([]byte, bool, error) {
	switch l.step {
	case 0:
		l.step++
		if response != nil { // initial response carries the user name
			l.user = string(response)
			l.step++
			return []byte("Password:"), false, nil
		}
		return []byte("Username:"), false, nil
	case 1:
		l.user = string(response)
		l.step++
		return []byte("Password:"), false, nil
	default:
		return nil, true, l.check(l.user, string(response))
	}
}

// testCert returns a self-signed certificate for 127.0.0.1 and localhost
// and a pool that trusts it.
func testCert(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "keyage test SMTP"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// startServer runs ms on a loopback port: implicit TLS when implicitTLS,
// otherwise plain with STARTTLS offered when cert is not nil.
func startServer(t *testing.T, ms *mailServer, cert *tls.Certificate, implicitTLS bool) int {
	t.Helper()
	s := smtp.NewServer(ms)
	s.Domain = "localhost"
	s.ReadTimeout, s.WriteTimeout = 5*time.Second, 5*time.Second
	s.ErrorLog = silentLogger{}
	var l net.Listener
	var err error
	l, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if cert != nil {
		s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{*cert}}
		if implicitTLS {
			l = tls.NewListener(l, s.TLSConfig)
		}
	}
	go s.Serve(l)
	t.Cleanup(func() { s.Close() })
	return l.Addr().(*net.TCPAddr).Port
}

type silentLogger struct{}

func (silentLogger) Printf(string, ...any) {}
func (silentLogger) Println(...any)        {}

func fixedNow() time.Time { return time.Date(2026, 6, 1, 14, 30, 0, 0, time.UTC) }

// parsed is a received mail split into headers and its two parts.
type parsed struct {
	header     mail.Header
	types      []string
	text, html string
}

func parseMail(t *testing.T, data []byte) parsed {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("received mail does not parse: %v\n%s", err, data)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type = %q, want multipart/alternative", msg.Header.Get("Content-Type"))
	}
	p := parsed{header: msg.Header}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		part, err := mr.NextPart() // decodes quoted-printable
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(part)
		ct := part.Header.Get("Content-Type")
		p.types = append(p.types, ct)
		switch {
		case strings.HasPrefix(ct, "text/plain"):
			p.text = string(b)
		case strings.HasPrefix(ct, "text/html"):
			p.html = string(b)
		}
	}
	return p
}

func TestSMTPStartTLSWithAuthPlain(t *testing.T) {
	cert, pool := testCert(t)
	ms := &mailServer{mechs: []string{sasl.Plain, sasl.Login}}
	port := startServer(t, ms, &cert, false)
	n, err := New(Options{
		From: "Keyage <keyage@example.com>",
		To:   []string{"security@example.com"},
		Cc:   []string{"Audit Team <audit@example.com>"},
		SMTP: &SMTPOptions{Host: "127.0.0.1", Port: port, Username: smtpUser, Password: smtpPass, TLSConfig: &tls.Config{RootCAs: pool}},
		Now:  fixedNow,
	})
	if err != nil {
		t.Fatal(err)
	}
	m := notifytest.Message()
	m.Subject = "Clé d'accès: rotation nécessaire"
	m.Items[0].UserName = `<script>alert("x")</script>`
	if retry, err := n.Notify(context.Background(), m); err != nil || retry {
		t.Fatalf("Notify = %v, %v, want false, nil", retry, err)
	}
	if len(ms.mail) != 1 {
		t.Fatalf("server received %d mails, want 1", len(ms.mail))
	}
	got := ms.mail[0]
	if !got.tls {
		t.Error("mail was sent without TLS")
	}
	if got.auth != "PLAIN:keyage" {
		t.Errorf("auth = %q, want PLAIN:keyage", got.auth)
	}
	if got.from != "keyage@example.com" {
		t.Errorf("MAIL FROM = %q", got.from)
	}
	if diff := cmp.Diff([]string{"security@example.com", "audit@example.com"}, got.rcpts); diff != "" {
		t.Errorf("RCPT TO (-want +got):\n%s", diff)
	}
	p := parseMail(t, got.data)
	dec := new(mime.WordDecoder)
	subj, _ := dec.DecodeHeader(p.header.Get("Subject"))
	for name, want := range map[string]string{
		"From":           `"Keyage" <keyage@example.com>`,
		"To":             "security@example.com",
		"Cc":             `"Audit Team" <audit@example.com>`,
		"Date":           "Mon, 01 Jun 2026 14:30:00 +0000",
		"Message-ID":     "<keyage.msg-0001@example.com>",
		"MIME-Version":   "1.0",
		"Auto-Submitted": "auto-generated",
	} {
		if v := p.header.Get(name); v != want {
			t.Errorf("header %s = %q, want %q", name, v, want)
		}
	}
	if subj != m.Subject {
		t.Errorf("Subject = %q (raw %q), want %q", subj, p.header.Get("Subject"), m.Subject)
	}
	if diff := cmp.Diff([]string{"text/plain; charset=utf-8", "text/html; charset=utf-8"}, p.types); diff != "" {
		t.Errorf("parts (-want +got):\n%s", diff)
	}
	for _, want := range []string{m.Text, "access key AKIAALICEEXAMPLE0001", "Age: 120 days (limit 90). Stage: expired. Last used: 2026-05-29 (s3). Deadline: 2026-05-02."} {
		if !strings.Contains(p.text, want) {
			t.Errorf("text part does not contain %q:\n%s", want, p.text)
		}
	}
	for _, want := range []string{"Account &#34;222222222222&#34; User &#34;alice&#34; needs to rotate their access key.", "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;", "<code>AKIAALICEEXAMPLE0001</code>", `<a href="https://console.aws.amazon.com/iam/home#/users/alice">`} {
		if !strings.Contains(p.html, want) {
			t.Errorf("HTML part does not contain %q:\n%s", want, p.html)
		}
	}
	if strings.Contains(p.html, "<script>") {
		t.Error("HTML part contains an unescaped <script>")
	}
}

func TestSMTPImplicitTLSWithAuthLogin(t *testing.T) {
	cert, pool := testCert(t)
	ms := &mailServer{mechs: []string{sasl.Login}}
	port := startServer(t, ms, &cert, true)
	n, err := New(Options{
		From: "keyage@example.com",
		SMTP: &SMTPOptions{Host: "localhost", Port: port, Security: TLS, Username: smtpUser, Password: smtpPass, TLSConfig: &tls.Config{RootCAs: pool}},
	})
	if err != nil {
		t.Fatal(err)
	}
	m := notifytest.Message()
	m.Recipients = []string{"alice@example.com", "Bob <bob@example.com>"}
	if retry, err := n.Notify(context.Background(), m); err != nil || retry {
		t.Fatalf("Notify = %v, %v, want false, nil", retry, err)
	}
	got := ms.mail[0]
	if !got.tls || got.auth != "LOGIN:keyage" {
		t.Errorf("tls %v, auth %q; want TLS and LOGIN:keyage", got.tls, got.auth)
	}
	if diff := cmp.Diff([]string{"alice@example.com", "bob@example.com"}, got.rcpts); diff != "" {
		t.Errorf("RCPT TO from Message.Recipients (-want +got):\n%s", diff)
	}
	if to := parseMail(t, got.data).header.Get("To"); to != `alice@example.com, "Bob" <bob@example.com>` {
		t.Errorf("To = %q", to)
	}
}

func TestSMTPPlainLocalRelay(t *testing.T) {
	ms := &mailServer{}
	port := startServer(t, ms, nil, false)
	n, err := New(Options{From: "keyage@example.com", To: []string{"ops@example.com"}, SMTP: &SMTPOptions{Host: "127.0.0.1", Port: port, Security: None}})
	if err != nil {
		t.Fatal(err)
	}
	if retry, err := n.Notify(context.Background(), notifytest.Message()); err != nil || retry {
		t.Fatalf("Notify = %v, %v, want false, nil", retry, err)
	}
	if len(ms.mail) != 1 || ms.mail[0].tls || ms.mail[0].auth != "" {
		t.Errorf("mail = %+v, want one plain unauthenticated mail", ms.mail)
	}
}

func TestSMTPErrors(t *testing.T) {
	cert, pool := testCert(t)
	_, otherPool := testCert(t)
	for _, tt := range []struct {
		name      string
		server    *mailServer
		cert      *tls.Certificate // nil: no STARTTLS offered
		pass      string
		pool      *x509.CertPool
		wantRetry bool
		want      string
	}{
		{"wrong password", &mailServer{mechs: []string{sasl.Plain}}, &cert, "wrong-pa55word", pool, false, "535"},
		{"recipient refused", &mailServer{mechs: []string{sasl.Plain}, rcptReject: &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}}, &cert, smtpPass, pool, false, "550"},
		{"greylisted", &mailServer{mechs: []string{sasl.Plain}, rcptReject: &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 7, 1}, Message: "try again later"}}, &cert, smtpPass, pool, true, "451"},
		{"no STARTTLS offered", &mailServer{}, nil, smtpPass, pool, false, "does not offer STARTTLS"},
		{"untrusted certificate", &mailServer{mechs: []string{sasl.Plain}}, &cert, smtpPass, otherPool, false, "certificate"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			port := startServer(t, tt.server, tt.cert, false)
			n, err := New(Options{
				From: "keyage@example.com", To: []string{"ops@example.com"},
				SMTP: &SMTPOptions{Host: "127.0.0.1", Port: port, Username: smtpUser, Password: tt.pass, TLSConfig: &tls.Config{RootCAs: tt.pool}},
			})
			if err != nil {
				t.Fatal(err)
			}
			retry, err := n.Notify(context.Background(), notifytest.Message())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Notify = %v, want an error containing %q", err, tt.want)
			}
			t.Logf("error: %v", err)
			if retry != tt.wantRetry {
				t.Errorf("Notify retry = %v, want %v (err %v)", retry, tt.wantRetry, err)
			}
			notifytest.NoSecrets(t, err, tt.pass, smtpPass)
			if len(tt.server.mail) != 0 {
				t.Errorf("server accepted %d mails", len(tt.server.mail))
			}
		})
	}
}

func TestSMTPConnectionRefusedIsRetryable(t *testing.T) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	n, err := New(Options{From: "keyage@example.com", To: []string{"ops@example.com"}, SMTP: &SMTPOptions{Host: "127.0.0.1", Port: port, Security: None}})
	if err != nil {
		t.Fatal(err)
	}
	if retry, err := n.Notify(context.Background(), notifytest.Message()); err == nil || !retry {
		t.Errorf("Notify = %v, %v, want true, error", retry, err)
	}
}

func TestNoRecipients(t *testing.T) {
	n, err := New(Options{From: "keyage@example.com", SMTP: &SMTPOptions{Host: "127.0.0.1", Port: 1, Security: None}})
	if err != nil {
		t.Fatal(err)
	}
	retry, err := n.Notify(context.Background(), notifytest.Message())
	if err == nil || retry || !strings.Contains(err.Error(), "no recipients") {
		t.Errorf("Notify = %v, %v, want false and a no-recipients error", retry, err)
	}
	m := notifytest.Message()
	m.Recipients = []string{"not an address"}
	if retry, err := n.Notify(context.Background(), m); err == nil || retry {
		t.Errorf("Notify(bad recipient) = %v, %v, want false, error", retry, err)
	}
}

func TestNewValidates(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts Options
		want []string
	}{
		{"empty", Options{}, []string{"from: required", "smtp or ses: one is required"}},
		{"both", Options{From: "a@b.c", SMTP: &SMTPOptions{Host: "h"}, SES: &SESOptions{}}, []string{"set only one"}},
		{"bad addresses", Options{From: "nope", To: []string{"x"}, Cc: []string{"y"}, SMTP: &SMTPOptions{Host: "h"}}, []string{"from:", "to[0]", "cc[0]"}},
		{"plain to a remote host", Options{From: "a@b.c", SMTP: &SMTPOptions{Host: "smtp.example.com", Security: None, Password: "secret-pw"}}, []string{"only for a local relay", "username: required"}},
		{"unknown security", Options{From: "a@b.c", SMTP: &SMTPOptions{Host: "h", Security: "ssl"}}, []string{`smtp.security: "ssl"`}},
		{"ses without region", Options{From: "a@b.c", SES: &SESOptions{}}, []string{"no region"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			notifytest.NewFails(t, New, tt.opts, tt.want, "secret-pw")
		})
	}
}

func TestContextCancelAbortsSession(t *testing.T) {
	// A server that accepts and never greets.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	n, err := New(Options{From: "keyage@example.com", To: []string{"ops@example.com"}, SMTP: &SMTPOptions{Host: "127.0.0.1", Port: l.Addr().(*net.TCPAddr).Port, Security: None}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	retry, err := n.Notify(ctx, notifytest.Message())
	if err == nil || !retry {
		t.Errorf("Notify = %v, %v, want true, error", retry, err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Notify took %v after the context ended", d)
	}
}
