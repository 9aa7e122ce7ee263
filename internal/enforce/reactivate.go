package enforce

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/keyage/keyage/internal/awsenv"
	"github.com/keyage/keyage/internal/inventory"
	"github.com/keyage/keyage/internal/rule"
	"github.com/keyage/keyage/internal/store"
)

// Reactivate sets a key Active again (keyage reactivate), idempotently: it
// re-reads the user and the key first, refuses when the user's UserId is no
// longer resourceID (when known), and on a key already Active changes and
// records nothing (Outcome unchanged). Otherwise the intent is recorded
// before the IAM call and the true outcome after it. A failed IAM call is
// recorded and returned as the error.
func (e *Enforcer) Reactivate(ctx context.Context, accountID, userName, resourceID, keyID string) (Action, error) {
	a := Action{AccountID: accountID, UserName: userName, ResourceID: resourceID, AccessKeyID: keyID, Action: ActReactivate, Reason: "keyage reactivate"}
	cfg, err := e.Accounts.ForAccount(ctx, accountID)
	if err != nil {
		return a, err
	}
	u, err := inventory.User(ctx, cfg, accountID, userName)
	if err != nil {
		return a, fmt.Errorf("reactivate key %s: %w", keyID, err)
	}
	if resourceID != "" && u.UserID != resourceID {
		return a, fmt.Errorf("reactivate key %s of %q in %s: the user is now UserId %s, not %s as recorded: a different user", keyID, userName, accountID, u.UserID, resourceID)
	}
	a.ResourceID = u.UserID
	var k *rule.Key
	for i := range u.Keys {
		if u.Keys[i].AccessKeyID == keyID {
			k = &u.Keys[i]
		}
	}
	if k == nil {
		return a, fmt.Errorf("reactivate key %s of %q in %s: the user has no such key", keyID, userName, accountID)
	}
	a.Before, a.After = k.Status, k.Status
	if k.Active() {
		a.Outcome, a.Detail = OutcomeUnchanged, "the key is already Active"
		return a, e.applied(ctx, accountID, keyID, a.ResourceID, userName, string(ActReactivate), e.now())
	}
	id, err := e.Store.Audit(ctx, store.AuditRecord{At: e.now(), CallerARN: e.CallerARN, AccountID: accountID, UserName: userName, ResourceID: a.ResourceID,
		AccessKeyID: keyID, Action: string(ActReactivate), Outcome: store.OutcomePending, Reason: a.Reason, BeforeStatus: a.Before, AfterStatus: rule.StatusActive})
	if err != nil {
		return a, fmt.Errorf("record the intent to reactivate key %s of %q in %s: %w", keyID, userName, accountID, err)
	}
	a.auditID = id
	_, uerr := iam.NewFromConfig(cfg).UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String(userName), AccessKeyId: aws.String(keyID), Status: types.StatusTypeActive})
	if uerr != nil {
		uerr = fmt.Errorf("reactivate key %s of %q in %s: %w", keyID, userName, accountID, awsenv.Simplify(uerr))
		a.Outcome, a.Detail = OutcomeFailed, uerr.Error()
	} else {
		a.Outcome, a.After = OutcomeApplied, rule.StatusActive
	}
	if err := e.audit(ctx, a); err != nil {
		return a, err
	}
	if uerr != nil {
		return a, uerr
	}
	return a, e.applied(ctx, accountID, keyID, a.ResourceID, userName, string(ActReactivate), e.now())
}
