package sandbox

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The fixture decoder takes any bytes without panicking, and its errors
// name the file.
func FuzzParseFixture(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	json, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, name := range append(files, json...) {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("{}"))
	f.Add([]byte("accounts: [{id: '111111111111', users: [{name: a, keys: [{ageDays: 1e308}]}]}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 64<<10 {
			return
		}
		_, err := ParseFixture(data, "fuzz.yaml")
		if err == nil {
			return
		}
		for _, e := range flattenErrors(err) {
			if !strings.Contains(e.Error(), "fuzz.yaml") {
				t.Fatalf("error %q does not name the file", e)
			}
		}
	})
}

func flattenErrors(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flattenErrors(e)...)
		}
		return out
	}
	return []error{err}
}

// SNS filter policies: any document parses or is refused without a panic,
// and a parsed one matches any attributes without a panic.
func FuzzFilterPolicy(f *testing.F) {
	for _, doc := range []string{
		`{"stage":["expired"]}`,
		`{"stage":[{"anything-but":["ok","warning"]}],"account":[{"prefix":"2222"}]}`,
		`{"age":[{"numeric":[">",90,"<=",400]}],"owner":[{"exists":true}]}`,
		`{"a":[null, true, 1.5, "x", {"suffix":".com"}, {"equals-ignore-case":"X"}]}`,
		`{"a":{"b":["c"]}}`,
		`[]`, `{}`, `{"a":[]}`,
	} {
		f.Add(doc, "age", "Number", "120")
	}
	f.Fuzz(func(t *testing.T, doc, name, dataType, value string) {
		fp, err := parseFilterPolicy(doc)
		if err != nil {
			if fp != nil {
				t.Fatalf("parseFilterPolicy(%q) = %v with a policy", doc, err)
			}
			return
		}
		fp.matches(map[string]MessageAttribute{name: {DataType: dataType, StringValue: value}})
		fp.matches(nil)
	})
}

// Topic (resource) policies: any document parses or is refused without a
// panic, and a parsed one evaluates any request without a panic.
func FuzzTopicPolicy(f *testing.F) {
	for _, doc := range []string{
		defaultTopicPolicy("arn:aws:sns:us-east-1:111111111111:keyage", "111111111111"),
		`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"sns:Publish","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-abc"}}}}`,
		`{"Statement":[{"Effect":"Deny","NotPrincipal":{"AWS":["arn:aws:iam::1:root"]},"NotAction":["sns:*"],"NotResource":"arn:*"}]}`,
		`{"Statement":[{"Effect":"Allow","Principal":{"Service":"events.amazonaws.com"},"Action":"sqs:SendMessage","Condition":{"ArnLike":{"aws:SourceArn":"arn:aws:events:*"}}}]}`,
		`{"Statement":[]}`, `{}`, `null`,
	} {
		f.Add(doc, "sns:Publish", "arn:aws:sns:us-east-1:111111111111:keyage")
	}
	f.Fuzz(func(t *testing.T, doc, action, resource string) {
		p, err := parsePolicy(doc)
		if err != nil {
			if p != nil {
				t.Fatalf("parsePolicy(%q) = %v with a policy", doc, err)
			}
			return
		}
		for _, r := range []policyRequest{
			{action: action, resource: resource, account: "111111111111", orgID: "o-abc", arns: []string{"arn:aws:iam::111111111111:root"}},
			{action: action, resource: resource, secure: true, hasExternalID: true, externalID: resource},
		} {
			switch d := p.evaluate(r); d {
			case policyNone, policyAllow, policyDeny:
			default:
				t.Fatalf("evaluate = %d, not a decision", d)
			}
		}
	})
}
