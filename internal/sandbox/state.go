package sandbox

import (
	"crypto/sha256"
	"encoding/binary"
	"sort"
	"strings"
	"sync"
	"time"
)

// The in-memory model. Organization structure (accounts, OUs, roles) is immutable after New;
// users, keys and credential reports change, each account under its own lock, so concurrent
// scanners of different accounts never contend.

const (
	statusActive   = "Active"
	statusInactive = "Inactive"
	day            = 24 * time.Hour
)

type tag struct{ key, value string }

type accessKey struct {
	id          string
	secret      string // the secret access key, to verify signatures
	status      string
	created     time.Time
	lastUsed    time.Time // zero: never used
	lastService string
	lastRegion  string
}

type user struct {
	name    string
	lower   string // lower-case name: IAM names are case-insensitive
	path    string
	id      string // AIDA...
	created time.Time
	tags    []tag
	keys    []accessKey // at most 2, in creation order
}

func (u *user) arn(acct string) string { return "arn:aws:iam::" + acct + ":user" + u.path + u.name }

type role struct {
	name       string
	id         string // AROA...
	externalID string
	trust      string // the trust policy, JSON (iam:GetRole); AssumeRole evaluates it
	// policies are the role's identity policies; with unrestricted, the role may do anything
	// (a fixture role without a policy and without a default policy for its name).
	policies     []*policyDoc
	unrestricted bool
}

type account struct {
	id       string
	name     string
	email    string
	ouPath   string
	ou       *orgUnit
	status   string // ACTIVE or SUSPENDED
	joined   time.Time
	created  time.Time
	roles    []role
	mgmt     bool
	stats    *accountStats
	admin    *user // the hidden principal of the management credentials; nil in members
	rootUser *user // holds the root keys; never listed

	mu      sync.RWMutex
	users   []*user // sorted by lower-case name
	byName  map[string]*user
	report  *credentialReport
	deleted []deletedUser // users deleted since start, for AWS Config's history

	// Each of the other services keeps its state under its own lock, so that queue traffic
	// never waits for an IAM scan of the same account.
	configOff   bool   // AWS Config not enabled (fixture config: false)
	recording   string // fixture configRecording: on, off, no-iam or none
	delegated   bool   // fixture stackSetDelegatedAdmin
	rules       configRuleState
	sns         snsState
	sqs         sqsState
	lambda      lambdaState
	securityHub securityHubState
	secrets     secretsState
}

// deletedUser is what AWS Config remembers of a deleted IAM user.
type deletedUser struct {
	name, id string
	deleted  time.Time
}

func (a *account) findRole(name string) *role {
	for i := range a.roles {
		if a.roles[i].name == name {
			return &a.roles[i]
		}
	}
	return nil
}

// userLocked returns the user with that name; the caller holds a.mu.
func (a *account) userLocked(name string) *user { return a.byName[strings.ToLower(name)] }

// keyRef locates an access key: its account and owner (the account's rootUser for root keys).
type keyRef struct {
	acct *account
	user *user
}

// idGen derives stable identifiers from names, so a fixture loads with the same ids every time.
type idGen struct{ seed string }

const idAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

// id returns prefix + n characters of [A-Z2-7] derived from parts.
func (g idGen) id(prefix string, n int, parts ...string) string {
	h := sha256.New()
	h.Write([]byte(g.seed))
	for _, p := range parts {
		h.Write([]byte{0})
		h.Write([]byte(p))
	}
	var sum [32]byte
	h.Sum(sum[:0])
	b := make([]byte, len(prefix), len(prefix)+n)
	copy(b, prefix)
	v := binary.BigEndian.Uint64(sum[:8])
	w := binary.BigEndian.Uint64(sum[8:16])
	for i := 0; i < n; i++ {
		if i == 12 {
			v = w
		}
		b = append(b, idAlphabet[v&31])
		v >>= 5
	}
	return string(b)
}

// lower returns n characters of [a-z0-9] derived from parts (Organizations ids).
func (g idGen) lower(n int, parts ...string) string {
	s := strings.ToLower(g.id("", n, parts...))
	return s
}

// secret returns a 40-character secret access key derived from parts.
func (g idGen) secret(parts ...string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	h := sha256.Sum256([]byte(g.seed + "\x00secret\x00" + strings.Join(parts, "\x00")))
	out := make([]byte, 40)
	for i := range out {
		out[i] = alphabet[h[i%32]>>2^byte(i/32)]
	}
	return string(out)
}

func daysBefore(t time.Time, days float64) time.Time {
	return t.Add(-time.Duration(days * float64(day))).Truncate(time.Second)
}

func (k FixtureKey) createTime(start time.Time) time.Time {
	if k.CreateDate != nil {
		return k.CreateDate.UTC().Truncate(time.Second)
	}
	if k.AgeDays != nil {
		return daysBefore(start, *k.AgeDays)
	}
	return start.Truncate(time.Second)
}

func (k FixtureKey) toKey(id string, start time.Time) accessKey {
	ak := accessKey{id: id, secret: fixtureSecret(id), status: k.Status, created: k.createTime(start)}
	if ak.status == "" {
		ak.status = statusActive
	}
	switch {
	case k.LastUsedDate != nil:
		ak.lastUsed = k.LastUsedDate.UTC().Truncate(time.Second)
	case k.LastUsedDaysAgo != nil:
		ak.lastUsed = daysBefore(start, *k.LastUsedDaysAgo)
	}
	if !ak.lastUsed.IsZero() {
		ak.lastService, ak.lastRegion = k.LastUsedService, k.LastUsedRegion
		if ak.lastService == "" {
			ak.lastService = "iam"
		}
		if ak.lastRegion == "" {
			ak.lastRegion = "us-east-1"
		}
	}
	return ak
}

// buildAccount turns a fixture account into state, registering its keys in index.
func (s *Server) buildAccount(fa *FixtureAccount, auditRole string) *account {
	g := s.ids
	a := &account{
		id:     fa.ID,
		name:   fa.Name,
		email:  fa.Email,
		ouPath: fa.OU,
		status: fa.Status,
		mgmt:   fa.ID == s.mgmtID,
		stats:  newAccountStats(),
	}
	if a.name == "" {
		a.name = "account-" + a.id
	}
	if a.email == "" {
		a.email = "aws+" + strings.ToLower(strings.ReplaceAll(a.name, " ", "-")) + "@example.com"
	}
	if a.status == "" {
		a.status = "ACTIVE"
	}
	if fa.Roles == nil {
		fa.Roles = []FixtureRole{{Name: auditRole}}
	}
	a.roles = make([]role, len(fa.Roles))
	for i, r := range fa.Roles {
		a.roles[i] = role{name: r.Name, externalID: r.ExternalID, id: g.id("AROA", 17, a.id, "role", r.Name), trust: r.Trust}
		if r.Trust == "" {
			a.roles[i].trust = defaultTrust(r.Name, r.ExternalID, s.mgmtID)
		}
		s.rolePolicies(&a.roles[i], r.Policy)
	}
	oldest := s.start
	a.rootUser = &user{name: "<root_account>", id: a.id}
	for i, k := range fa.RootKeys {
		ak := k.toKey(g.id("AKIA", 16, a.id, "root", itoa(i)), s.start)
		a.rootUser.keys = append(a.rootUser.keys, ak)
		s.keys.Store(ak.id, keyRef{acct: a, user: a.rootUser})
		oldest = minTime(oldest, ak.created)
	}
	a.users = make([]*user, 0, len(fa.Users))
	a.byName = make(map[string]*user, len(fa.Users))
	for i := range fa.Users {
		fu := &fa.Users[i]
		u := &user{
			name:  fu.Name,
			lower: strings.ToLower(fu.Name),
			path:  fu.Path,
			id:    g.id("AIDA", 16, a.id, "user", fu.Name),
			tags:  sortedTags(fu.Tags),
		}
		if u.path == "" {
			u.path = "/"
		}
		if len(fu.Keys) > 0 {
			u.keys = make([]accessKey, 0, len(fu.Keys))
		}
		firstKey := s.start
		for j, k := range fu.Keys {
			ak := k.toKey(g.id("AKIA", 16, a.id, "user", fu.Name, itoa(j)), s.start)
			u.keys = append(u.keys, ak)
			s.keys.Store(ak.id, keyRef{acct: a, user: u})
			firstKey = minTime(firstKey, ak.created)
		}
		sort.SliceStable(u.keys, func(x, y int) bool { return u.keys[x].created.Before(u.keys[y].created) })
		switch {
		case fu.CreateDate != nil:
			u.created = fu.CreateDate.UTC().Truncate(time.Second)
		case fu.AgeDays != nil:
			u.created = daysBefore(s.start, *fu.AgeDays)
		case len(fu.Keys) > 0:
			u.created = firstKey.Add(-day)
		default:
			u.created = s.start.Add(-30 * day).Truncate(time.Second)
		}
		oldest = minTime(oldest, u.created)
		a.users = append(a.users, u)
		a.byName[u.lower] = u
	}
	sort.Slice(a.users, func(i, j int) bool { return a.users[i].lower < a.users[j].lower })
	a.created = minTime(oldest.Add(-day), s.start.Add(-3*365*day)).Truncate(time.Second)
	a.joined = a.created.Add(time.Hour)
	s.buildResources(a, fa)
	return a
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func itoa(i int) string {
	var b [20]byte
	n := len(b)
	if i == 0 {
		return "0"
	}
	for i > 0 {
		n--
		b[n] = byte('0' + i%10)
		i /= 10
	}
	return string(b[n:])
}

// defaultRegion is where fixture topics and queues live.
const defaultRegion = "us-east-1"

// buildResources sets up the account's Config switch and its fixture functions, queues and
// topics (in us-east-1). The fixture is validated; no lock is needed before New returns.
func (s *Server) buildResources(a *account, fa *FixtureAccount) {
	a.configOff = fa.Config != nil && !*fa.Config
	a.recording, a.delegated = fa.ConfigRecording, fa.StackSetDelegatedAdmin
	if a.recording == "" {
		a.recording = "on"
	}
	if a.configOff {
		a.recording = "none"
	}
	for _, f := range fa.Functions {
		a.putFunctionLocked(f.Name, f.Fail)
	}
	for _, q := range fa.Queues {
		a.createQueueLocked(defaultRegion, q.Name, s.start, nil, nil)
	}
	for _, ft := range fa.Topics {
		t := a.createTopicLocked(defaultRegion, ft.Name)
		t.displayName = ft.DisplayName
		if ft.Policy != "" {
			t.policy = ft.Policy
			t.parsed, _ = parsePolicy(ft.Policy)
		}
		for _, fs := range ft.Subscriptions {
			endpoint := fs.Queue
			if _, _, _, ok := parseQueueARN(endpoint); !ok {
				endpoint = "arn:aws:sqs:" + defaultRegion + ":" + a.id + ":" + fs.Queue
			}
			sub := &subscription{arn: t.arn + ":" + uuidOf("subscription", t.arn, endpoint), topicArn: t.arn,
				endpoint: endpoint, owner: a.id, raw: fs.RawMessageDelivery}
			if fs.FilterPolicy != "" {
				sub.filter, _ = parseFilterPolicy(fs.FilterPolicy)
				sub.filterJSON = fs.FilterPolicy
			}
			t.subs = append(t.subs, sub)
		}
	}
}
