package email

import (
	"bytes"
	"fmt"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"
	"time"
)

// buildMIME renders e as an RFC 5322 message: headers and a
// multipart/alternative body with the text part first and the HTML part
// last (the preferred one), both quoted-printable UTF-8.
func buildMIME(e *envelope) ([]byte, error) {
	var b bytes.Buffer
	header := func(name, value string) { fmt.Fprintf(&b, "%s: %s\r\n", name, value) }
	header("From", formatAddress(e.from))
	if len(e.to) > 0 {
		header("To", addressList(e.to))
	}
	if len(e.cc) > 0 {
		header("Cc", addressList(e.cc))
	}
	header("Subject", mime.QEncoding.Encode("utf-8", e.subject))
	header("Date", e.date.Format(time.RFC1123Z))
	header("Message-ID", "<"+e.msgID+">")
	header("MIME-Version", "1.0")
	// RFC 3834: automatic messages, so vacation responders stay quiet.
	header("Auto-Submitted", "auto-generated")
	mw := multipart.NewWriter(&b)
	header("Content-Type", mime.FormatMediaType("multipart/alternative", map[string]string{"boundary": mw.Boundary()}))
	b.WriteString("\r\n")
	for _, part := range []struct{ typ, body string }{{"text/plain", e.text}, {"text/html", e.html}} {
		w, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {part.typ + "; charset=utf-8"},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		if err != nil {
			return nil, err
		}
		qp := quotedprintable.NewWriter(w)
		if _, err := qp.Write([]byte(part.body)); err != nil {
			return nil, err
		}
		if err := qp.Close(); err != nil {
			return nil, err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func addressList(list []*mail.Address) string {
	s := make([]string, len(list))
	for i, a := range list {
		s[i] = formatAddress(a)
	}
	return strings.Join(s, ", ")
}

// formatAddress is "Name" <addr> (name encoded as needed), or the bare
// address without a name.
func formatAddress(a *mail.Address) string {
	if a.Name == "" {
		return a.Address
	}
	return a.String()
}
