package output

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/keyage/keyage/internal/lifecycle"
	"github.com/keyage/keyage/internal/notify"
	"github.com/keyage/keyage/internal/rule"
	"github.com/keyage/keyage/internal/scan"
)

// FindingItems are the key findings of a scan, as receivers see them: one
// per access key past the limit (stage expired), exempt keys left out.
func FindingItems(r *scan.Result) []notify.Item {
	accts := make(map[string]scan.AccountResult, len(r.Accounts))
	for _, a := range r.Accounts {
		accts[a.AccountID] = a
	}
	maxAge := r.Parameters.MaxAccessKeyAge
	var out []notify.Item
	for i := range r.Evaluations {
		ev := &r.Evaluations[i]
		if ev.ResourceType != rule.ResourceTypeUser {
			continue
		}
		for _, k := range ev.Keys {
			if lifecycle.Stage(k.Stage) != lifecycle.Expired {
				continue
			}
			a := accts[ev.AccountID]
			out = append(out, notify.Item{
				AccountID: ev.AccountID, AccountName: a.Name, OU: a.OU,
				UserName: ev.UserName, UserPath: ev.Path, ARN: ev.ARN, ResourceID: ev.ResourceID,
				AccessKeyID: k.AccessKeyID, AgeDays: k.AgeDays, MaxAge: maxAge, Stage: k.Stage,
				Compliance: string(ev.Compliance), CreateDate: k.CreateDate,
				LastUsed: k.LastUsedDate, LastService: k.LastUsedService, Owner: ev.Owner,
				Deadline: k.CreateDate.Add(time.Duration(maxAge) * rule.Day).UTC(),
			})
		}
	}
	return out
}

// rootKeys are the scan's active (or, with the api source, present) root
// access keys.
func rootKeys(r *scan.Result) []notify.ASFFRootKey {
	var out []notify.ASFFRootKey
	for _, a := range r.Accounts {
		for i, k := range a.RootKeys {
			if k.Status == rule.StatusInactive {
				continue
			}
			age := -1
			if k.AgeDays != nil {
				age = *k.AgeDays
			}
			out = append(out, notify.ASFFRootKey{AccountID: a.AccountID, AccountName: a.Name, Slot: i + 1, Status: k.Status, AgeDays: age})
		}
	}
	return out
}

// ASFFFindings are the scan's findings in the AWS Security Finding Format:
// one per access key past the limit, then one per active root key.
func ASFFFindings(r *scan.Result, o Options) []notify.ASFFFinding {
	p := notify.ASFFProduct{Partition: o.Partition, Region: o.region()}
	var out []notify.ASFFFinding
	for _, it := range FindingItems(r) {
		out = append(out, notify.ASFFKeyFinding(it, notify.KindFinding, p, r.EvaluatedAt))
	}
	for _, k := range rootKeys(r) {
		out = append(out, notify.ASFFRootKeyFinding(k, p, r.EvaluatedAt))
	}
	return out
}

// writeASFF writes the findings as a JSON array: the Findings of a
// BatchImportFindings request (split it into 100s), as aws securityhub
// batch-import-findings --findings file://... takes it.
func writeASFF(w io.Writer, r *scan.Result, o Options) error {
	fs := ASFFFindings(r, o)
	if fs == nil {
		fs = []notify.ASFFFinding{}
	}
	b, err := json.MarshalIndent(fs, "", "  ")
	if err != nil {
		return fmt.Errorf("encode asff: %w", err)
	}
	if _, err := w.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("write asff: %w", err)
	}
	return nil
}

func (o Options) region() string {
	if o.Region == "" {
		return "us-east-1"
	}
	return o.Region
}
