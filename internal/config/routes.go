package config

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Routes decide which receivers hear about which findings. Every finding
// walks the routes in order; a route whose match it satisfies sends it to
// the route's receivers, and the walk stops there unless the route has
// continue. No routes: nothing is sent.
type Routes []Route

// Route sends the findings it matches to its receivers.
type Route struct {
	// Match selects findings; an empty match selects all of them.
	Match RouteMatch `yaml:"match"`
	// Receivers are the names of the receivers to notify. Required.
	Receivers []string `yaml:"receivers"`
	// GroupBy says what one message covers: one per user (the default),
	// owner, account or key, or a combination. A message lists all the
	// keys of its group. run, alone, sends one summary per run: what is
	// new, what is still open, what was resolved.
	GroupBy []string `yaml:"groupBy"`
	// Schedule holds a run route's summaries until a send time, such as
	// "Mon-Fri 09:00 Europe/Berlin" (see DigestSchedule); empty sends them
	// at scan time.
	Schedule string `yaml:"schedule,omitempty"`
	// RepeatInterval is the time before a finding that has not changed is
	// sent again as a reminder; default 7d, at least 1m.
	RepeatInterval Duration `yaml:"repeatInterval"`
	// Continue goes on to the next routes after this one matched. It
	// defaults to true for a route without match (a catch-all that feeds,
	// say, a central topic) and to false otherwise.
	Continue bool `yaml:"continue"`
	// SendResolved also notifies when a key is rotated (as does the
	// receiver's own sendResolved).
	SendResolved bool `yaml:"sendResolved"`
}

// RouteMatch selects findings. Every field given must match (and); a field
// with several values matches any of them (or). Empty fields match all.
type RouteMatch struct {
	// AccountID are 12-digit account ids.
	AccountID StringList `yaml:"accountId,omitempty"`
	// AccountName are account names, compared exactly.
	AccountName StringList `yaml:"accountName,omitempty"`
	// OU are OU paths below the root (Workloads, Workloads/Prod); an account
	// matches if its OU path is one of them or lies below one.
	OU StringList `yaml:"ou,omitempty"`
	// Stage are key stages (see Stages).
	Stage StringList `yaml:"stage,omitempty"`
	// UserPath are IAM path prefixes (/engineering/).
	UserPath StringList `yaml:"userPath,omitempty"`
	// Tags are user tags that must all be present with these values.
	Tags map[string]string `yaml:"tags,omitempty"`
}

// IsEmpty reports whether m matches every finding.
func (m RouteMatch) IsEmpty() bool {
	return len(m.AccountID) == 0 && len(m.AccountName) == 0 && len(m.OU) == 0 &&
		len(m.Stage) == 0 && len(m.UserPath) == 0 && len(m.Tags) == 0
}

// StringList is a list of strings that YAML may give as one string:
// stage: expired is stage: [expired].
type StringList []string

var stringListType = reflect.TypeFor[StringList]()

// UnmarshalYAML reads a string or a list of strings, for decoders other than
// Parse's.
func (l *StringList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*l = StringList{n.Value}
		return nil
	}
	var s []string
	if err := n.Decode(&s); err != nil {
		return fmt.Errorf("expected a string or a list of strings, got %s", describe(n))
	}
	*l = s
	return nil
}

// Stages are the key stages a route can match, as the rule names them. Later
// stages are added here.
var Stages = []string{"ok", "warning", "expired", "inactive",
	// Enforcement notices (keyage enforce): a deactivation is coming, an
	// action was taken, or refused because the key is in use.
	"deactivation-scheduled", "deactivated", "deleted", "escalated"}

// The groupBy keys.
const (
	GroupByUser    = "user"
	GroupByOwner   = "owner"
	GroupByAccount = "account"
	GroupByKey     = "key"
	// GroupByRun makes one summary message per run; it combines with no
	// other key.
	GroupByRun = "run"
)

// GroupByKeys lists the valid groupBy values.
var GroupByKeys = []string{GroupByUser, GroupByOwner, GroupByAccount, GroupByKey, GroupByRun}

// IsRun reports whether r sends one summary per run (groupBy: [run]).
func (r Route) IsRun() bool { return slices.Contains(r.GroupBy, GroupByRun) }

// Defaults of a route.
const (
	DefaultRepeatInterval = Duration(7 * day)
	MinRepeatInterval     = Duration(time.Minute)
)

func (rs *Routes) setDefaults(c *checker) {
	for i := range *rs {
		(*rs)[i].setDefaults(c.in(index(i)))
	}
}

func (r *Route) setDefaults(c *checker) {
	if len(r.GroupBy) == 0 {
		r.GroupBy = []string{GroupByUser}
	}
	defaultTo(c, "repeatInterval", &r.RepeatInterval, DefaultRepeatInterval)
	if !c.set("continue") && r.Match.IsEmpty() {
		r.Continue = true
	}
}

func (rs *Routes) validate(c *checker) {
	for i := range *rs {
		(*rs)[i].validate(c.in(index(i)))
	}
}

func (r *Route) validate(c *checker) {
	r.Match.validate(c.in("match"))
	if len(r.Receivers) == 0 {
		c.errorf("receivers", "at least one receiver is required")
	}
	c.receiverNames("receivers", r.Receivers)
	seen := map[string]bool{}
	for i, g := range r.GroupBy {
		k := "groupBy" + index(i)
		switch {
		case !slices.Contains(GroupByKeys, g):
			c.errorf(k, "%q: unknown groupBy key (use %s)", g, orList(GroupByKeys))
		case seen[g]:
			c.errorf(k, "%q: listed twice", g)
		}
		seen[g] = true
	}
	if r.IsRun() && len(r.GroupBy) > 1 {
		c.errorf("groupBy", "run sends one summary per run and combines with no other key")
	}
	if r.Schedule != "" {
		if _, err := ParseDigestSchedule(r.Schedule); err != nil {
			c.errorf("schedule", "%v", err)
		} else if !r.IsRun() {
			c.errorf("schedule", "only a route with groupBy: [run] has a schedule: it holds the run's summary until a send time")
		}
	}
	if r.RepeatInterval < MinRepeatInterval {
		c.errorf("repeatInterval", "%s: must be at least %s", r.RepeatInterval, MinRepeatInterval)
	}
}

func (m *RouteMatch) validate(c *checker) {
	for i, id := range m.AccountID {
		if !ValidAccountID(id) {
			c.errorf(c.elem("accountId", i), "%s", accountIDError(id))
		}
	}
	for i, n := range m.AccountName {
		if strings.TrimSpace(n) == "" {
			c.errorf(c.elem("accountName", i), "empty")
		}
	}
	for i, ou := range m.OU {
		if ou == "" || slices.Contains(strings.Split(ou, "/"), "") {
			c.errorf(c.elem("ou", i), "%q: not an OU path below the root, such as Workloads or Workloads/Prod", ou)
		}
	}
	for i, s := range m.Stage {
		if !slices.Contains(Stages, s) {
			c.errorf(c.elem("stage", i), "%q: unknown stage (use %s)", s, orList(Stages))
		}
	}
	for i, p := range m.UserPath {
		if !strings.HasPrefix(p, "/") || !strings.HasSuffix(p, "/") {
			c.errorf(c.elem("userPath", i), "%q: an IAM path starts and ends with /, such as /engineering/", p)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(m.Tags)) {
		if !tagKeyRE.MatchString(k) {
			c.errorf("tags."+k, "not an IAM tag key (1 to 128 letters, digits, spaces and _.:/=+-@)")
		}
	}
}

// receiverNames checks that every name in the list at key names a receiver,
// and names it once.
func (c *checker) receiverNames(key string, names []string) {
	seen := map[string]bool{}
	for i, n := range names {
		k := key + index(i)
		switch _, ok := c.cfg.Receiver(n); {
		case !ok:
			c.errorf(k, "no receiver named %q", n)
		case seen[n]:
			c.errorf(k, "%q: listed twice", n)
		}
		seen[n] = true
	}
}
