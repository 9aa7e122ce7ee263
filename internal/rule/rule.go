// Package rule evaluates IAM users against the AWS Config managed rule
// access-keys-rotated: a user is NON_COMPLIANT when an active key is older
// than maxAccessKeyAge. Pure functions of a user, a policy and the
// evaluation time, with no I/O and no clock of their own. The stages of a
// key (warning, exempt, due for deactivation...) are internal/lifecycle's,
// which builds on this package and records a key's stage in
// KeyResult.Stage; rule itself decides only COMPLIANT or NON_COMPLIANT.
package rule

import (
	"fmt"
	"time"
)

// Name is the AWS Config managed rule keyage implements.
const Name = "access-keys-rotated"

// Day is the unit of every age threshold.
const Day = 24 * time.Hour

// Resource types of evaluations, as AWS Config names them.
const (
	ResourceTypeUser    = "AWS::IAM::User"
	ResourceTypeAccount = "AWS::::Account"
)

// Compliance is an evaluation's verdict, with AWS Config's values.
type Compliance string

// The verdicts of access-keys-rotated.
const (
	Compliant     Compliance = "COMPLIANT"
	NonCompliant  Compliance = "NON_COMPLIANT"
	NotApplicable Compliance = "NOT_APPLICABLE"
)

// Key status values, as IAM returns them.
const (
	StatusActive   = "Active"
	StatusInactive = "Inactive"
)

// Policy holds the rule's parameters.
type Policy struct {
	// MaxAge is maxAccessKeyAge: an active key strictly older than this makes
	// its user NON_COMPLIANT.
	MaxAge time.Duration
	// WarnAge is the rule's warnAge parameter: when positive, the lifecycle
	// puts active keys strictly older than it (and within MaxAge) in the
	// warning stage. It does not change the verdict.
	WarnAge time.Duration
}

// DefaultPolicy is the managed rule's default: 90 days, no warning stage.
func DefaultPolicy() Policy { return Policy{MaxAge: 90 * Day} }

// PolicyDays builds a policy from whole days, as the config and flags give them.
func PolicyDays(maxAge, warnAge int) Policy {
	return Policy{MaxAge: time.Duration(maxAge) * Day, WarnAge: time.Duration(warnAge) * Day}
}

// Validate reports a policy the rule cannot apply.
func (p Policy) Validate() error {
	if p.MaxAge <= 0 {
		return fmt.Errorf("maxAccessKeyAge must be positive, got %v", p.MaxAge)
	}
	if p.WarnAge < 0 || (p.WarnAge > 0 && p.WarnAge >= p.MaxAge) {
		return fmt.Errorf("warnAge (%d days) must be below maxAccessKeyAge (%d days)", days(p.WarnAge), days(p.MaxAge))
	}
	return nil
}

func days(d time.Duration) int { return int(d / Day) }

// Key is one access key as the inventory sees it.
type Key struct {
	// AccessKeyID is empty when only the credential report described the key.
	AccessKeyID string    `json:"accessKeyId"`
	Status      string    `json:"status"`
	CreateDate  time.Time `json:"createDate"`
	// Slot is 1 or 2 when the key came from the credential report (its
	// access_key_N columns), 0 otherwise.
	Slot int `json:"-"`
	// LastUsedDate is zero when the key was never used or it is unknown.
	LastUsedDate    time.Time `json:"lastUsedDate,omitzero"`
	LastUsedService string    `json:"lastUsedService,omitempty"`
	LastUsedRegion  string    `json:"lastUsedRegion,omitempty"`
}

// Active reports whether the key can be used to sign requests.
func (k Key) Active() bool { return k.Status == StatusActive }

// User is one IAM user with its keys. UserID (AIDA...) is the resourceId.
type User struct {
	AccountID  string
	UserID     string
	UserName   string
	Path       string
	ARN        string
	CreateDate time.Time
	Tags       map[string]string
	Keys       []Key
}

// KeyResult is a key with its age and stage at the evaluation time.
type KeyResult struct {
	Key
	AgeDays int `json:"ageDays"`
	// Stage is the key's lifecycle stage (ok, warning, expired, inactive,
	// exempt), as internal/lifecycle sets it: the stages and their
	// thresholds live there, and this package, which lifecycle builds on,
	// only records the name. Evaluate leaves it empty.
	Stage string `json:"stage"`
	// Lifecycle holds what the lifecycle policy adds, when one is set.
	Lifecycle *KeyLifecycle `json:"lifecycle,omitempty"`
}

// KeyLifecycle is a key's place in the lifecycle policy beyond the rule.
type KeyLifecycle struct {
	// Due is the enforcement action the key is due for: deactivate.
	Due string `json:"due,omitempty"`
	// Reminder is the warning age (days) last crossed: warnAge or one of
	// lifecycle.reminders. Crossing a new one notifies again.
	Reminder  int        `json:"reminder,omitempty"`
	Unused    bool       `json:"unused,omitempty"`
	NeverUsed bool       `json:"neverUsed,omitempty"`
	Exemption *Exemption `json:"exemption,omitempty"`
}

// Exemption exempts a key's user until a date, for a reason.
type Exemption struct {
	Until  time.Time `json:"until"`
	Reason string    `json:"reason"`
	Source string    `json:"source"` // tag or config
}

// Evaluation is the rule's verdict on one resource, shaped like an AWS Config
// evaluation.
type Evaluation struct {
	AccountID    string            `json:"accountId"`
	ResourceType string            `json:"resourceType"`
	ResourceID   string            `json:"resourceId"`
	UserName     string            `json:"userName,omitempty"`
	Path         string            `json:"path,omitempty"`
	ARN          string            `json:"arn,omitempty"`
	Compliance   Compliance        `json:"compliance"`
	Annotation   string            `json:"annotation"`
	Tags         map[string]string `json:"tags,omitempty"`
	// Owner is who answers for the user's keys, decided once when the
	// evaluation is built (owners.tagKey, else owners.template, else
	// owners.fallback); empty when no owner policy applied.
	Owner string      `json:"owner,omitempty"`
	Keys  []KeyResult `json:"keys"`
}

// ResourceRef names one evaluated resource (an IAM user) across the
// organization: its account and its immutable resource id (the UserId).
// It is comparable, so it keys maps.
type ResourceRef struct {
	AccountID  string
	ResourceID string
}

// Ref is the evaluation's account and resource id.
func (e *Evaluation) Ref() ResourceRef {
	return ResourceRef{AccountID: e.AccountID, ResourceID: e.ResourceID}
}

// KeyRef names one access key across the organization: its account and its
// access key id. It is comparable, so it keys maps.
type KeyRef struct {
	AccountID   string
	AccessKeyID string
}

// Expired reports whether k makes its user NON_COMPLIANT at now: it is
// active and strictly older than the policy's MaxAge.
func Expired(k Key, p Policy, now time.Time) bool {
	return k.Active() && now.Sub(k.CreateDate) > p.MaxAge
}

// AgeDays is the whole number of days (floor) between created and now; a key
// created in the future (clock skew) is 0 days old.
func AgeDays(created, now time.Time) int {
	d := now.Sub(created)
	if d < 0 {
		return 0
	}
	return int(d / Day)
}

// Evaluate applies access-keys-rotated to one user: NON_COMPLIANT when any
// active key is strictly older than the policy's MaxAge, COMPLIANT otherwise
// (including a user with no active key). Inactive keys are ignored.
func Evaluate(u User, p Policy, now time.Time) Evaluation {
	ev := Evaluation{
		AccountID:    u.AccountID,
		ResourceType: ResourceTypeUser,
		ResourceID:   u.UserID,
		UserName:     u.UserName,
		Path:         u.Path,
		ARN:          u.ARN,
		Compliance:   Compliant,
		Tags:         u.Tags,
		Keys:         make([]KeyResult, 0, len(u.Keys)),
	}
	var oldest *KeyResult
	expired := 0
	for _, k := range u.Keys {
		kr := KeyResult{Key: k, AgeDays: AgeDays(k.CreateDate, now)}
		ev.Keys = append(ev.Keys, kr)
		if Expired(k, p, now) {
			expired++
			if oldest == nil || kr.CreateDate.Before(oldest.CreateDate) {
				c := kr
				oldest = &c
			}
		}
	}
	if oldest != nil {
		ev.Compliance = NonCompliant
		ev.Annotation = fmt.Sprintf("Access key %s is %d days old; the limit is %d days.",
			keyName(oldest.Key), oldest.AgeDays, days(p.MaxAge))
		if expired > 1 {
			ev.Annotation += fmt.Sprintf(" %d active keys are over the limit.", expired)
		}
	}
	return ev
}

// NotApplicableAccount is the single evaluation of an account with no IAM
// users, as AWS Config records it.
func NotApplicableAccount(accountID string) Evaluation {
	return Evaluation{
		AccountID:    accountID,
		ResourceType: ResourceTypeAccount,
		ResourceID:   accountID,
		Compliance:   NotApplicable,
		Annotation:   "The account has no IAM users.",
		Keys:         []KeyResult{},
	}
}

func keyName(k Key) string {
	if k.AccessKeyID != "" {
		return k.AccessKeyID
	}
	if k.Slot > 0 {
		return fmt.Sprintf("%d (created %s)", k.Slot, k.CreateDate.UTC().Format(time.DateOnly))
	}
	return fmt.Sprintf("created %s", k.CreateDate.UTC().Format(time.DateOnly))
}
