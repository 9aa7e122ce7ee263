package remediate

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/keyage/keyage/internal/awsenv"
	"github.com/keyage/keyage/internal/config"
	"github.com/keyage/keyage/internal/notify"
	"github.com/keyage/keyage/internal/notify/email"
	"github.com/keyage/keyage/internal/notify/file"
	"github.com/keyage/keyage/internal/notify/jira"
	"github.com/keyage/keyage/internal/notify/lambda"
	"github.com/keyage/keyage/internal/notify/securityhub"
	"github.com/keyage/keyage/internal/notify/slack"
	"github.com/keyage/keyage/internal/notify/sns"
	"github.com/keyage/keyage/internal/notify/sqs"
	"github.com/keyage/keyage/internal/notify/stdout"
	"github.com/keyage/keyage/internal/notify/webhook"
)

// NotifierEnv is what receivers need from the process: AWS credentials of
// the account keyage runs in, stdout, and the version for User-Agent.
type NotifierEnv struct {
	AWS     aws.Config
	Stdout  io.Writer
	Version string
}

// BuildNotifiers constructs every receiver of cfg, resolving secrets from
// the environment and files. Errors name the receiver, never a secret.
func BuildNotifiers(cfg *config.Config, env NotifierEnv) (map[string]notify.Notifier, error) {
	out := make(map[string]notify.Notifier, len(cfg.Receivers))
	for _, r := range cfg.Receivers {
		n, err := buildNotifier(r, env)
		if err != nil {
			return nil, fmt.Errorf("receiver %s (%s): %w", r.Name, r.Kind(), err)
		}
		out[r.Name] = n
	}
	return out, nil
}

func awsIn(base aws.Config, region string) aws.Config {
	c := base.Copy()
	if region != "" {
		c.Region = region
	}
	return c
}

func buildNotifier(r config.Receiver, env NotifierEnv) (notify.Notifier, error) {
	switch {
	case r.SNS != nil:
		return sns.New(sns.Options{Config: awsIn(env.AWS, r.SNS.Region), TopicARN: r.SNS.TopicARN})
	case r.SQS != nil:
		return sqs.New(sqs.Options{Config: awsIn(env.AWS, r.SQS.Region), QueueURL: r.SQS.QueueURL})
	case r.Lambda != nil:
		return lambda.New(lambda.Options{Config: awsIn(env.AWS, r.Lambda.Region), FunctionName: r.Lambda.FunctionName,
			Qualifier: r.Lambda.Qualifier, InvocationType: r.Lambda.InvocationType})
	case r.SecurityHub != nil:
		return securityhub.New(securityhub.Options{Configs: findingsConfigs(env.AWS, r.SecurityHub),
			Region: r.SecurityHub.Region, Partition: r.SecurityHub.Partition})
	case r.Email != nil:
		o := email.Options{From: r.Email.From, Cc: r.Email.CC}
		for _, to := range r.Email.To {
			if !config.IsTemplate(to) {
				o.To = append(o.To, to)
			}
		}
		if s := r.Email.SMTP; s != nil {
			user, err := s.UsernameSecret().Resolve()
			if err != nil {
				return nil, err
			}
			pass, err := s.PasswordSecret().Resolve()
			if err != nil {
				return nil, err
			}
			o.SMTP = &email.SMTPOptions{Host: s.Host, Port: s.Port, Security: s.TLS, Username: user, Password: pass}
		}
		if s := r.Email.SES; s != nil {
			o.SES = &email.SESOptions{Config: awsIn(env.AWS, s.Region), ConfigurationSetName: s.ConfigurationSet}
		}
		return email.New(o)
	case r.Slack != nil:
		url, err := r.Slack.WebhookURLSecret().Resolve()
		if err != nil {
			return nil, err
		}
		return slack.New(slack.Options{WebhookURL: url, Channel: r.Slack.Channel, Version: env.Version})
	case r.Jira != nil:
		user, err := r.Jira.UserSecret().Resolve()
		if err != nil {
			return nil, err
		}
		token, err := r.Jira.TokenSecret().Resolve()
		if err != nil {
			return nil, err
		}
		o := jira.Options{BaseURL: r.Jira.URL, APIVersion: r.Jira.APIVersion, Project: r.Jira.Project, IssueType: r.Jira.IssueType,
			Labels: r.Jira.Labels, ResolveTransition: r.Jira.ResolveTransition, Version: env.Version}
		if user != "" {
			o.User, o.Token = user, token
		} else {
			o.BearerToken = token
		}
		// assignee and fields are templates, rendered for each issue.
		if o.Issue, err = jiraIssue(r.Name, r.Jira); err != nil {
			return nil, err
		}
		return jira.New(o)
	case r.Webhook != nil:
		url, err := r.Webhook.URLSecret().Resolve()
		if err != nil {
			return nil, err
		}
		secret, err := r.Webhook.SigningSecret().Resolve()
		if err != nil {
			return nil, err
		}
		return webhook.New(webhook.Options{URL: url, Secret: secret, Headers: r.Webhook.Headers, Timeout: r.Webhook.Timeout.Duration(), Version: env.Version})
	case r.File != nil:
		return file.New(file.Options{Path: r.File.Path})
	case r.Stdout != nil:
		return stdout.New(stdout.Options{Writer: env.Stdout})
	}
	return nil, fmt.Errorf("no integration configured")
}

// findingsConfigs hands out a config per account through the receiver's
// findings role (never the audit role), resolving the caller on first use.
func findingsConfigs(base aws.Config, c *config.SecurityHubConfig) securityhub.ConfigFunc {
	var mu sync.Mutex
	var a *awsenv.Assumer
	return func(ctx context.Context, accountID string) (aws.Config, error) {
		mu.Lock()
		if a == nil {
			var err error
			if a, err = awsenv.NewAssumer(ctx, base, awsenv.AssumerOptions{RoleName: c.RoleName, ExternalID: c.ExternalID, SessionName: "keyage-findings"}); err != nil {
				mu.Unlock()
				return aws.Config{}, err
			}
		}
		mu.Unlock()
		return a.ForAccount(ctx, accountID)
	}
}
