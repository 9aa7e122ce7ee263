// Package jira opens one Jira issue per access key through the Jira REST
// API (v2 for Data Center and Server, v3 for Cloud), and comments on it
// instead of opening a second one.
//
// De-duplication uses a label: keyage-<accountId>-<accessKeyId>, or the
// user's resourceId for a user-level finding. Before creating, the
// receiver searches the project for an open issue (statusCategory !=
// Done) with that label; when one exists it adds a comment. A resolved
// message comments on the open issue and, when configured, transitions it
// (e.g. to "Done").
package jira

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/keyage/keyage/internal/notify"
)

// DefaultTimeout bounds one HTTP request when Options.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// DefaultIssueType is the issue type when Options.IssueType is empty.
const DefaultIssueType = "Task"

// LabelPrefix starts every de-duplication label.
const LabelPrefix = "keyage-"

const maxSummary = 255

// Options configure a Jira receiver. Values are resolved: the caller
// reads tokens from files or the environment.
type Options struct {
	// BaseURL is the site, e.g. https://example.atlassian.net, or a Data
	// Center base URL with its context path.
	BaseURL string
	// APIVersion is 2 or 3 (Cloud only); 3 when zero. It decides the
	// description and comment format (wiki text or Atlassian Document
	// Format) and the assignee field ({"name"} or {"accountId"}).
	APIVersion int
	// User and Token authenticate with basic auth (Cloud: e-mail and API
	// token); BearerToken with a personal access token (Data Center).
	// Exactly one of the two is required.
	User        string
	Token       string
	BearerToken string
	// Project is the project key, e.g. SEC.
	Project string
	// IssueType is the issue type name; DefaultIssueType when empty.
	IssueType string
	// Labels are added to every issue, with the de-duplication label.
	Labels []string
	// Assignee is an account ID (v3) or a user name (v2); none when empty.
	Assignee string
	// Fields are extra issue fields, sent as given (e.g. "priority":
	// {"name": "High"}, "customfield_10010": "x"). They cannot replace
	// project, issuetype, summary, description or labels.
	Fields map[string]any
	// Issue, when set, gives the assignee and the extra fields of the new
	// issue of one item (rendered from the receiver's templates for that
	// key's user); they replace Assignee and Fields. An error fails the
	// message for good.
	Issue func(it notify.Item) (assignee string, fields map[string]any, err error)
	// ResolveTransition names the transition applied to the issue when
	// its key is resolved (e.g. "Done"); empty only comments.
	ResolveTransition string
	// HTTPOptions: Timeout bounds one HTTP request (DefaultTimeout when
	// zero).
	notify.HTTPOptions
}

// Notifier files and updates Jira issues in one project.
type Notifier struct {
	opts     Options
	base     string
	endpoint string
	secrets  []string
	// searchJQL is set once a v2 site answered 410 Gone to /search:
	// Jira Cloud removed it for /search/jql.
	searchJQL atomic.Bool
}

var _ notify.Notifier = (*Notifier)(nil)

// fields the receiver sets itself.
var ownFields = map[string]bool{"project": true, "issuetype": true, "summary": true, "description": true, "labels": true}

// New returns a Notifier. Project, labels and the API version are
// config's to validate (config.JiraConfig); New checks only what the
// caller assembles: the URL, the authentication and the extra fields.
func New(opts Options) (*Notifier, error) {
	var errs []error
	u, err := url.Parse(opts.BaseURL)
	switch {
	case opts.BaseURL == "":
		errs = append(errs, errors.New("url: required"))
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "":
		errs = append(errs, errors.New("url: must be an absolute http or https URL without a query"))
	}
	if opts.APIVersion == 0 {
		opts.APIVersion = 3
	}
	if opts.APIVersion != 2 && opts.APIVersion != 3 {
		// config validates apiVersion; another value is a caller's bug.
		return nil, fmt.Errorf("jira.New: APIVersion %d is neither 2 nor 3", opts.APIVersion)
	}
	basic := opts.User != "" || opts.Token != ""
	switch {
	case basic && opts.BearerToken != "":
		errs = append(errs, errors.New("auth: set either user and token or bearerToken, not both"))
	case basic && (opts.User == "" || opts.Token == ""):
		errs = append(errs, errors.New("auth: basic auth needs both user and token"))
	case !basic && opts.BearerToken == "":
		errs = append(errs, errors.New("auth: user and token, or bearerToken, required"))
	}
	for k := range opts.Fields {
		if ownFields[k] {
			errs = append(errs, fmt.Errorf("fields.%s: set by keyage, cannot be overridden", k))
		}
	}
	if opts.Timeout < 0 {
		errs = append(errs, errors.New("timeout: must not be negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("jira: %w", err)
	}
	if opts.IssueType == "" {
		opts.IssueType = DefaultIssueType
	}
	opts.HTTPOptions = opts.HTTPOptions.WithDefaults(DefaultTimeout)
	return &Notifier{
		opts:     opts,
		base:     strings.TrimRight(opts.BaseURL, "/"),
		endpoint: notify.Endpoint(opts.BaseURL),
		secrets:  append(append(notify.CredentialSecrets(opts.User, opts.Token), opts.BearerToken), notify.URLSecrets(opts.BaseURL)[1:]...),
	}, nil
}

// DedupeLabel is the label that identifies the issue of it: keyage-<account
// id>-<access key id>, or the resourceId for a user-level finding.
func DedupeLabel(it notify.Item) string {
	id := it.AccessKeyID
	if id == "" {
		id = it.ResourceID
	}
	return LabelPrefix + it.AccountID + "-" + id
}

// Notify handles each item of m: a finding comments on the key's open
// issue or creates one; a resolved message comments and transitions; a
// test message checks access to the project. Failures of several items
// are joined; retry is true when any of them is transient (retrying
// items that succeeded only adds a comment).
func (n *Notifier) Notify(ctx context.Context, m notify.Message) (retry bool, err error) {
	if m.Kind == notify.KindTest {
		return n.checkProject(ctx)
	}
	var errs []error
	for _, it := range m.Items {
		r, err := n.notifyItem(ctx, m, it)
		if err != nil {
			retry = retry || r
			errs = append(errs, fmt.Errorf("key %s of user %q in %s: %w", keyID(it), it.UserName, it.AccountID, err))
		}
	}
	if len(errs) > 0 {
		return retry, fmt.Errorf("jira project %s, message %s: %w", n.opts.Project, m.ID, errors.Join(errs...))
	}
	return false, nil
}

func (n *Notifier) notifyItem(ctx context.Context, m notify.Message, it notify.Item) (bool, error) {
	label := DedupeLabel(it)
	issue, retry, err := n.findOpen(ctx, label)
	if err != nil {
		return retry, fmt.Errorf("search open issue labelled %s: %w", label, err)
	}
	if m.Kind == notify.KindResolved {
		if issue == "" {
			return false, nil // nothing was opened, or it was closed by hand
		}
		if retry, err := n.comment(ctx, issue, m, it); err != nil {
			return retry, fmt.Errorf("comment on %s: %w", issue, err)
		}
		if n.opts.ResolveTransition == "" {
			return false, nil
		}
		if retry, err := n.transition(ctx, issue, n.opts.ResolveTransition); err != nil {
			return retry, fmt.Errorf("transition %s to %q: %w", issue, n.opts.ResolveTransition, err)
		}
		return false, nil
	}
	if issue != "" {
		if retry, err := n.comment(ctx, issue, m, it); err != nil {
			return retry, fmt.Errorf("comment on %s: %w", issue, err)
		}
		return false, nil
	}
	if _, retry, err := n.create(ctx, m, it, label); err != nil {
		return retry, fmt.Errorf("create issue: %w", err)
	}
	return false, nil
}

// findOpen returns the key of the newest open issue with label, "" when
// there is none.
func (n *Notifier) findOpen(ctx context.Context, label string) (string, bool, error) {
	jql := fmt.Sprintf(`project = %s AND labels = %s AND statusCategory != Done ORDER BY created DESC`, quoteJQL(n.opts.Project), quoteJQL(label))
	q := url.Values{"jql": {jql}, "maxResults": {"1"}, "fields": {"summary"}}
	path := "/search"
	if n.opts.APIVersion == 3 || n.searchJQL.Load() {
		path = "/search/jql"
	}
	var res struct {
		Issues []struct {
			Key string `json:"key"`
		} `json:"issues"`
	}
	retry, err := n.call(ctx, http.MethodGet, path+"?"+q.Encode(), nil, &res)
	var herr *notify.HTTPError
	if path == "/search" && errors.As(err, &herr) && herr.StatusCode == http.StatusGone {
		// Jira Cloud removed /rest/api/2/search; its successor takes the
		// same parameters.
		n.searchJQL.Store(true)
		retry, err = n.call(ctx, http.MethodGet, "/search/jql?"+q.Encode(), nil, &res)
	}
	if err != nil {
		return "", retry, err
	}
	if len(res.Issues) == 0 {
		return "", false, nil
	}
	return res.Issues[0].Key, false, nil
}

func (n *Notifier) create(ctx context.Context, m notify.Message, it notify.Item, label string) (string, bool, error) {
	assignee, extra := n.opts.Assignee, n.opts.Fields
	if n.opts.Issue != nil {
		var err error
		if assignee, extra, err = n.opts.Issue(it); err != nil {
			return "", false, fmt.Errorf("issue fields: %w", err)
		}
	}
	fields := map[string]any{}
	for k, v := range extra {
		if !ownFields[k] {
			fields[k] = v
		}
	}
	fields["project"] = map[string]string{"key": n.opts.Project}
	fields["issuetype"] = map[string]string{"name": n.opts.IssueType}
	fields["summary"] = summary(m, it)
	fields["description"] = n.body(m, it)
	labels := append(append([]string{}, n.opts.Labels...), label)
	fields["labels"] = labels
	if assignee != "" {
		if n.opts.APIVersion == 3 {
			fields["assignee"] = map[string]string{"accountId": assignee}
		} else {
			fields["assignee"] = map[string]string{"name": assignee}
		}
	}
	var res struct {
		Key string `json:"key"`
	}
	retry, err := n.call(ctx, http.MethodPost, "/issue", map[string]any{"fields": fields}, &res)
	return res.Key, retry, err
}

func (n *Notifier) comment(ctx context.Context, issue string, m notify.Message, it notify.Item) (bool, error) {
	return n.call(ctx, http.MethodPost, "/issue/"+url.PathEscape(issue)+"/comment", map[string]any{"body": n.body(m, it)}, nil)
}

// transition applies the transition called name (or leading to a status
// called name) to issue.
func (n *Notifier) transition(ctx context.Context, issue, name string) (bool, error) {
	path := "/issue/" + url.PathEscape(issue) + "/transitions"
	var res struct {
		Transitions []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
			To   struct {
				Name string `json:"name"`
			} `json:"to"`
		} `json:"transitions"`
	}
	if retry, err := n.call(ctx, http.MethodGet, path, nil, &res); err != nil {
		return retry, fmt.Errorf("list transitions: %w", err)
	}
	var names []string
	for _, t := range res.Transitions {
		if strings.EqualFold(t.Name, name) || strings.EqualFold(t.To.Name, name) {
			return n.call(ctx, http.MethodPost, path, map[string]any{"transition": map[string]string{"id": t.ID}}, nil)
		}
		names = append(names, fmt.Sprintf("%q", t.Name))
	}
	return false, fmt.Errorf("no transition named %q available (have %s)", name, strings.Join(names, ", "))
}

// TestLabel marks the issues keyage receivers test --create files.
const TestLabel = "keyage-test"

// CreateTestIssue files m (a test message with one made-up item) as an
// issue labelled TestLabel and resolves it at once with ResolveTransition
// ("Done" when that is empty). It returns the issue key, also when the
// resolution failed, so the caller can name the issue left open.
func (n *Notifier) CreateTestIssue(ctx context.Context, m notify.Message) (key string, retry bool, err error) {
	if len(m.Items) != 1 {
		return "", false, fmt.Errorf("test message %s has %d items, want 1", m.ID, len(m.Items))
	}
	key, retry, err = n.create(ctx, m, m.Items[0], TestLabel)
	if err != nil {
		return "", retry, fmt.Errorf("create test issue in jira project %s: %w", n.opts.Project, err)
	}
	name := cmp.Or(n.opts.ResolveTransition, "Done")
	if retry, err := n.transition(ctx, key, name); err != nil {
		return key, retry, fmt.Errorf("resolve test issue %s with transition %q (it stays open): %w", key, name, err)
	}
	return key, false, nil
}

// checkProject verifies the credentials and the project for a test
// message, without creating anything.
func (n *Notifier) checkProject(ctx context.Context) (bool, error) {
	if retry, err := n.call(ctx, http.MethodGet, "/project/"+url.PathEscape(n.opts.Project), nil, nil); err != nil {
		return retry, fmt.Errorf("read jira project %s: %w", n.opts.Project, err)
	}
	return false, nil
}

// call sends one API request below /rest/api/<version> and decodes the
// JSON answer into out when out is not nil.
func (n *Notifier) call(ctx context.Context, method, path string, in, out any) (bool, error) {
	var body []byte
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return false, fmt.Errorf("encode request: %w", err)
		}
		body = b
	}
	h := http.Header{"Accept": {"application/json"}}
	if n.opts.BearerToken != "" {
		h.Set("Authorization", "Bearer "+n.opts.BearerToken)
	} else {
		h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(n.opts.User+":"+n.opts.Token)))
	}
	resp, retry, err := n.opts.DoJSON(ctx, notify.JSONRequest{Method: method, URL: fmt.Sprintf("%s/rest/api/%d%s", n.base, n.opts.APIVersion, path),
		Body: body, Header: h, Endpoint: n.endpoint, Secrets: n.secrets})
	if err != nil {
		return retry, err
	}
	if out != nil {
		if err := json.Unmarshal(resp, out); err != nil {
			return false, fmt.Errorf("decode answer of %s %s: %w", method, n.endpoint, err)
		}
	}
	return false, nil
}

// body is the description of a new issue and the text of a comment: the
// message text and the key's details, as wiki text (v2) or Atlassian
// Document Format (v3).
func (n *Notifier) body(m notify.Message, it notify.Item) any {
	if n.opts.APIVersion == 3 {
		return adf(m.Text, details(it))
	}
	return wiki(m.Text, details(it))
}

// detail is one "Label: value" line of an issue description.
type detail struct {
	label, value string
	link         bool
}

func details(it notify.Item) []detail {
	var d []detail
	add := func(label, value string) {
		if value != "" {
			d = append(d, detail{label: label, value: value})
		}
	}
	account := it.AccountID
	if it.AccountName != "" {
		account += " (" + it.AccountName + ")"
	}
	add("Account", account)
	add("User", it.UserName)
	add("User ARN", it.ARN)
	add("Resource ID", it.ResourceID)
	add("Access key", it.AccessKeyID)
	age := fmt.Sprintf("%d days", it.AgeDays)
	if it.MaxAge > 0 {
		age += fmt.Sprintf(" (limit %d)", it.MaxAge)
	}
	add("Age", age)
	add("Stage", it.Stage)
	add("Created", date(it.CreateDate))
	add("Deadline", date(it.Deadline))
	lastUsed := "never"
	if !it.LastUsed.IsZero() {
		lastUsed = date(it.LastUsed)
		if it.LastService != "" {
			lastUsed += " (" + it.LastService + ")"
		}
	}
	add("Last used", lastUsed)
	add("Owner", it.Owner)
	if it.ConsoleURL != "" {
		d = append(d, detail{label: "Console", value: it.ConsoleURL, link: true})
	}
	return d
}

func date(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02")
}

// wiki renders text and details as Jira wiki markup.
func wiki(text string, d []detail) string {
	var b strings.Builder
	if text != "" {
		b.WriteString(escapeWiki(text))
		b.WriteString("\n\n")
	}
	for _, x := range d {
		v := escapeWiki(x.value)
		if x.link {
			v = "[" + x.value + "]"
		}
		fmt.Fprintf(&b, "* *%s:* %s\n", x.label, v)
	}
	return strings.TrimRight(b.String(), "\n")
}

func escapeWiki(s string) string {
	return strings.NewReplacer(`\`, `\\`, "*", `\*`, "_", `\_`, "{", `\{`, "}", `\}`, "[", `\[`, "]", `\]`, "|", `\|`).Replace(s)
}

// ADF node of the Atlassian Document Format (REST API v3).
type adfNode struct {
	Type    string    `json:"type"`
	Version int       `json:"version,omitempty"`
	Text    string    `json:"text,omitempty"`
	Marks   []adfMark `json:"marks,omitempty"`
	Content []adfNode `json:"content,omitempty"`
}

type adfMark struct {
	Type  string            `json:"type"`
	Attrs map[string]string `json:"attrs,omitempty"`
}

// adf renders text (one paragraph per blank-line-separated block, hard
// breaks inside) and details (a bullet list) as an ADF document.
func adf(text string, d []detail) adfNode {
	doc := adfNode{Type: "doc", Version: 1}
	for _, para := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n\n") {
		var content []adfNode
		for i, line := range strings.Split(strings.Trim(para, "\n"), "\n") {
			if i > 0 {
				content = append(content, adfNode{Type: "hardBreak"})
			}
			if line != "" {
				content = append(content, adfNode{Type: "text", Text: line})
			}
		}
		if len(content) > 0 {
			doc.Content = append(doc.Content, adfNode{Type: "paragraph", Content: content})
		}
	}
	if len(d) > 0 {
		list := adfNode{Type: "bulletList"}
		for _, x := range d {
			value := adfNode{Type: "text", Text: x.value}
			if x.link {
				value.Marks = []adfMark{{Type: "link", Attrs: map[string]string{"href": x.value}}}
			}
			list.Content = append(list.Content, adfNode{Type: "listItem", Content: []adfNode{{
				Type: "paragraph",
				Content: []adfNode{
					{Type: "text", Text: x.label + ": ", Marks: []adfMark{{Type: "strong"}}},
					value,
				},
			}}})
		}
		doc.Content = append(doc.Content, list)
	}
	return doc
}

// summary is the issue title: the message subject for a message about
// one key, otherwise a title naming the key.
func summary(m notify.Message, it notify.Item) string {
	s := strings.Join(strings.Fields(m.Subject), " ")
	if len(m.Items) != 1 || s == "" {
		s = fmt.Sprintf("Rotate access key %s of IAM user %s in account %s", keyID(it), it.UserName, it.AccountID)
		if it.AccessKeyID == "" {
			s = fmt.Sprintf("Rotate the access keys of IAM user %s in account %s", it.UserName, it.AccountID)
		}
	}
	if utf8.RuneCountInString(s) > maxSummary {
		s = string([]rune(s)[:maxSummary-1]) + "…"
	}
	return s
}

func keyID(it notify.Item) string {
	if it.AccessKeyID != "" {
		return it.AccessKeyID
	}
	return it.ResourceID
}

// quoteJQL quotes s as a JQL string literal.
func quoteJQL(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}
