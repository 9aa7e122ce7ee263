package sandbox

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// SQS over awsQuery, as the AWS CLI before 2.13 sends it: signed form posts, XML answers with
// AWS's flattened element names, query error codes.
func TestSQSQueryProtocol(t *testing.T) {
	ts := newServicesSandbox(t, Options{})
	id, secret := ts.ManagementCredentials()
	queue := ts.queueURL("111111111111", "findings")
	post := func(t *testing.T, form url.Values) (int, string) {
		t.Helper()
		body := form.Encode()
		req, err := http.NewRequest(http.MethodPost, ts.url+"/", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		sum := sha256.Sum256([]byte(body))
		if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: id, SecretAccessKey: secret},
			req, hex.EncodeToString(sum[:]), "sqs", "us-east-1", time.Now()); err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, tt := range []struct {
		name   string
		form   url.Values
		status int
		want   []string // substrings of the answer, in order
	}{
		{"create a queue with attributes", url.Values{"Action": {"CreateQueue"}, "QueueName": {"work"}, "Attribute.1.Name": {"VisibilityTimeout"}, "Attribute.1.Value": {"60"}},
			200, []string{`<CreateQueueResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/">`, "<CreateQueueResult><QueueUrl>" + ts.url + "/111111111111/work</QueueUrl></CreateQueueResult>", "<RequestId>"}},
		{"list queues: one flattened QueueUrl each", url.Values{"Action": {"ListQueues"}, "QueueNamePrefix": {"findings-"}},
			200, []string{"<ListQueuesResult><QueueUrl>" + queue + "-filtered</QueueUrl><QueueUrl>" + queue + "-raw</QueueUrl></ListQueuesResult>"}},
		{"list queues: none is an empty result", url.Values{"Action": {"ListQueues"}, "QueueNamePrefix": {"nope"}},
			200, []string{"<ListQueuesResult></ListQueuesResult>"}},
		{"send with message attributes", url.Values{"Action": {"SendMessage"}, "QueueUrl": {queue}, "MessageBody": {"a <b>"}, "DelaySeconds": {"0"},
			"MessageAttribute.1.Name": {"kind"}, "MessageAttribute.1.Value.DataType": {"String"}, "MessageAttribute.1.Value.StringValue": {"greeting"}},
			200, []string{"<SendMessageResult><MD5OfMessageAttributes>" + md5OfAttributes(map[string]MessageAttribute{"kind": {DataType: "String", StringValue: "greeting"}}) + "</MD5OfMessageAttributes>",
				"<MD5OfMessageBody>" + md5Hex([]byte("a <b>")) + "</MD5OfMessageBody>", "<MessageId>"}},
		{"queue attributes as Name/Value entries", url.Values{"Action": {"GetQueueAttributes"}, "QueueUrl": {queue}, "AttributeName.1": {"QueueArn"}, "AttributeName.2": {"ApproximateNumberOfMessages"}},
			200, []string{"<Attribute><Name>ApproximateNumberOfMessages</Name><Value>1</Value></Attribute>", "<Attribute><Name>QueueArn</Name><Value>arn:aws:sqs:us-east-1:111111111111:findings</Value></Attribute>"}},
		{"receive: a Message with its attributes", url.Values{"Action": {"ReceiveMessage"}, "QueueUrl": {queue}, "MaxNumberOfMessages": {"10"}, "AttributeName.1": {"ApproximateReceiveCount"}, "MessageAttributeName.1": {"All"}},
			200, []string{"<ReceiveMessageResult><Message>", "<Attribute><Name>ApproximateReceiveCount</Name><Value>1</Value></Attribute>", "<Body>a &lt;b&gt;</Body>",
				"<MessageAttribute><Name>kind</Name><Value><DataType>String</DataType><StringValue>greeting</StringValue></Value></MessageAttribute>", "</Message></ReceiveMessageResult>"}},
		{"an operation without output", url.Values{"Action": {"PurgeQueue"}, "QueueUrl": {queue}},
			200, []string{"<PurgeQueueResponse", "<ResponseMetadata>"}},
		{"unknown queue: the query code", url.Values{"Action": {"GetQueueUrl"}, "QueueName": {"nope"}},
			400, []string{"<ErrorResponse", "<Type>Sender</Type><Code>AWS.SimpleQueueService.NonExistentQueue</Code><Message>The specified queue does not exist.</Message>"}},
		{"not an integer", url.Values{"Action": {"ReceiveMessage"}, "QueueUrl": {queue}, "MaxNumberOfMessages": {"ten"}},
			400, []string{"<Code>InvalidParameterValue</Code>"}},
		{"unknown action", url.Values{"Action": {"SendMessageBatch"}, "QueueUrl": {queue}},
			400, []string{"<Code>InvalidAction</Code>"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.form.Set("Version", "2012-11-05")
			status, body := post(t, tt.form)
			if status != tt.status {
				t.Errorf("%s: HTTP %d, want %d\n%s", tt.form.Get("Action"), status, tt.status, body)
			}
			rest := body
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("%s answer lacks %q (in order)\n%s", tt.form.Get("Action"), w, body)
				}
				rest = rest[i+len(w):]
			}
		})
	}
}
