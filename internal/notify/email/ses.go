package email

import (
	"context"
	"errors"
	"fmt"

	"net/mail"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	"github.com/keyage/keyage/internal/notify"
)

// SESOptions configure delivery through Amazon SES v2 SendEmail.
type SESOptions struct {
	// Config is the AWS configuration (region, credentials, endpoint),
	// built by the caller.
	Config aws.Config
	// ConfigurationSetName is optional.
	ConfigurationSetName string
	// FromArn is the sending identity's ARN, for sending authorization
	// across accounts; optional.
	FromArn string
}

type sesTransport struct {
	opts   SESOptions
	client *sesv2.Client
}

func newSES(o SESOptions) (*sesTransport, error) {
	if o.Config.Region == "" {
		return nil, errors.New("ses: the AWS configuration has no region")
	}
	return &sesTransport{opts: o, client: sesv2.NewFromConfig(o.Config)}, nil
}

// send calls SendEmail with Simple content (subject, text and HTML).
// Throttling and 5xx are retryable; MessageRejected, unverified
// identities and other client errors are not.
func (t *sesTransport) send(ctx context.Context, e *envelope) (bool, error) {
	content := func(s string) *types.Content {
		return &types.Content{Data: aws.String(s), Charset: aws.String("UTF-8")}
	}
	in := &sesv2.SendEmailInput{
		FromEmailAddress: aws.String(formatAddress(e.from)),
		Destination: &types.Destination{
			ToAddresses: addressStrings(e.to),
			CcAddresses: addressStrings(e.cc),
		},
		Content: &types.EmailContent{Simple: &types.Message{
			Subject: content(e.subject),
			Body:    &types.Body{Text: content(e.text), Html: content(e.html)},
		}},
	}
	if t.opts.ConfigurationSetName != "" {
		in.ConfigurationSetName = aws.String(t.opts.ConfigurationSetName)
	}
	if t.opts.FromArn != "" {
		in.FromEmailAddressIdentityArn = aws.String(t.opts.FromArn)
	}
	if _, err := t.client.SendEmail(ctx, in); err != nil {
		return notify.AWSRetryable(err), fmt.Errorf("ses SendEmail in %s: %w", t.opts.Config.Region, err)
	}
	return false, nil
}

func addressStrings(list []*mail.Address) []string {
	out := make([]string, len(list))
	for i, a := range list {
		out[i] = formatAddress(a)
	}
	return out
}
