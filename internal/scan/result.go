package scan

import (
	"time"

	"github.com/keyage/keyage/internal/lifecycle"
	"github.com/keyage/keyage/internal/rule"
)

// Result is one scan of many accounts: the stable JSON document of
// `keyage scan -o json`, documented in docs/json-output.md. Later versions
// add fields; they never rename or remove one.
type Result struct {
	Rule        string            `json:"rule"`
	Parameters  Parameters        `json:"parameters"`
	EvaluatedAt time.Time         `json:"evaluatedAt"`
	Source      string            `json:"source"`
	Accounts    []AccountResult   `json:"accounts"`
	Evaluations []rule.Evaluation `json:"evaluations"`
	Summary     Summary           `json:"summary"`
}

// Parameters are the rule's input parameters, named as AWS Config names them.
type Parameters struct {
	MaxAccessKeyAge int `json:"maxAccessKeyAge"`
	WarnAge         int `json:"warnAge,omitempty"`
}

// Account statuses.
const (
	StatusOK    = "ok"
	StatusError = "error"
)

// AccountResult is one account's outcome. Error is set when Status is
// "error"; such an account has no evaluations.
type AccountResult struct {
	AccountID string    `json:"accountId"`
	Name      string    `json:"name"`
	OU        string    `json:"ou,omitempty"`
	Status    string    `json:"status"`
	Error     string    `json:"error"`
	Users     int       `json:"users"`
	RootKeys  []RootKey `json:"rootKeys"`
	// DurationMS is how long the account took, in milliseconds.
	DurationMS int64 `json:"durationMs"`
}

// RootKey is one access key of an account's root user. AgeDays is omitted
// when the source does not know it (the api source only learns that root
// keys are present: status "Present").
type RootKey struct {
	Status  string `json:"status"`
	AgeDays *int   `json:"ageDays,omitempty"`
}

// Summary counts the scan's outcome.
type Summary struct {
	Accounts       int            `json:"accounts"`
	AccountsFailed int            `json:"accountsFailed"`
	Users          int            `json:"users"`
	Compliant      int            `json:"compliant"`
	NonCompliant   int            `json:"nonCompliant"`
	NotApplicable  int            `json:"notApplicable"`
	Keys           map[string]int `json:"keys"`
	// ActiveRootKeys counts accounts' active (or present, with the api
	// source) root access keys: the rule ignores them, keyage does not.
	ActiveRootKeys int `json:"activeRootKeys"`
}

// add counts one account's outcome into the summary.
func (s *Summary) add(a AccountResult, evs []rule.Evaluation) {
	s.Accounts++
	if a.Status != StatusOK {
		s.AccountsFailed++
		return
	}
	s.Users += a.Users
	for _, rk := range a.RootKeys {
		if rk.Status != rule.StatusInactive {
			s.ActiveRootKeys++
		}
	}
	for _, ev := range evs {
		switch ev.Compliance {
		case rule.Compliant:
			s.Compliant++
		case rule.NonCompliant:
			s.NonCompliant++
		case rule.NotApplicable:
			s.NotApplicable++
		}
		for _, k := range ev.Keys {
			s.Keys[string(k.Stage)]++
		}
	}
}

func newSummary() Summary {
	keys := make(map[string]int, len(lifecycle.Stages))
	for _, st := range lifecycle.Stages {
		keys[string(st)] = 0
	}
	return Summary{Keys: keys}
}
