package sandbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/keyage/keyage/internal/config"
)

// DefaultAuditRoleName is the role created in every account when a fixture does not name one.
const DefaultAuditRoleName = "KeyageAuditRole"

// Fixture describes a synthetic organization: the management account, the role every account
// trusts, and the accounts with their users and keys. It is the format of `--fixture org.yaml`
// and the output of Generate.
type Fixture struct {
	// ManagementAccountID is the organization's management account. It is part of the
	// organization even when Accounts does not list it.
	ManagementAccountID string `yaml:"managementAccountId" json:"managementAccountId"`
	// AuditRoleName is created in every account whose Roles is nil. Default KeyageAuditRole.
	AuditRoleName string           `yaml:"auditRoleName,omitempty" json:"auditRoleName,omitempty"`
	Accounts      []FixtureAccount `yaml:"accounts" json:"accounts"`
	// Regions describes what differs between regions, by region name.
	Regions map[string]FixtureRegion `yaml:"regions,omitempty" json:"regions,omitempty"`
	// StackSetsTrustedAccess says whether trusted access for CloudFormation StackSets is enabled
	// in the organization; nil means true. With false, service-managed StackSets are refused.
	StackSetsTrustedAccess *bool `yaml:"stackSetsTrustedAccess,omitempty" json:"stackSetsTrustedAccess,omitempty"`

	// lines maps key paths (accounts[0].users[1].name) to their line in the parsed file.
	lines map[string]int
}

// FixtureRegion is what a region lacks: UnavailableResourceTypes are CloudFormation resource
// types AWS does not offer there (AWS::Config::RemediationConfiguration is missing from some
// GovCloud and China regions). DescribeType does not find them and a stack using one fails.
type FixtureRegion struct {
	UnavailableResourceTypes []string `yaml:"unavailableResourceTypes,omitempty" json:"unavailableResourceTypes,omitempty"`
}

// FixtureAccount is one account of the organization.
type FixtureAccount struct {
	ID    string `yaml:"id" json:"id"`
	Name  string `yaml:"name,omitempty" json:"name,omitempty"`
	Email string `yaml:"email,omitempty" json:"email,omitempty"`
	// OU is the path of organizational units under the root, e.g. "Workloads/Prod"; empty means
	// directly under the root.
	OU string `yaml:"ou,omitempty" json:"ou,omitempty"`
	// Status is ACTIVE (default) or SUSPENDED.
	Status string `yaml:"status,omitempty" json:"status,omitempty"`
	// Roles lists the roles that exist in the account. Nil means just the audit role; an empty,
	// non-nil slice means no role at all (AssumeRole is denied).
	Roles    []FixtureRole `yaml:"roles,omitempty" json:"roles,omitempty"`
	RootKeys []FixtureKey  `yaml:"rootKeys,omitempty" json:"rootKeys,omitempty"`
	Users    []FixtureUser `yaml:"users,omitempty" json:"users,omitempty"`
	// Config says whether AWS Config records the account's IAM users; nil means true. With
	// false, ListDiscoveredResources answers with an empty list, as with no recorder.
	Config *bool `yaml:"config,omitempty" json:"config,omitempty"`
	// ConfigRecording is the state of the account's AWS Config recorder (what
	// DescribeConfigurationRecorders and DescribeConfigurationRecorderStatus answer): "" or on
	// (recording all resources, global ones included), off (the recorder exists but is
	// stopped), no-iam (recording, but not AWS::IAM::User) or none (no recorder). config:
	// false implies none.
	ConfigRecording string `yaml:"configRecording,omitempty" json:"configRecording,omitempty"`
	// StackSetDelegatedAdmin registers the account as a delegated administrator of
	// CloudFormation StackSets: with CallAs DELEGATED_ADMIN it may create service-managed
	// StackSets.
	StackSetDelegatedAdmin bool `yaml:"stackSetDelegatedAdmin,omitempty" json:"stackSetDelegatedAdmin,omitempty"`
	// Functions are the account's Lambda functions.
	Functions []FixtureFunction `yaml:"functions,omitempty" json:"functions,omitempty"`
	// Queues and Topics are SQS queues and SNS topics created at start, in us-east-1.
	Queues []FixtureQueue `yaml:"queues,omitempty" json:"queues,omitempty"`
	Topics []FixtureTopic `yaml:"topics,omitempty" json:"topics,omitempty"`
}

// FixtureFunction is a Lambda function; with Fail, every invocation is a function error.
type FixtureFunction struct {
	Name string `yaml:"name" json:"name"`
	Fail bool   `yaml:"fail,omitempty" json:"fail,omitempty"`
}

// FixtureQueue is an SQS queue. In a fixture file it is a name or {name: X}.
type FixtureQueue struct {
	Name string `yaml:"name" json:"name"`
}

// FixtureTopic is an SNS topic with its policy (a JSON document; in YAML also a mapping) and
// subscriptions.
type FixtureTopic struct {
	Name          string                `yaml:"name" json:"name"`
	DisplayName   string                `yaml:"displayName,omitempty" json:"displayName,omitempty"`
	Policy        string                `yaml:"policy,omitempty" json:"policy,omitempty"`
	Subscriptions []FixtureSubscription `yaml:"subscriptions,omitempty" json:"subscriptions,omitempty"`
}

// FixtureSubscription subscribes a queue to a topic: Queue is the name of a queue of the same
// account or a queue ARN. FilterPolicy is a JSON document (in YAML also a mapping).
type FixtureSubscription struct {
	Queue              string `yaml:"queue" json:"queue"`
	RawMessageDelivery bool   `yaml:"rawMessageDelivery,omitempty" json:"rawMessageDelivery,omitempty"`
	FilterPolicy       string `yaml:"filterPolicy,omitempty" json:"filterPolicy,omitempty"`
}

// FixtureRole is a role any principal of the sandbox may assume; ExternalID, when set, must be
// passed to AssumeRole. In a fixture file a role is a name or {name: X, externalId: Y,
// policy: Z}.
type FixtureRole struct {
	Name       string `yaml:"name" json:"name"`
	ExternalID string `yaml:"externalId,omitempty" json:"externalId,omitempty"`
	// Policy is the role's identity policy (a JSON document; in YAML also a mapping). Without
	// one the role gets Options.DefaultRolePolicies[Name], or, with no default either, every
	// permission.
	Policy string `yaml:"policy,omitempty" json:"policy,omitempty"`
	// Trust is the role's trust policy, as iam:GetRole shows it (a JSON document; in YAML also
	// a mapping). Without one: the CloudFormation service for
	// AWSCloudFormationStackSetAdministrationRole, the management account for any other role.
	// AssumeRole does not evaluate it: any sandbox principal may assume a fixture role.
	Trust string `yaml:"trust,omitempty" json:"trust,omitempty"`
}

// FixtureUser is one IAM user.
type FixtureUser struct {
	Name string `yaml:"name" json:"name"`
	// Path defaults to "/".
	Path string            `yaml:"path,omitempty" json:"path,omitempty"`
	Tags map[string]string `yaml:"tags,omitempty" json:"tags,omitempty"`
	Keys []FixtureKey      `yaml:"keys,omitempty" json:"keys,omitempty"`
	// CreateDate or AgeDays set when the user was created; by default one day before its
	// oldest key, or 30 days before the sandbox's start.
	CreateDate *time.Time `yaml:"createDate,omitempty" json:"createDate,omitempty"`
	AgeDays    *float64   `yaml:"ageDays,omitempty" json:"ageDays,omitempty"`
}

// FixtureKey is one access key (of a user, or of the account root). Exactly one of AgeDays and
// CreateDate is set. Ages are relative to the sandbox's start time and may be fractional.
type FixtureKey struct {
	AgeDays    *float64   `yaml:"ageDays,omitempty" json:"ageDays,omitempty"`
	CreateDate *time.Time `yaml:"createDate,omitempty" json:"createDate,omitempty"`
	// Status is Active (default) or Inactive.
	Status string `yaml:"status,omitempty" json:"status,omitempty"`
	// LastUsedDaysAgo or LastUsedDate set when the key was last used; neither means never.
	LastUsedDaysAgo *float64   `yaml:"lastUsedDaysAgo,omitempty" json:"lastUsedDaysAgo,omitempty"`
	LastUsedDate    *time.Time `yaml:"lastUsedDate,omitempty" json:"lastUsedDate,omitempty"`
	// LastUsedService defaults to "iam" and LastUsedRegion to "us-east-1" for a used key.
	LastUsedService string `yaml:"lastUsedService,omitempty" json:"lastUsedService,omitempty"`
	LastUsedRegion  string `yaml:"lastUsedRegion,omitempty" json:"lastUsedRegion,omitempty"`
}

// LoadFixture reads and validates a fixture file (YAML or JSON).
func LoadFixture(path string) (*Fixture, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read fixture: %w", err)
	}
	return ParseFixture(data, path)
}

// ParseFixture decodes and validates a fixture. name (usually the file name) prefixes errors,
// which carry the line and the key path, e.g. `org.yaml:7: accounts[0].users[0].nmae: unknown
// key (did you mean name?)`; the decoder is config.DecodeStrict's.
// Unknown keys are errors; all problems are reported at once.
func ParseFixture(data []byte, name string) (*Fixture, error) {
	if strings.EqualFold(filepath.Ext(name), ".json") || bytes.HasPrefix(bytes.TrimSpace(data), []byte("{")) {
		// JSON is YAML, except that YAML forbids tabs as indentation. Valid JSON has no raw tab
		// inside strings, so tabs are plain whitespace here.
		data = bytes.ReplaceAll(data, []byte("\t"), []byte(" "))
	}
	f := &Fixture{}
	lines, err := config.DecodeStrict(name, data, f)
	if err != nil {
		return nil, err
	}
	if len(lines) == 0 {
		var doc yaml.Node
		if yaml.Unmarshal(data, &doc) == nil && len(doc.Content) == 0 {
			return nil, fmt.Errorf("%s: empty fixture", name)
		}
	}
	f.lines = lines
	if err := f.validate(name); err != nil {
		return nil, err
	}
	return f, nil
}

// A role and a queue may be written as a bare name; a policy and a filter policy as a JSON
// string or a YAML mapping. The strict decoder (config.DecodeStrict) does the rest.
var (
	_ config.Rewriter = (*FixtureRole)(nil)
	_ config.Rewriter = (*FixtureQueue)(nil)
	_ config.Rewriter = (*FixtureTopic)(nil)
	_ config.Rewriter = (*FixtureSubscription)(nil)
)

// RewriteYAML reads a role written as its name, and a policy written as a mapping.
func (*FixtureRole) RewriteYAML(n *yaml.Node) (*yaml.Node, error) {
	return jsonValues(bareName(n), "policy", "trust")
}

// RewriteYAML reads a queue written as its name.
func (*FixtureQueue) RewriteYAML(n *yaml.Node) (*yaml.Node, error) { return bareName(n), nil }

// RewriteYAML reads a policy written as a mapping.
func (*FixtureTopic) RewriteYAML(n *yaml.Node) (*yaml.Node, error) { return jsonValues(n, "policy") }

// RewriteYAML reads a filter policy written as a mapping.
func (*FixtureSubscription) RewriteYAML(n *yaml.Node) (*yaml.Node, error) {
	return jsonValues(n, "filterPolicy")
}

// bareName turns a scalar into the mapping {name: scalar}; other nodes are returned as they are.
func bareName(n *yaml.Node) *yaml.Node {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return n
	}
	key := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "name", Line: n.Line, Column: n.Column}
	return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: n.Line, Column: n.Column, Content: []*yaml.Node{key, n}}
}

// jsonValues returns a mapping with the values of keys that are YAML mappings or lists turned
// into JSON strings; n is not changed (an alias may share it).
func jsonValues(n *yaml.Node, keys ...string) (*yaml.Node, error) {
	if n.Kind != yaml.MappingNode {
		return n, nil
	}
	out := *n
	out.Content = slices.Clone(n.Content)
	for i := 0; i+1 < len(out.Content); i += 2 {
		k, v := out.Content[i], out.Content[i+1]
		if !slices.Contains(keys, k.Value) || (v.Kind != yaml.MappingNode && v.Kind != yaml.SequenceNode) {
			continue
		}
		var doc any
		if err := v.Decode(&doc); err != nil {
			return nil, fmt.Errorf("%s: want a JSON document or a mapping: %w", k.Value, err)
		}
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(doc); err != nil {
			return nil, fmt.Errorf("%s: want a JSON document or a mapping: %w", k.Value, err)
		}
		out.Content[i+1] = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: strings.TrimSuffix(b.String(), "\n"),
			Line: v.Line, Column: v.Column}
	}
	return &out, nil
}

var accountIDPattern = regexp.MustCompile(`^[0-9]{12}$`)

// validPath matches IAM's path pattern, (/)|(/[\x21-\x7e]*/), up to 512 characters.
func validPath(p string) bool {
	if len(p) == 0 || len(p) > 512 || p[0] != '/' || p[len(p)-1] != '/' {
		return false
	}
	for i := 0; i < len(p); i++ {
		if p[i] < 0x21 || p[i] > 0x7e {
			return false
		}
	}
	return true
}

// Validate reports every problem of the fixture at once.
func (f *Fixture) Validate() error { return f.validate("fixture") }

func (f *Fixture) validate(name string) error {
	var errs []error
	add := func(path, format string, args ...any) {
		where := name
		if line := f.line(path); line > 0 {
			where = fmt.Sprintf("%s:%d", name, line)
		}
		errs = append(errs, fmt.Errorf("%s: %s: %s", where, path, fmt.Sprintf(format, args...)))
	}
	if !accountIDPattern.MatchString(f.ManagementAccountID) {
		add("managementAccountId", "want 12 digits, got %q", f.ManagementAccountID)
	}
	if f.AuditRoleName != "" && !validIAMName(f.AuditRoleName, 64) {
		add("auditRoleName", "not a valid role name: %q", f.AuditRoleName)
	}
	for _, region := range sortedRegionNames(f.Regions) {
		if !regionPattern.MatchString(region) {
			add("regions."+region, "not a region name")
		}
		for i, typ := range f.Regions[region].UnavailableResourceTypes {
			if !resourceTypePattern.MatchString(typ) {
				add(fmt.Sprintf("regions.%s.unavailableResourceTypes[%d]", region, i), "want a resource type like AWS::Service::Resource, got %q", typ)
			}
		}
	}
	ids := make(map[string]int, len(f.Accounts))
	for i := range f.Accounts {
		a := &f.Accounts[i]
		p := fmt.Sprintf("accounts[%d]", i)
		if !accountIDPattern.MatchString(a.ID) {
			add(p+".id", "want 12 digits, got %q", a.ID)
		} else if j, dup := ids[a.ID]; dup {
			add(p+".id", "account %s is also accounts[%d]", a.ID, j)
		}
		ids[a.ID] = i
		switch a.Status {
		case "", "ACTIVE", "SUSPENDED":
		default:
			add(p+".status", "want ACTIVE or SUSPENDED, got %q", a.Status)
		}
		if a.OU != "" {
			for _, part := range strings.Split(a.OU, "/") {
				if part == "" || len(part) > 128 {
					add(p+".ou", "want an OU path like Workloads/Prod, got %q", a.OU)
					break
				}
			}
		}
		for j, r := range a.Roles {
			if !validIAMName(r.Name, 64) {
				add(fmt.Sprintf("%s.roles[%d].name", p, j), "not a valid role name: %q", r.Name)
			}
			if r.Policy != "" {
				if _, err := parseIdentityPolicy(r.Policy); err != nil {
					add(fmt.Sprintf("%s.roles[%d].policy", p, j), "%v", err)
				}
			}
			if r.Trust != "" {
				if _, err := parsePolicy(r.Trust); err != nil {
					add(fmt.Sprintf("%s.roles[%d].trust", p, j), "%v", err)
				}
			}
		}
		if len(a.RootKeys) > 2 {
			add(p+".rootKeys", "at most 2 access keys, got %d", len(a.RootKeys))
		}
		for j := range a.RootKeys {
			validateKey(&a.RootKeys[j], func() string { return fmt.Sprintf("%s.rootKeys[%d]", p, j) }, add)
		}
		names := make(map[string]int, len(a.Users))
		for j := range a.Users {
			u := &a.Users[j]
			up := func() string { return fmt.Sprintf("%s.users[%d]", p, j) } // only on errors: fixtures can be large
			if !validIAMName(u.Name, 64) {
				add(up()+".name", "not a valid IAM user name: %q", u.Name)
			}
			lower := strings.ToLower(u.Name)
			if k, dup := names[lower]; dup {
				add(up()+".name", "user %q is also %s.users[%d] (IAM names are case-insensitive)", u.Name, p, k)
			}
			names[lower] = j
			if u.Path != "" && !validPath(u.Path) {
				add(up()+".path", "want a path that starts and ends with /, got %q", u.Path)
			}
			if u.AgeDays != nil && u.CreateDate != nil {
				add(up(), "set ageDays or createDate, not both")
			}
			if len(u.Keys) > 2 {
				add(up()+".keys", "at most 2 access keys per user (the IAM quota), got %d", len(u.Keys))
			}
			for k := range u.Keys {
				validateKey(&u.Keys[k], func() string { return fmt.Sprintf("%s.keys[%d]", up(), k) }, add)
			}
		}
		validateResources(a, p, add)
	}
	return errors.Join(errs...)
}

// validateResources checks an account's functions, queues and topics.
func validateResources(a *FixtureAccount, p string, add func(string, string, ...any)) {
	fns := map[string]bool{}
	for i, f := range a.Functions {
		fp := fmt.Sprintf("%s.functions[%d].name", p, i)
		if !validFunctionName(f.Name) {
			add(fp, "not a valid function name (1 to 64 of [A-Za-z0-9_-]): %q", f.Name)
		} else if fns[f.Name] {
			add(fp, "function %q is listed twice", f.Name)
		}
		fns[f.Name] = true
	}
	queues := map[string]bool{}
	for i, q := range a.Queues {
		qp := fmt.Sprintf("%s.queues[%d]", p, i)
		if !validQueueName(q.Name) {
			add(qp, "not a valid queue name (1 to 80 of [A-Za-z0-9_-]): %q", q.Name)
		} else if queues[q.Name] {
			add(qp, "queue %q is listed twice", q.Name)
		}
		queues[q.Name] = true
	}
	topics := map[string]bool{}
	for i, t := range a.Topics {
		tp := fmt.Sprintf("%s.topics[%d]", p, i)
		if !validTopicName(t.Name) {
			add(tp+".name", "not a valid topic name (1 to 256 of [A-Za-z0-9_-]): %q", t.Name)
		} else if topics[t.Name] {
			add(tp+".name", "topic %q is listed twice", t.Name)
		}
		topics[t.Name] = true
		if t.Policy != "" {
			if _, err := parsePolicy(t.Policy); err != nil {
				add(tp+".policy", "%v", err)
			}
		}
		for j, sub := range t.Subscriptions {
			sp := fmt.Sprintf("%s.subscriptions[%d]", tp, j)
			if _, _, _, ok := parseQueueARN(sub.Queue); !ok && !queues[sub.Queue] {
				add(sp+".queue", "want a queue of this account or a queue ARN, got %q", sub.Queue)
			}
			if sub.FilterPolicy != "" {
				if _, err := parseFilterPolicy(sub.FilterPolicy); err != nil {
					add(sp+".filterPolicy", "%v", err)
				}
			}
		}
	}
}

func validateKey(k *FixtureKey, path func() string, add func(string, string, ...any)) {
	switch {
	case k.AgeDays == nil && k.CreateDate == nil:
		add(path(), "set ageDays or createDate")
	case k.AgeDays != nil && k.CreateDate != nil:
		add(path(), "set ageDays or createDate, not both")
	case k.AgeDays != nil && *k.AgeDays < 0:
		add(path()+".ageDays", "must not be negative, got %v", *k.AgeDays)
	}
	switch k.Status {
	case "", "Active", "Inactive":
	default:
		add(path()+".status", "want Active or Inactive, got %q", k.Status)
	}
	if k.LastUsedDaysAgo != nil && k.LastUsedDate != nil {
		add(path(), "set lastUsedDaysAgo or lastUsedDate, not both")
	}
	if k.LastUsedDaysAgo != nil && *k.LastUsedDaysAgo < 0 {
		add(path()+".lastUsedDaysAgo", "must not be negative, got %v", *k.LastUsedDaysAgo)
	}
}

// line returns the line of path in the parsed file, or of its nearest parent; 0 if unknown.
func (f *Fixture) line(path string) int {
	for path != "" {
		if l, ok := f.lines[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 0
}

// sortedTags returns tags ordered by key.
func sortedTags(m map[string]string) []tag {
	if len(m) == 0 {
		return nil
	}
	out := make([]tag, 0, len(m))
	for k, v := range m {
		out = append(out, tag{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	return out
}

// fixtureAccountOut is FixtureAccount as written, keeping "roles: []" (no role) apart from an
// absent roles key (the audit role).
type fixtureAccountOut struct {
	ID        string            `yaml:"id" json:"id"`
	Name      string            `yaml:"name,omitempty" json:"name,omitempty"`
	Email     string            `yaml:"email,omitempty" json:"email,omitempty"`
	OU        string            `yaml:"ou,omitempty" json:"ou,omitempty"`
	Status    string            `yaml:"status,omitempty" json:"status,omitempty"`
	Roles     *[]FixtureRole    `yaml:"roles,omitempty" json:"roles,omitempty"`
	RootKeys  []FixtureKey      `yaml:"rootKeys,omitempty" json:"rootKeys,omitempty"`
	Users     []FixtureUser     `yaml:"users,omitempty" json:"users,omitempty"`
	Config    *bool             `yaml:"config,omitempty" json:"config,omitempty"`
	Recording string            `yaml:"configRecording,omitempty" json:"configRecording,omitempty"`
	Delegated bool              `yaml:"stackSetDelegatedAdmin,omitempty" json:"stackSetDelegatedAdmin,omitempty"`
	Functions []FixtureFunction `yaml:"functions,omitempty" json:"functions,omitempty"`
	Queues    []FixtureQueue    `yaml:"queues,omitempty" json:"queues,omitempty"`
	Topics    []FixtureTopic    `yaml:"topics,omitempty" json:"topics,omitempty"`
}

func (a FixtureAccount) out() fixtureAccountOut {
	o := fixtureAccountOut{ID: a.ID, Name: a.Name, Email: a.Email, OU: a.OU, Status: a.Status, RootKeys: a.RootKeys, Users: a.Users,
		Config: a.Config, Recording: a.ConfigRecording, Delegated: a.StackSetDelegatedAdmin, Functions: a.Functions, Queues: a.Queues, Topics: a.Topics}
	if a.Roles != nil {
		o.Roles = &a.Roles
	}
	return o
}

// MarshalYAML writes the account in the fixture format.
func (a FixtureAccount) MarshalYAML() (any, error) { return a.out(), nil }

// MarshalJSON writes the account in the fixture format.
func (a FixtureAccount) MarshalJSON() ([]byte, error) { return json.Marshal(a.out()) }

// MarshalYAML writes a role without an external id or policy as its name.
func (r FixtureRole) MarshalYAML() (any, error) {
	if r.ExternalID == "" && r.Policy == "" && r.Trust == "" {
		return r.Name, nil
	}
	type plain FixtureRole
	return plain(r), nil
}

// MarshalJSON writes a role without an external id or policy as its name.
func (r FixtureRole) MarshalJSON() ([]byte, error) {
	if r.ExternalID == "" && r.Policy == "" && r.Trust == "" {
		return json.Marshal(r.Name)
	}
	type plain FixtureRole
	return json.Marshal(plain(r))
}
