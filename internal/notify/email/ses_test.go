package email

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/keyage/keyage/internal/notify/notifytest"
)

// sesRequest is the SendEmail body as the SDK serializes it.
type sesRequest struct {
	FromEmailAddress string
	Destination      struct{ ToAddresses, CcAddresses []string }
	Content          struct {
		Simple struct {
			Subject struct{ Data, Charset string }
			Body    struct {
				Text struct{ Data, Charset string }
				Html struct{ Data, Charset string }
			}
		}
	}
	ConfigurationSetName string
}

// fakeSES answers SendEmail (POST /v2/email/outbound-emails, REST JSON)
// like SES v2: a MessageId, or an error typed by X-Amzn-ErrorType.
func fakeSES(t *testing.T, status int, errType string) (*httptest.Server, *[]sesRequest) {
	var got []sesRequest
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v2/email/outbound-emails" {
			t.Errorf("request %s %s, want POST /v2/email/outbound-emails", r.Method, r.URL.Path)
		}
		if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential=AKIDTESTEXAMPLE/") || !strings.Contains(r.Header.Get("Authorization"), "/ses/aws4_request") {
			t.Errorf("Authorization = %q, want a SigV4 signature for ses", r.Header.Get("Authorization"))
		}
		body, _ := io.ReadAll(r.Body)
		var req sesRequest
		if err := json.Unmarshal(body, &req); err != nil {
			t.Errorf("body %s: %v", body, err)
		}
		got = append(got, req)
		w.Header().Set("Content-Type", "application/json")
		if status != 0 {
			w.Header().Set("X-Amzn-ErrorType", errType)
			w.WriteHeader(status)
			io.WriteString(w, `{"message":"Email address is not verified. The following identities failed the check in region US-EAST-1: keyage@example.com"}`)
			return
		}
		io.WriteString(w, `{"MessageId":"0100018f-example-000000"}`)
	}))
	t.Cleanup(srv.Close)
	return srv, &got
}

func TestSESSendEmail(t *testing.T) {
	srv, got := fakeSES(t, 0, "")
	n := notifytest.New(t, New, Options{
		From: "Keyage <keyage@example.com>",
		To:   []string{"security@example.com"},
		Cc:   []string{"audit@example.com"},
		SES:  &SESOptions{Config: notifytest.AWSConfig(srv.URL), ConfigurationSetName: "keyage"},
	})
	m := notifytest.Message()
	m.Recipients = []string{"alice@example.com"}
	notifytest.Deliver(t, n, m)
	if len(*got) != 1 {
		t.Fatalf("SES got %d requests, want 1", len(*got))
	}
	req := (*got)[0]
	if req.FromEmailAddress != `"Keyage" <keyage@example.com>` || req.ConfigurationSetName != "keyage" {
		t.Errorf("FromEmailAddress %q, ConfigurationSetName %q", req.FromEmailAddress, req.ConfigurationSetName)
	}
	if diff := cmp.Diff([]string{"alice@example.com"}, req.Destination.ToAddresses); diff != "" {
		t.Errorf("ToAddresses (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"audit@example.com"}, req.Destination.CcAddresses); diff != "" {
		t.Errorf("CcAddresses (-want +got):\n%s", diff)
	}
	s := req.Content.Simple
	if s.Subject.Data != m.Subject || s.Subject.Charset != "UTF-8" {
		t.Errorf("Subject = %+v", s.Subject)
	}
	if !strings.HasPrefix(s.Body.Text.Data, m.Text) || !strings.Contains(s.Body.Html.Data, "<table") {
		t.Errorf("Body = %+v, want the text and an HTML table", s.Body)
	}
}

func TestSESErrors(t *testing.T) {
	for _, tt := range []struct {
		name      string
		status    int
		errType   string
		wantRetry bool
	}{
		{"message rejected", 400, "MessageRejected", false},
		{"identity not verified in sandbox", 400, "MailFromDomainNotVerifiedException", false},
		{"throttled", 429, "TooManyRequestsException", true},
		{"service error", 500, "InternalFailure", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := fakeSES(t, tt.status, tt.errType)
			n := notifytest.New(t, New, Options{From: "keyage@example.com", To: []string{"ops@example.com"}, SES: &SESOptions{Config: notifytest.AWSConfig(srv.URL)}})
			err := notifytest.Refused(t, n, tt.wantRetry, tt.errType)
			notifytest.NoSecrets(t, err, "test-secret-key")
		})
	}
}
