// Package remediate acts on findings as AWS Config's automatic remediation
// does: for each NON_COMPLIANT resource (and, where a route asks, each key in
// the warning stage) it records a remediation execution, resolves the IAM
// user, and publishes notifications to the receivers the routes select,
// through a crash-safe outbox delivered at least once.
package remediate

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/keyage/keyage/internal/lifecycle"
	"github.com/keyage/keyage/internal/notify"
	"github.com/keyage/keyage/internal/rule"
	"github.com/keyage/keyage/internal/scan"
)

// finding is one key of one user that a route may notify about, with what
// routes match on.
type finding struct {
	item notify.Item
	// key identifies the item across runs: account/resourceId/accessKeyId.
	key string
	// state is what de-duplication compares: the stage, plus the reminder
	// age crossed in the warning stage (warning@83).
	state string
	path  string
	tags  map[string]string
}

// findings turns a scan's evaluations into findings: every expired key of a
// NON_COMPLIANT user and every key in the warning stage.
func findings(res *scan.Result) []finding {
	names := map[string]scan.AccountResult{}
	for _, a := range res.Accounts {
		names[a.AccountID] = a
	}
	var out []finding
	for i := range res.Evaluations {
		ev := &res.Evaluations[i]
		if ev.ResourceType != rule.ResourceTypeUser {
			continue
		}
		for _, k := range ev.Keys {
			if !flagged(k) {
				continue
			}
			acct := names[ev.AccountID]
			out = append(out, newFinding(ev, k, acct.Name, acct.OU, res.Parameters.MaxAccessKeyAge))
		}
	}
	return out
}

// flagged reports whether a key is a finding: expired or in the warning
// stage.
func flagged(k rule.KeyResult) bool {
	st := lifecycle.Stage(k.Stage)
	return st == lifecycle.Expired || st == lifecycle.Warning
}

// Plans reports whether Plan looks at ev: a NON_COMPLIANT evaluation or
// a user with a key that is a finding. A plan from a result that holds only
// these is the plan from the whole result (keyage run plans from the
// evaluations it reads back from the state).
func Plans(ev *rule.Evaluation) bool {
	if ev.Compliance == rule.NonCompliant {
		return true
	}
	return ev.ResourceType == rule.ResourceTypeUser && slices.ContainsFunc(ev.Keys, flagged)
}

func newFinding(ev *rule.Evaluation, k rule.KeyResult, accountName, ou string, maxAge int) finding {
	it := notify.Item{
		AccountID: ev.AccountID, AccountName: accountName, OU: ou,
		UserName: ev.UserName, UserPath: ev.Path, ARN: ev.ARN, ResourceID: ev.ResourceID,
		AccessKeyID: k.AccessKeyID, AgeDays: k.AgeDays, MaxAge: maxAge, Stage: k.Stage,
		Compliance: string(ev.Compliance), CreateDate: k.CreateDate,
		LastUsed: k.LastUsedDate, LastService: k.LastUsedService, Owner: ev.Owner,
		Deadline:   k.CreateDate.Add(time.Duration(maxAge) * rule.Day).UTC(),
		ConsoleURL: consoleURL(ev.ARN, ev.UserName),
	}
	state := it.Stage
	if k.Lifecycle != nil && k.Lifecycle.Reminder > 0 {
		state = fmt.Sprintf("%s@%d", it.Stage, k.Lifecycle.Reminder)
	}
	return finding{item: it, key: itemKey(it), state: state, path: ev.Path, tags: ev.Tags}
}

func itemKey(it notify.Item) string {
	id := it.AccessKeyID
	if id == "" {
		id = "created:" + it.CreateDate.UTC().Format(time.RFC3339)
	}
	return it.AccountID + "/" + it.ResourceID + "/" + id
}

// consoleURL links to the user's security credentials in the IAM console
// of the user's partition (the console signs in to the right account
// itself).
func consoleURL(arn, userName string) string {
	if userName == "" {
		return ""
	}
	host := "console.aws.amazon.com"
	switch {
	case strings.HasPrefix(arn, "arn:aws-us-gov:"):
		host = "console.amazonaws-us-gov.com"
	case strings.HasPrefix(arn, "arn:aws-cn:"):
		host = "console.amazonaws.cn"
	}
	return "https://" + host + "/iam/home#/users/details/" + url.PathEscape(userName) + "?section=security_credentials"
}
