package config

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Accounts selects the AWS accounts to scan and how to enter them.
type Accounts struct {
	// Organization scans every ACTIVE account of the organization (from the
	// management account). It cannot be combined with IDs.
	Organization bool `yaml:"organization"`
	// OU limits an organization scan to the subtree of an organizational
	// unit (ou-...) or root (r-...). Requires Organization.
	OU string `yaml:"ou"`
	// IDs are explicit 12-digit account ids.
	IDs []string `yaml:"ids"`
	// RoleName is the role keyage assumes in each target account.
	RoleName string `yaml:"roleName"`
	// ExternalID is passed to sts:AssumeRole when set.
	ExternalID string `yaml:"externalId"`
	// SessionName is the role session name, visible in CloudTrail.
	SessionName string `yaml:"sessionName"`
	// OUPaths resolves every account's OU path in an organization scan even
	// when no route or override matches on OUs, for the dashboard's OU
	// column and filter. It costs ListRoots plus two listings per OU, and
	// the scan starts once the organization is walked.
	OUPaths bool `yaml:"ouPaths,omitempty"`
}

// Defaults of the accounts section.
const (
	DefaultRoleName    = "KeyageAuditRole"
	DefaultSessionName = "keyage-scan"
)

var (
	accountIDRE   = regexp.MustCompile(`^[0-9]{12}$`)
	ouIDRE        = regexp.MustCompile(`^(ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}|r-[0-9a-z]{4,32})$`)
	roleNameRE    = regexp.MustCompile(`^([\w+=,.@-]+/)*[\w+=,.@-]{1,64}$`)
	externalIDRE  = regexp.MustCompile(`^[\w+=,.@:/-]+$`)
	sessionNameRE = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)
)

// ValidAccountID reports whether s is a 12-digit AWS account id.
func ValidAccountID(s string) bool { return accountIDRE.MatchString(s) }

// ValidOUID reports whether s is an organizational unit id (ou-ab12-abcdefgh)
// or an organization root id (r-ab12).
func ValidOUID(s string) bool { return ouIDRE.MatchString(s) }

func accountIDError(id string) string { return fmt.Sprintf("%q: not a 12-digit AWS account id", id) }

// ParseAccountIDs parses a comma-separated list of account ids, as given to
// --accounts. Spaces around ids and empty items are ignored; a malformed or
// repeated id is an error, and so is a list with no id.
func ParseAccountIDs(s string) ([]string, error) {
	var ids []string
	var errs []error
	seen := map[string]bool{}
	for _, id := range strings.Split(s, ",") {
		id = strings.TrimSpace(id)
		switch {
		case id == "":
		case !ValidAccountID(id):
			errs = append(errs, errors.New(accountIDError(id)))
		case seen[id]:
			errs = append(errs, fmt.Errorf("%q: listed twice", id))
		default:
			seen[id] = true
			ids = append(ids, id)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(ids) == 0 {
		return nil, errors.New("no account ids")
	}
	return ids, nil
}

func (a *Accounts) setDefaults(c *checker) {
	defaultTo(c, "roleName", &a.RoleName, DefaultRoleName)
	defaultTo(c, "sessionName", &a.SessionName, DefaultSessionName)
}

func (a *Accounts) validate(c *checker) {
	seen := map[string]int{}
	for i, id := range a.IDs {
		switch first, dup := seen[id]; {
		case !ValidAccountID(id):
			c.errorf("ids"+index(i), "%s", accountIDError(id))
		case dup:
			c.errorf("ids"+index(i), "%q: listed twice (also ids[%d])", id, first)
		default:
			seen[id] = i
		}
	}
	if a.Organization && len(a.IDs) > 0 {
		c.errorf("ids", "cannot be combined with organization: true; scan the organization or list ids, not both")
	}
	if a.OU != "" {
		if !ValidOUID(a.OU) {
			c.errorf("ou", "%q: not an OU id (ou-ab12-abcdefgh) or root id (r-ab12)", a.OU)
		} else if !a.Organization {
			c.errorf("ou", "requires organization: true")
		}
	}
	switch {
	case strings.HasPrefix(a.RoleName, "arn:"):
		c.errorf("roleName", "%q: a role name, not an ARN (keyage builds the ARN for each account)", a.RoleName)
	case !roleNameRE.MatchString(a.RoleName):
		c.errorf("roleName", "%q: not an IAM role name (1 to 64 letters, digits and +=,.@_-)", a.RoleName)
	}
	// The external id is not echoed: some treat it as a secret.
	if a.ExternalID != "" && (len(a.ExternalID) < 2 || len(a.ExternalID) > 1224 || !externalIDRE.MatchString(a.ExternalID)) {
		c.errorf("externalId", "must be 2 to 1224 letters, digits and +=,.@:/_-")
	}
	if !sessionNameRE.MatchString(a.SessionName) {
		c.errorf("sessionName", "%q: not a role session name (2 to 64 letters, digits and +=,.@_-)", a.SessionName)
	}
}
