// Package awsenv builds the aws.Config keyage uses for each account: the
// standard credential chain for the caller, assumed-role credentials for the
// target accounts, the endpoint override, a pooled HTTP client and a retryer
// tuned for org-wide scans.
package awsenv

import (
	"cmp"
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
	// RetryMode is the SDK's retry mode: standard unless set here or by
	// the AWS environment (AWS_RETRY_MODE, the profile's retry_mode) to
	// adaptive, whose client-side send rate costs every call a lock and a
	// clock read and acts only after AWS throttles.
	RetryMode aws.RetryMode
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
	}
	mode, err := retryMode(ctx, o)
	if err != nil {
		return aws.Config{}, err
	}
	opts = append(opts, config.WithRetryer(func() aws.Retryer { return NewRetryer(maxAttempts, mode) }))
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

// MaxThrottledAttempts bounds the attempts of a call that AWS keeps
// throttling. It is high on purpose: a throttled call slows down (backoff up
// to 10 s, and the adaptive client-side rate) rather than fails; the
// account's timeout bounds it in time.
const MaxThrottledAttempts = 100

// NewRetryer is the SDK's standard retry mode (exponential backoff with
// jitter; every code of throttleCodes is among the SDK's retryable throttle
// codes) with no retry quota, or with mode adaptive the adaptive mode (the
// same, plus a client-side send rate per client, that is per account, that
// drops when AWS throttles and recovers after). maxAttempts bounds a
// call's attempts when it fails for any other reason than throttling;
// throttles alone do not end a call before MaxThrottledAttempts: an
// org-wide scan meets throttling on purpose-sized bursts and must ride it
// out, slower, rather than fail the account.
func NewRetryer(maxAttempts int, mode aws.RetryMode) aws.Retryer {
	standard := func(so *retry.StandardOptions) {
		so.MaxAttempts = MaxThrottledAttempts
		so.MaxBackoff = 10 * time.Second
		so.RateLimiter = ratelimit.None
	}
	if mode != aws.RetryModeAdaptive {
		return &throttleTolerant{RetryerV2: retry.NewStandard(standard), maxAttempts: maxAttempts}
	}
	adaptive := retry.NewAdaptiveMode(func(o *retry.AdaptiveModeOptions) {
		o.Throttles = append(o.Throttles, retry.IsErrorThrottleFunc(func(err error) aws.Ternary {
			return aws.BoolTernary(throttleCodes[ErrorCode(err)])
		}))
		o.StandardOptions = append(o.StandardOptions, standard)
	})
	return &throttleTolerant{RetryerV2: adaptive, maxAttempts: maxAttempts}
}

// retryMode is o.RetryMode, else AWS_RETRY_MODE, else the profile's
// retry_mode, else standard (the SDK's own order: the environment before
// the shared config).
func retryMode(ctx context.Context, o Options) (aws.RetryMode, error) {
	if o.RetryMode != "" {
		return o.RetryMode, nil
	}
	env, err := config.NewEnvConfig()
	if err != nil {
		return "", fmt.Errorf("read the AWS environment: %w", err)
	}
	if env.RetryMode != "" {
		return env.RetryMode, nil
	}
	profile := cmp.Or(o.Profile, env.SharedConfigProfile, config.DefaultSharedConfigProfile)
	// A missing profile or file is reported by LoadDefaultConfig.
	sc, err := config.LoadSharedConfigProfile(ctx, profile, func(lo *config.LoadSharedConfigOptions) {
		if env.SharedConfigFile != "" {
			lo.ConfigFiles = []string{env.SharedConfigFile}
		}
		if env.SharedCredentialsFile != "" {
			lo.CredentialsFiles = []string{env.SharedCredentialsFile}
		}
	})
	if err == nil && sc.RetryMode != "" {
		return sc.RetryMode, nil
	}
	return aws.RetryModeStandard, nil
}

// throttleTolerant ends a call that fails for another reason than
// throttling after maxAttempts attempts (of any kind), and a call that is
// only throttled after MaxThrottledAttempts.
type throttleTolerant struct {
	aws.RetryerV2
	maxAttempts int
}

var _ aws.RetryerV2 = (*throttleTolerant)(nil)

func (r *throttleTolerant) RetryDelay(attempt int, err error) (time.Duration, error) {
	if attempt >= r.maxAttempts && !throttleCodes[ErrorCode(err)] {
		return 0, &retry.MaxAttemptsError{Attempt: attempt, Err: err}
	}
	return r.RetryerV2.RetryDelay(attempt, err)
}
