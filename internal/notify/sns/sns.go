// Package sns publishes messages to an Amazon SNS topic, typically the
// central topic in the management account, with message attributes that
// subscribers can filter on with subscription filter policies.
package sns

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sns/types"

	"github.com/keyage/keyage/internal/notify"
)

// MaxSubject is one less than SNS's subject limit ("less than 100
// characters").
const MaxSubject = 99

// Options configure an SNS receiver.
type Options struct {
	// Config is the AWS configuration (credentials of the account keyage
	// runs in, endpoint), built by the caller. The client uses the
	// topic's region, whatever Config.Region says.
	Config aws.Config
	// TopicARN is the topic, e.g.
	// arn:aws:sns:us-east-1:111111111111:access-key-rotation. A FIFO topic
	// (.fifo) gets the message's group key and ID as MessageGroupId and
	// MessageDeduplicationId.
	TopicARN string
}

// Notifier publishes to one topic.
type Notifier struct {
	topic  string
	fifo   bool
	client *sns.Client
}

var _ notify.Notifier = (*Notifier)(nil)

// New validates opts and returns a Notifier.
func New(opts Options) (*Notifier, error) {
	a, err := arn.Parse(opts.TopicARN)
	switch {
	case opts.TopicARN == "":
		return nil, errors.New("sns: topicArn: required")
	case err != nil || a.Service != "sns" || a.Region == "" || a.Resource == "" || strings.Contains(a.Resource, ":"):
		return nil, fmt.Errorf("sns: topicArn: %q is not an SNS topic ARN", opts.TopicARN)
	}
	client := sns.NewFromConfig(opts.Config, func(o *sns.Options) { o.Region = a.Region })
	return &Notifier{topic: opts.TopicARN, fifo: strings.HasSuffix(a.Resource, ".fifo"), client: client}, nil
}

// Notify publishes m: Message is the text (or the JSON payload with
// format: json), Subject the message subject made SNS-safe, and the
// message attributes those of m.Attributes(). Throttling, 5xx and
// network errors retry; AuthorizationError (e.g. refused by the topic
// policy), NotFound and validation errors do not.
func (n *Notifier) Notify(ctx context.Context, m notify.Message) (retry bool, err error) {
	msg, err := notify.NewAWSMessage(m, n.fifo)
	if err != nil {
		return false, fmt.Errorf("publish to SNS topic %s: %w", n.topic, err)
	}
	in := &sns.PublishInput{
		TopicArn:               aws.String(n.topic),
		Message:                msg.Body,
		MessageAttributes:      Attributes(m),
		MessageGroupId:         msg.GroupID,
		MessageDeduplicationId: msg.DedupeID,
	}
	if s := Subject(m.Subject); s != "" {
		in.Subject = aws.String(s)
	}
	if _, err := n.client.Publish(ctx, in); err != nil {
		return notify.AWSRetryable(err), fmt.Errorf("publish message %s to SNS topic %s: %w", m.ID, n.topic, err)
	}
	return false, nil
}

// Attributes converts m.Attributes() to SNS message attributes: String,
// and Number for ageDays.
func Attributes(m notify.Message) map[string]types.MessageAttributeValue {
	return notify.MessageAttributes(m, func(dataType, value *string) types.MessageAttributeValue {
		return types.MessageAttributeValue{DataType: dataType, StringValue: value}
	})
}

// Subject makes s a valid SNS subject: printable ASCII (other characters
// become '?'), one line, starting with a letter, digit or punctuation,
// at most MaxSubject characters (cut at a word with "..." when possible).
func Subject(s string) string {
	var b strings.Builder
	for _, r := range strings.Join(strings.Fields(s), " ") {
		if r >= ' ' && r <= '~' {
			b.WriteRune(r)
		} else {
			b.WriteByte('?')
		}
	}
	out := strings.TrimLeft(b.String(), " ")
	if len(out) <= MaxSubject {
		return out
	}
	cut := out[:MaxSubject-3]
	if i := strings.LastIndexByte(cut, ' '); i > MaxSubject/2 {
		cut = cut[:i]
	}
	return cut + "..."
}
