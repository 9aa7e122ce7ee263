package receivers

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/keyage/keyage/internal/config"
	"github.com/keyage/keyage/internal/notify"
)

// Every kind config accepts has a row in the table.
func TestEveryKindHasABuilder(t *testing.T) {
	for _, k := range config.ReceiverKinds {
		if builders[k] == nil {
			t.Errorf("builders[%q] missing: config accepts the kind, Build would refuse it", k)
		}
	}
}

func TestBuild(t *testing.T) {
	for _, tt := range []struct {
		name    string
		yaml    string
		env     map[string]string
		want    []string
		wantErr string
	}{
		{name: "file and stdout", yaml: "receivers: [{name: a, file: {path: a.jsonl}}, {name: b, stdout: {}}]\nroutes: [{receivers: [a, b]}]\n",
			want: []string{"a", "b"}},
		{name: "secrets from the environment", yaml: "receivers: [{name: chat, slack: {webhookUrlEnv: HOOK}}, {name: hook, webhook: {urlEnv: HOOK}}]\nroutes: [{receivers: [chat, hook]}]\n",
			env: map[string]string{"HOOK": "https://hooks.example.com/T0/B0/s3cret"}, want: []string{"chat", "hook"}},
		{name: "unset secret names the receiver, not the secret", yaml: "receivers: [{name: chat, slack: {webhookUrlEnv: HOOK}}]\nroutes: [{receivers: [chat]}]\n",
			env: map[string]string{"HOOK": ""}, wantErr: "receiver chat (slack)"},
		// A URL from the environment is known only at build time: checked
		// there with config's rule, words and path, never quoted.
		{name: "slack URL from the environment not a URL", yaml: "receivers: [{name: out, stdout: {}}, {name: chat, slack: {webhookUrlEnv: HOOK}}]\nroutes: [{receivers: [chat]}]\n",
			env: map[string]string{"HOOK": "hooks.example.com/T0/B0/s3cret"}, wantErr: "receiver chat (slack): receivers[1].slack.webhookUrl: not an http or https URL"},
		{name: "webhook URL from the environment not http", yaml: "receivers: [{name: hook, webhook: {urlEnv: HOOK}}]\nroutes: [{receivers: [hook]}]\n",
			env: map[string]string{"HOOK": "ftp://example.com/s3cret"}, wantErr: "receiver hook (webhook): receivers[0].webhook.url: not an http or https URL"},
		{name: "webhook URL from the environment relative", yaml: "receivers: [{name: hook, webhook: {urlEnv: HOOK}}]\nroutes: [{receivers: [hook]}]\n",
			env: map[string]string{"HOOK": "/hook/s3cret"}, wantErr: "receivers[0].webhook.url: not an http or https URL"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			cfg, err := config.Parse([]byte(tt.yaml), "test.yaml")
			if err != nil {
				t.Fatalf("config: %v", err)
			}
			got, err := Build(cfg, Env{Stdout: io.Discard, Version: "test"})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "s3cret") {
					t.Errorf("Build = %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			for _, name := range tt.want {
				if got[name] == nil {
					t.Errorf("Build: no notifier %q in %v", name, got)
				}
			}
		})
	}
}

// A receiver whose secret cannot be resolved fails its own deliveries with
// the reason; the others deliver (issue 13 row 4: one unset variable made
// run send nothing and serve refuse to start).
func TestBuildIsolatesUnresolvableSecrets(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		name, yaml, broken, wantErr string
	}{
		{"unset environment variable", "receivers: [{name: chat, slack: {webhookUrlEnv: KEYAGE_TEST_UNSET_HOOK}}, {name: log, file: {path: " + dir + "/a.jsonl}}]\nroutes: [{receivers: [chat, log]}]\n",
			"chat", "receiver chat (slack)"},
		{"missing secret file", "receivers: [{name: tickets, jira: {url: https://jira.example.com, project: SEC, user: bot, tokenFile: " + dir + "/missing}}, {name: log, file: {path: " + dir + "/b.jsonl}}]\nroutes: [{receivers: [tickets, log]}]\n",
			"tickets", "receiver tickets (jira)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("KEYAGE_TEST_UNSET_HOOK", "")
			cfg, err := config.Parse([]byte(tt.yaml), "test.yaml")
			if err != nil {
				t.Fatalf("config: %v", err)
			}
			got, err := Build(cfg, Env{Stdout: io.Discard, Version: "test"})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Build error = %v, want one naming %q", err, tt.wantErr)
			}
			msg := notify.Message{ID: "m1", Kind: notify.KindFinding, Text: "rotate"}
			retry, err := got[tt.broken].Notify(context.Background(), msg)
			if err == nil || retry || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s.Notify = %v, %v; want a final error naming %q", tt.broken, retry, err, tt.wantErr)
			}
			if _, err := got["log"].Notify(context.Background(), msg); err != nil {
				t.Errorf("healthy receiver log.Notify = %v, want it delivered", err)
			}
		})
	}
}

func TestResolveCredentials(t *testing.T) {
	t.Setenv("KEYAGE_TEST_TOKEN", "token-from-env")
	missing := config.SecretRef{Env: "KEYAGE_TEST_UNSET_VARIABLE"}
	for _, tt := range []struct {
		name               string
		user, secret       config.SecretRef
		wantUser, wantPass string
		wantErr            string
	}{
		{"inline and environment", config.SecretRef{Value: "bot"}, config.SecretRef{Env: "KEYAGE_TEST_TOKEN"}, "bot", "token-from-env", ""},
		{"bearer token without user", config.SecretRef{}, config.SecretRef{Value: "pat"}, "", "pat", ""},
		{"user unreadable", missing, config.SecretRef{Value: "pat"}, "", "", "KEYAGE_TEST_UNSET_VARIABLE"},
		{"secret unreadable", config.SecretRef{Value: "bot"}, missing, "", "", "KEYAGE_TEST_UNSET_VARIABLE"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			user, pass, err := resolveCredentials(tt.user, tt.secret)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("resolveCredentials = %v, want an error naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil || user != tt.wantUser || pass != tt.wantPass {
				t.Errorf("resolveCredentials = %q, %q, %v; want %q, %q", user, pass, err, tt.wantUser, tt.wantPass)
			}
		})
	}
}
