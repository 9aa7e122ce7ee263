package awsenv

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
)

// The retryer is the SDK's standard mode unless the caller, the
// environment or the profile asks for adaptive; the caller first, then
// the environment, then the profile.
func TestRetryMode(t *testing.T) {
	creds := &aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "secret"}
	for _, tt := range []struct {
		name, env string
		profile   string // the default profile's retry_mode
		option    aws.RetryMode
		want      aws.RetryMode
	}{
		{name: "nothing asked", want: aws.RetryModeStandard},
		{name: "AWS_RETRY_MODE adaptive", env: "adaptive", want: aws.RetryModeAdaptive},
		{name: "profile retry_mode adaptive", profile: "adaptive", want: aws.RetryModeAdaptive},
		{name: "the environment before the profile", env: "standard", profile: "adaptive", want: aws.RetryModeStandard},
		{name: "the option before the environment", option: aws.RetryModeAdaptive, env: "standard", want: aws.RetryModeAdaptive},
		{name: "option standard", option: aws.RetryModeStandard, profile: "adaptive", want: aws.RetryModeStandard},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			conf := filepath.Join(dir, "config")
			body := "[default]\nregion = us-east-1\n"
			if tt.profile != "" {
				body += "retry_mode = " + tt.profile + "\n"
			}
			if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
			t.Setenv("AWS_CONFIG_FILE", conf)
			t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
			t.Setenv("AWS_PROFILE", "")
			t.Setenv("AWS_RETRY_MODE", tt.env)
			cfg, err := Load(context.Background(), Options{
				RetryMode:         tt.option,
				EndpointURL:       "http://127.0.0.1:1",
				StaticCredentials: creds,
			})
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			r, ok := cfg.Retryer().(*throttleTolerant)
			if !ok {
				t.Fatalf("Load(%s).Retryer() = %T, want *throttleTolerant", tt.name, cfg.Retryer())
			}
			got := aws.RetryModeStandard
			if _, adaptive := r.RetryerV2.(*retry.AdaptiveMode); adaptive {
				got = aws.RetryModeAdaptive
			}
			if got != tt.want {
				t.Errorf("Load(option %q, AWS_RETRY_MODE %q, retry_mode %q) retry mode = %s, want %s", tt.option, tt.env, tt.profile, got, tt.want)
			}
		})
	}
}
