package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"
)

func ptr[T any](v T) *T { return &v }

func TestReceiverKind(t *testing.T) {
	c, err := Load(filepath.Join("testdata", "notify-full.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"central-topic": "sns", "queue": "sqs", "owners-mail": "email", "ses-mail": "email",
		"chat": "slack", "tickets": "jira", "hook": "webhook", "fn": "lambda", "local": "file",
		"console": "stdout", "security-team": "email",
	}
	if len(c.Receivers) != len(want) {
		t.Fatalf("Load(notify-full.yaml) has %d receivers, want %d", len(c.Receivers), len(want))
	}
	for name, kind := range want {
		r, ok := c.Receiver(name)
		if !ok {
			t.Errorf("Receiver(%q) not found", name)
			continue
		}
		if r.Name != name || r.Kind() != kind {
			t.Errorf("Receiver(%q) = %q of kind %q, want kind %q", name, r.Name, r.Kind(), kind)
		}
	}
	if r, ok := c.Receiver("nope"); ok || r != nil {
		t.Errorf("Receiver(nope) = %v, %v, want nil, false", r, ok)
	}
	if got := (Receiver{Name: "x"}).Kind(); got != "" {
		t.Errorf("Receiver without target: Kind() = %q, want \"\"", got)
	}
	// The pointer is into the configuration: a change through it sticks.
	r, _ := c.Receiver("local")
	r.File.Path = "other.jsonl"
	if c.Receivers[8].File.Path != "other.jsonl" {
		t.Errorf("Receiver(local) is a copy, want a pointer into Receivers")
	}
	if !c.Remediation.IsAutomatic() || c.Routes[0].Continue != true || c.Routes[1].Continue != false {
		t.Errorf("remediation %+v, routes continue %v %v", c.Remediation, c.Routes[0].Continue, c.Routes[1].Continue)
	}
}

func TestDefaultsAreDefaultsOnlyWhenUnset(t *testing.T) {
	for _, tt := range []struct {
		name, yaml string
		check      func(*Config) bool
	}{
		{"automatic false stays false", "remediation: {automatic: false}",
			func(c *Config) bool { return !c.Remediation.IsAutomatic() && c.Remediation.Automatic != nil }},
		{"automatic null is the default", "remediation: {automatic: }",
			func(c *Config) bool { return c.Remediation.IsAutomatic() && *c.Remediation.Automatic }},
		{"catch-all route with continue false", "receivers: [{name: a, stdout: {}}]\nroutes: [{receivers: [a], continue: false}]",
			func(c *Config) bool { return !c.Routes[0].Continue }},
		{"smtp port follows tls", "receivers: [{name: a, email: {smtp: {host: localhost, tls: none}, from: a@b.c, to: [a@b.c]}}]",
			func(c *Config) bool { return c.Receivers[0].Email.SMTP.Port == 25 }},
		{"stdout with a null value", "receivers: [{name: a, stdout: }]",
			func(c *Config) bool { return c.Receivers[0].Kind() == KindStdout }},
		{"a single string is a list", "receivers: [{name: a, stdout: {}}]\nroutes: [{receivers: [a], match: {accountId: 012345678901}}]",
			func(c *Config) bool { return cmp.Equal(c.Routes[0].Match.AccountID, StringList{"012345678901"}) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.yaml), "keyage.yaml")
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(c) {
				t.Errorf("Parse(%q) = %+v", tt.yaml, c)
			}
		})
	}
}

// Templates are checked with the functions and on the data they are
// rendered with (internal/template), with nothing else linked: an unknown
// function and a misspelled field are errors, the template functions are
// known.
func TestFuncs(t *testing.T) {
	yml := []byte("receivers: [{name: a, stdout: {}, template: '{{ daysLeft . }}'}]")
	_, err := Parse(yml, "keyage.yaml")
	want := `keyage.yaml:1: receivers[0].template: invalid template: line 1 of the template: function "daysLeft" not defined`
	if err == nil || err.Error() != want {
		t.Errorf("Parse() error = %v, want %s", err, want)
	}
	for _, tt := range []struct {
		name, yaml, want string
	}{
		{"template functions", "receivers: [{name: a, stdout: {}, template: '{{ date .CreateDate }} {{ upper .UserName }} {{ lower .Stage }}'}]", ""},
		{"misspelled message field", "receivers: [{name: a, stdout: {}, subject: '{{ .AccountId }}'}]",
			`keyage.yaml:1: receivers[0].subject: invalid template: can't evaluate field AccountId (the fields are listed in docs/configuration.md, Templates)`},
		{"misspelled owner field", "receivers: [{name: a, stdout: {}}]\nowners: {template: '{{ .Username }}@example.com'}",
			`keyage.yaml:2: owners.template: invalid template: can't evaluate field Username (the fields are listed in docs/configuration.md, Templates)`},
		{"deadline fields", "receivers: [{name: a, stdout: {}, template: '{{ .DaysLeft }} {{ .Overdue }} {{ .Due }} {{ .DeadlineText }}'}]", ""},
		{"per-stage templates", "receivers:\n- name: a\n  stdout: {}\n  templates:\n    deactivated: {subject: 'Deactivated {{ .AccessKeyID }}'}\n    reminder: {template: 'Still {{ .Due }}'}\n", ""},
		{"unknown stage", "receivers:\n- name: a\n  stdout: {}\n  templates:\n    expird: {subject: x}\n",
			`keyage.yaml:5: receivers[0].templates.expird: "expird": unknown stage (use ok, warning, expired, inactive, deactivation-scheduled, deactivated, deleted, escalated, reminder, resolved or summary)`},
		{"misspelled field in a stage's subject", "receivers:\n- name: a\n  stdout: {}\n  templates:\n    expired:\n      subject: '{{ .Useranme }}'\n",
			`keyage.yaml:6: receivers[0].templates.expired.subject: invalid template: can't evaluate field Useranme (the fields are listed in docs/configuration.md, Templates)`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml), "keyage.yaml")
			if got := fmt.Sprint(err); tt.want == "" && err != nil || tt.want != "" && got != tt.want {
				t.Errorf("Parse(%s) error = %v, want %q", tt.name, err, tt.want)
			}
		})
	}
}

func TestSecretRefResolve(t *testing.T) {
	const value = "xoxb-very-secret"
	dir := t.TempDir()
	file := filepath.Join(dir, "secret")
	if err := os.WriteFile(file, []byte(value+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KEYAGE_TEST_SECRET", value)
	t.Setenv("KEYAGE_TEST_EMPTY", "")
	for _, tt := range []struct {
		name    string
		ref     SecretRef
		want    string
		wantErr string
	}{
		{"inline", SecretRef{Value: value}, value, ""},
		{"env", SecretRef{Env: "KEYAGE_TEST_SECRET"}, value, ""},
		{"file without its line break", SecretRef{File: file}, value, ""},
		{"unset", SecretRef{}, "", ""},
		{"missing env", SecretRef{Env: "KEYAGE_TEST_MISSING"}, "", "read secret: environment variable KEYAGE_TEST_MISSING is not set"},
		{"empty env", SecretRef{Env: "KEYAGE_TEST_EMPTY"}, "", "read secret: environment variable KEYAGE_TEST_EMPTY is empty"},
		{"missing file", SecretRef{File: filepath.Join(dir, "nope")}, "", "read secret file " + filepath.Join(dir, "nope") + ": no such file or directory"},
		{"empty file", SecretRef{File: empty}, "", "read secret file " + empty + ": the file is empty"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.ref.Resolve()
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if got != tt.want || gotErr != tt.wantErr {
				t.Errorf("%v.Resolve() = %q, %q, want %q, %q", tt.ref, got, gotErr, tt.want, tt.wantErr)
			}
			if strings.Contains(gotErr, value) || strings.Contains(tt.ref.String(), value) {
				t.Errorf("%v.Resolve() error %q reveals the secret", tt.ref, gotErr)
			}
		})
	}
	if got := (SecretRef{Value: value}).String(); got != "inline value" {
		t.Errorf("String() = %q", got)
	}
}

// Secret values never appear in configuration errors, whatever is wrong.
func TestSecretsNotInErrors(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "secret-twice.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Parse(data, "secret-twice.yaml")
	if err == nil {
		t.Fatal("Parse(secret-twice.yaml) succeeded")
	}
	for _, s := range []string{"XXXXSECRETXXXX", "key=SECRET", "s3cr3t-value"} {
		if strings.Contains(err.Error(), s) {
			t.Errorf("Parse(secret-twice.yaml) error reveals %q:\n%v", s, err)
		}
	}
	_, err = Parse([]byte("receivers: [{name: a, slack: {webhookUrl: 'hooks.slack.com/T0/B0/SECRETKEY'}}]"), "k.yaml")
	if err == nil || strings.Contains(err.Error(), "SECRETKEY") {
		t.Errorf("Parse(bad inline webhookUrl) error = %v, want one without the URL", err)
	}
}

func TestSecretAccessors(t *testing.T) {
	c, err := Load(filepath.Join("testdata", "notify-full.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	get := func(name string) *Receiver { r, _ := c.Receiver(name); return r }
	for _, tt := range []struct {
		name string
		got  SecretRef
		want SecretRef
	}{
		{"smtp username", get("owners-mail").Email.SMTP.UsernameSecret(), SecretRef{Env: "SMTP_USER"}},
		{"smtp password", get("owners-mail").Email.SMTP.PasswordSecret(), SecretRef{Env: "SMTP_PASSWORD"}},
		{"slack webhook", get("chat").Slack.WebhookURLSecret(), SecretRef{Env: "SLACK_WEBHOOK_URL"}},
		{"jira user", get("tickets").Jira.UserSecret(), SecretRef{Env: "JIRA_USER"}},
		{"jira token", get("tickets").Jira.TokenSecret(), SecretRef{Env: "JIRA_TOKEN"}},
		{"webhook url", get("hook").Webhook.URLSecret(), SecretRef{Value: "https://hooks.example.com/keyage"}},
		{"webhook secret", get("hook").Webhook.SigningSecret(), SecretRef{File: "/run/secrets/hook"}},
	} {
		if tt.got != tt.want {
			t.Errorf("%s = %+v, want %+v", tt.name, tt.got, tt.want)
		}
	}
}

// Routes and receivers built in code are validated without lines: list
// elements are named by index.
func TestValidateRoutesInCode(t *testing.T) {
	c := Default()
	c.Receivers = Receivers{{Name: "a", Format: FormatText, Stdout: &StdoutConfig{}}}
	c.Routes = Routes{{
		Match:          RouteMatch{Stage: StringList{"expired", "gone"}},
		Receivers:      []string{"a", "b"},
		GroupBy:        []string{GroupByUser},
		RepeatInterval: DefaultRepeatInterval,
	}}
	want := "routes[0].match.stage[1]: \"gone\": unknown stage (use ok, warning, expired, inactive, deactivation-scheduled, deactivated, deleted or escalated)\n" +
		"routes[0].receivers[1]: no receiver named \"b\""
	if err := c.Validate(); err == nil || err.Error() != want {
		t.Errorf("Validate() = %v, want %s", err, want)
	}
}

func TestStringListUnmarshalYAML(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want StringList
	}{
		{"expired", StringList{"expired"}},
		{"[warning, expired]", StringList{"warning", "expired"}},
	} {
		var got StringList
		if err := yaml.Unmarshal([]byte(tt.in), &got); err != nil || !cmp.Equal(got, tt.want) {
			t.Errorf("yaml.Unmarshal(%q) = %q, %v, want %q", tt.in, got, err, tt.want)
		}
	}
	var got StringList
	if err := yaml.Unmarshal([]byte("{a: b}"), &got); err == nil {
		t.Errorf("yaml.Unmarshal(mapping) = %q, want an error", got)
	}
}

// The rules slack.New and webhook.New used to repeat live here only.
func TestHTTPReceiverRules(t *testing.T) {
	hook := func(body string) string {
		return "receivers:\n  - name: hook\n    webhook: {" + body + "}\nroutes:\n  - receivers: [hook]\n"
	}
	for _, tt := range []struct {
		name string
		yaml string
		want string
	}{
		{"no url", hook("secretEnv: S"), "keyage.yaml:3: receivers[0].webhook: url, urlEnv or urlFile is required"},
		{"relative url", hook("url: /hook"), "keyage.yaml:3: receivers[0].webhook.url: not an http or https URL"},
		{"ftp url", hook("url: 'ftp://example.com/x'"), "keyage.yaml:3: receivers[0].webhook.url: not an http or https URL"},
		{"reserved header", hook("url: 'https://example.com', headers: {x-keyage-signature: forged}"),
			"keyage.yaml:3: receivers[0].webhook.headers.x-keyage-signature: set by keyage; it cannot be configured"},
		{"delivery header", hook("url: 'https://example.com', headers: {X-Keyage-Delivery: forged}"),
			"keyage.yaml:3: receivers[0].webhook.headers.X-Keyage-Delivery: set by keyage; it cannot be configured"},
		{"content type", hook("url: 'https://example.com', headers: {Content-Type: text/plain}"),
			"keyage.yaml:3: receivers[0].webhook.headers.Content-Type: set by keyage; it cannot be configured"},
		{"bad header name", hook("url: 'https://example.com', headers: {Bad Name: v}"),
			"keyage.yaml:3: receivers[0].webhook.headers.Bad Name: not an HTTP header name"},
		{"header injection", hook("url: 'https://example.com', headers: {X-A: \"v\\r\\nX-B: w\"}"),
			"keyage.yaml:3: receivers[0].webhook.headers.X-A: a header value cannot contain a line break"},
		{"NUL in a header", hook("url: 'https://example.com', headers: {X-A: \"v\\0\"}"),
			"keyage.yaml:3: receivers[0].webhook.headers.X-A: a header value cannot contain a line break"},
		{"negative timeout", hook("url: 'https://example.com', timeout: -1s"), "receivers[0].webhook.timeout"},
		{"slack url not a URL", "receivers:\n  - name: chat\n    slack: {webhookUrl: hooks.slack.com/services/T/B/SECRETX}\nroutes:\n  - receivers: [chat]\n",
			"keyage.yaml:3: receivers[0].slack.webhookUrl: not an http or https URL"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml), "keyage.yaml")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse() error = %v, want %s", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), "SECRETX") {
				t.Errorf("Parse() error quotes the webhook URL: %v", err)
			}
		})
	}
}

func TestCheckHTTPURL(t *testing.T) {
	for _, tt := range []struct {
		url, want string
	}{
		{"https://hooks.example.com/T/B/x", ""},
		{"http://localhost:8080/hook", ""},
		{"hooks.example.com/T/B/x", "receivers[1].slack.webhookUrl: not an http or https URL"},
		{"", "receivers[1].slack.webhookUrl: not an http or https URL"},
	} {
		err := CheckHTTPURL("receivers[1].slack.webhookUrl", tt.url)
		if got := fmt.Sprint(err); (tt.want == "" && err != nil) || (tt.want != "" && got != tt.want) {
			t.Errorf("CheckHTTPURL(%q) = %v, want %q", tt.url, err, tt.want)
		}
	}
}

// integrations is the one list kinds, setDefaults and validate walk: it
// names every kind of ReceiverKinds, in that order, and says which is set.
func TestReceiverIntegrations(t *testing.T) {
	var got []string
	for _, in := range (&Receiver{}).integrations() {
		if in.set {
			t.Errorf("integration %s is set on an empty receiver", in.kind)
		}
		got = append(got, in.kind)
	}
	if d := cmp.Diff(ReceiverKinds, got); d != "" {
		t.Errorf("integrations kinds (-ReceiverKinds +got):\n%s", d)
	}
	for _, tt := range []struct {
		name string
		r    Receiver
		want []string
	}{
		{"none", Receiver{}, nil},
		{"sqs", Receiver{SQS: &SQSConfig{}}, []string{KindSQS}},
		{"stdout", Receiver{Stdout: &StdoutConfig{}}, []string{KindStdout}},
		{"two", Receiver{File: &FileConfig{}, SNS: &SNSConfig{}}, []string{KindSNS, KindFile}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if d := cmp.Diff(tt.want, tt.r.kinds()); d != "" {
				t.Errorf("kinds() (-want +got):\n%s", d)
			}
		})
	}
}
