package email

import (
	"bufio"
	"context"
	"encoding/base64"
	"net"
	"strings"
	"testing"

	"github.com/keyage/keyage/internal/notify"
	"github.com/keyage/keyage/internal/notify/notifytest"
)

// echoSMTP is a hostile SMTP server that quotes the client's AUTH exchange
// in its refusal. It offers only mech.
func echoSMTP(t *testing.T, mech string) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				say := func(s string) { _, _ = c.Write([]byte(s + "\r\n")) }
				say("220 echo.example.com ESMTP")
				var heard []string
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					line = strings.TrimRight(line, "\r\n")
					heard = append(heard, line)
					switch cmd := strings.ToUpper(strings.Fields(line + " x")[0]); {
					case cmd == "EHLO" || cmd == "HELO":
						say("250-echo.example.com")
						say("250 AUTH " + mech)
					case strings.ToUpper(line) == "AUTH LOGIN":
						say("334 VXNlcm5hbWU6") // Username:
					case cmd == "AUTH" && strings.HasPrefix(strings.ToUpper(line), "AUTH LOGIN "),
						len(heard) >= 2 && strings.ToUpper(heard[len(heard)-2]) == "AUTH LOGIN":
						say("334 UGFzc3dvcmQ6") // Password:
					case cmd == "QUIT":
						say("221 bye")
						return
					default:
						say("535 5.7.8 authentication refused: " + strings.Join(heard[1:], " | "))
					}
				}
			}()
		}
	}()
	return l.Addr().(*net.TCPAddr).Port
}

// An SMTP server echoing AUTH PLAIN or LOGIN cannot leak the password in
// any encoding into the error (issue 13 row 10).
func TestSMTPEchoedAuthIsRedacted(t *testing.T) {
	const user, pass = "mailer@example.com", "smtp-pa55word"
	for _, mech := range []string{"PLAIN", "LOGIN"} {
		t.Run(mech, func(t *testing.T) {
			port := echoSMTP(t, mech)
			n, err := New(Options{From: "keyage@example.com", To: []string{"security@example.com"}, Now: fixedNow,
				SMTP: &SMTPOptions{Host: "127.0.0.1", Port: port, Security: None, Username: user, Password: pass}})
			if err != nil {
				t.Fatal(err)
			}
			_, err = n.Notify(context.Background(), notifytest.Message())
			if err == nil {
				t.Fatal("Notify = nil, want the refusal")
			}
			for _, leak := range []string{pass,
				base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pass)),
				base64.StdEncoding.EncodeToString([]byte(pass))} {
				if strings.Contains(err.Error(), leak) {
					t.Errorf("Notify error leaks %q: %v", leak, err)
				}
			}
			if !strings.Contains(err.Error(), notify.Redacted) {
				t.Errorf("Notify error = %v, want the echoed exchange shown with %s", err, notify.Redacted)
			}
		})
	}
}
