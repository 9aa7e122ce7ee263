package template

import "time"

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
	// Rotation is set on the notices of keyage rotate (docs/rotation.md).
	Rotation *Rotation `json:"rotation,omitempty"`
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
