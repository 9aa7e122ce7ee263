package rotate

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/keyage/keyage/internal/enforce"
)

// Undo restores the old key of the rotation that involves keyID (old or new) as active and
// deactivates the new key. Without Apply it only says what it would do. The old key must
// still exist: once deleted, a rotation cannot be undone.
func (r *Rotator) Undo(ctx context.Context, keyID string) (*Step, error) {
	if why := enforce.KillSwitch(r.Config); why != "" {
		return nil, fmt.Errorf("undo the rotation of key %s: %s", keyID, why)
	}
	if err := r.load(ctx); err != nil {
		return nil, err
	}
	var st *State
	for _, s := range r.states {
		if s.OldKeyID == keyID || (s.NewKeyID == keyID && s.NewKeyID != "") {
			st = s
		}
	}
	if st == nil {
		return nil, fmt.Errorf("undo the rotation of key %s: keyage has no rotation of that key", keyID)
	}
	step := &Step{AccountID: st.AccountID, UserName: st.UserName, ResourceID: st.ResourceID, AccessKeyID: st.OldKeyID, Action: ActUndo, State: *st}
	switch st.Phase {
	case PhaseStored, PhaseDeactivated:
	default:
		return nil, fmt.Errorf("undo the rotation of key %s for %q in %s: the rotation is %s; only a stored or deactivated rotation can be undone", keyID, st.UserName, st.AccountID, st.Phase)
	}
	if !r.Apply {
		step.Outcome = enforce.OutcomeDryRun
		step.Detail = fmt.Sprintf("would reactivate %s and deactivate %s", st.OldKeyID, st.NewKeyID)
		return step, r.record(ctx, step)
	}
	cfg, err := r.Accounts.ForAccount(ctx, st.AccountID)
	if err != nil {
		return nil, err
	}
	client := iam.NewFromConfig(cfg)
	for _, kv := range []struct {
		id     string
		status iamtypes.StatusType
	}{{st.OldKeyID, iamtypes.StatusTypeActive}, {st.NewKeyID, iamtypes.StatusTypeInactive}} {
		if err := r.call(ctx, st, kv.id, ActUndo, "keyage rotate --undo: key "+kv.id+" set "+string(kv.status), func() error {
			_, err := client.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String(st.UserName), AccessKeyId: aws.String(kv.id), Status: kv.status})
			return err
		}); err != nil {
			return nil, err
		}
	}
	st.Phase, st.UndoneAt = PhaseUndone, r.now()
	step.Outcome, step.State = enforce.OutcomeApplied, *st
	return step, r.save(ctx, st)
}
