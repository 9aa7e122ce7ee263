package notify

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
)

// AWSRetryable classifies an error from an AWS SDK call, after the SDK's
// own retries: throttling, 5xx, 408/429, network errors and cancellation
// are transient; access denied, not found, validation and other client
// errors are not.
func AWSRetryable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	if retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err) == aws.TrueTernary {
		return true
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && extraRetryableCodes[apiErr.ErrorCode()] {
		return true
	}
	var respErr *awshttp.ResponseError
	if errors.As(err, &respErr) && respErr.HTTPStatusCode() != 0 {
		return RetryableStatus(respErr.HTTPStatusCode())
	}
	if errors.As(err, &apiErr) {
		return apiErr.ErrorFault() == smithy.FaultServer
	}
	// No HTTP response and no API error: the request did not get through
	// (connection refused, DNS, reset), or credentials could not be
	// obtained. The standard retryer's view decides, defaulting to retry.
	if retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err) == aws.FalseTernary {
		return false
	}
	return NetworkRetryable(err)
}

// extraRetryableCodes are transient AWS error codes that the SDK's
// default throttle list does not name.
var extraRetryableCodes = map[string]bool{
	"KMSThrottling":             true, // SNS, encrypted topic
	"KMSThrottlingException":    true,
	"KMS.ThrottlingException":   true, // SQS, encrypted queue (query error code)
	"KmsThrottled":              true, // SQS, encrypted queue (JSON error type)
	"ResourceConflictException": true, // Lambda: function being updated
	"ResourceNotReadyException": true, // Lambda: function still creating
}

// AWSMessage is what SNS Publish and SQS SendMessage carry for a message:
// its body, and on a FIFO topic or queue its MessageGroupId and
// MessageDeduplicationId (nil on a standard one).
type AWSMessage struct {
	Body, GroupID, DedupeID *string
}

// NewAWSMessage returns the AWSMessage of m: the body of Body, and the IDs
// of FIFOIDs when fifo.
func NewAWSMessage(m Message, fifo bool) (AWSMessage, error) {
	body, err := Body(m)
	if err != nil {
		return AWSMessage{}, err
	}
	out := AWSMessage{Body: aws.String(body)}
	if fifo {
		group, dedupe := m.FIFOIDs()
		out.GroupID, out.DedupeID = aws.String(group), aws.String(dedupe)
	}
	return out, nil
}

// MessageAttributes converts m.Attributes() to SNS or SQS message
// attributes (their SDKs each have a MessageAttributeValue type V, built
// by mk from the data type of AttributeType and the value).
func MessageAttributes[V any](m Message, mk func(dataType, value *string) V) map[string]V {
	out := map[string]V{}
	for k, v := range m.Attributes() {
		out[k] = mk(aws.String(AttributeType(k)), aws.String(v))
	}
	return out
}
