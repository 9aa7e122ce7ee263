package cli

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyage/keyage/internal/server"
	"github.com/keyage/keyage/internal/store"
)

// TestRotateOutput runs keyage rotate as a dry run and applied, as a table
// and as JSON: the JSON carries each step with the new key, the secret's ARN
// and the dates, and no output carries the new key's secret.
func TestRotateOutput(t *testing.T) {
	srv := sandboxEnvWith(t, "../rotate/testdata/org.yaml")
	dir := t.TempDir()
	cfg := writeConfig(t, `accounts: {ids: ["222222222222"]}
rule: {maxAccessKeyAge: 90, warnAge: 80}
lifecycle:
  deactivateAge: 120
  deleteAge: 130
  rotate: {enabled: true, match: {userPath: [/ci/]}, deactivateAfter: 14d, deleteAfter: 30d}
`)
	state := filepath.Join(dir, "keyage.db")
	var newKey, resourceID string
	type doc struct {
		Applied bool
		Steps   []struct {
			UserName, Action, Outcome, ResourceID string
			Rotation                              struct {
				NewAccessKeyID string `json:"newAccessKeyId"`
				SecretARN      string `json:"secretArn"`
				Phase          string `json:"phase"`
				CreatedAt      string `json:"createdAt"`
				DeactivateAt   string `json:"deactivateAt"`
			}
		}
	}
	for _, tt := range []struct {
		name     string
		args     []string
		applied  bool
		wantStep string // ci's step: action outcome phase
	}{
		{"dry run", nil, false, "rotate-create-key dry-run "},
		{"apply", []string{"--apply"}, true, "rotate-create-key applied stored"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"rotate", "--config", cfg, "--state", state, "--log-level", "error", "-o", "json"}, tt.args...)
			code, out, stderr := runCLI(t, args...)
			var d doc
			if err := json.Unmarshal([]byte(out), &d); code != ExitOK || err != nil {
				t.Fatalf("keyage %s: exit %d, %v\n%s\n%s", strings.Join(args, " "), code, err, out, stderr)
			}
			var ci string
			for _, s := range d.Steps {
				if s.UserName == "ci" {
					ci = s.Action + " " + s.Outcome + " " + s.Rotation.Phase
					newKey, resourceID = s.Rotation.NewAccessKeyID, s.ResourceID
					if tt.applied && (!strings.HasPrefix(s.Rotation.NewAccessKeyID, "AKIA") || !strings.Contains(s.Rotation.SecretARN, ":secret:keyage/access-keys/ci") ||
						s.Rotation.CreatedAt == "" || s.Rotation.DeactivateAt == "") {
						t.Errorf("ci's applied step = %+v, want the new key, the secret's ARN and the dates", s)
					}
					if secret, ok := srv.AccessKeySecret(s.Rotation.NewAccessKeyID); ok && strings.Contains(out+stderr, secret) {
						t.Errorf("keyage rotate -o json printed the new key's secret")
					}
				}
			}
			if ci != tt.wantStep || d.Applied != tt.applied {
				t.Errorf("keyage rotate -o json: ci's step %q, applied %v; want %q, %v\n%s", ci, d.Applied, tt.wantStep, tt.applied, out)
			}
		})
	}
	code, out, stderr := runCLI(t, "rotate", "--config", cfg, "--state", state, "--log-level", "error")
	if code != ExitOK || !strings.Contains(out, "rotate-deactivate-old  scheduled") || !strings.Contains(out, "Dry run (nothing changed; --apply to act).") {
		t.Errorf("keyage rotate (table): exit %d\n%s\n%s", code, out, stderr)
	}
	if code, _, stderr := runCLI(t, "rotate", "--config", cfg, "--state", state, "-o", "csv"); code != ExitUsage {
		t.Errorf("keyage rotate -o csv: exit %d, want a usage error\n%s", code, stderr)
	}

	// The dashboard and the API over the state the rotation recorded show
	// the new key and never its secret.
	secret, ok := srv.AccessKeySecret(newKey)
	if !ok || secret == "" {
		t.Fatalf("the sandbox has no secret for the new key %q", newKey)
	}
	// The user page needs the user's evaluation: a run records it.
	if code, out, stderr := runCLI(t, "run", "--config", cfg, "--state", state, "--log-level", "error"); code != ExitOK && code != ExitNonCompliant {
		t.Fatalf("keyage run: exit %d\n%s\n%s", code, out, stderr)
	}
	st, err := store.Open(context.Background(), state, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s, err := server.New(server.Options{Store: st, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	defer ts.Close()
	for _, path := range []string{"/api/v1/rotations", "/rotations", "/api/v1/rotations?user=ci", "/api/v1/users/222222222222/" + resourceID, "/users/222222222222/" + resourceID} {
		resp, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || !strings.Contains(string(b), newKey) {
			t.Errorf("GET %s = %d, %v; want the new key %s listed\n%s", path, resp.StatusCode, err, newKey, b)
		}
		if strings.Contains(string(b), secret) {
			t.Errorf("GET %s shows the new key's secret", path)
		}
	}
}
