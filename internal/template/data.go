package template

import (
	"strconv"
	"time"
)

// Item is one finding: one access key of one IAM user (AccessKeyID may be
// empty for a user-level finding). It is what notifications carry
// (notify.Item) and what message templates see of each key.
type Item struct {
	AccountID   string    `json:"accountId"`
	AccountName string    `json:"accountName,omitempty"`
	OU          string    `json:"ou,omitempty"`
	UserName    string    `json:"userName"`
	UserPath    string    `json:"userPath,omitempty"`
	ARN         string    `json:"arn,omitempty"`
	ResourceID  string    `json:"resourceId"`
	AccessKeyID string    `json:"accessKeyId,omitempty"`
	AgeDays     int       `json:"ageDays"`
	MaxAge      int       `json:"maxAccessKeyAge"`
	Stage       string    `json:"stage"`
	Compliance  string    `json:"compliance,omitempty"`
	CreateDate  time.Time `json:"createDate,omitzero"`
	LastUsed    time.Time `json:"lastUsedDate,omitzero"`
	LastService string    `json:"lastUsedService,omitempty"`
	// Owner is the owner's e-mail address, "" when unknown.
	Owner string `json:"owner,omitempty"`
	// Deadline is the key's creation plus the limit.
	Deadline   time.Time `json:"deadline,omitzero"`
	ConsoleURL string    `json:"consoleUrl,omitempty"`
	// DaysLeft is the whole days until Deadline (rounded up), 0 once it
	// has passed; Overdue is the whole days since Deadline, 0 before it.
	// Due says the same in words: "due in 5 days", "due today",
	// "overdue by 30 days"; "" without a deadline. SetDue fills them when
	// the message is rendered.
	DaysLeft int    `json:"daysLeft,omitempty"`
	Overdue  int    `json:"overdue,omitempty"`
	Due      string `json:"due,omitempty"`
	// Rotation is set on the notices of keyage rotate (docs/rotation.md).
	Rotation *Rotation `json:"rotation,omitempty"`
}

// SetDue fills DaysLeft, Overdue and Due from Deadline as of now; it
// clears them without a deadline.
func (it *Item) SetDue(now time.Time) {
	it.DaysLeft, it.Overdue, it.Due = DueIn(it.Deadline, now)
}

// DeadlineText is the deadline's date and how far it is, for messages:
// "2026-05-02 (overdue by 30 days)"; "" without a deadline.
func (it Item) DeadlineText() string {
	if it.Deadline.IsZero() {
		return ""
	}
	if it.Due == "" {
		return Date(it.Deadline)
	}
	return Date(it.Deadline) + " (" + it.Due + ")"
}

// DueIn is how far deadline is from now: whole days left (rounded up, as
// a key's age in days is rounded down), whole days overdue, and the same
// in words with the plural right. All are zero without a deadline.
func DueIn(deadline, now time.Time) (daysLeft, overdue int, text string) {
	if deadline.IsZero() {
		return 0, 0, ""
	}
	const day = 24 * time.Hour
	left := deadline.Sub(now)
	switch {
	case left > 0:
		daysLeft = int((left + day - 1) / day)
		return daysLeft, 0, "due in " + days(daysLeft)
	case left <= -day:
		overdue = int(-left / day)
		return 0, overdue, "overdue by " + days(overdue)
	}
	return 0, 0, "due today"
}

// days is "1 day", "2 days".
func days(n int) string {
	if n == 1 {
		return "1 day"
	}
	return strconv.Itoa(n) + " days"
}

// Rotation is what a rotation notice tells the owner: where the new key is, how to read it,
// when the old key stops working and how to defer. It never holds the secret access key.
type Rotation struct {
	Step           string    `json:"step"`
	OldAccessKeyID string    `json:"oldAccessKeyId"`
	NewAccessKeyID string    `json:"newAccessKeyId,omitempty"`
	SecretARN      string    `json:"secretArn,omitempty"`
	ReadCommand    string    `json:"readCommand,omitempty"`
	DeactivateAt   time.Time `json:"deactivateAt,omitzero"`
	OldLastUsed    time.Time `json:"oldLastUsed,omitzero"`
	NewLastUsed    time.Time `json:"newLastUsed,omitzero"`
	Defer          string    `json:"defer"`
}

// Data is what message templates see: the first item's fields at the top
// level (for per-user or per-key messages), all items in Items, and the
// group's owner.
type Data struct {
	Item
	Items []Item
	Count int
	Kind  string
	// Limit is maxAccessKeyAge in days (also Item.MaxAge).
	Limit int
	// LastUsedText is the first item's last use, "never" if it was not used.
	LastUsedText string
}

// NewData is the data of a message of kind about items.
func NewData(kind string, items []Item) Data {
	d := Data{Items: items, Count: len(items), Kind: kind}
	if len(items) > 0 {
		d.Item = items[0]
		d.Limit = items[0].MaxAge
		d.LastUsedText = Date(items[0].LastUsed)
	}
	return d
}

// Owner is what owners.template sees of an IAM user.
type Owner struct {
	AccountID, UserName, Path, ARN, ResourceID string
	Tags                                       map[string]string
}
