package receivers_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/keyage/keyage/internal/config"
	"github.com/keyage/keyage/internal/notify"
	"github.com/keyage/keyage/internal/notify/receivers"
)

func mustConfig(t *testing.T, yaml string) *config.Config {
	t.Helper()
	cfg, err := config.Parse([]byte(yaml), "test.yaml")
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

// The jira receiver's assignee and fields are templates, rendered for each
// key's issue, and sent in the shapes Jira expects.
func TestJiraIssueTemplates(t *testing.T) {
	var mu sync.Mutex
	var created []map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/rest/api/3/search/jql":
			io.WriteString(w, `{"issues": []}`)
		case r.Method == http.MethodPost && r.URL.Path == "/rest/api/3/issue":
			var body struct {
				Fields map[string]any `json:"fields"`
			}
			if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
				t.Errorf("create issue body: %v", err)
			}
			mu.Lock()
			created = append(created, body.Fields)
			mu.Unlock()
			io.WriteString(w, `{"key": "SEC-1"}`)
		default:
			t.Errorf("unexpected %s %s", r.Method, r.URL)
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	t.Setenv("JIRA_TOKEN", "s3cret-token")
	cfg := mustConfig(t, `
receivers:
  - name: tickets
    jira:
      url: `+srv.URL+`
      project: SEC
      user: keyage@example.com
      tokenEnv: JIRA_TOKEN
      assignee: "{{ .Owner }}"
      fields:
        priority: "{{ if gt .AgeDays 365 }}Highest{{ else }}High{{ end }}"
        components: "iam, access-keys"
        customfield_10010: "{{ .AccountID }}/{{ .UserName }}"
        customfield_10020: '{"value": "{{ .Stage }}"}'
        duedate: "{{ .Owner }}"
routes: [{receivers: [tickets]}]
`)
	ns, err := receivers.Build(cfg, receivers.Env{Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	items := []notify.Item{
		{AccountID: "222222222222", UserName: "alice", ResourceID: "AIDA1", AccessKeyID: "AKIA1", AgeDays: 400, Stage: "expired", Owner: "acct-alice"},
		{AccountID: "222222222222", UserName: "bob", ResourceID: "AIDA2", AccessKeyID: "AKIA2", AgeDays: 120, Stage: "expired"},
	}
	if _, err := ns["tickets"].Notify(context.Background(), notify.Message{ID: "m1", Kind: notify.KindFinding, Receiver: "tickets", Subject: "s", Text: "t", Items: items}); err != nil {
		t.Fatal(err)
	}
	if len(created) != 2 {
		t.Fatalf("%d issues created, want one per key", len(created))
	}
	pick := func(f map[string]any) map[string]any {
		out := map[string]any{}
		for _, k := range []string{"assignee", "priority", "components", "customfield_10010", "customfield_10020", "duedate"} {
			if v, ok := f[k]; ok {
				out[k] = v
			}
		}
		return out
	}
	want := []map[string]any{
		{"assignee": map[string]any{"accountId": "acct-alice"}, "priority": map[string]any{"name": "Highest"},
			"components":        []any{map[string]any{"name": "iam"}, map[string]any{"name": "access-keys"}},
			"customfield_10010": "222222222222/alice", "customfield_10020": map[string]any{"value": "expired"}, "duedate": "acct-alice"},
		// bob has no owner: no assignee, and a field rendered empty is left out.
		{"priority": map[string]any{"name": "High"},
			"components":        []any{map[string]any{"name": "iam"}, map[string]any{"name": "access-keys"}},
			"customfield_10010": "222222222222/bob", "customfield_10020": map[string]any{"value": "expired"}},
	}
	got := []map[string]any{pick(created[0]), pick(created[1])}
	if strings.Contains(created[0]["summary"].(string), "bob") {
		got[0], got[1] = got[1], got[0]
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("issue fields (-want +got):\n%s", diff)
	}
}
