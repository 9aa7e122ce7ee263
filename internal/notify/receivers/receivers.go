// Package receivers builds the notifiers of a configuration: one table
// row per receiver kind, from config's validated values to the options of
// the receiver package. It is the only package that imports both config and
// the receivers, so that the receivers import only notify.
package receivers

import (
	"context"
	"errors"
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

// Env is what receivers need from the process: AWS credentials of the
// account keyage runs in, stdout, and the version for User-Agent.
type Env struct {
	AWS     aws.Config
	Stdout  io.Writer
	Version string
}

// builder makes one kind of receiver from its configuration; path is the
// receiver's YAML path (receivers[2]) for errors in config's words.
type builder func(r config.Receiver, path string, env Env) (notify.Notifier, error)

// builders is the table of receiver kinds; a kind config knows and this
// table does not is a programming error, caught by a test.
var builders = map[string]builder{
	config.KindSNS:         buildSNS,
	config.KindSQS:         buildSQS,
	config.KindLambda:      buildLambda,
	config.KindSecurityHub: buildSecurityHub,
	config.KindEmail:       buildEmail,
	config.KindSlack:       buildSlack,
	config.KindJira:        buildJira,
	config.KindWebhook:     buildWebhook,
	config.KindFile:        buildFile,
	config.KindStdout:      buildStdout,
}

// Build constructs every receiver of cfg, which config.Load validated,
// resolving secrets from the environment and files. A receiver that cannot
// be built (a secret that cannot be resolved: an unset variable, a missing
// file) does not stop the others: the map holds every receiver, that one as
// a notifier that fails each delivery with the reason, and err joins those
// reasons for the caller to show. Errors name the receiver, never a secret.
func Build(cfg *config.Config, env Env) (map[string]notify.Notifier, error) {
	out := make(map[string]notify.Notifier, len(cfg.Receivers))
	var errs []error
	for i, r := range cfg.Receivers {
		n, err := build(r, fmt.Sprintf("receivers[%d]", i), env)
		if err != nil {
			err = fmt.Errorf("receiver %s (%s): %w", r.Name, r.Kind(), err)
			errs = append(errs, err)
			n = unavailable{err: err}
		}
		out[r.Name] = n
	}
	return out, errors.Join(errs...)
}

// unavailable stands for a receiver that could not be built: each delivery
// fails for good with the reason, visible in the execution and the outbox.
type unavailable struct{ err error }

var _ notify.Notifier = unavailable{}

func (u unavailable) Notify(context.Context, notify.Message) (bool, error) {
	return false, fmt.Errorf("not sent: %w", u.err)
}

func build(r config.Receiver, path string, env Env) (notify.Notifier, error) {
	b, ok := builders[r.Kind()]
	if !ok {
		return nil, errors.New("no integration configured")
	}
	return b(r, path, env)
}

// resolveURL resolves a URL secret and checks it with config's rule: an
// inline URL was checked by config.Validate, one from an environment
// variable or a file is known only now, and is checked here, once.
func resolveURL(path string, ref config.SecretRef) (string, error) {
	u, err := ref.Resolve()
	if err != nil {
		return "", err
	}
	if err := config.CheckHTTPURL(path, u); err != nil {
		return "", err
	}
	return u, nil
}

// awsIn is base in region, or base's region when region is empty.
func awsIn(base aws.Config, region string) aws.Config {
	c := base.Copy()
	if region != "" {
		c.Region = region
	}
	return c
}

func buildSNS(r config.Receiver, path string, env Env) (notify.Notifier, error) {
	return sns.New(sns.Options{Config: awsIn(env.AWS, r.SNS.Region), TopicARN: r.SNS.TopicARN})
}

func buildSQS(r config.Receiver, path string, env Env) (notify.Notifier, error) {
	return sqs.New(sqs.Options{Config: awsIn(env.AWS, r.SQS.Region), QueueURL: r.SQS.QueueURL})
}

func buildLambda(r config.Receiver, path string, env Env) (notify.Notifier, error) {
	l := r.Lambda
	return lambda.New(lambda.Options{Config: awsIn(env.AWS, l.Region), FunctionName: l.FunctionName,
		Qualifier: l.Qualifier, InvocationType: l.InvocationType})
}

func buildEmail(r config.Receiver, path string, env Env) (notify.Notifier, error) {
	e := r.Email
	o := email.Options{From: e.From, Cc: e.CC}
	for _, to := range e.To {
		if !config.IsTemplate(to) {
			o.To = append(o.To, to)
		}
	}
	if s := e.SMTP; s != nil {
		user, pass, err := resolveCredentials(s.UsernameSecret(), s.PasswordSecret())
		if err != nil {
			return nil, err
		}
		o.SMTP = &email.SMTPOptions{Host: s.Host, Port: s.Port, Security: s.TLS, Username: user, Password: pass}
	}
	if s := e.SES; s != nil {
		o.SES = &email.SESOptions{Config: awsIn(env.AWS, s.Region), ConfigurationSetName: s.ConfigurationSet}
	}
	return email.New(o)
}

// resolveCredentials resolves a user and its password or token.
func resolveCredentials(user, secret config.SecretRef) (string, string, error) {
	u, err := user.Resolve()
	if err != nil {
		return "", "", err
	}
	s, err := secret.Resolve()
	if err != nil {
		return "", "", err
	}
	return u, s, nil
}

func buildSlack(r config.Receiver, path string, env Env) (notify.Notifier, error) {
	url, err := resolveURL(path+".slack.webhookUrl", r.Slack.WebhookURLSecret())
	if err != nil {
		return nil, err
	}
	return slack.New(slack.Options{WebhookURL: url, Channel: r.Slack.Channel, HTTPOptions: notify.HTTPOptions{Version: env.Version}})
}

func buildJira(r config.Receiver, path string, env Env) (notify.Notifier, error) {
	j := r.Jira
	user, token, err := resolveCredentials(j.UserSecret(), j.TokenSecret())
	if err != nil {
		return nil, err
	}
	o := jira.Options{BaseURL: j.URL, APIVersion: j.APIVersion, Project: j.Project, IssueType: j.IssueType,
		Labels: j.Labels, ResolveTransition: j.ResolveTransition, HTTPOptions: notify.HTTPOptions{Version: env.Version}}
	if user != "" {
		o.User, o.Token = user, token
	} else {
		o.BearerToken = token
	}
	// assignee and fields are templates, rendered for each issue.
	if o.Issue, err = jiraIssue(r.Name, j); err != nil {
		return nil, err
	}
	return jira.New(o)
}

func buildWebhook(r config.Receiver, path string, env Env) (notify.Notifier, error) {
	w := r.Webhook
	url, err := resolveURL(path+".webhook.url", w.URLSecret())
	if err != nil {
		return nil, err
	}
	secret, err := w.SigningSecret().Resolve()
	if err != nil {
		return nil, err
	}
	return webhook.New(webhook.Options{URL: url, Secret: secret, Headers: w.Headers,
		HTTPOptions: notify.HTTPOptions{Timeout: w.Timeout.Duration(), Version: env.Version}})
}

func buildFile(r config.Receiver, path string, _ Env) (notify.Notifier, error) {
	return file.New(file.Options{Path: r.File.Path})
}

func buildStdout(_ config.Receiver, path string, env Env) (notify.Notifier, error) {
	return stdout.New(stdout.Options{Writer: env.Stdout})
}

func buildSecurityHub(r config.Receiver, _ string, env Env) (notify.Notifier, error) {
	c := r.SecurityHub
	return securityhub.New(securityhub.Options{Configs: findingsConfigs(env.AWS, c), Region: c.Region, Partition: c.Partition})
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
