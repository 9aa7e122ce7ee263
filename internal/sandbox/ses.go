package sandbox

import (
	"net/http"
	"strings"
)

// SES v2 over restJson1: SendEmail only (POST /v2/email/outbound-emails). Nothing is sent; every
// email is recorded (Server.Emails). Every sender address counts as verified.

func (s *Server) sesService() *service {
	return &service{
		name:  "ses",
		proto: restJSONProtocol{},
		route: func(r *http.Request) (string, bool) {
			if r.Method == http.MethodPost && r.URL.Path == "/v2/email/outbound-emails" {
				return "SendEmail", true
			}
			return "", false
		},
		throttle: newError(http.StatusTooManyRequests, "TooManyRequestsException", "Maximum sending rate exceeded."),
		failure:  newError(http.StatusInternalServerError, "InternalFailure", "An internal error has occurred"),
		unknownOp: func(string) *apiError {
			return newError(http.StatusNotFound, "UnknownOperationException", "The sandbox serves SES v2 SendEmail only")
		},
		ops: map[string]operation{"SendEmail": s.sesSendEmail},
	}
}

func sesBadRequest(msg string) *apiError {
	return newError(http.StatusBadRequest, "BadRequestException", msg)
}

func (s *Server) sesSendEmail(c *call) (any, error) {
	type content struct {
		Data string
	}
	var in struct {
		FromEmailAddress string
		Destination      *struct {
			ToAddresses, CcAddresses, BccAddresses []string
		}
		ReplyToAddresses []string
		Content          *struct {
			Simple *struct {
				Subject *content
				Body    *struct {
					Text, Html *content
				}
			}
			Raw *struct {
				Data []byte
			}
			Template *struct {
				TemplateName string
			}
		}
	}
	if err := c.decodeJSON(&in); err != nil {
		return nil, err
	}
	e := SentEmail{Account: c.acct().id, From: in.FromEmailAddress, ReplyTo: in.ReplyToAddresses, Time: c.now}
	if d := in.Destination; d != nil {
		e.To, e.Cc, e.Bcc = d.ToAddresses, d.CcAddresses, d.BccAddresses
	}
	switch {
	case in.Content == nil:
		return nil, sesBadRequest("Content is required")
	case in.Content.Simple != nil:
		sc := in.Content.Simple
		if sc.Subject == nil || sc.Body == nil || (sc.Body.Text == nil && sc.Body.Html == nil) {
			return nil, sesBadRequest("Simple content needs a Subject and a Body")
		}
		e.Subject = sc.Subject.Data
		if sc.Body.Text != nil {
			e.Text = sc.Body.Text.Data
		}
		if sc.Body.Html != nil {
			e.HTML = sc.Body.Html.Data
		}
	case in.Content.Raw != nil:
		e.Raw = in.Content.Raw.Data
	default:
		return nil, sesBadRequest("The sandbox sends Simple and Raw content only")
	}
	if in.Content.Raw == nil {
		if e.From == "" {
			return nil, sesBadRequest("Missing required field FromEmailAddress")
		}
		if len(e.To)+len(e.Cc)+len(e.Bcc) == 0 {
			return nil, sesBadRequest("Missing required field Destination")
		}
	}
	for _, addr := range append(append(append([]string{e.From}, e.To...), e.Cc...), e.Bcc...) {
		if addr != "" && !strings.Contains(addr, "@") {
			return nil, sesBadRequest("Missing final '@domain'")
		}
	}
	if n := len(e.To) + len(e.Cc) + len(e.Bcc); n > 50 {
		return nil, newError(http.StatusBadRequest, "MessageRejected", "Recipient count exceeds 50.")
	}
	e.MessageID = "0100" + strings.ReplaceAll(s.uuid("ses", e.From), "-", "")[:12] + "-" + s.uuid("ses-id") + "-000000"
	s.recordEmail(e)
	return map[string]string{"MessageId": e.MessageID}, nil
}
