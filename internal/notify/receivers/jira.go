package receivers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"text/template"

	"github.com/keyage/keyage/internal/config"
	"github.com/keyage/keyage/internal/notify"
	tmpl "github.com/keyage/keyage/internal/template"
)

// jiraIssue renders a jira receiver's assignee and fields templates for
// the issue of one key, with the data message templates see for that key
// alone (template.NewData); nil when the receiver sets neither.
func jiraIssue(name string, j *config.JiraConfig) (func(notify.Item) (string, map[string]any, error), error) {
	if j.Assignee == "" && len(j.Fields) == 0 {
		return nil, nil
	}
	var assignee *template.Template
	if j.Assignee != "" {
		t, err := tmpl.Parse("receivers."+name+".jira.assignee", j.Assignee)
		if err != nil {
			return nil, err
		}
		assignee = t
	}
	keys := slices.Sorted(maps.Keys(j.Fields))
	fields := make(map[string]*template.Template, len(keys))
	for _, k := range keys {
		t, err := tmpl.Parse("receivers."+name+".jira.fields."+k, j.Fields[k])
		if err != nil {
			return nil, err
		}
		fields[k] = t
	}
	exec := func(t *template.Template, d any) (string, error) {
		var b bytes.Buffer
		if err := t.Execute(&b, d); err != nil {
			return "", err
		}
		return strings.TrimSpace(b.String()), nil
	}
	return func(it notify.Item) (string, map[string]any, error) {
		d := tmpl.NewData(notify.KindFinding, []notify.Item{it})
		var a string
		if assignee != nil {
			var err error
			if a, err = exec(assignee, d); err != nil {
				return "", nil, fmt.Errorf("assignee: %w", err)
			}
		}
		out := map[string]any{}
		for _, k := range keys {
			v, err := exec(fields[k], d)
			if err != nil {
				return "", nil, fmt.Errorf("fields.%s: %w", k, err)
			}
			if v != "" {
				out[k] = jiraFieldValue(k, v)
			}
		}
		return a, out, nil
	}, nil
}

// jiraFieldValue is the JSON Jira expects for a field given as text: JSON
// objects and arrays as written; priority by name; components and versions
// as lists of names (comma-separated); anything else as a string.
func jiraFieldValue(field, v string) any {
	if (strings.HasPrefix(v, "{") || strings.HasPrefix(v, "[")) && json.Valid([]byte(v)) {
		return json.RawMessage(v)
	}
	switch field {
	case "priority":
		return map[string]string{"name": v}
	case "components", "fixVersions", "versions":
		var out []map[string]string
		for _, n := range strings.Split(v, ",") {
			if n = strings.TrimSpace(n); n != "" {
				out = append(out, map[string]string{"name": n})
			}
		}
		return out
	}
	return v
}
