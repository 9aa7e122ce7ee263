package sandbox

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// IAM over awsQuery, version 2010-05-08. Every caller is an administrator of its own account.

const iamXMLNS = "https://iam.amazonaws.com/doc/2010-05-08/"

func (s *Server) iamService() *service {
	svc := &service{
		name:     "iam",
		version:  "2010-05-08",
		proto:    queryProtocol{xmlns: iamXMLNS},
		throttle: newError(http.StatusBadRequest, "Throttling", "Rate exceeded"),
		failure:  newError(http.StatusInternalServerError, "ServiceFailure", "The request processing has failed because of an unknown error, exception or failure."),
	}
	svc.unknownOp = queryUnknownOp(svc.version)
	svc.ops = map[string]operation{
		"ListUsers":                s.iamListUsers,
		"GetUser":                  s.iamGetUser,
		"ListAccessKeys":           s.iamListAccessKeys,
		"GetAccessKeyLastUsed":     s.iamGetAccessKeyLastUsed,
		"ListUserTags":             s.iamListUserTags,
		"CreateAccessKey":          s.iamCreateAccessKey,
		"UpdateAccessKey":          s.iamUpdateAccessKey,
		"DeleteAccessKey":          s.iamDeleteAccessKey,
		"GenerateCredentialReport": s.iamGenerateCredentialReport,
		"GetCredentialReport":      s.iamGetCredentialReport,
		"GetAccountSummary":        s.iamGetAccountSummary,
		"DeleteUser":               s.iamDeleteUser,
		"GetRole":                  s.iamGetRole,
	}
	return svc
}

func queryUnknownOp(version string) func(string) *apiError {
	return func(op string) *apiError {
		if op == "" {
			return newError(http.StatusBadRequest, "MissingAction", "Missing Action")
		}
		return newError(http.StatusBadRequest, "InvalidAction", "Could not find operation "+op+" for version "+version)
	}
}

func validationError(format string, args ...any) *apiError {
	return newError(http.StatusBadRequest, "ValidationError", fmt.Sprintf(format, args...))
}

func noSuchUser(name string) *apiError {
	return newError(http.StatusNotFound, "NoSuchEntity", "The user with name "+name+" cannot be found.")
}

func noSuchKey(id string) *apiError {
	return newError(http.StatusNotFound, "NoSuchEntity", "The Access Key with id "+id+" cannot be found.")
}

// page reads Marker and MaxItems (1 to 1000, default 100).
func (c *call) page() (marker string, maxItems int, err error) {
	maxItems = 100
	if v := c.form.Get("MaxItems"); v != "" {
		n, perr := strconv.Atoi(v)
		switch {
		case perr != nil:
			return "", 0, validationError("1 validation error detected: Value '%s' at 'maxItems' failed to satisfy constraint: Member must be a number", v)
		case n < 1:
			return "", 0, validationError("1 validation error detected: Value '%d' at 'maxItems' failed to satisfy constraint: Member must have value greater than or equal to 1", n)
		case n > 1000:
			return "", 0, validationError("1 validation error detected: Value '%d' at 'maxItems' failed to satisfy constraint: Member must have value less than or equal to 1000", n)
		}
		maxItems = n
	}
	return c.form.Get("Marker"), maxItems, nil
}

// Markers are opaque to clients; inside they name the last item returned.
func encodeMarker(kind, last string) string {
	return base64.StdEncoding.EncodeToString([]byte(kind + ":" + last))
}

func decodeMarker(kind, marker string) (string, error) {
	b, err := base64.StdEncoding.DecodeString(marker)
	if err != nil || !strings.HasPrefix(string(b), kind+":") {
		return "", validationError("Invalid Marker.")
	}
	return string(b[len(kind)+1:]), nil
}

func validUserName(field, name string) error {
	if !validIAMName(name, 64) {
		return validationError("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+", name, field)
	}
	return nil
}

// validIAMName matches [\w+=,.@-]{1,max}.
func validIAMName(s string, max int) bool { return validName(s, max, "_+=,.@-") }

// validName reports whether s is 1 to max ASCII letters, digits and bytes of extra.
func validName(s string, max int, extra string) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		switch {
		case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9':
		case strings.IndexByte(extra, b) >= 0:
		default:
			return false
		}
	}
	return true
}

// targetUser resolves the UserName parameter, or the caller when it is absent (as IAM does for
// user credentials). The caller holds the account's lock.
func (c *call) targetUser() (*user, error) {
	name := c.form.Get("UserName")
	a := c.acct()
	if name == "" {
		switch c.p.kind {
		case kindUser, kindRoot:
			return c.p.user, nil
		}
		return nil, validationError("Must specify userName when calling with non-User credentials")
	}
	if err := validUserName("userName", name); err != nil {
		return nil, err
	}
	if a.admin != nil && strings.EqualFold(name, a.admin.name) {
		return a.admin, nil
	}
	u := a.userLocked(name)
	if u == nil {
		return nil, noSuchUser(name)
	}
	return u, nil
}

func writeUser(x *xmlWriter, acct string, u *user, withTags bool) {
	x.elem("Path", u.path)
	x.elem("UserName", u.name)
	x.elem("UserId", u.id)
	x.elem("Arn", u.arn(acct))
	x.timeElem("CreateDate", u.created)
	if withTags && len(u.tags) > 0 {
		x.open("Tags")
		for _, t := range u.tags {
			x.open("member")
			x.elem("Key", t.key)
			x.elem("Value", t.value)
			x.close("member")
		}
		x.close("Tags")
	}
}

func writePage(x *xmlWriter, truncated bool, marker string) {
	x.boolElem("IsTruncated", truncated)
	if truncated {
		x.elem("Marker", marker)
	}
}

func (s *Server) iamListUsers(c *call) (any, error) {
	marker, maxItems, err := c.page()
	if err != nil {
		return nil, err
	}
	prefix := c.form.Get("PathPrefix")
	if prefix == "" {
		prefix = "/"
	}
	after := ""
	if marker != "" {
		if after, err = decodeMarker("u", marker); err != nil {
			return nil, err
		}
	}
	a := c.acct()
	a.mu.RLock()
	i := 0
	if marker != "" {
		i = sort.Search(len(a.users), func(i int) bool { return a.users[i].lower > after })
	}
	page := make([]*user, 0, min(maxItems, len(a.users)-i))
	truncated := false
	for ; i < len(a.users); i++ {
		u := a.users[i]
		if !strings.HasPrefix(u.path, prefix) {
			continue
		}
		if len(page) == maxItems {
			truncated = true
			break
		}
		page = append(page, u)
	}
	a.mu.RUnlock()
	// Names, paths, ids and creation dates never change, so the page is safe to read unlocked.
	return xmlResult(func(x *xmlWriter) {
		x.open("Users")
		for _, u := range page {
			x.open("member")
			writeUser(x, a.id, u, false)
			x.close("member")
		}
		x.close("Users")
		next := ""
		if truncated {
			next = encodeMarker("u", page[len(page)-1].lower)
		}
		writePage(x, truncated, next)
	}), nil
}

func (s *Server) iamGetUser(c *call) (any, error) {
	a := c.acct()
	a.mu.RLock()
	defer a.mu.RUnlock()
	if c.form.Get("UserName") == "" && c.p.kind == kindRoot {
		return xmlResult(func(x *xmlWriter) {
			x.open("User")
			x.elem("UserId", a.id)
			x.elem("Arn", c.p.arn())
			x.timeElem("CreateDate", a.created)
			x.close("User")
		}), nil
	}
	u, err := c.targetUser()
	if err != nil {
		return nil, err
	}
	return xmlResult(func(x *xmlWriter) {
		x.open("User")
		writeUser(x, a.id, u, true)
		x.close("User")
	}), nil
}

func (s *Server) iamListUserTags(c *call) (any, error) {
	marker, maxItems, err := c.page()
	if err != nil {
		return nil, err
	}
	name := c.form.Get("UserName")
	if name == "" {
		return nil, validationError("1 validation error detected: Value null at 'userName' failed to satisfy constraint: Member must not be null")
	}
	a := c.acct()
	a.mu.RLock()
	u, err := c.targetUser()
	a.mu.RUnlock()
	if err != nil {
		return nil, err
	}
	tags := u.tags // immutable
	i := 0
	if marker != "" {
		after, err := decodeMarker("t", marker)
		if err != nil {
			return nil, err
		}
		i = sort.Search(len(tags), func(i int) bool { return tags[i].key > after })
	}
	end := min(len(tags), i+maxItems)
	page, truncated := tags[i:end], end < len(tags)
	return xmlResult(func(x *xmlWriter) {
		x.open("Tags")
		for _, t := range page {
			x.open("member")
			x.elem("Key", t.key)
			x.elem("Value", t.value)
			x.close("member")
		}
		x.close("Tags")
		next := ""
		if truncated {
			next = encodeMarker("t", page[len(page)-1].key)
		}
		writePage(x, truncated, next)
	}), nil
}

func (s *Server) iamListAccessKeys(c *call) (any, error) {
	marker, maxItems, err := c.page()
	if err != nil {
		return nil, err
	}
	a := c.acct()
	a.mu.RLock()
	u, err := c.targetUser()
	var keys []accessKey
	if err == nil {
		keys = append(keys, u.keys...)
	}
	a.mu.RUnlock()
	if err != nil {
		return nil, err
	}
	i := 0
	if marker != "" {
		after, err := decodeMarker("k", marker)
		if err != nil {
			return nil, err
		}
		i = len(keys)
		for j, k := range keys {
			if k.id == after {
				i = j + 1
			}
		}
	}
	end := min(len(keys), i+maxItems)
	page, truncated := keys[i:end], end < len(keys)
	userName := u.name
	if u == a.rootUser {
		userName = ""
	}
	return xmlResult(func(x *xmlWriter) {
		x.open("AccessKeyMetadata")
		for _, k := range page {
			x.open("member")
			if userName != "" {
				x.elem("UserName", userName)
			}
			x.elem("AccessKeyId", k.id)
			x.elem("Status", k.status)
			x.timeElem("CreateDate", k.created)
			x.close("member")
		}
		x.close("AccessKeyMetadata")
		next := ""
		if truncated {
			next = encodeMarker("k", page[len(page)-1].id)
		}
		writePage(x, truncated, next)
	}), nil
}

func (s *Server) iamGetAccessKeyLastUsed(c *call) (any, error) {
	id := c.form.Get("AccessKeyId")
	if id == "" {
		return nil, validationError("1 validation error detected: Value null at 'accessKeyId' failed to satisfy constraint: Member must not be null")
	}
	v, ok := s.keys.Load(id)
	if !ok || v.(keyRef).acct != c.acct() {
		return nil, noSuchKey(id)
	}
	ref := v.(keyRef)
	a := ref.acct
	a.mu.RLock()
	k := findKey(ref.user, id)
	var kc accessKey
	if k != nil {
		kc = *k
	}
	a.mu.RUnlock()
	if k == nil {
		return nil, noSuchKey(id)
	}
	userName := ref.user.name
	if ref.user == a.rootUser {
		userName = "root"
	}
	return xmlResult(func(x *xmlWriter) {
		x.elem("UserName", userName)
		x.open("AccessKeyLastUsed")
		if kc.lastUsed.IsZero() {
			x.elem("ServiceName", "N/A")
			x.elem("Region", "N/A")
		} else {
			x.timeElem("LastUsedDate", kc.lastUsed)
			x.elem("ServiceName", kc.lastService)
			x.elem("Region", kc.lastRegion)
		}
		x.close("AccessKeyLastUsed")
	}), nil
}

func (s *Server) iamCreateAccessKey(c *call) (any, error) {
	a := c.acct()
	a.mu.Lock()
	defer a.mu.Unlock()
	u, err := c.targetUser()
	if err != nil {
		return nil, err
	}
	if len(u.keys) >= 2 {
		return nil, newError(http.StatusConflict, "LimitExceeded", "Cannot exceed quota for AccessKeysPerUser: 2")
	}
	k := accessKey{status: statusActive, created: c.now.Truncate(time.Second)}
	for {
		seq := strconv.FormatUint(s.keySeq.Add(1), 10)
		k.id = s.ids.id("AKIA", 16, a.id, "created", u.name, seq)
		if _, loaded := s.keys.LoadOrStore(k.id, keyRef{acct: a, user: u}); !loaded {
			break
		}
	}
	secret := s.ids.secret(k.id, c.reqID)
	k.secret = secret
	u.keys = append(u.keys, k)
	userName := u.name
	if u == a.rootUser {
		userName = "root"
	}
	s.iamEvent(c, a.id, "CreateAccessKey", map[string]any{"userName": userName},
		map[string]any{"accessKey": map[string]any{"userName": userName, "accessKeyId": k.id, "status": k.status, "createDate": k.created.Format(time.RFC3339)}}, c.now)
	return xmlResult(func(x *xmlWriter) {
		x.open("AccessKey")
		x.elem("UserName", userName)
		x.elem("AccessKeyId", k.id)
		x.elem("Status", k.status)
		x.elem("SecretAccessKey", secret)
		x.timeElem("CreateDate", k.created)
		x.close("AccessKey")
	}), nil
}

func (s *Server) iamUpdateAccessKey(c *call) (any, error) {
	id, status := c.form.Get("AccessKeyId"), c.form.Get("Status")
	if id == "" {
		return nil, validationError("1 validation error detected: Value null at 'accessKeyId' failed to satisfy constraint: Member must not be null")
	}
	if status != statusActive && status != statusInactive {
		return nil, validationError("1 validation error detected: Value '%s' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive]", status)
	}
	a := c.acct()
	a.mu.Lock()
	defer a.mu.Unlock()
	u, err := c.targetUser()
	if err != nil {
		return nil, err
	}
	k := findKey(u, id)
	if k == nil {
		return nil, noSuchKey(id)
	}
	k.status = status
	s.iamEvent(c, a.id, "UpdateAccessKey", map[string]any{"userName": u.name, "accessKeyId": id, "status": status}, nil, c.now)
	return nil, nil
}

func (s *Server) iamDeleteAccessKey(c *call) (any, error) {
	id := c.form.Get("AccessKeyId")
	if id == "" {
		return nil, validationError("1 validation error detected: Value null at 'accessKeyId' failed to satisfy constraint: Member must not be null")
	}
	a := c.acct()
	a.mu.Lock()
	defer a.mu.Unlock()
	u, err := c.targetUser()
	if err != nil {
		return nil, err
	}
	for i := range u.keys {
		if u.keys[i].id == id {
			u.keys = append(u.keys[:i:i], u.keys[i+1:]...)
			s.keys.Delete(id)
			s.iamEvent(c, a.id, "DeleteAccessKey", map[string]any{"userName": u.name, "accessKeyId": id}, nil, c.now)
			return nil, nil
		}
	}
	return nil, noSuchKey(id)
}

func (s *Server) iamGetAccountSummary(c *call) (any, error) {
	a := c.acct()
	a.mu.RLock()
	users := len(a.users)
	rootKeys := len(a.rootUser.keys)
	a.mu.RUnlock()
	present := 0
	if rootKeys > 0 {
		present = 1
	}
	entries := []struct {
		k string
		v int
	}{
		{"AccessKeysPerUserQuota", 2},
		{"AccountAccessKeysPresent", present},
		{"AccountMFAEnabled", 0},
		{"AccountSigningCertificatesPresent", 0},
		{"AssumeRolePolicySizeQuota", 2048},
		{"AttachedPoliciesPerGroupQuota", 10},
		{"AttachedPoliciesPerRoleQuota", 10},
		{"AttachedPoliciesPerUserQuota", 10},
		{"GlobalEndpointTokenVersion", 1},
		{"GroupPolicySizeQuota", 5120},
		{"Groups", 0},
		{"GroupsPerUserQuota", 10},
		{"GroupsQuota", 300},
		{"InstanceProfiles", 0},
		{"InstanceProfilesQuota", 1000},
		{"MFADevices", 0},
		{"MFADevicesInUse", 0},
		{"Policies", 0},
		{"PoliciesQuota", 1500},
		{"PolicySizeQuota", 6144},
		{"PolicyVersionsInUse", 0},
		{"PolicyVersionsInUseQuota", 10000},
		{"Providers", 0},
		{"RolePolicySizeQuota", 10240},
		{"Roles", len(a.roles)},
		{"RolesQuota", 1000},
		{"ServerCertificates", 0},
		{"ServerCertificatesQuota", 20},
		{"SigningCertificatesPerUserQuota", 2},
		{"UserPolicySizeQuota", 2048},
		{"Users", users},
		{"UsersQuota", 5000},
		{"VersionsPerPolicyQuota", 5},
	}
	return xmlResult(func(x *xmlWriter) {
		x.open("SummaryMap")
		for _, e := range entries {
			x.open("entry")
			x.elem("key", e.k)
			x.elem("value", strconv.Itoa(e.v))
			x.close("entry")
		}
		x.close("SummaryMap")
	}), nil
}

// iamDeleteUser deletes a user without access keys (AWS refuses while keys remain), keeping a
// record of it for AWS Config.
func (s *Server) iamDeleteUser(c *call) (any, error) {
	name := c.form.Get("UserName")
	if name == "" {
		return nil, validationError("1 validation error detected: Value null at 'userName' failed to satisfy constraint: Member must not be null")
	}
	if err := validUserName("userName", name); err != nil {
		return nil, err
	}
	a := c.acct()
	a.mu.Lock()
	defer a.mu.Unlock()
	return nil, s.deleteUserLocked(a, name, c.now)
}

func (s *Server) deleteUserLocked(a *account, name string, now time.Time) error {
	u := a.userLocked(name)
	if u == nil {
		return noSuchUser(name)
	}
	if len(u.keys) > 0 {
		return newError(http.StatusConflict, "DeleteConflict", "Cannot delete entity, must delete access keys first.")
	}
	for i, x := range a.users {
		if x == u {
			a.users = append(a.users[:i:i], a.users[i+1:]...)
			break
		}
	}
	delete(a.byName, u.lower)
	a.deleted = append(a.deleted, deletedUser{name: u.name, id: u.id, deleted: now.Truncate(time.Second)})
	return nil
}

// DeleteUser deletes an IAM user and its access keys, as an administrator would (for tests of
// users that disappear); AWS Config keeps a record of it.
func (s *Server) DeleteUser(accountID, name string) error {
	a := s.accounts[accountID]
	if a == nil {
		return fmt.Errorf("delete user %q: no account %s in the sandbox", name, accountID)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if u := a.userLocked(name); u != nil {
		for _, k := range u.keys {
			s.keys.Delete(k.id)
		}
		u.keys = nil
	}
	if err := s.deleteUserLocked(a, name, s.now().UTC()); err != nil {
		return fmt.Errorf("delete user %q in %s: %w", name, accountID, err)
	}
	s.iamEvent(nil, a.id, "DeleteUser", map[string]any{"userName": name}, nil, s.now())
	return nil
}
