package config

import (
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"
)

// SlackConfig posts to a Slack incoming webhook.
type SlackConfig struct {
	// The webhook URL, which contains a key: from an environment variable
	// or a file. Inline (WebhookURL) works but is discouraged.
	WebhookURL     string `yaml:"webhookUrl"`
	WebhookURLEnv  string `yaml:"webhookUrlEnv"`
	WebhookURLFile string `yaml:"webhookUrlFile"`
	// Channel overrides the webhook's channel (#security, @user) where
	// Slack allows it.
	Channel string `yaml:"channel"`
}

// WebhookURLSecret returns where the Slack webhook URL comes from.
func (s SlackConfig) WebhookURLSecret() SecretRef {
	return SecretRef{Value: s.WebhookURL, Env: s.WebhookURLEnv, File: s.WebhookURLFile}
}

func (s *SlackConfig) validate(c *checker) {
	c.secret("webhookUrl", s.WebhookURLSecret(), true, true)
	if s.WebhookURL != "" {
		c.httpURL("webhookUrl", s.WebhookURL, true)
	}
	if s.Channel != "" && !strings.HasPrefix(s.Channel, "#") && !strings.HasPrefix(s.Channel, "@") && !slackIDRE.MatchString(s.Channel) {
		c.errorf("channel", "%q: not a channel (#name), user (@name) or Slack id", s.Channel)
	}
}

var slackIDRE = regexp.MustCompile(`^[CGDU][A-Z0-9]{6,}$`)

// JiraConfig opens (and comments on, and resolves) Jira issues through the
// REST API.
type JiraConfig struct {
	// URL of the Jira site, e.g. https://example.atlassian.net. Required.
	URL string `yaml:"url"`
	// APIVersion is the REST API version: 2 or 3 (the default).
	APIVersion int `yaml:"apiVersion"`
	// Project key, e.g. SEC. Required.
	Project string `yaml:"project"`
	// IssueType of new issues; default Task.
	IssueType string `yaml:"issueType"`

	// The user (Jira Cloud: the account's email) for basic authentication
	// with the token. Without a user the token is sent as a bearer token
	// (a Jira Data Center personal access token).
	User     string `yaml:"user"`
	UserEnv  string `yaml:"userEnv"`
	UserFile string `yaml:"userFile"`
	// The API token, from an environment variable or a file. Required.
	TokenEnv  string `yaml:"tokenEnv"`
	TokenFile string `yaml:"tokenFile"`

	// Labels of new issues. keyage also adds its own label to find the
	// open issue of a key.
	Labels []string `yaml:"labels"`
	// Assignee is a template for the assignee (account id or user name).
	Assignee string `yaml:"assignee"`
	// Fields sets further fields of new issues: field id or name -> value
	// (templates).
	Fields map[string]string `yaml:"fields"`
	// ResolveTransition names the transition applied when the key is
	// rotated; "" only comments.
	ResolveTransition string `yaml:"resolveTransition"`
}

// Defaults of a jira receiver.
const (
	DefaultJiraAPIVersion = 3
	DefaultJiraIssueType  = "Task"
)

// UserSecret returns where the Jira user comes from.
func (j JiraConfig) UserSecret() SecretRef {
	return SecretRef{Value: j.User, Env: j.UserEnv, File: j.UserFile}
}

// TokenSecret returns where the Jira API token comes from.
func (j JiraConfig) TokenSecret() SecretRef {
	return SecretRef{Env: j.TokenEnv, File: j.TokenFile}
}

var jiraProjectRE = regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,254}$`)

func (j *JiraConfig) setDefaults(c *checker) {
	defaultTo(c, "apiVersion", &j.APIVersion, DefaultJiraAPIVersion)
	defaultTo(c, "issueType", &j.IssueType, DefaultJiraIssueType)
}

func (j *JiraConfig) validate(c *checker) {
	if j.URL == "" {
		c.errorf("url", "required")
	} else {
		c.httpURL("url", j.URL, false)
	}
	if j.APIVersion != 2 && j.APIVersion != 3 {
		c.errorf("apiVersion", "%d: use 2 or 3", j.APIVersion)
	}
	switch {
	case j.Project == "":
		c.errorf("project", "required")
	case !jiraProjectRE.MatchString(j.Project):
		c.errorf("project", "%q: not a Jira project key (upper-case letters, digits and _, such as SEC)", j.Project)
	}
	if strings.TrimSpace(j.IssueType) == "" {
		c.errorf("issueType", "must not be empty")
	}
	c.secret("user", j.UserSecret(), true, false)
	c.secret("token", j.TokenSecret(), false, true)
	for i, l := range j.Labels {
		if l == "" || strings.ContainsAny(l, " \t\n") {
			c.errorf("labels"+index(i), "%q: a Jira label is one word, without spaces", l)
		}
	}
	c.template("assignee", j.Assignee)
	for _, k := range slices.Sorted(maps.Keys(j.Fields)) {
		v := j.Fields[k]
		if strings.TrimSpace(k) == "" {
			c.errorf("fields", "a field name must not be empty")
			continue
		}
		c.template("fields."+k, v)
	}
}

// WebhookConfig POSTs the JSON payload to a URL, signed with HMAC-SHA256
// in X-Keyage-Signature when a secret is set.
type WebhookConfig struct {
	// The URL, which may contain a key: inline, from an environment
	// variable or from a file. Required.
	URL     string `yaml:"url"`
	URLEnv  string `yaml:"urlEnv"`
	URLFile string `yaml:"urlFile"`
	// The signing secret, from an environment variable or a file.
	// Optional: without it requests are not signed.
	SecretEnv  string `yaml:"secretEnv"`
	SecretFile string `yaml:"secretFile"`
	// Headers are added to every request.
	Headers map[string]string `yaml:"headers"`
	// Timeout bounds one request; default 10s.
	Timeout Duration `yaml:"timeout"`
}

// DefaultWebhookTimeout is the default of a webhook receiver's timeout.
const DefaultWebhookTimeout = Duration(10 * time.Second)

// SignatureHeader carries the HMAC-SHA256 of a webhook body.
const SignatureHeader = "X-Keyage-Signature"

// DeliveryHeader carries a webhook message's id, stable across retries.
const DeliveryHeader = "X-Keyage-Delivery"

// reservedHeaders are set by the webhook receiver itself.
var reservedHeaders = map[string]bool{SignatureHeader: true, DeliveryHeader: true,
	"Content-Type": true, "Content-Length": true, "Host": true, "User-Agent": true}

// URLSecret returns where the webhook URL comes from.
func (w WebhookConfig) URLSecret() SecretRef {
	return SecretRef{Value: w.URL, Env: w.URLEnv, File: w.URLFile}
}

// SigningSecret returns where the webhook signing secret comes from.
func (w WebhookConfig) SigningSecret() SecretRef {
	return SecretRef{Env: w.SecretEnv, File: w.SecretFile}
}

var headerNameRE = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

func (w *WebhookConfig) setDefaults(c *checker) {
	defaultTo(c, "timeout", &w.Timeout, DefaultWebhookTimeout)
}

func (w *WebhookConfig) validate(c *checker) {
	c.secret("url", w.URLSecret(), true, true)
	if w.URL != "" {
		c.httpURL("url", w.URL, true)
	}
	c.secret("secret", w.SigningSecret(), false, false)
	for _, k := range slices.Sorted(maps.Keys(w.Headers)) {
		v := w.Headers[k]
		switch canon := http.CanonicalHeaderKey(k); {
		case !headerNameRE.MatchString(k):
			c.errorf("headers."+k, "not an HTTP header name")
		case reservedHeaders[canon]:
			c.errorf("headers."+k, "set by keyage; it cannot be configured")
		case strings.ContainsAny(v, "\r\n\x00"):
			c.errorf("headers."+k, "a header value cannot contain a line break")
		}
	}
	if w.Timeout < Duration(time.Second) || w.Timeout > Duration(10*time.Minute) {
		c.errorf("timeout", "%s: must be between 1s and 10m", w.Timeout)
	}
}
