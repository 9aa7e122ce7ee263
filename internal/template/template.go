// Package template is what keyage's message and owner templates are made
// of: the functions they may call (Funcs), the data they see (Data, Item,
// Owner), a sample of that data per kind of template, and Parse and Check.
// It is a leaf: it imports nothing of keyage and has no init, so config
// validates a template exactly as the notification engine renders it, in
// any binary or test, whatever else is linked.
package template

import (
	"errors"
	"io"
	"regexp"
	"strconv"
	"strings"
	"text/template"
	"time"
)

// Funcs returns the functions templates may call beyond text/template's
// built-ins.
func Funcs() template.FuncMap {
	return template.FuncMap{
		"join":  strings.Join,
		"upper": strings.ToUpper,
		"lower": strings.ToLower,
		"date":  Date,
	}
}

// Date formats t as YYYY-MM-DD in UTC, "never" for the zero time.
func Date(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format(time.DateOnly)
}

// Parse parses text as a template with Funcs; a missing map key is an
// error at execution. name appears in execution errors.
func Parse(name, text string) (*template.Template, error) {
	return template.New(name).Option("missingkey=error").Funcs(Funcs()).Parse(text)
}

// IsTemplate reports whether s holds a template action ({{ ... }}).
func IsTemplate(s string) bool { return strings.Contains(s, "{{") }

// Kind is a kind of template, by the data it is executed with.
type Kind string

// The kinds of template.
const (
	// Message: receivers' template, subject, email to, jira assignee and
	// fields; executed with Data.
	Message Kind = "message"
	// OwnerKind: owners.template; executed with Owner.
	OwnerKind Kind = "owner"
)

// Sample returns a sample of the data a kind of template is executed
// with, nil for an unknown kind.
func Sample(k Kind) any {
	switch k {
	case Message:
		return NewData("finding", []Item{sampleItem()})
	case OwnerKind:
		it := sampleItem()
		return Owner{AccountID: it.AccountID, UserName: it.UserName, Path: it.UserPath, ARN: it.ARN, ResourceID: it.ResourceID, Tags: map[string]string{}}
	}
	return nil
}

func sampleItem() Item {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return Item{AccountID: "222222222222", AccountName: "prod", OU: "Workloads", UserName: "alice", UserPath: "/",
		ARN: "arn:aws:iam::222222222222:user/alice", ResourceID: "AIDAEXAMPLE", AccessKeyID: "AKIAEXAMPLE", AgeDays: 120, MaxAge: 90,
		Stage: "expired", Compliance: "NON_COMPLIANT", CreateDate: now, LastUsed: now, LastService: "s3", Owner: "alice@example.com",
		Deadline: now, ConsoleURL: "https://console.aws.amazon.com/iam/"}
}

// Error is a template that does not parse, or that names a field its data
// lacks.
type Error struct {
	// Line is the template line of a parse error, 0 when unknown.
	Line int
	// Field is set for a missing field: "can't evaluate field AccountId".
	Field string
	// Msg is the parse error without text/template's prefix.
	Msg string
}

func (e *Error) Error() string {
	switch {
	case e.Field != "":
		return e.Field
	case e.Line > 0:
		return "line " + strconv.Itoa(e.Line) + " of the template: " + e.Msg
	}
	return e.Msg
}

var (
	parseErrRE = regexp.MustCompile(`^template: [^:]*:(\d+):(?:\d+:)? ?(.*)$`)
	fieldErrRE = regexp.MustCompile(`can't evaluate field \w+`)
)

// Check parses text and executes it on the sample of its kind, so that a
// misspelled field ({{ .AccountId }} for {{ .AccountID }}) is found when
// the configuration is loaded, not at send time. Only a missing field is
// reported of execution errors: the others depend on the data (a tag a
// user lacks, an index past the end). The error is an *Error.
func Check(k Kind, text string) error {
	t, err := Parse("t", text)
	if err != nil {
		e := &Error{Msg: err.Error()}
		if m := parseErrRE.FindStringSubmatch(e.Msg); m != nil {
			e.Line, _ = strconv.Atoi(m[1])
			e.Msg = m[2]
		}
		return e
	}
	sample := Sample(k)
	if sample == nil {
		return nil
	}
	if err := t.Execute(io.Discard, sample); err != nil {
		if m := fieldErrRE.FindString(err.Error()); m != "" {
			return &Error{Field: m}
		}
	}
	return nil
}

// IsFieldError reports whether err is a Check error about a missing field.
func IsFieldError(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Field != ""
}
