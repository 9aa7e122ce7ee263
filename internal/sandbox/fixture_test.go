package sandbox

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp/cmpopts"
	"gopkg.in/yaml.v3"
)

func TestParseFixtureErrors(t *testing.T) {
	for _, tt := range []struct {
		file string
		want []string // the lines of the error, in order
	}{
		{"testdata/unknown-key.yaml", []string{
			`testdata/unknown-key.yaml:7: accounts[0].users[0].emial: unknown key (known keys: ageDays, createDate, keys, name, path, tags)`,
			`testdata/unknown-key.yaml:9: accounts[0].users[0].keys[0].staus: unknown key (did you mean status?)`,
		}},
		{"testdata/invalid.yaml", []string{
			`testdata/invalid.yaml:1: managementAccountId: want 12 digits, got "11111111111"`,
			`testdata/invalid.yaml:4: accounts[0].status: want ACTIVE or SUSPENDED, got "CLOSED"`,
			`testdata/invalid.yaml:7: accounts[0].users[0].path: want a path that starts and ends with /, got "engineering"`,
			`testdata/invalid.yaml:8: accounts[0].users[0].keys: at most 2 access keys per user (the IAM quota), got 3`,
			`testdata/invalid.yaml:9: accounts[0].users[0].keys[0]: set ageDays or createDate`,
			`testdata/invalid.yaml:9: accounts[0].users[0].keys[0].status: want Active or Inactive, got "active"`,
			`testdata/invalid.yaml:12: accounts[1].id: account 222222222222 is also accounts[0]`,
		}},
		{"testdata/invalid-services.yaml", []string{
			`testdata/invalid-services.yaml:4: accounts[0].config: expected true or false, got "maybe"`,
			`testdata/invalid-services.yaml:5: accounts[0].functions[1].fial: unknown key (known keys: fail, name)`,
		}},
	} {
		t.Run(tt.file, func(t *testing.T) {
			_, err := LoadFixture(tt.file)
			if err == nil {
				t.Fatalf("LoadFixture(%s) = nil error", tt.file)
			}
			diff(t, "errors", strings.Split(err.Error(), "\n"), tt.want)
		})
	}
}

func TestParseFixture(t *testing.T) {
	f, err := LoadFixture("testdata/org.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Accounts) != 5 || f.Accounts[2].Roles == nil || len(f.Accounts[2].Roles) != 0 {
		t.Errorf("org.yaml: %d accounts, dev roles %#v; want 5 and an empty, non-nil list", len(f.Accounts), f.Accounts[2].Roles)
	}
	alice := f.Accounts[1].Users[0]
	if *alice.Keys[0].AgeDays != 120 || !alice.Keys[1].CreateDate.Equal(time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)) || alice.Tags["email"] != "alice@example.com" {
		t.Errorf("alice = %+v", alice)
	}
	if r := f.Accounts[3].Roles[0]; r != (FixtureRole{Name: "KeyageAuditRole", ExternalID: "s3cret-ext"}) {
		t.Errorf("vendor role = %+v", r)
	}

	j, err := LoadFixture("testdata/org.json")
	if err != nil {
		t.Fatalf("LoadFixture(org.json): %v", err)
	}
	if j.Accounts[0].OU != "Workloads/Prod" || *j.Accounts[0].Users[0].Keys[0].AgeDays != 120 {
		t.Errorf("org.json = %+v", j.Accounts[0])
	}
	if _, err := ParseFixture([]byte(`{"managementAccountId": "111111111111", "acounts": []}`), "x.json"); err == nil ||
		!strings.Contains(err.Error(), `x.json:1: acounts: unknown key (did you mean accounts?)`) {
		t.Errorf("JSON unknown key: %v", err)
	}
}

func TestParseFixtureServices(t *testing.T) {
	data := []byte(strings.Replace(mustRead(t, "testdata/invalid-services.yaml"), "config: maybe", "config: false", 1))
	data = []byte(strings.Replace(string(data), "fial: true", "fail: true", 1))
	_, err := ParseFixture(data, "services.yaml")
	want := []string{
		`services.yaml:5: accounts[0].functions[0].name: not a valid function name (1 to 64 of [A-Za-z0-9_-]): "bad name"`,
		`services.yaml:6: accounts[0].queues[1]: queue "q1" is listed twice`,
		`services.yaml:9: accounts[0].topics[0].policy: statement 0: missing Action`,
		`services.yaml:11: accounts[0].topics[0].subscriptions[0].queue: want a queue of this account or a queue ARN, got "nope"`,
		`services.yaml:12: accounts[0].topics[0].subscriptions[1].filterPolicy: FilterPolicy: "stage" must be an object or an array`,
	}
	if err == nil {
		t.Fatal("ParseFixture(invalid services) = nil error")
	}
	diff(t, "errors", strings.Split(err.Error(), "\n"), want)

	f, err := LoadFixture("testdata/services.yaml")
	if err != nil {
		t.Fatal(err)
	}
	b, err := yaml.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseFixture(b, "services.yaml")
	if err != nil {
		t.Fatalf("ParseFixture(marshalled services fixture): %v", err)
	}
	diff(t, "services fixture", back, f, cmpopts.IgnoreUnexported(Fixture{}))
	if a := f.Accounts[0]; a.Topics[0].Subscriptions[2].FilterPolicy != `{"ageDays":[{"numeric":[">=",90]}],"stage":["expired",{"prefix":"deact"}]}` || *f.Accounts[2].Config {
		t.Errorf("services.yaml: filter policy %s, config %v", a.Topics[0].Subscriptions[2].FilterPolicy, *f.Accounts[2].Config)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestFixtureRoundTrip writes a generated fixture as YAML and JSON and parses it back.
func TestFixtureRoundTrip(t *testing.T) {
	f := Generate(GenerateOptions{Accounts: 12, Users: 20, Seed: 3})
	ignore := cmpopts.IgnoreUnexported(Fixture{})
	for _, tt := range []struct {
		name    string
		marshal func(any) ([]byte, error)
	}{
		{"org.yaml", yaml.Marshal},
		{"org.json", func(v any) ([]byte, error) { return json.MarshalIndent(v, "", "\t") }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.marshal(f)
			if err != nil {
				t.Fatal(err)
			}
			back, err := ParseFixture(b, tt.name)
			if err != nil {
				t.Fatalf("ParseFixture(marshalled fixture): %v", err)
			}
			diff(t, "fixture", back, f, ignore)
		})
	}
}

// TestFixtureShapes checks the shapes the fixture accepts beyond the strict decoder's: a role or
// queue as a bare name or a mapping, a policy as a JSON string or a YAML mapping, RFC 3339 times.
func TestFixtureShapes(t *testing.T) {
	const head = "managementAccountId: \"111111111111\"\naccounts:\n  - id: \"111111111111\"\n"
	for _, tt := range []struct {
		name    string
		account string // lines of accounts[0], indented by four spaces
		check   func(a FixtureAccount) bool
		wantErr string
	}{
		{name: "role as a name", account: "    roles: [Auditor]\n",
			check: func(a FixtureAccount) bool { return a.Roles[0] == FixtureRole{Name: "Auditor"} }},
		{name: "role with a policy mapping", account: "    roles: [{name: R, policy: {Statement: [{Effect: Allow, Action: \"iam:*\", Resource: \"*\"}]}}]\n",
			check: func(a FixtureAccount) bool {
				return a.Roles[0].Policy == `{"Statement":[{"Action":"iam:*","Effect":"Allow","Resource":"*"}]}`
			}},
		{name: "role with a policy string", account: "    roles: [{name: R, policy: '{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"iam:*\",\"Resource\":\"*\"}]}'}]\n",
			check: func(a FixtureAccount) bool {
				return a.Roles[0].Policy == `{"Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"*"}]}`
			}},
		{name: "queues as names and mappings", account: "    queues: [q1, {name: q2}]\n",
			check: func(a FixtureAccount) bool {
				return len(a.Queues) == 2 && a.Queues[0].Name == "q1" && a.Queues[1].Name == "q2"
			}},
		{name: "filter policy mapping", account: "    queues: [q]\n    topics: [{name: t, subscriptions: [{queue: q, filterPolicy: {stage: [expired]}}]}]\n",
			check: func(a FixtureAccount) bool {
				return a.Topics[0].Subscriptions[0].FilterPolicy == `{"stage":["expired"]}`
			}},
		{name: "key create date", account: "    users: [{name: u, keys: [{createDate: 2026-01-05T10:00:00Z}]}]\n",
			check: func(a FixtureAccount) bool {
				return a.Users[0].Keys[0].CreateDate.Equal(time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC))
			}},
		{name: "unknown key in a role mapping", account: "    roles: [{name: R, externalid: x}]\n",
			wantErr: "f.yaml:4: accounts[0].roles[0].externalid: unknown key (did you mean externalId?)"},
		{name: "bad time", account: "    users: [{name: u, keys: [{createDate: yesterday}]}]\n",
			wantErr: `f.yaml:4: accounts[0].users[0].keys[0].createDate: expected an RFC 3339 time like 2026-01-05T10:00:00Z, got "yesterday"`},
		{name: "role as a list", account: "    roles: [[R]]\n",
			wantErr: "f.yaml:4: accounts[0].roles[0]: expected a mapping, got a list"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ParseFixture([]byte(head+tt.account), "f.yaml")
			switch {
			case tt.wantErr != "":
				if err == nil || err.Error() != tt.wantErr {
					t.Errorf("ParseFixture(%q) error = %v, want %s", tt.account, err, tt.wantErr)
				}
			case err != nil:
				t.Fatalf("ParseFixture(%q): %v", tt.account, err)
			case !tt.check(f.Accounts[0]):
				t.Errorf("ParseFixture(%q) account = %+v", tt.account, f.Accounts[0])
			}
		})
	}
}
