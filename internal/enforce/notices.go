package enforce

import (
	"time"

	"github.com/keyage/keyage/internal/config"
	"github.com/keyage/keyage/internal/lifecycle"
	"github.com/keyage/keyage/internal/notify"
	"github.com/keyage/keyage/internal/rule"
	"github.com/keyage/keyage/internal/scan"
)

// Notices are what owners are told about enforcement: keys that will be
// deactivated (with rep, the deactivations the run scheduled, with their
// dates; without, the keys of the scan within enforce.noticeDays of
// deactivateAge), and what a run did (deactivated, deleted, escalated
// instead). Routes that match these stages deliver them.
func Notices(cfg *config.Config, res *scan.Result, rep *Report, now time.Time) []notify.Item {
	accounts := map[string]scan.AccountResult{}
	for _, a := range res.Accounts {
		accounts[a.AccountID] = a
	}
	byUser := map[rule.ResourceRef]*rule.Evaluation{}
	var out []notify.Item
	notice := cfg.Enforce.NoticeDays.Duration()
	for i := range res.Evaluations {
		ev := &res.Evaluations[i]
		byUser[ev.Ref()] = ev
		if rep != nil {
			continue
		}
		p := Policy(cfg, ev.AccountID, accounts[ev.AccountID].OU)
		for _, k := range ev.Keys {
			deadline, ok := lifecycle.Scheduled(lifecycle.Key{Active: k.Active(), CreateDate: k.CreateDate, LastUsed: k.LastUsedDate}, p, notice, now)
			if !ok {
				continue
			}
			out = append(out, notify.Item{AccountID: ev.AccountID, AccountName: accounts[ev.AccountID].Name, OU: accounts[ev.AccountID].OU,
				UserName: ev.UserName, UserPath: ev.Path, ARN: ev.ARN, ResourceID: ev.ResourceID, AccessKeyID: k.AccessKeyID,
				AgeDays: k.AgeDays, MaxAge: int(p.MaxAge / rule.Day), Stage: string(lifecycle.DeactivationScheduled), CreateDate: k.CreateDate,
				LastUsed: k.LastUsedDate, Owner: ev.Owner, Deadline: deadline})
		}
	}
	if rep == nil {
		return out
	}
	for _, a := range rep.Actions {
		var stage lifecycle.Stage
		switch {
		case a.Outcome == OutcomeScheduled:
			stage = lifecycle.DeactivationScheduled
		case a.Outcome == OutcomeApplied && a.Action == lifecycle.ActDeactivate:
			stage = lifecycle.Deactivated
		case a.Outcome == OutcomeApplied && a.Action == lifecycle.ActDelete:
			stage = lifecycle.Deleted
		case a.Outcome == OutcomeEscalated:
			stage = lifecycle.Escalated
		default:
			continue
		}
		it := notify.Item{AccountID: a.AccountID, AccountName: accounts[a.AccountID].Name, OU: accounts[a.AccountID].OU,
			UserName: a.UserName, ResourceID: a.ResourceID, AccessKeyID: a.AccessKeyID, AgeDays: a.AgeDays, Stage: string(stage), Deadline: a.Deadline,
			CreateDate: a.CreateDate, LastUsed: a.LastUsed, LastService: a.LastService}
		if ev := byUser[rule.ResourceRef{AccountID: a.AccountID, ResourceID: a.ResourceID}]; ev != nil {
			it.UserPath, it.ARN, it.Owner = ev.Path, ev.ARN, ev.Owner
			p := Policy(cfg, ev.AccountID, accounts[ev.AccountID].OU)
			it.MaxAge = int(p.MaxAge / rule.Day)
			if stage == lifecycle.Escalated && it.Deadline.IsZero() && !it.CreateDate.IsZero() {
				it.Deadline = it.CreateDate.Add(p.MaxAge) // the limit it is past
			}
		}
		out = append(out, it)
	}
	return out
}
