package jira

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/keyage/keyage/internal/notify"
	"github.com/keyage/keyage/internal/notify/notifytest"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

const (
	user  = "bot@example.com"
	token = "ATATT3xFfGF0-jira-api-token"
)

type issue struct {
	key      string
	labels   []string
	done     bool
	fields   map[string]json.RawMessage
	comments []json.RawMessage
}

// fakeJira is an in-memory Jira with the endpoints the receiver uses. It
// checks authentication and the request shapes of its API version.
type fakeJira struct {
	t       *testing.T
	version int
	// legacySearchGone answers 410 to /rest/api/2/search, like Cloud.
	legacySearchGone bool
	// failStatus, when set, answers every request with it.
	failStatus int

	mu          sync.Mutex
	issues      []*issue
	calls       []string // "METHOD path"
	createBody  []byte
	transitions []string // "KEY:id"
}

var jqlRE = regexp.MustCompile(`^project = "([^"]+)" AND labels = "([^"]+)" AND statusCategory != Done ORDER BY created DESC$`)

func (f *fakeJira) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, r.Method+" "+r.URL.Path)
	if f.failStatus != 0 {
		w.WriteHeader(f.failStatus)
		fmt.Fprintf(w, `{"errorMessages":["failing with %d"],"errors":{}}`, f.failStatus)
		return
	}
	auth := r.Header.Get("Authorization")
	wantAuth := "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+token))
	if auth != wantAuth && auth != "Bearer "+token {
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"errorMessages":["You are not authenticated. Authentication required to perform this operation."],"errors":{}}`)
		return
	}
	prefix := fmt.Sprintf("/rest/api/%d", f.version)
	path, ok := strings.CutPrefix(r.URL.Path, prefix)
	if !ok {
		f.t.Errorf("request %s %s outside %s", r.Method, r.URL.Path, prefix)
		w.WriteHeader(http.StatusNotFound)
		return
	}
	body, _ := io.ReadAll(r.Body)
	if r.Method == http.MethodPost && r.Header.Get("Content-Type") != "application/json" {
		f.t.Errorf("%s %s: Content-Type %q", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
	}
	parts := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case r.Method == http.MethodGet && (path == "/search" || path == "/search/jql"):
		if path == "/search" && (f.version == 3 || f.legacySearchGone) {
			w.WriteHeader(http.StatusGone)
			io.WriteString(w, `{"errorMessages":["The requested API has been removed. Please migrate to the /rest/api/3/search/jql API."],"errors":{}}`)
			return
		}
		sm := jqlRE.FindStringSubmatch(r.URL.Query().Get("jql"))
		if sm == nil {
			f.t.Errorf("unexpected JQL %q", r.URL.Query().Get("jql"))
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		var found []map[string]string
		for i := len(f.issues) - 1; i >= 0; i-- {
			is := f.issues[i]
			if strings.HasPrefix(is.key, sm[1]+"-") && slices.Contains(is.labels, sm[2]) && !is.done {
				found = append(found, map[string]string{"id": fmt.Sprint(10000 + i), "key": is.key})
			}
		}
		json.NewEncoder(w).Encode(map[string]any{"issues": found})
	case r.Method == http.MethodPost && path == "/issue":
		f.createBody = body
		var req struct {
			Fields map[string]json.RawMessage `json:"fields"`
		}
		if err := json.Unmarshal(body, &req); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if err := f.checkDescription(req.Fields["description"]); err != nil {
			f.t.Errorf("create: %v", err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		var project struct{ Key string }
		var labels []string
		json.Unmarshal(req.Fields["project"], &project)
		json.Unmarshal(req.Fields["labels"], &labels)
		is := &issue{key: fmt.Sprintf("%s-%d", project.Key, len(f.issues)+1), labels: labels, fields: req.Fields}
		f.issues = append(f.issues, is)
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"id":"%d","key":%q,"self":"http://jira/rest/api/%d/issue/%d"}`, 10000+len(f.issues), is.key, f.version, 10000+len(f.issues))
	case len(parts) == 3 && parts[0] == "issue" && parts[2] == "comment" && r.Method == http.MethodPost:
		is := f.issue(parts[1])
		var req struct {
			Body json.RawMessage `json:"body"`
		}
		json.Unmarshal(body, &req)
		if is == nil {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		if err := f.checkDescription(req.Body); err != nil {
			f.t.Errorf("comment: %v", err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		is.comments = append(is.comments, req.Body)
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"id":"1"}`)
	case len(parts) == 3 && parts[0] == "issue" && parts[2] == "transitions":
		is := f.issue(parts[1])
		if is == nil {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		if r.Method == http.MethodGet {
			io.WriteString(w, `{"transitions":[{"id":"11","name":"To Do","to":{"name":"To Do"}},{"id":"21","name":"In Progress","to":{"name":"In Progress"}},{"id":"31","name":"Done","to":{"name":"Done"}}]}`)
			return
		}
		var req struct {
			Transition struct{ ID string } `json:"transition"`
		}
		json.Unmarshal(body, &req)
		f.transitions = append(f.transitions, is.key+":"+req.Transition.ID)
		if req.Transition.ID == "31" {
			is.done = true
		}
		w.WriteHeader(http.StatusNoContent)
	case len(parts) == 2 && parts[0] == "project" && r.Method == http.MethodGet:
		fmt.Fprintf(w, `{"key":%q}`, parts[1])
	default:
		f.t.Errorf("unexpected request %s %s", r.Method, r.URL.Path)
		w.WriteHeader(http.StatusNotFound)
	}
}

func (f *fakeJira) issue(key string) *issue {
	for _, is := range f.issues {
		if is.key == key {
			return is
		}
	}
	return nil
}

// checkDescription checks a description or comment body: a string in v2,
// an ADF document in v3.
func (f *fakeJira) checkDescription(raw json.RawMessage) error {
	if f.version == 2 {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil || s == "" {
			return fmt.Errorf("v2 body %s is not a non-empty string", raw)
		}
		return nil
	}
	var doc struct {
		Type    string
		Version int
		Content []json.RawMessage
	}
	if err := json.Unmarshal(raw, &doc); err != nil || doc.Type != "doc" || doc.Version != 1 || len(doc.Content) == 0 {
		return fmt.Errorf("v3 body %s is not an ADF document", raw)
	}
	if strings.Contains(string(raw), `"text":""`) {
		return fmt.Errorf("v3 body has an empty text node")
	}
	return nil
}

func newJira(t *testing.T, version int, opts Options) (*fakeJira, *Notifier) {
	t.Helper()
	f := &fakeJira{t: t, version: version}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	opts.BaseURL = srv.URL + "/"
	opts.APIVersion = version
	if opts.BearerToken == "" && opts.User == "" {
		opts.User, opts.Token = user, token
	}
	if opts.Project == "" {
		opts.Project = "SEC"
	}
	n, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return f, n
}

func mustNotify(t *testing.T, n *Notifier, m notify.Message) {
	t.Helper()
	if retry, err := n.Notify(context.Background(), m); err != nil || retry {
		t.Fatalf("Notify(%s) = %v, %v, want false, nil", m.Kind, retry, err)
	}
}

func TestCreateThenComment(t *testing.T) {
	for _, version := range []int{2, 3} {
		t.Run(fmt.Sprintf("v%d", version), func(t *testing.T) {
			assignee := "jdoe"
			if version == 3 {
				assignee = "5b10ac8d82e05b22cc7d4ef5"
			}
			f, n := newJira(t, version, Options{
				IssueType: "Bug",
				Labels:    []string{"security", "iam"},
				Assignee:  assignee,
				Fields:    map[string]any{"priority": map[string]string{"name": "High"}, "customfield_10010": "keyage"},
			})
			m := notifytest.Message()
			mustNotify(t, n, m)
			mustNotify(t, n, m) // the second run comments instead of opening a duplicate

			if len(f.issues) != 1 {
				t.Fatalf("%d issues after two runs, want 1", len(f.issues))
			}
			if c := len(f.issues[0].comments); c != 1 {
				t.Errorf("%d comments on %s, want 1", c, f.issues[0].key)
			}
			wantLabels := []string{"security", "iam", "keyage-222222222222-AKIAALICEEXAMPLE0001"}
			if diff := cmp.Diff(wantLabels, f.issues[0].labels); diff != "" {
				t.Errorf("labels (-want +got):\n%s", diff)
			}
			search := fmt.Sprintf("GET /rest/api/%d/search", version)
			if version == 3 {
				search += "/jql"
			}
			wantCalls := []string{
				search, fmt.Sprintf("POST /rest/api/%d/issue", version),
				search, fmt.Sprintf("POST /rest/api/%d/issue/SEC-1/comment", version),
			}
			if diff := cmp.Diff(wantCalls, f.calls); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
			golden(t, fmt.Sprintf("create_v%d.golden.json", version), f.createBody)
		})
	}
}

func golden(t *testing.T, name string, body []byte) {
	t.Helper()
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	got, _ := json.MarshalIndent(v, "", "  ")
	got = append(got, '\n')
	path := filepath.Join("testdata", name)
	if *update {
		os.WriteFile(path, got, 0o644)
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("request body differs from %s (-want +got):\n%s", path, diff)
	}
}

func TestResolvedTransitions(t *testing.T) {
	for _, version := range []int{2, 3} {
		t.Run(fmt.Sprintf("v%d", version), func(t *testing.T) {
			f, n := newJira(t, version, Options{ResolveTransition: "done"})
			m := notifytest.Message()
			mustNotify(t, n, m)
			resolved := m
			resolved.ID, resolved.Kind, resolved.Text = "msg-0002", notify.KindResolved, `Account "222222222222" User "alice" rotated their access key.`
			mustNotify(t, n, resolved)
			if diff := cmp.Diff([]string{"SEC-1:31"}, f.transitions); diff != "" {
				t.Errorf("transitions (-want +got):\n%s", diff)
			}
			if len(f.issues[0].comments) != 1 || !strings.Contains(string(f.issues[0].comments[0]), "rotated their access key") {
				t.Errorf("comments = %s, want the resolved text", f.issues[0].comments)
			}
			// Resolved again: no open issue, nothing to do.
			mustNotify(t, n, resolved)
			if len(f.transitions) != 1 {
				t.Errorf("transitions = %v after a second resolve, want one", f.transitions)
			}
			// The key ages again: a new issue, the closed one stays closed.
			mustNotify(t, n, m)
			if len(f.issues) != 2 {
				t.Errorf("%d issues, want 2 (a new one after the first was done)", len(f.issues))
			}
		})
	}
}

func TestResolvedWithoutTransitionOnlyComments(t *testing.T) {
	f, n := newJira(t, 3, Options{})
	m := notifytest.Message()
	mustNotify(t, n, m)
	m.Kind = notify.KindResolved
	mustNotify(t, n, m)
	if len(f.transitions) != 0 || len(f.issues[0].comments) != 1 {
		t.Errorf("transitions %v, comments %d; want none and 1", f.transitions, len(f.issues[0].comments))
	}
}

func TestUnknownTransition(t *testing.T) {
	_, n := newJira(t, 3, Options{ResolveTransition: "Closed"})
	m := notifytest.Message()
	mustNotify(t, n, m)
	m.Kind = notify.KindResolved
	retry, err := n.Notify(context.Background(), m)
	if err == nil || retry || !strings.Contains(err.Error(), `no transition named "Closed" available (have "To Do", "In Progress", "Done")`) {
		t.Errorf("Notify = %v, %v, want a final error listing the transitions", retry, err)
	}
}

func TestOneIssuePerItem(t *testing.T) {
	f, n := newJira(t, 3, Options{})
	m := notifytest.Message()
	m.Items = append(m.Items, notifytest.Item("bob", "AKIABOBEXAMPLE000002", 95), notify.Item{AccountID: "333333333333", UserName: "carol", ResourceID: "AIDACAROLEXAMPLE", AgeDays: 200})
	mustNotify(t, n, m)
	mustNotify(t, n, m)
	if len(f.issues) != 3 {
		t.Fatalf("%d issues, want 3", len(f.issues))
	}
	var summaries []string
	for _, is := range f.issues {
		var s string
		json.Unmarshal(is.fields["summary"], &s)
		summaries = append(summaries, s)
		if len(is.comments) != 1 {
			t.Errorf("%s has %d comments, want 1", is.key, len(is.comments))
		}
	}
	want := []string{
		"Rotate access key AKIAALICEEXAMPLE0001 of IAM user alice in account 222222222222",
		"Rotate access key AKIABOBEXAMPLE000002 of IAM user bob in account 222222222222",
		"Rotate the access keys of IAM user carol in account 333333333333",
	}
	if diff := cmp.Diff(want, summaries); diff != "" {
		t.Errorf("summaries (-want +got):\n%s", diff)
	}
	if !slices.Contains(f.issues[2].labels, "keyage-333333333333-AIDACAROLEXAMPLE") {
		t.Errorf("user-level finding labels = %v, want the resourceId label", f.issues[2].labels)
	}
}

func TestV2FallsBackToSearchJQLOnGone(t *testing.T) {
	f, n := newJira(t, 2, Options{BearerToken: token})
	f.legacySearchGone = true
	m := notifytest.Message()
	mustNotify(t, n, m)
	mustNotify(t, n, m)
	want := []string{
		"GET /rest/api/2/search", "GET /rest/api/2/search/jql", "POST /rest/api/2/issue",
		"GET /rest/api/2/search/jql", "POST /rest/api/2/issue/SEC-1/comment",
	}
	if diff := cmp.Diff(want, f.calls); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}

func TestTestMessageChecksProject(t *testing.T) {
	f, n := newJira(t, 3, Options{})
	mustNotify(t, n, notify.Message{ID: "t", Kind: notify.KindTest})
	if diff := cmp.Diff([]string{"GET /rest/api/3/project/SEC"}, f.calls); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}

func TestErrors(t *testing.T) {
	for _, tt := range []struct {
		name      string
		status    int
		token     string
		wantRetry bool
		want      string
	}{
		{"bad token", 0, "wrong-token-value", false, "HTTP 401"},
		{"jira down", 503, token, true, "HTTP 503"},
		{"rate limited", 429, token, true, "HTTP 429"},
		{"bad field", 400, token, false, "HTTP 400"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeJira{t: t, version: 3, failStatus: tt.status}
			srv := httptest.NewServer(f)
			defer srv.Close()
			n, err := New(Options{BaseURL: srv.URL, User: user, Token: tt.token, Project: "SEC"})
			if err != nil {
				t.Fatal(err)
			}
			retry, err := n.Notify(context.Background(), notifytest.Message())
			if err == nil || retry != tt.wantRetry || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Notify = %v, %v, want retry %v and an error containing %q", retry, err, tt.wantRetry, tt.want)
			}
			if !strings.Contains(err.Error(), "AKIAALICEEXAMPLE0001") {
				t.Errorf("error %q does not name the key", err)
			}
			notifytest.NoSecrets(t, err, tt.token, base64.StdEncoding.EncodeToString([]byte(user+":"+tt.token)))
		})
	}
}

func TestNewValidates(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts Options
		want []string
	}{
		{"empty", Options{}, []string{"url: required", "auth: user and token, or bearerToken, required"}},
		{"both auths", Options{BaseURL: "https://x.atlassian.net", User: "u", Token: "secret-token", BearerToken: "secret-pat", Project: "SEC"}, []string{"either user and token or bearerToken"}},
		{"user without token", Options{BaseURL: "https://x.atlassian.net", User: "u", Project: "SEC"}, []string{"needs both user and token"}},
		// apiVersion, project and labels are config's (notify-many-problems.golden).
		{"bad version is a caller bug", Options{BaseURL: "https://x.atlassian.net", BearerToken: "t", Project: "SEC", APIVersion: 4}, []string{"APIVersion 4"}},
		{"field override", Options{BaseURL: "https://x.atlassian.net", BearerToken: "t", Project: "SEC", Fields: map[string]any{"summary": "x"}}, []string{"fields.summary"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			notifytest.NewFails(t, New, tt.opts, tt.want, "secret-token", "secret-pat")
		})
	}
}

func TestWikiEscapes(t *testing.T) {
	got := wiki("a *b* [c]", []detail{{label: "User", value: "svc_deploy|x"}, {label: "Console", value: "https://c/x", link: true}})
	want := "a \\*b\\* \\[c\\]\n\n* *User:* svc\\_deploy\\|x\n* *Console:* [https://c/x]"
	if got != want {
		t.Errorf("wiki = %q, want %q", got, want)
	}
}

func TestCreateTestIssue(t *testing.T) {
	for _, tt := range []struct {
		name       string
		transition string
		wantErr    string
		wantDone   bool
	}{
		{"no resolveTransition: Done", "", "", true},
		{"configured transition", "done", "", true},
		{"unknown transition leaves the issue open", "Closed", `resolve test issue SEC-1 with transition "Closed" (it stays open)`, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, n := newJira(t, 3, Options{ResolveTransition: tt.transition})
			m := notifytest.Message()
			m.Kind, m.Subject = notify.KindTest, "[keyage test] test message"
			key, _, err := n.CreateTestIssue(context.Background(), m)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("CreateTestIssue error = %v, want %q", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatalf("CreateTestIssue: %v", err)
			}
			if key != "SEC-1" || len(f.issues) != 1 {
				t.Fatalf("CreateTestIssue key = %q with %d issues, want SEC-1 and one issue", key, len(f.issues))
			}
			if got := f.issues[0]; got.done != tt.wantDone || !slices.Contains(got.labels, TestLabel) {
				t.Errorf("test issue done %v labels %v, want done %v and label %s", got.done, got.labels, tt.wantDone, TestLabel)
			}
		})
	}
}
