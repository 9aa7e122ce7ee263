package sandbox

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
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

	line int
}

// FixtureRole is a role any principal of the sandbox may assume; ExternalID, when set, must be
// passed to AssumeRole. In a fixture file a role is a name or {name: X, externalId: Y}.
type FixtureRole struct {
	Name       string `yaml:"name" json:"name"`
	ExternalID string `yaml:"externalId,omitempty" json:"externalId,omitempty"`
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

	line int
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

	line int
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
// which carry the line and the key path, e.g. `org.yaml:7: accounts[0].users[0]: unknown key "nmae"`.
// Unknown keys are errors; all problems are reported at once.
func ParseFixture(data []byte, name string) (*Fixture, error) {
	if strings.EqualFold(filepath.Ext(name), ".json") || bytes.HasPrefix(bytes.TrimSpace(data), []byte("{")) {
		// JSON is YAML, except that YAML forbids tabs as indentation. Valid JSON has no raw tab
		// inside strings, so tabs are plain whitespace here.
		data = bytes.ReplaceAll(data, []byte("\t"), []byte(" "))
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(doc.Content) == 0 {
		return nil, fmt.Errorf("%s: empty fixture", name)
	}
	d := &fixtureDecoder{name: name}
	f := d.fixture(doc.Content[0])
	if len(d.errs) > 0 {
		return nil, errors.Join(d.errs...)
	}
	if err := f.validate(name); err != nil {
		return nil, err
	}
	return f, nil
}

type fixtureDecoder struct {
	name string
	errs []error
}

func (d *fixtureDecoder) errorf(n *yaml.Node, path, format string, args ...any) {
	d.errs = append(d.errs, fmt.Errorf("%s:%d: %s: %s", d.name, n.Line, path, fmt.Sprintf(format, args...)))
}

// fields walks a mapping node, calling set for known keys and reporting unknown ones.
func (d *fixtureDecoder) fields(n *yaml.Node, path string, known []string, set func(key string, v *yaml.Node, path string)) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "want a mapping, got %s", kindName(n))
		return
	}
	seen := make(map[string]bool, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		sub := k.Value
		if path != "" {
			sub = path + "." + k.Value
		}
		if !contains(known, k.Value) {
			d.errorf(k, path, "unknown key %q (known: %s)", k.Value, strings.Join(known, ", "))
			continue
		}
		if seen[k.Value] {
			d.errorf(k, sub, "duplicate key")
			continue
		}
		seen[k.Value] = true
		set(k.Value, v, sub)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	return fmt.Sprintf("%q", n.Value)
}

func (d *fixtureDecoder) str(n *yaml.Node, path string) string {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		d.errorf(n, path, "want a string, got %s", kindName(n))
		return ""
	}
	return n.Value
}

func (d *fixtureDecoder) float(n *yaml.Node, path string) *float64 {
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, path, "want a number, got %s", kindName(n))
		return nil
	}
	f, err := strconv.ParseFloat(n.Value, 64)
	if err != nil {
		d.errorf(n, path, "want a number, got %q", n.Value)
		return nil
	}
	return &f
}

func (d *fixtureDecoder) time(n *yaml.Node, path string) *time.Time {
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, path, "want an RFC 3339 time, got %s", kindName(n))
		return nil
	}
	t, err := time.Parse(time.RFC3339, n.Value)
	if err != nil {
		d.errorf(n, path, "want an RFC 3339 time like 2026-01-05T10:00:00Z, got %q", n.Value)
		return nil
	}
	return &t
}

func (d *fixtureDecoder) list(n *yaml.Node, path string, each func(i int, v *yaml.Node, path string)) {
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, path, "want a list, got %s", kindName(n))
		return
	}
	for i, v := range n.Content {
		each(i, v, fmt.Sprintf("%s[%d]", path, i))
	}
}

func (d *fixtureDecoder) fixture(n *yaml.Node) *Fixture {
	f := &Fixture{}
	d.fields(n, "", []string{"managementAccountId", "auditRoleName", "accounts"}, func(k string, v *yaml.Node, p string) {
		switch k {
		case "managementAccountId":
			f.ManagementAccountID = d.str(v, p)
		case "auditRoleName":
			f.AuditRoleName = d.str(v, p)
		case "accounts":
			d.list(v, p, func(_ int, v *yaml.Node, p string) { f.Accounts = append(f.Accounts, d.account(v, p)) })
		}
	})
	return f
}

func (d *fixtureDecoder) account(n *yaml.Node, path string) FixtureAccount {
	a := FixtureAccount{line: n.Line}
	known := []string{"id", "name", "email", "ou", "status", "roles", "rootKeys", "users"}
	d.fields(n, path, known, func(k string, v *yaml.Node, p string) {
		switch k {
		case "id":
			a.ID = d.str(v, p)
		case "name":
			a.Name = d.str(v, p)
		case "email":
			a.Email = d.str(v, p)
		case "ou":
			a.OU = d.str(v, p)
		case "status":
			a.Status = d.str(v, p)
		case "roles":
			a.Roles = []FixtureRole{}
			d.list(v, p, func(_ int, v *yaml.Node, p string) { a.Roles = append(a.Roles, d.role(v, p)) })
		case "rootKeys":
			d.list(v, p, func(_ int, v *yaml.Node, p string) { a.RootKeys = append(a.RootKeys, d.key(v, p)) })
		case "users":
			d.list(v, p, func(_ int, v *yaml.Node, p string) { a.Users = append(a.Users, d.user(v, p)) })
		}
	})
	return a
}

func (d *fixtureDecoder) role(n *yaml.Node, path string) FixtureRole {
	if n.Kind == yaml.ScalarNode {
		return FixtureRole{Name: d.str(n, path)}
	}
	var r FixtureRole
	d.fields(n, path, []string{"name", "externalId"}, func(k string, v *yaml.Node, p string) {
		switch k {
		case "name":
			r.Name = d.str(v, p)
		case "externalId":
			r.ExternalID = d.str(v, p)
		}
	})
	return r
}

func (d *fixtureDecoder) user(n *yaml.Node, path string) FixtureUser {
	u := FixtureUser{line: n.Line}
	d.fields(n, path, []string{"name", "path", "tags", "keys", "createDate", "ageDays"}, func(k string, v *yaml.Node, p string) {
		switch k {
		case "name":
			u.Name = d.str(v, p)
		case "path":
			u.Path = d.str(v, p)
		case "createDate":
			u.CreateDate = d.time(v, p)
		case "ageDays":
			u.AgeDays = d.float(v, p)
		case "tags":
			if v.Kind != yaml.MappingNode {
				d.errorf(v, p, "want a mapping of tag keys to values, got %s", kindName(v))
				return
			}
			u.Tags = make(map[string]string, len(v.Content)/2)
			for i := 0; i+1 < len(v.Content); i += 2 {
				u.Tags[d.str(v.Content[i], p)] = d.str(v.Content[i+1], p+"."+v.Content[i].Value)
			}
		case "keys":
			d.list(v, p, func(_ int, v *yaml.Node, p string) { u.Keys = append(u.Keys, d.key(v, p)) })
		}
	})
	return u
}

func (d *fixtureDecoder) key(n *yaml.Node, path string) FixtureKey {
	k := FixtureKey{line: n.Line}
	known := []string{"ageDays", "createDate", "status", "lastUsedDaysAgo", "lastUsedDate", "lastUsedService", "lastUsedRegion"}
	d.fields(n, path, known, func(name string, v *yaml.Node, p string) {
		switch name {
		case "ageDays":
			k.AgeDays = d.float(v, p)
		case "createDate":
			k.CreateDate = d.time(v, p)
		case "status":
			k.Status = d.str(v, p)
		case "lastUsedDaysAgo":
			k.LastUsedDaysAgo = d.float(v, p)
		case "lastUsedDate":
			k.LastUsedDate = d.time(v, p)
		case "lastUsedService":
			k.LastUsedService = d.str(v, p)
		case "lastUsedRegion":
			k.LastUsedRegion = d.str(v, p)
		}
	})
	return k
}

var (
	accountIDPattern = regexp.MustCompile(`^[0-9]{12}$`)
	// iamNamePattern is IAM's pattern for user and role names.
	iamNamePattern = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
	iamPathPattern = regexp.MustCompile(`^/([\x21-\x7e]*/)?$`)
)

// Validate reports every problem of the fixture at once.
func (f *Fixture) Validate() error { return f.validate("fixture") }

func (f *Fixture) validate(name string) error {
	var errs []error
	add := func(line int, path, format string, args ...any) {
		where := name
		if line > 0 {
			where = fmt.Sprintf("%s:%d", name, line)
		}
		errs = append(errs, fmt.Errorf("%s: %s: %s", where, path, fmt.Sprintf(format, args...)))
	}
	if !accountIDPattern.MatchString(f.ManagementAccountID) {
		add(0, "managementAccountId", "want 12 digits, got %q", f.ManagementAccountID)
	}
	if f.AuditRoleName != "" && !iamNamePattern.MatchString(f.AuditRoleName) {
		add(0, "auditRoleName", "not a valid role name: %q", f.AuditRoleName)
	}
	ids := make(map[string]int, len(f.Accounts))
	for i := range f.Accounts {
		a := &f.Accounts[i]
		p := fmt.Sprintf("accounts[%d]", i)
		if !accountIDPattern.MatchString(a.ID) {
			add(a.line, p+".id", "want 12 digits, got %q", a.ID)
		} else if j, dup := ids[a.ID]; dup {
			add(a.line, p+".id", "account %s is also accounts[%d]", a.ID, j)
		}
		ids[a.ID] = i
		switch a.Status {
		case "", "ACTIVE", "SUSPENDED":
		default:
			add(a.line, p+".status", "want ACTIVE or SUSPENDED, got %q", a.Status)
		}
		if a.OU != "" {
			for _, part := range strings.Split(a.OU, "/") {
				if part == "" || len(part) > 128 {
					add(a.line, p+".ou", "want an OU path like Workloads/Prod, got %q", a.OU)
					break
				}
			}
		}
		for j, r := range a.Roles {
			if !iamNamePattern.MatchString(r.Name) {
				add(a.line, fmt.Sprintf("%s.roles[%d].name", p, j), "not a valid role name: %q", r.Name)
			}
		}
		if len(a.RootKeys) > 2 {
			add(a.line, p+".rootKeys", "at most 2 access keys, got %d", len(a.RootKeys))
		}
		for j := range a.RootKeys {
			validateKey(&a.RootKeys[j], fmt.Sprintf("%s.rootKeys[%d]", p, j), add)
		}
		names := make(map[string]int, len(a.Users))
		for j := range a.Users {
			u := &a.Users[j]
			up := fmt.Sprintf("%s.users[%d]", p, j)
			if !iamNamePattern.MatchString(u.Name) {
				add(u.line, up+".name", "not a valid IAM user name: %q", u.Name)
			}
			lower := strings.ToLower(u.Name)
			if k, dup := names[lower]; dup {
				add(u.line, up+".name", "user %q is also %s.users[%d] (IAM names are case-insensitive)", u.Name, p, k)
			}
			names[lower] = j
			if u.Path != "" && (!iamPathPattern.MatchString(u.Path) || len(u.Path) > 512) {
				add(u.line, up+".path", "want a path that starts and ends with /, got %q", u.Path)
			}
			if u.AgeDays != nil && u.CreateDate != nil {
				add(u.line, up, "set ageDays or createDate, not both")
			}
			if len(u.Keys) > 2 {
				add(u.line, up+".keys", "at most 2 access keys per user (the IAM quota), got %d", len(u.Keys))
			}
			for k := range u.Keys {
				validateKey(&u.Keys[k], fmt.Sprintf("%s.keys[%d]", up, k), add)
			}
		}
	}
	return errors.Join(errs...)
}

func validateKey(k *FixtureKey, p string, add func(int, string, string, ...any)) {
	switch {
	case k.AgeDays == nil && k.CreateDate == nil:
		add(k.line, p, "set ageDays or createDate")
	case k.AgeDays != nil && k.CreateDate != nil:
		add(k.line, p, "set ageDays or createDate, not both")
	case k.AgeDays != nil && *k.AgeDays < 0:
		add(k.line, p+".ageDays", "must not be negative, got %v", *k.AgeDays)
	}
	switch k.Status {
	case "", "Active", "Inactive":
	default:
		add(k.line, p+".status", "want Active or Inactive, got %q", k.Status)
	}
	if k.LastUsedDaysAgo != nil && k.LastUsedDate != nil {
		add(k.line, p, "set lastUsedDaysAgo or lastUsedDate, not both")
	}
	if k.LastUsedDaysAgo != nil && *k.LastUsedDaysAgo < 0 {
		add(k.line, p+".lastUsedDaysAgo", "must not be negative, got %v", *k.LastUsedDaysAgo)
	}
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
