package config

import (
	"maps"
	"net/url"
	"regexp"
	"slices"
)

// Receivers are the named destinations of notifications; routes refer to
// them by name.
type Receivers []Receiver

// Receiver is one named destination with exactly one integration (one of
// the pointer fields is set) and the settings every integration shares.
type Receiver struct {
	// Name identifies the receiver in routes and owners.fallback: letters,
	// digits and _.-, unique.
	Name string `yaml:"name"`
	// Format of the message body: text (default) or json.
	Format Format `yaml:"format"`
	// Template is a Go text/template for the message text; "" uses the
	// default text.
	Template string `yaml:"template"`
	// Subject is a template for the subject line (email subject, Jira
	// summary); "" uses the default.
	Subject string `yaml:"subject"`
	// Templates are per-stage texts and subjects, keyed by stage (warning,
	// expired, inactive, deactivation-scheduled, deactivated, deleted,
	// escalated), reminder (a finding sent again), resolved or summary. A
	// stage's empty template or subject falls back to Template or Subject.
	Templates map[string]StageTemplate `yaml:"templates,omitempty"`
	// SendResolved also sends a notification when a key is rotated.
	SendResolved bool `yaml:"sendResolved"`

	SNS     *SNSConfig     `yaml:"sns,omitempty"`
	SQS     *SQSConfig     `yaml:"sqs,omitempty"`
	Email   *EmailConfig   `yaml:"email,omitempty"`
	Slack   *SlackConfig   `yaml:"slack,omitempty"`
	Jira    *JiraConfig    `yaml:"jira,omitempty"`
	Webhook *WebhookConfig `yaml:"webhook,omitempty"`
	Lambda  *LambdaConfig  `yaml:"lambda,omitempty"`
	// SecurityHub imports findings into AWS Security Hub as ASFF.
	SecurityHub *SecurityHubConfig `yaml:"securityhub,omitempty"`
	File        *FileConfig        `yaml:"file,omitempty"`
	Stdout      *StdoutConfig      `yaml:"stdout,omitempty"`
}

// StageTemplate is a receiver's text and subject for one stage.
type StageTemplate struct {
	Template string `yaml:"template"`
	Subject  string `yaml:"subject"`
}

// TemplateStages are the keys of a receiver's templates: the stages, and
// the message kinds that are not about one stage.
var TemplateStages = append(slices.Clone(Stages), "reminder", "resolved", "summary")

// The receiver kinds: the integration keys of a receiver.
const (
	KindSNS         = "sns"
	KindSQS         = "sqs"
	KindEmail       = "email"
	KindSlack       = "slack"
	KindJira        = "jira"
	KindWebhook     = "webhook"
	KindLambda      = "lambda"
	KindSecurityHub = "securityhub"
	KindFile        = "file"
	KindStdout      = "stdout"
)

// ReceiverKinds lists the receiver kinds in documentation order.
var ReceiverKinds = []string{KindSNS, KindSQS, KindEmail, KindSlack, KindJira, KindWebhook, KindLambda, KindSecurityHub, KindFile, KindStdout}

// Format is the body format of a receiver's messages.
type Format string

// The message formats.
const (
	FormatText Format = "text"
	FormatJSON Format = "json"
)

// integration is one integration of a receiver: its kind and, when set,
// its configuration (cfg holds a typed nil pointer when it is not).
type integration struct {
	kind string
	set  bool
	cfg  any
}

// integrations returns the receiver's integrations in ReceiverKinds order;
// kinds, setDefaults and validate walk this one list.
func (r *Receiver) integrations() []integration {
	return []integration{
		{KindSNS, r.SNS != nil, r.SNS},
		{KindSQS, r.SQS != nil, r.SQS},
		{KindEmail, r.Email != nil, r.Email},
		{KindSlack, r.Slack != nil, r.Slack},
		{KindJira, r.Jira != nil, r.Jira},
		{KindWebhook, r.Webhook != nil, r.Webhook},
		{KindLambda, r.Lambda != nil, r.Lambda},
		{KindSecurityHub, r.SecurityHub != nil, r.SecurityHub},
		{KindFile, r.File != nil, r.File},
		{KindStdout, r.Stdout != nil, r.Stdout},
	}
}

// kinds returns the kinds whose integration is set, in ReceiverKinds order.
func (r *Receiver) kinds() []string {
	var ks []string
	for _, in := range r.integrations() {
		if in.set {
			ks = append(ks, in.kind)
		}
	}
	return ks
}

// Kind returns the receiver's integration (sns, sqs, email, slack, jira,
// webhook, lambda, securityhub, file or stdout); "" when none is set. A valid receiver
// has exactly one.
func (r Receiver) Kind() string {
	if ks := r.kinds(); len(ks) > 0 {
		return ks[0]
	}
	return ""
}

// Receiver returns the receiver called name.
func (c *Config) Receiver(name string) (*Receiver, bool) {
	for i := range c.Receivers {
		if c.Receivers[i].Name == name {
			return &c.Receivers[i], true
		}
	}
	return nil, false
}

var receiverNameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

func (rs *Receivers) setDefaults(c *checker) {
	for i := range *rs {
		(*rs)[i].setDefaults(c.in(index(i)))
	}
}

func (r *Receiver) setDefaults(c *checker) {
	defaultTo(c, "format", &r.Format, FormatText)
	// Each integration is a mapping of its own, at its kind's key.
	for _, in := range r.integrations() {
		if d, ok := in.cfg.(interface{ setDefaults(*checker) }); ok && in.set {
			d.setDefaults(c.in(in.kind))
		}
	}
}

func (rs *Receivers) validate(c *checker) {
	seen := map[string]int{}
	for i := range *rs {
		r := &(*rs)[i]
		rc := c.in(index(i))
		switch first, dup := seen[r.Name]; {
		case r.Name == "":
			rc.errorf("name", "required")
		case !receiverNameRE.MatchString(r.Name):
			rc.errorf("name", "%q: not a receiver name (letters, digits and _.-)", r.Name)
		case dup:
			rc.errorf("name", "%q: a second receiver with this name (the first is receivers[%d])", r.Name, first)
		default:
			seen[r.Name] = i
		}
		r.validate(rc)
	}
}

func (r *Receiver) validate(c *checker) {
	switch ks := r.kinds(); len(ks) {
	case 0:
		c.errorf("", "receiver %q has no target (one of %s)", r.Name, orList(ReceiverKinds))
	case 1:
	default:
		c.errorf(ks[1], "receiver %q has two targets, %s and %s; a receiver has one (define another receiver)", r.Name, ks[0], ks[1])
	}
	switch r.Format {
	case FormatText, FormatJSON:
	default:
		c.errorf("format", "%q: unknown format (use text or json)", r.Format)
	}
	c.template("template", r.Template)
	c.template("subject", r.Subject)
	for _, k := range slices.Sorted(maps.Keys(r.Templates)) {
		if !slices.Contains(TemplateStages, k) {
			c.errorf("templates."+k, "%q: unknown stage (use %s)", k, orList(TemplateStages))
			continue
		}
		c.template("templates."+k+".template", r.Templates[k].Template)
		c.template("templates."+k+".subject", r.Templates[k].Subject)
	}
	for _, in := range r.integrations() {
		if v, ok := in.cfg.(interface{ validate(*checker) }); ok && in.set {
			v.validate(c.in(in.kind))
		}
	}
}

// FileConfig appends notifications to a file as JSON lines.
type FileConfig struct {
	// Path of the file, created if missing. Required.
	Path string `yaml:"path"`
}

func (f *FileConfig) validate(c *checker) {
	if f.Path == "" {
		c.errorf("path", "required")
	}
}

// StdoutConfig writes notifications to standard output as JSON lines. It
// has no settings.
type StdoutConfig struct{}

// httpURL checks that key's value is an http or https URL. secret values
// are not echoed; others are, with any password redacted.
// CheckHTTPURL checks a URL that only became known when its secret was
// resolved (from an environment variable or a file), with the rule and
// words Validate applies to an inline one. path is the key's YAML path,
// e.g. receivers[2].slack.webhookUrl; the error never quotes the URL.
func CheckHTTPURL(path, s string) error {
	if isHTTPURL(s) {
		return nil
	}
	return &Error{Path: path, Msg: "not an http or https URL"}
}

func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

func (c *checker) httpURL(key, s string, secret bool) {
	u, err := url.Parse(s)
	switch {
	case isHTTPURL(s):
	case secret || err != nil: // a parse error may echo the text
		c.errorf(key, "not an http or https URL")
	default:
		c.errorf(key, "%q: not an http or https URL", u.Redacted())
	}
}
