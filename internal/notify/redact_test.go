package notify

import (
	"encoding/base64"
	"strings"
	"testing"
)

// Every encoding of a credential a protocol sends is redacted (issue 13
// row 10): Basic, SASL PLAIN and LOGIN, URL user info.
func TestRedactCredentialForms(t *testing.T) {
	const user, pass = "bot@example.com", "p@ss word/9"
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	for _, tt := range []struct {
		name, leak string
		secrets    []string
	}{
		{"plain secret", pass, CredentialSecrets(user, pass)},
		{"HTTP Basic", "Authorization: Basic " + b64(user+":"+pass), CredentialSecrets(user, pass)},
		{"SASL PLAIN", "AUTH PLAIN " + b64("\x00"+user+"\x00"+pass), CredentialSecrets(user, pass)},
		{"SASL PLAIN with authzid", "AUTH PLAIN " + b64(user+"\x00"+user+"\x00"+pass), CredentialSecrets(user, pass)},
		{"SASL LOGIN", "334 " + b64(pass), []string{pass}},
		{"URL user info", "GET https://bot:p%40ss%20word%2F9@hooks.example.com/x", URLSecrets("https://bot:p%40ss%20word%2F9@hooks.example.com/x")},
		{"Basic from URL user info", "Basic " + b64("bot:"+pass), URLSecrets("https://bot:p%40ss%20word%2F9@hooks.example.com/")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := Redact("server said: "+tt.leak, tt.secrets...)
			if !strings.Contains(got, Redacted) || strings.Contains(got, pass) || strings.Contains(got, "p%40ss") {
				t.Errorf("Redact(%q) = %q, want the credential hidden", tt.leak, got)
			}
			for _, s := range tt.secrets {
				if len(s) >= 4 && strings.Contains(got, s) {
					t.Errorf("Redact(%q) = %q, still holds secret form %q", tt.leak, got, s)
				}
			}
		})
	}
	if CredentialSecrets(user, "") != nil {
		t.Errorf("CredentialSecrets with no secret = non-nil, want nil (nothing to hide)")
	}
}
