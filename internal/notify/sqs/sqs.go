// Package sqs sends messages to an Amazon SQS queue, with the same
// message attributes as the SNS receiver.
package sqs

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/keyage/keyage/internal/notify"
)

// Options configure an SQS receiver.
type Options struct {
	// Config is the AWS configuration, built by the caller. For a queue
	// URL on an AWS host (sqs.<region>.amazonaws.com) the client uses the
	// queue's region.
	Config aws.Config
	// QueueURL is the queue, e.g.
	// https://sqs.us-east-1.amazonaws.com/111111111111/key-rotation. A
	// FIFO queue (.fifo) gets the message's group key and ID as
	// MessageGroupId and MessageDeduplicationId.
	QueueURL string
	// DelaySeconds delays delivery (0 to 900); the queue's default when 0.
	DelaySeconds int32
}

// Notifier sends to one queue.
type Notifier struct {
	opts   Options
	fifo   bool
	client *sqs.Client
}

var _ notify.Notifier = (*Notifier)(nil)

// New validates opts and returns a Notifier.
func New(opts Options) (*Notifier, error) {
	var errs []error
	u, err := url.Parse(opts.QueueURL)
	switch {
	case opts.QueueURL == "":
		errs = append(errs, errors.New("queueUrl: required"))
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || strings.Count(strings.Trim(u.Path, "/"), "/") != 1:
		errs = append(errs, fmt.Errorf("queueUrl: %q is not a queue URL (https://sqs.<region>.amazonaws.com/<account>/<name>)", opts.QueueURL))
	}
	if opts.DelaySeconds < 0 || opts.DelaySeconds > 900 {
		errs = append(errs, fmt.Errorf("delaySeconds: %d, must be 0 to 900", opts.DelaySeconds))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("sqs: %w", err)
	}
	region := queueRegion(u.Hostname())
	client := sqs.NewFromConfig(opts.Config, func(o *sqs.Options) {
		if region != "" {
			o.Region = region
		}
	})
	return &Notifier{opts: opts, fifo: strings.HasSuffix(u.Path, ".fifo"), client: client}, nil
}

// queueRegion reads the region from an AWS queue host:
// sqs.<region>.amazonaws.com[.cn] or the legacy <region>.queue.amazonaws.com.
func queueRegion(host string) string {
	parts := strings.Split(host, ".")
	if len(parts) < 4 || parts[len(parts)-2] != "amazonaws" && parts[len(parts)-3] != "amazonaws" {
		return ""
	}
	switch {
	case parts[0] == "sqs":
		return parts[1]
	case parts[1] == "queue":
		return parts[0]
	}
	return ""
}

// Notify sends m: the body is the text, or the JSON payload with format:
// json; message attributes are m.Attributes() (String, Number for
// ageDays). Throttling, 5xx and network errors retry; a missing queue,
// access denied and validation errors do not.
func (n *Notifier) Notify(ctx context.Context, m notify.Message) (retry bool, err error) {
	msg, err := notify.NewAWSMessage(m, n.fifo)
	if err != nil {
		return false, fmt.Errorf("send to SQS queue %s: %w", n.opts.QueueURL, err)
	}
	in := &sqs.SendMessageInput{
		QueueUrl:               aws.String(n.opts.QueueURL),
		MessageBody:            msg.Body,
		MessageAttributes:      Attributes(m),
		MessageGroupId:         msg.GroupID,
		MessageDeduplicationId: msg.DedupeID,
	}
	if n.opts.DelaySeconds > 0 && !n.fifo {
		in.DelaySeconds = n.opts.DelaySeconds
	}
	if _, err := n.client.SendMessage(ctx, in); err != nil {
		return notify.AWSRetryable(err), fmt.Errorf("send message %s to SQS queue %s: %w", m.ID, n.opts.QueueURL, err)
	}
	return false, nil
}

// Attributes converts m.Attributes() to SQS message attributes: String,
// and Number for ageDays.
func Attributes(m notify.Message) map[string]types.MessageAttributeValue {
	return notify.MessageAttributes(m, func(dataType, value *string) types.MessageAttributeValue {
		return types.MessageAttributeValue{DataType: dataType, StringValue: value}
	})
}
