package config

import (
	"regexp"
	"strings"
)

// Rotate is lifecycle.rotate: keyage creates a user's new access key, stores it in Secrets
// Manager in the user's account, and retires the old key on a schedule (docs/rotation.md).
// Off unless enabled; a user is rotated when it matches Match or carries the tag
// keyage:rotate=secretsmanager.
type Rotate struct {
	Enabled bool `yaml:"enabled"`
	// Match selects users like a route's match (accountId, accountName, ou, userPath,
	// tags); stage is not allowed. Empty matches no user: only the tag opts users in.
	Match RouteMatch `yaml:"match"`
	// RotateAge: an active key this old is rotated (default: the warning age).
	RotateAge Days `yaml:"rotateAge"`
	// DeactivateAfter: the old key is deactivated this long after the new key exists.
	DeactivateAfter Days `yaml:"deactivateAfter"`
	// DeleteAfter: the old key is deleted this long after it was deactivated.
	DeleteAfter Days `yaml:"deleteAfter"`
	// SecretName is the secret's name; {userName}, {userId} and {accountId} are replaced
	// (default keyage/access-keys/{userName}).
	SecretName string `yaml:"secretName"`
	// KMSKeyID encrypts the secret with a customer managed key (default: the account's
	// aws/secretsmanager key).
	KMSKeyID string `yaml:"kmsKeyId"`
	// GrantUserRead puts a resource policy on the secret that lets the user itself read it.
	GrantUserRead bool `yaml:"grantUserRead"`
}

// Defaults of lifecycle.rotate.
const (
	DefaultRotateDeactivateAfter Days = 14
	DefaultRotateDeleteAfter     Days = 30
	DefaultRotateSecretName           = "keyage/access-keys/{userName}"
	// RotateTag opts a user in when set to RotateTagValue.
	RotateTag      = "keyage:rotate"
	RotateTagValue = "secretsmanager"
)

// RotatePlaceholders are the names SecretName may use.
var RotatePlaceholders = []string{"{userName}", "{userId}", "{accountId}"}

var placeholderRE = regexp.MustCompile(`\{[^{}]*\}`)

func (r *Rotate) setDefaults(c *checker) {
	defaultTo(c, "deactivateAfter", &r.DeactivateAfter, DefaultRotateDeactivateAfter)
	defaultTo(c, "deleteAfter", &r.DeleteAfter, DefaultRotateDeleteAfter)
	if r.SecretName == "" {
		r.SecretName = DefaultRotateSecretName
	}
}

func (r *Rotate) validate(c *checker) {
	for key, d := range map[string]Days{"rotateAge": r.RotateAge, "deactivateAfter": r.DeactivateAfter, "deleteAfter": r.DeleteAfter} {
		if d < 0 || d > 3650 {
			c.errorf(key, "%d: must be between 0 and 3650 days", d)
		}
	}
	if r.DeactivateAfter == 0 {
		c.errorf("deactivateAfter", "0: the old key needs at least a day after the new key exists")
	}
	if len(r.Match.Stage) > 0 {
		c.errorf("match.stage", "rotation selects users, not key stages: use accountId, accountName, ou, userPath or tags")
	}
	r.Match.validate(c.in("match"))
	name := r.SecretName
	for _, p := range placeholderRE.FindAllString(name, -1) {
		known := false
		for _, k := range RotatePlaceholders {
			known = known || p == k
		}
		if !known {
			c.errorf("secretName", "%q: unknown placeholder %s (use %s)", name, p, strings.Join(RotatePlaceholders, ", "))
		}
		name = strings.ReplaceAll(name, p, "x")
	}
	if name != "" && !validSecretNameChars(name) {
		c.errorf("secretName", "%q: a Secrets Manager name holds only letters, digits and /_+=.@- (at most 512)", r.SecretName)
	}
	if r.KMSKeyID != "" && strings.ContainsAny(r.KMSKeyID, " \t") {
		c.errorf("kmsKeyId", "%q: not a KMS key id, ARN or alias", r.KMSKeyID)
	}
}

func validSecretNameChars(s string) bool {
	if len(s) > 512 {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || strings.IndexByte("/_+=.@-", b) >= 0) {
			return false
		}
	}
	return true
}
