// Package lambda invokes an AWS Lambda function with the message's JSON
// payload, asynchronously (Event, the default) or synchronously
// (RequestResponse, which surfaces the function's own errors).
package lambda

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/keyage/keyage/internal/notify"
)

// Invocation types.
const (
	Event           = "Event"
	RequestResponse = "RequestResponse"
)

// Options configure a Lambda receiver.
type Options struct {
	// Config is the AWS configuration, built by the caller. With a
	// function ARN the client uses the function's region.
	Config aws.Config
	// FunctionName is a name, a partial ARN (123456789012:function:name)
	// or a full ARN, optionally with a :qualifier.
	FunctionName string
	// Qualifier is a version or alias; optional.
	Qualifier string
	// InvocationType is Event (default) or RequestResponse.
	InvocationType string
}

// Notifier invokes one function.
type Notifier struct {
	opts   Options
	client *lambda.Client
}

var _ notify.Notifier = (*Notifier)(nil)

// New validates opts and returns a Notifier.
func New(opts Options) (*Notifier, error) {
	var errs []error
	if opts.FunctionName == "" {
		errs = append(errs, errors.New("functionName: required"))
	}
	if opts.InvocationType == "" {
		opts.InvocationType = Event
	}
	if opts.InvocationType != Event && opts.InvocationType != RequestResponse {
		errs = append(errs, fmt.Errorf("invocationType: %q, want %s or %s", opts.InvocationType, Event, RequestResponse))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("lambda: %w", err)
	}
	var region string
	if a, err := arn.Parse(opts.FunctionName); err == nil && a.Service == "lambda" {
		region = a.Region
	}
	client := lambda.NewFromConfig(opts.Config, func(o *lambda.Options) {
		if region != "" {
			o.Region = region
		}
	})
	return &Notifier{opts: opts, client: client}, nil
}

// Notify invokes the function with m's JSON payload. Throttling
// (TooManyRequestsException), 5xx and network errors retry; a missing
// function, access denied and an error raised by the function itself
// (RequestResponse only) do not.
func (n *Notifier) Notify(ctx context.Context, m notify.Message) (retry bool, err error) {
	payload, err := notify.MarshalPayload(m)
	if err != nil {
		return false, fmt.Errorf("encode payload of message %s for lambda %s: %w", m.ID, n.opts.FunctionName, err)
	}
	in := &lambda.InvokeInput{
		FunctionName:   aws.String(n.opts.FunctionName),
		InvocationType: types.InvocationType(n.opts.InvocationType),
		Payload:        payload,
	}
	if n.opts.Qualifier != "" {
		in.Qualifier = aws.String(n.opts.Qualifier)
	}
	out, err := n.client.Invoke(ctx, in)
	if err != nil {
		return notify.AWSRetryable(err), fmt.Errorf("invoke lambda %s with message %s: %w", n.opts.FunctionName, m.ID, err)
	}
	if out.FunctionError != nil {
		return false, fmt.Errorf("lambda %s failed on message %s (%s): %s", n.opts.FunctionName, m.ID, aws.ToString(out.FunctionError), functionError(out.Payload))
	}
	return false, nil
}

// functionError summarizes the error document a failed function returns:
// {"errorType": "...", "errorMessage": "...", "stackTrace": [...]}.
func functionError(payload []byte) string {
	var doc struct {
		ErrorType    string `json:"errorType"`
		ErrorMessage string `json:"errorMessage"`
	}
	var s string
	if err := json.Unmarshal(payload, &doc); err == nil && (doc.ErrorMessage != "" || doc.ErrorType != "") {
		s = doc.ErrorMessage
		if doc.ErrorType != "" {
			s = doc.ErrorType + ": " + s
		}
	} else {
		s = strings.Join(strings.Fields(string(payload)), " ")
	}
	if s == "" {
		s = "no error details"
	}
	if utf8.RuneCountInString(s) > 500 {
		s = string([]rune(s)[:500]) + "..."
	}
	return s
}
