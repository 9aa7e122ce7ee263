package rotate

import (
	"fmt"
	"time"

	"github.com/keyage/keyage/internal/config"
	"github.com/keyage/keyage/internal/enforce"
	"github.com/keyage/keyage/internal/lifecycle"
	"github.com/keyage/keyage/internal/notify"
	"github.com/keyage/keyage/internal/rule"
	"github.com/keyage/keyage/internal/scan"
	"github.com/keyage/keyage/internal/template"
)

// Notices are what owners are told about a run's rotations, one per step taken or due next
// (a key created and stored, the old key's deactivation coming, done, or its deletion): the
// secret's ARN, the command that reads it, the old key's deactivation date, both keys' last
// use and how to defer. A dry run tells what would happen. They use the lifecycle stages
// routes already match (deactivation-scheduled, deactivated, deleted, escalated).
func Notices(cfg *config.Config, res *scan.Result, rep *Report) []notify.Item {
	if rep == nil {
		return nil
	}
	accounts := map[string]scan.AccountResult{}
	for _, a := range res.Accounts {
		accounts[a.AccountID] = a
	}
	users := map[rule.ResourceRef]*rule.Evaluation{}
	for i := range res.Evaluations {
		users[res.Evaluations[i].Ref()] = &res.Evaluations[i]
	}
	var out []notify.Item
	for _, s := range rep.Steps {
		var stage lifecycle.Stage
		switch {
		case s.Outcome == enforce.OutcomeApplied && (s.Action == ActCreate || s.Action == ActDeleteOrph):
			stage = lifecycle.DeactivationScheduled
		case s.Outcome == enforce.OutcomeScheduled && s.Action == ActDeactivate:
			stage = lifecycle.DeactivationScheduled
		case s.Outcome == enforce.OutcomeApplied && s.Action == ActDeactivate:
			stage = lifecycle.Deactivated
		case s.Outcome == enforce.OutcomeApplied && s.Action == ActDelete:
			stage = lifecycle.Deleted
		case s.Outcome == enforce.OutcomeEscalated:
			stage = lifecycle.Escalated
		default:
			continue
		}
		a := accounts[s.AccountID]
		it := notify.Item{AccountID: s.AccountID, AccountName: a.Name, OU: a.OU, UserName: s.UserName, ResourceID: s.ResourceID,
			AccessKeyID: s.State.OldKeyID, Stage: string(stage), Deadline: s.State.DeactivateAt,
			Rotation: &template.Rotation{Step: s.Action, OldAccessKeyID: s.State.OldKeyID, NewAccessKeyID: s.State.NewKeyID,
				SecretARN: s.State.SecretARN, DeactivateAt: s.State.DeactivateAt, OldLastUsed: s.OldLastUsed, NewLastUsed: s.NewLastUsed,
				Defer: DeferText(s.State.DeactivateAt)}}
		if s.State.SecretARN != "" {
			it.Rotation.ReadCommand = ReadCommand(s.State.SecretARN)
		}
		if ev := users[rule.ResourceRef{AccountID: s.AccountID, ResourceID: s.ResourceID}]; ev != nil {
			it.UserPath, it.ARN, it.Owner = ev.Path, ev.ARN, ev.Owner
			for _, k := range ev.Keys {
				if k.AccessKeyID == s.State.OldKeyID {
					it.CreateDate, it.LastUsed, it.AgeDays = k.CreateDate, k.LastUsedDate, k.AgeDays
				}
			}
		}
		out = append(out, it)
	}
	return out
}

// DeferText says how an owner defers the deactivation: an exemption with reason and expiry.
func DeferText(deactivateAt time.Time) string {
	until := "YYYY-MM-DD"
	if !deactivateAt.IsZero() {
		until = deactivateAt.AddDate(0, 0, 30).Format(time.DateOnly)
	}
	return fmt.Sprintf("tag the user %s=%s and %s=<why> (or add an exemptions entry with reason and until) to defer the old key's deactivation",
		lifecycle.TagExemptUntil, until, lifecycle.TagExemptReason)
}
