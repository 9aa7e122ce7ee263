package sqs

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/keyage/keyage/internal/notify"
	"github.com/keyage/keyage/internal/notify/notifytest"
)

type attrValue struct {
	DataType    string
	StringValue string
}

type sendMessage struct {
	QueueUrl               string
	MessageBody            string
	DelaySeconds           int
	MessageAttributes      map[string]attrValue
	MessageGroupId         string
	MessageDeduplicationId string
	region                 string
}

// fakeSQS answers the awsJson1_0 protocol like SQS: SendMessage returns
// the MD5 of the body (which the SDK verifies) and a MessageId.
func fakeSQS(t *testing.T, status int, errType, queryErr string) (*httptest.Server, *[]sendMessage) {
	var got []sendMessage
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/" {
			t.Errorf("request %s %s, want POST /", r.Method, r.URL.Path)
		}
		if tgt := r.Header.Get("X-Amz-Target"); tgt != "AmazonSQS.SendMessage" {
			t.Errorf("X-Amz-Target = %q, want AmazonSQS.SendMessage", tgt)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/x-amz-json-1.0" {
			t.Errorf("Content-Type = %q", ct)
		}
		body, _ := io.ReadAll(r.Body)
		var in sendMessage
		if err := json.Unmarshal(body, &in); err != nil {
			t.Fatalf("body %s: %v", body, err)
		}
		in.region = notifytest.SignedRegion(r)
		got = append(got, in)
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		if status != 0 {
			w.Header().Set("x-amzn-query-error", queryErr)
			w.WriteHeader(status)
			fmt.Fprintf(w, `{"__type":"com.amazonaws.sqs#%s","message":"failed"}`, errType)
			return
		}
		sum := md5.Sum([]byte(in.MessageBody))
		fmt.Fprintf(w, `{"MD5OfMessageBody":%q,"MessageId":"5fea7756-0ea4-451a-a703-a558b933e274"}`, hex.EncodeToString(sum[:]))
	}))
	t.Cleanup(srv.Close)
	return srv, &got
}

const queueURL = "https://sqs.eu-central-1.amazonaws.com/111111111111/key-rotation"

func TestSendMessage(t *testing.T) {
	srv, got := fakeSQS(t, 0, "", "")
	n := notifytest.New(t, New, Options{Config: notifytest.AWSConfig(srv.URL), QueueURL: queueURL, DelaySeconds: 5})
	m := notifytest.Message()
	notifytest.Deliver(t, n, m)
	in := (*got)[0]
	want := sendMessage{
		QueueUrl:     queueURL,
		MessageBody:  m.Text,
		DelaySeconds: 5,
		MessageAttributes: map[string]attrValue{
			"kind":        {"String", "finding"},
			"accountId":   {"String", "222222222222"},
			"userName":    {"String", "alice"},
			"accessKeyId": {"String", "AKIAALICEEXAMPLE0001"},
			"ageDays":     {"Number", "120"},
			"stage":       {"String", "expired"},
		},
		region: "eu-central-1",
	}
	if diff := cmp.Diff(want, in, cmp.AllowUnexported(sendMessage{})); diff != "" {
		t.Errorf("SendMessage (-want +got):\n%s", diff)
	}
}

func TestSendJSONToFIFOQueue(t *testing.T) {
	srv, got := fakeSQS(t, 0, "", "")
	n := notifytest.New(t, New, Options{Config: notifytest.AWSConfig(srv.URL), QueueURL: "https://sqs.us-east-1.amazonaws.com/111111111111/keys.fifo"})
	m := notifytest.Message()
	m.JSON = true
	notifytest.Deliver(t, n, m)
	in := (*got)[0]
	var p notify.Payload
	if err := json.Unmarshal([]byte(in.MessageBody), &p); err != nil || p.ID != m.ID {
		t.Errorf("body %q is not the JSON payload (%v)", in.MessageBody, err)
	}
	if in.MessageGroupId != m.GroupKey || in.MessageDeduplicationId != m.ID {
		t.Errorf("MessageGroupId %q, MessageDeduplicationId %q", in.MessageGroupId, in.MessageDeduplicationId)
	}
}

func TestSendErrors(t *testing.T) {
	for _, tt := range []struct {
		name      string
		status    int
		errType   string
		queryErr  string
		wantRetry bool
	}{
		{"queue missing", 400, "QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue;Sender", false},
		{"access denied", 403, "AccessDeniedException", "AccessDenied;Sender", false},
		{"throttled", 400, "RequestThrottled", "RequestThrottled;Sender", true},
		{"kms throttled", 400, "KmsThrottled", "KMS.ThrottlingException;Sender", true},
		{"service unavailable", 503, "ServiceUnavailable", "ServiceUnavailable;Receiver", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := fakeSQS(t, tt.status, tt.errType, tt.queryErr)
			n := notifytest.New(t, New, Options{Config: notifytest.AWSConfig(srv.URL), QueueURL: queueURL})
			err := notifytest.Refused(t, n, tt.wantRetry, "")
			t.Logf("error: %v", err)
		})
	}
}

func TestQueueRegion(t *testing.T) {
	for host, want := range map[string]string{
		"sqs.us-east-1.amazonaws.com":                "us-east-1",
		"sqs.cn-north-1.amazonaws.com.cn":            "cn-north-1",
		"eu-west-1.queue.amazonaws.com":              "eu-west-1",
		"localhost":                                  "",
		"127.0.0.1":                                  "",
		"sqs.example.com":                            "",
		"vpce-1a2b.sqs.us-east-1.vpce.amazonaws.com": "",
	} {
		if got := queueRegion(host); got != want {
			t.Errorf("queueRegion(%q) = %q, want %q", host, got, want)
		}
	}
}

func TestNewValidates(t *testing.T) {
	for _, tt := range []struct {
		opts Options
		want string
	}{
		{Options{}, "queueUrl: required"},
		{Options{QueueURL: "key-rotation"}, "not a queue URL"},
		{Options{QueueURL: queueURL, DelaySeconds: 901}, "delaySeconds"},
	} {
		if _, err := New(tt.opts); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%+v) = %v, want an error containing %q", tt.opts, err, tt.want)
		}
	}
}
