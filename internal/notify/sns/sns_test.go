package sns

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/keyage/keyage/internal/notify"
	"github.com/keyage/keyage/internal/notify/notifytest"
)

const topic = "arn:aws:sns:eu-west-1:111111111111:access-key-rotation"

// publish is one decoded Publish call.
type publish struct {
	form   url.Values
	region string            // from the SigV4 credential scope
	attrs  map[string]string // name -> DataType:StringValue
}

// fakeSNS answers the awsQuery protocol like SNS: Publish returns a
// MessageId in XML, errors an ErrorResponse document.
func fakeSNS(t *testing.T, status int, code string) (*httptest.Server, *[]publish) {
	var got []publish
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
			t.Errorf("Content-Type = %q", ct)
		}
		form, err := url.ParseQuery(string(body))
		if err != nil {
			t.Fatal(err)
		}
		p := publish{form: form, attrs: map[string]string{}}
		p.region = notifytest.SignedRegion(r)
		for i := 1; form.Has(fmt.Sprintf("MessageAttributes.entry.%d.Name", i)); i++ {
			e := fmt.Sprintf("MessageAttributes.entry.%d.", i)
			p.attrs[form.Get(e+"Name")] = form.Get(e+"Value.DataType") + ":" + form.Get(e+"Value.StringValue")
		}
		got = append(got, p)
		w.Header().Set("Content-Type", "text/xml")
		if status != 0 {
			w.WriteHeader(status)
			fmt.Fprintf(w, `<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Sender</Type><Code>%s</Code><Message>User: arn:aws:sts::222222222222:assumed-role/keyage/x is not authorized to perform: SNS:Publish on resource: %s</Message></Error><RequestId>6f5b2a4e-0000-0000-0000-000000000000</RequestId></ErrorResponse>`, code, topic)
			return
		}
		io.WriteString(w, `<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>94f20ce6-13c5-43a0-9a9e-ca52d816e90b</MessageId></PublishResult><ResponseMetadata><RequestId>f187a3c1-376f-11df-8963-01868b7c937a</RequestId></ResponseMetadata></PublishResponse>`)
	}))
	t.Cleanup(srv.Close)
	return srv, &got
}

func TestPublish(t *testing.T) {
	srv, got := fakeSNS(t, 0, "")
	n := notifytest.New(t, New, Options{Config: notifytest.AWSConfig(srv.URL), TopicARN: topic})
	m := notifytest.Message()
	notifytest.Deliver(t, n, m)
	p := (*got)[0]
	for k, want := range map[string]string{
		"Action":   "Publish",
		"Version":  "2010-03-31",
		"TopicArn": topic,
		"Message":  `Account "222222222222" User "alice" needs to rotate their access key.`,
		"Subject":  "Access key of alice in 222222222222 needs rotation",
	} {
		if v := p.form.Get(k); v != want {
			t.Errorf("%s = %q, want %q", k, v, want)
		}
	}
	if p.form.Has("MessageGroupId") || p.form.Has("MessageDeduplicationId") {
		t.Errorf("standard topic got FIFO parameters: %v", p.form)
	}
	wantAttrs := map[string]string{
		"kind":        "String:finding",
		"accountId":   "String:222222222222",
		"userName":    "String:alice",
		"accessKeyId": "String:AKIAALICEEXAMPLE0001",
		"ageDays":     "Number:120",
		"stage":       "String:expired",
	}
	if diff := cmp.Diff(wantAttrs, p.attrs); diff != "" {
		t.Errorf("MessageAttributes (-want +got):\n%s", diff)
	}
	if p.region != "eu-west-1" {
		t.Errorf("request signed for %q, want the topic's region eu-west-1", p.region)
	}
}

func TestPublishJSONToFIFOTopic(t *testing.T) {
	srv, got := fakeSNS(t, 0, "")
	n := notifytest.New(t, New, Options{Config: notifytest.AWSConfig(srv.URL), TopicARN: "arn:aws:sns:us-east-1:111111111111:keys.fifo"})
	m := notifytest.Message()
	m.JSON = true
	notifytest.Deliver(t, n, m)
	p := (*got)[0]
	var payload notify.Payload
	if err := json.Unmarshal([]byte(p.form.Get("Message")), &payload); err != nil {
		t.Fatalf("Message is not the JSON payload: %v", err)
	}
	if payload.ID != m.ID || len(payload.Items) != 1 {
		t.Errorf("payload = %+v", payload)
	}
	if g, d := p.form.Get("MessageGroupId"), p.form.Get("MessageDeduplicationId"); g != m.GroupKey || d != m.ID {
		t.Errorf("MessageGroupId %q, MessageDeduplicationId %q; want %q, %q", g, d, m.GroupKey, m.ID)
	}
}

func TestPublishErrors(t *testing.T) {
	for _, tt := range []struct {
		name      string
		status    int
		code      string
		wantRetry bool
	}{
		{"refused by topic policy", 403, "AuthorizationError", false},
		{"topic not found", 404, "NotFound", false},
		{"invalid parameter", 400, "InvalidParameter", false},
		{"throttled", 400, "Throttling", true},
		{"internal error", 500, "InternalError", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := fakeSNS(t, tt.status, tt.code)
			n := notifytest.New(t, New, Options{Config: notifytest.AWSConfig(srv.URL), TopicARN: topic})
			err := notifytest.Refused(t, n, tt.wantRetry, tt.code)
			notifytest.NoSecrets(t, err, "test-secret-key")
		})
	}
}

func TestSubject(t *testing.T) {
	long := strings.Repeat("word ", 30)
	for _, tt := range []struct {
		in, want string
	}{
		{"Access key needs rotation", "Access key needs rotation"},
		{"Clé d'accès\nà changer", "Cl? d'acc?s ? changer"},
		{"  \tleading space", "leading space"},
		{long, strings.TrimSpace(strings.Repeat("word ", 19)) + "..."},
		{"", ""},
	} {
		got := Subject(tt.in)
		if got != tt.want {
			t.Errorf("Subject(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if len(got) >= 100 {
			t.Errorf("Subject(%q) has %d characters, SNS wants fewer than 100", tt.in, len(got))
		}
	}
}

func TestNewValidates(t *testing.T) {
	for _, in := range []string{"", "arn:aws:sqs:us-east-1:111111111111:q", "not-an-arn", "arn:aws:sns:us-east-1:111111111111:topic:subscription-id"} {
		if _, err := New(Options{TopicARN: in}); err == nil {
			t.Errorf("New(topicArn %q) = nil error", in)
		}
	}
}
