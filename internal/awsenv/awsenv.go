// Package awsenv builds the aws.Config keyage uses for each account: the
// standard credential chain for the caller, assumed-role credentials for the
// target accounts, the endpoint override, a pooled HTTP client and a retryer
// tuned for org-wide scans.
package awsenv

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/smithy-go/logging"
	"github.com/aws/smithy-go/middleware"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
)

// DefaultRegion is used when neither the flags, the environment nor the
// shared config name a region. IAM, STS and Organizations are global.
const DefaultRegion = "us-east-1"

// Options selects how the base config is built. Zero values fall back to the
// standard AWS environment (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL,
// AWS_CA_BUNDLE, the shared files, ...).
type Options struct {
	Profile     string
	Region      string
	EndpointURL string
	// StaticCredentials, when set, replaces the credential chain (the demo
	// and tests use the sandbox's management keys).
	StaticCredentials *aws.Credentials
	// MaxAttempts bounds every call's attempts, throttles included (default 10).
	MaxAttempts int
	// MaxConnsPerHost bounds the connections to one endpoint (default
	// 256): every account's IAM calls go to the same global endpoint, and
	// each connection costs buffers and goroutines.
	MaxConnsPerHost int
	// Observe, when set, is told of every attempt of every AWS call
	// (metrics): service, operation, and whether AWS throttled it.
	Observe func(service, operation string, throttled bool)
}

// Load builds the caller's base aws.Config.
func Load(ctx context.Context, o Options) (aws.Config, error) {
	maxConns := o.MaxConnsPerHost
	if maxConns <= 0 {
		maxConns = 256
	}
	maxAttempts := o.MaxAttempts
	if maxAttempts <= 0 {
		maxAttempts = 10
	}
	httpClient := awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		tr.MaxConnsPerHost = maxConns
		tr.MaxIdleConns = maxConns * 2
		tr.MaxIdleConnsPerHost = maxConns
		tr.IdleConnTimeout = 90 * time.Second
	})
	opts := []func(*config.LoadOptions) error{
		config.WithHTTPClient(httpClient),
		// The SDK's own warnings (IMDS fallbacks) would interleave with
		// keyage's output; failures surface as errors instead.
		config.WithLogger(logging.Nop{}),
		config.WithRetryer(func() aws.Retryer { return NewRetryer(maxAttempts) }),
	}
	if o.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(o.Profile))
	}
	if o.Region != "" {
		opts = append(opts, config.WithRegion(o.Region))
	}
	if o.Observe != nil {
		opts = append(opts, config.WithAPIOptions([]func(*middleware.Stack) error{observeAttempts(o.Observe)}))
	}
	if o.EndpointURL != "" {
		opts = append(opts, config.WithBaseEndpoint(o.EndpointURL))
	}
	if c := o.StaticCredentials; c != nil {
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken)))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	var noProfile config.SharedConfigProfileNotExistError
	if errors.As(err, &noProfile) {
		return aws.Config{}, &ProfileError{Profile: noProfile.Profile, Err: err}
	}
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = DefaultRegion
	}
	return cfg, nil
}

// throttleCodes are the error codes AWS services throttle with.
var throttleCodes = map[string]bool{
	"Throttling": true, "ThrottlingException": true, "TooManyRequestsException": true,
	"RequestLimitExceeded": true, "RequestThrottled": true, "SlowDown": true,
}

// observeAttempts adds a per-attempt step (inside the retry loop) that
// reports each call to observe.
func observeAttempts(observe func(service, operation string, throttled bool)) func(*middleware.Stack) error {
	return func(st *middleware.Stack) error {
		return st.Deserialize.Add(middleware.DeserializeMiddlewareFunc("keyage-observe",
			func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
				out, md, err := next.HandleDeserialize(ctx, in)
				observe(awsmiddleware.GetServiceID(ctx), awsmiddleware.GetOperationName(ctx), throttleCodes[ErrorCode(err)])
				return out, md, err
			}), middleware.Before)
	}
}

// NewRetryer is the SDK's standard retryer with exponential backoff and
// jitter, more attempts than the default, and no client-side retry quota: an
// org-wide scan hits throttling on purpose-sized bursts and must ride them
// out rather than fail once the quota is spent.
func NewRetryer(maxAttempts int) aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = maxAttempts
		o.MaxBackoff = 10 * time.Second
		o.RateLimiter = ratelimit.None
	})
}
