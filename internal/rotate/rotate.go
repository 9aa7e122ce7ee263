// Package rotate rotates IAM users' access keys into Secrets Manager: for an opted-in user
// (lifecycle.rotate.match or the tag keyage:rotate=secretsmanager) it creates a new key
// through the enforcement role, writes it to a secret in the user's account, tells the owner,
// deactivates the old key lifecycle.rotate.deactivateAfter later (not while only the old key
// is in use) and deletes it deleteAfter after that. Every IAM and Secrets Manager call has its
// intent in the audit trail first; the secret access key goes from CreateAccessKey to
// PutSecretValue and nowhere else (docs/rotation.md).
package rotate

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/keyage/keyage/internal/awsenv"
	"github.com/keyage/keyage/internal/config"
	"github.com/keyage/keyage/internal/enforce"
	"github.com/keyage/keyage/internal/inventory"
	"github.com/keyage/keyage/internal/lifecycle"
	"github.com/keyage/keyage/internal/rule"
	"github.com/keyage/keyage/internal/scan"
	"github.com/keyage/keyage/internal/store"
)

// Phase is where a user's rotation stands.
type Phase string

// Phases of a rotation, in order.
const (
	// PhaseCreating: the intent to create the new key is recorded; the key may exist in IAM
	// without being stored (a crash), which the next run settles.
	PhaseCreating    Phase = "creating"
	PhaseStored      Phase = "stored"      // the new key is in the secret; the old one active
	PhaseDeactivated Phase = "deactivated" // the old key is inactive
	PhaseDone        Phase = "done"        // the old key is deleted
	PhaseUndone      Phase = "undone"      // keyage rotate --undo restored the old key
)

// Actions of the audit trail, all prefixed rotate- (internal/enforce leaves them alone).
const (
	ActCreate      = "rotate-create-key"
	ActStore       = "rotate-store-secret"
	ActPolicy      = "rotate-grant-read"
	ActDeactivate  = "rotate-deactivate-old"
	ActDelete      = "rotate-delete-old"
	ActDeleteOrph  = "rotate-delete-orphan"
	ActDeleteSpare = "rotate-delete-inactive"
	ActUndo        = "rotate-undo"
)

// State is one user's rotation as the store keeps it (JSON). It holds no secret.
type State struct {
	AccountID     string    `json:"accountId"`
	ResourceID    string    `json:"resourceId"`
	UserName      string    `json:"userName"`
	Phase         Phase     `json:"phase"`
	OldKeyID      string    `json:"oldAccessKeyId"`
	NewKeyID      string    `json:"newAccessKeyId,omitempty"`
	SecretName    string    `json:"secretName"`
	SecretARN     string    `json:"secretArn,omitempty"`
	StartedAt     time.Time `json:"startedAt"`
	CreatedAt     time.Time `json:"createdAt,omitzero"`
	DeactivateAt  time.Time `json:"deactivateAt,omitzero"`
	DeactivatedAt time.Time `json:"deactivatedAt,omitzero"`
	DeleteAt      time.Time `json:"deleteAt,omitzero"`
	DeletedAt     time.Time `json:"deletedAt,omitzero"`
	UndoneAt      time.Time `json:"undoneAt,omitzero"`
}

// Step is one planned or applied step of a rotation and what became of it.
type Step struct {
	AccountID, UserName, ResourceID string
	// AccessKeyID is the key the step acts on (the old key for create).
	AccessKeyID string
	Action      string
	Outcome     string // enforce.Outcome*
	Detail      string
	State       State
	// OldLastUsed and NewLastUsed are the keys' last use, for the notice.
	OldLastUsed, NewLastUsed time.Time
}

// Report is one rotation run.
type Report struct {
	Steps   []Step
	Stopped string
}

// Rotator plans and applies rotations.
type Rotator struct {
	// Actor acts with the enforcement role; the key of CallerKeyID is never rotated.
	enforce.Actor

	// afterCreate runs between CreateAccessKey and PutSecretValue; an error stops the run
	// there as a crash would (tests inject one).
	afterCreate func() error
	taken       int
	states      map[rule.ResourceRef]*State
}

var errCrash = errors.New("rotation stopped between CreateAccessKey and PutSecretValue")

// Opted reports whether a user is to be rotated under cfg: rotation enabled and the user
// tagged keyage:rotate=secretsmanager or matching lifecycle.rotate.match.
func Opted(cfg *config.Config, u rule.User, accountName, ou string) bool {
	r := cfg.Lifecycle.Rotate
	if r == nil || !r.Enabled {
		return false
	}
	if strings.EqualFold(strings.TrimSpace(u.Tags[config.RotateTag]), config.RotateTagValue) {
		return true
	}
	m := r.Match
	if m.IsEmpty() {
		return false
	}
	anyOf := func(l []string, ok func(string) bool) bool {
		if len(l) == 0 {
			return true
		}
		for _, v := range l {
			if ok(v) {
				return true
			}
		}
		return false
	}
	for k, v := range m.Tags {
		if got, ok := u.Tags[k]; !ok || got != v {
			return false
		}
	}
	return anyOf(m.AccountID, func(v string) bool { return v == u.AccountID }) &&
		anyOf(m.AccountName, func(v string) bool { return v == accountName }) &&
		anyOf(m.OU, func(v string) bool { return ou == v || strings.HasPrefix(ou, v+"/") }) &&
		anyOf(m.UserPath, func(v string) bool { return strings.HasPrefix(u.Path, v) })
}

// SecretName is the secret's name for a user: the template's placeholders replaced, and ','
// (allowed in IAM user names, not in secret names) replaced by '_'.
func SecretName(tmpl string, accountID string, u rule.User) string {
	if tmpl == "" {
		tmpl = config.DefaultRotateSecretName
	}
	name := strings.NewReplacer("{userName}", u.UserName, "{userId}", u.UserID, "{accountId}", accountID).Replace(tmpl)
	return strings.ReplaceAll(name, ",", "_")
}

// ReadCommand is the AWS CLI command that reads the secret.
func ReadCommand(secretARN string) string {
	return "aws secretsmanager get-secret-value --secret-id " + secretARN + " --query SecretString --output text"
}

// versionID is the secret version of a key: PutSecretValue's ClientRequestToken, so that a
// rerun is idempotent and recovery can tell which key AWSCURRENT holds.
func versionID(keyID string) string {
	h := sha256.Sum256([]byte("keyage-rotate\x00" + keyID))
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// Run plans (or, with Apply, applies) the rotations of the users of res.
func (r *Rotator) Run(ctx context.Context, res *scan.Result) (*Report, error) {
	rep := &Report{}
	rc := r.Config.Lifecycle.Rotate
	if rc == nil || !rc.Enabled {
		return rep, nil
	}
	if r.Logger == nil {
		r.Logger = slog.New(slog.DiscardHandler)
	}
	if why := enforce.KillSwitch(r.Config); why != "" {
		rep.Stopped = why
		return rep, nil
	}
	if err := r.load(ctx); err != nil {
		return nil, err
	}
	accounts := map[string]scan.AccountResult{}
	for _, a := range res.Accounts {
		accounts[a.AccountID] = a
	}
	for _, ev := range res.Evaluations {
		if ev.ResourceType != rule.ResourceTypeUser {
			continue
		}
		st := r.states[ev.Ref()]
		acct := accounts[ev.AccountID]
		evUser := rule.User{AccountID: ev.AccountID, UserID: ev.ResourceID, UserName: ev.UserName, Path: ev.Path, Tags: ev.Tags}
		inProgress := st != nil && st.Phase != PhaseDone && st.Phase != PhaseUndone
		if !inProgress && !Opted(r.Config, evUser, acct.Name, acct.OU) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		if why := enforce.KillSwitch(r.Config); why != "" {
			rep.Stopped = why
			return rep, nil
		}
		step, err := r.user(ctx, ev, acct, st)
		if errors.Is(err, errCrash) {
			return rep, err
		}
		if err != nil {
			return rep, err
		}
		if step != nil {
			rep.Steps = append(rep.Steps, *step)
		}
	}
	return rep, nil
}

func (r *Rotator) load(ctx context.Context) error {
	rows, err := r.Store.Rotations(ctx)
	if err != nil {
		return err
	}
	r.states = map[rule.ResourceRef]*State{}
	for _, row := range rows {
		var st State
		if err := json.Unmarshal(row.State, &st); err != nil {
			return fmt.Errorf("read rotation of user %s in %s: %w", row.ResourceID, row.AccountID, err)
		}
		r.states[rule.ResourceRef{AccountID: row.AccountID, ResourceID: row.ResourceID}] = &st
	}
	return nil
}

// States returns the stored rotations (for the dashboard and API).
func States(ctx context.Context, s *store.Store) ([]State, error) {
	rows, err := s.Rotations(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]State, 0, len(rows))
	for _, row := range rows {
		var st State
		if err := json.Unmarshal(row.State, &st); err != nil {
			return nil, fmt.Errorf("read rotation of user %s in %s: %w", row.ResourceID, row.AccountID, err)
		}
		out = append(out, st)
	}
	return out, nil
}

func (r *Rotator) save(ctx context.Context, st *State) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	r.states[rule.ResourceRef{AccountID: st.AccountID, ResourceID: st.ResourceID}] = st
	return r.Store.PutRotation(ctx, store.RotationRow{AccountID: st.AccountID, ResourceID: st.ResourceID, State: b, UpdatedAt: r.now()})
}

func (r *Rotator) now() time.Time {
	if r.Now != nil {
		return r.Now().UTC()
	}
	return time.Now().UTC()
}

// intent writes the audit record of a call before it is made; done records its outcome.
func (r *Rotator) intent(ctx context.Context, st *State, keyID, action, reason string) (int64, error) {
	id, err := r.Store.Audit(ctx, store.AuditRecord{At: r.now(), CallerARN: r.CallerARN, AccountID: st.AccountID, UserName: st.UserName,
		ResourceID: st.ResourceID, AccessKeyID: keyID, Action: action, Outcome: store.OutcomePending, Reason: reason})
	if err != nil {
		return 0, fmt.Errorf("record the intent to %s for %q in %s: %w", action, st.UserName, st.AccountID, err)
	}
	return id, nil
}

func (r *Rotator) done(ctx context.Context, id int64, outcome, reason string) error {
	if err := r.Store.SetAuditOutcome(ctx, id, outcome, "", reason); err != nil {
		return err
	}
	return enforce.WriteAuditLine(r.AuditLog, store.AuditRecord{ID: id, At: r.now(), CallerARN: r.CallerARN, Outcome: outcome, Reason: reason})
}

// record writes the audit record of a step that made no call (dry run, refused, scheduled).
func (r *Rotator) record(ctx context.Context, s *Step) error {
	rec := store.AuditRecord{At: r.now(), CallerARN: r.CallerARN, AccountID: s.AccountID, UserName: s.UserName, ResourceID: s.ResourceID,
		AccessKeyID: s.AccessKeyID, Action: s.Action, Outcome: s.Outcome, Reason: s.Detail, DryRun: !r.Apply}
	id, err := r.Store.Audit(ctx, rec)
	if err != nil {
		return err
	}
	rec.ID = id
	return enforce.WriteAuditLine(r.AuditLog, rec)
}

// call makes one IAM or Secrets Manager call with its intent recorded first.
func (r *Rotator) call(ctx context.Context, st *State, keyID, action, reason string, fn func() error) error {
	id, err := r.intent(ctx, st, keyID, action, reason)
	if err != nil {
		return err
	}
	if cerr := fn(); cerr != nil {
		msg := fmt.Sprintf("%s for %q in %s: %v", action, st.UserName, st.AccountID, awsenv.Simplify(cerr))
		if err := r.done(ctx, id, enforce.OutcomeFailed, msg); err != nil {
			return err
		}
		return &stepError{msg: msg}
	}
	return r.done(ctx, id, enforce.OutcomeApplied, reason)
}

// stepError is a failed AWS call: the user's rotation stops for this run, the run goes on.
type stepError struct{ msg string }

func (e *stepError) Error() string { return e.msg }

func findKey(u rule.User, id string) *rule.Key {
	for i := range u.Keys {
		if u.Keys[i].AccessKeyID == id {
			return &u.Keys[i]
		}
	}
	return nil
}

// user advances one user's rotation by at most one step.
func (r *Rotator) user(ctx context.Context, ev rule.Evaluation, acct scan.AccountResult, st *State) (*Step, error) {
	now := r.now()
	step := &Step{AccountID: ev.AccountID, UserName: ev.UserName, ResourceID: ev.ResourceID}
	cfg, err := r.Accounts.ForAccount(ctx, ev.AccountID)
	if err != nil {
		step.Outcome, step.Detail = enforce.OutcomeFailed, err.Error()
		return step, nil
	}
	u, err := inventory.User(ctx, cfg, ev.AccountID, ev.UserName)
	if err != nil {
		if inventory.IsNoSuchUser(err) {
			return nil, nil
		}
		step.Outcome, step.Detail = enforce.OutcomeFailed, err.Error()
		return step, nil
	}
	if ev.ResourceID != "" && u.UserID != ev.ResourceID {
		step.Outcome = enforce.OutcomeRefused
		step.Detail = fmt.Sprintf("user %q in %s is now UserId %s, not %s as scanned: a different user; rescan", u.UserName, ev.AccountID, u.UserID, ev.ResourceID)
		return step, r.record(ctx, step)
	}
	err = r.advance(ctx, cfg, u, acct, st, step, now)
	var se *stepError
	if errors.As(err, &se) {
		step.Outcome, step.Detail = enforce.OutcomeFailed, se.msg
		return step, nil
	}
	return step, err
}

// gated reports whether a step stops short of its call, at the action limit or in a dry run
// (its record written); otherwise it counts the step against the limit.
func (r *Rotator) gated(ctx context.Context, step *Step, wouldDo string) (bool, error) {
	if r.limited(step) {
		return true, r.record(ctx, step)
	}
	if !r.Apply {
		step.Outcome, step.Detail = enforce.OutcomeDryRun, wouldDo
		return true, r.record(ctx, step)
	}
	r.taken++
	return false, nil
}

func (r *Rotator) limited(step *Step) bool {
	if r.taken >= r.Config.Enforce.MaxActionsPerRun {
		step.Outcome, step.Detail = enforce.OutcomeRefused, fmt.Sprintf("maxActionsPerRun (%d) reached", r.Config.Enforce.MaxActionsPerRun)
		return true
	}
	return false
}

func (r *Rotator) advance(ctx context.Context, cfg aws.Config, u rule.User, acct scan.AccountResult, st *State, step *Step, now time.Time) error {
	rc := r.Config.Lifecycle.Rotate
	if st != nil && st.Phase == PhaseCreating {
		return r.recover(ctx, cfg, u, acct, st, step, now)
	}
	if st != nil {
		step.State = *st
		if old := findKey(u, st.OldKeyID); old != nil {
			step.OldLastUsed = old.LastUsedDate
		}
		if nk := findKey(u, st.NewKeyID); nk != nil {
			step.NewLastUsed = nk.LastUsedDate
		}
	}
	switch {
	case st != nil && st.Phase == PhaseStored:
		step.Action, step.AccessKeyID = ActDeactivate, st.OldKeyID
		old := findKey(u, st.OldKeyID)
		switch {
		case old == nil || !old.Active():
			st.Phase, st.DeactivatedAt, st.DeleteAt = PhaseDeactivated, now, now.Add(rc.DeleteAfter.Duration())
			step.Outcome, step.Detail = enforce.OutcomeUnchanged, "the old key is already inactive or gone"
			return r.save(ctx, st)
		case now.Before(st.DeactivateAt):
			step.Outcome = enforce.OutcomeScheduled
			step.Detail = "old key deactivated on " + st.DeactivateAt.Format(time.DateOnly)
			return nil
		case exempt(r.Config, u, now) != "":
			step.Outcome, step.Detail = enforce.OutcomeScheduled, exempt(r.Config, u, now)+": old key not deactivated yet"
			return nil
		case !old.LastUsedDate.IsZero() && old.LastUsedDate.After(st.CreatedAt) &&
			(step.NewLastUsed.IsZero() || step.NewLastUsed.Before(st.CreatedAt)):
			step.Outcome = enforce.OutcomeEscalated
			step.Detail = fmt.Sprintf("old key %s last used %s, after the new key %s was created on %s, and the new key was never used: not deactivated",
				st.OldKeyID, old.LastUsedDate.Format(time.DateOnly), st.NewKeyID, st.CreatedAt.Format(time.DateOnly))
			return r.record(ctx, step)
		}
		if stop, err := r.gated(ctx, step, "would deactivate the old key "+st.OldKeyID); stop || err != nil {
			return err
		}
		err := r.call(ctx, st, st.OldKeyID, ActDeactivate, "new key "+st.NewKeyID+" in "+st.SecretARN, func() error {
			_, err := iam.NewFromConfig(cfg).UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String(u.UserName),
				AccessKeyId: aws.String(st.OldKeyID), Status: iamtypes.StatusTypeInactive})
			return err
		})
		if err != nil {
			return err
		}
		st.Phase, st.DeactivatedAt, st.DeleteAt = PhaseDeactivated, now, now.Add(rc.DeleteAfter.Duration())
		step.Outcome, step.State = enforce.OutcomeApplied, *st
		return r.save(ctx, st)
	case st != nil && st.Phase == PhaseDeactivated:
		step.Action, step.AccessKeyID = ActDelete, st.OldKeyID
		old := findKey(u, st.OldKeyID)
		switch {
		case old == nil:
			st.Phase, st.DeletedAt = PhaseDone, now
			step.Outcome = enforce.OutcomeUnchanged
			return r.save(ctx, st)
		case old.Active():
			step.Outcome, step.Detail = enforce.OutcomeRefused, "the old key "+st.OldKeyID+" was reactivated: not deleted"
			return r.record(ctx, step)
		case now.Before(st.DeleteAt):
			step.Outcome, step.Detail = enforce.OutcomeScheduled, "old key deleted on "+st.DeleteAt.Format(time.DateOnly)
			return nil
		}
		if stop, err := r.gated(ctx, step, "would delete the old key "+st.OldKeyID); stop || err != nil {
			return err
		}
		if err := r.call(ctx, st, st.OldKeyID, ActDelete, "inactive since "+st.DeactivatedAt.Format(time.DateOnly), func() error {
			_, err := iam.NewFromConfig(cfg).DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String(u.UserName), AccessKeyId: aws.String(st.OldKeyID)})
			return err
		}); err != nil {
			return err
		}
		st.Phase, st.DeletedAt = PhaseDone, now
		step.Outcome, step.State = enforce.OutcomeApplied, *st
		return r.save(ctx, st)
	}
	return r.start(ctx, cfg, u, acct, st, step, now)
}

// start begins a rotation when the user's oldest active key has reached rotateAge.
func (r *Rotator) start(ctx context.Context, cfg aws.Config, u rule.User, acct scan.AccountResult, prev *State, step *Step, now time.Time) error {
	rc := r.Config.Lifecycle.Rotate
	age := rc.RotateAge
	if age == 0 {
		age = r.Config.Lifecycle.WarnAge
	}
	if age == 0 {
		age = r.Config.Rule.WarnAge
	}
	var old *rule.Key
	for i := range u.Keys {
		k := &u.Keys[i]
		if k.Active() && now.Sub(k.CreateDate) >= age.Duration() && (old == nil || k.CreateDate.Before(old.CreateDate)) {
			old = k
		}
	}
	if old == nil {
		return nil
	}
	step.Action, step.AccessKeyID, step.OldLastUsed = ActCreate, old.AccessKeyID, old.LastUsedDate
	st := &State{AccountID: u.AccountID, ResourceID: u.UserID, UserName: u.UserName, OldKeyID: old.AccessKeyID,
		SecretName: SecretName(rc.SecretName, u.AccountID, u)}
	step.State = *st
	if why := exempt(r.Config, u, now); why != "" {
		step.Outcome, step.Detail = enforce.OutcomeRefused, why
		return r.record(ctx, step)
	}
	if old.AccessKeyID == r.CallerKeyID && r.CallerKeyID != "" {
		step.Outcome, step.Detail = enforce.OutcomeRefused, "this is the access key keyage runs with"
		return r.record(ctx, step)
	}
	for ref, other := range r.states {
		if ref.AccountID == u.AccountID && ref.ResourceID != u.UserID && other.SecretName == st.SecretName {
			step.Outcome = enforce.OutcomeRefused
			step.Detail = fmt.Sprintf("secret name %q is already used for user %q (%s): change lifecycle.rotate.secretName", st.SecretName, other.UserName, other.ResourceID)
			return r.record(ctx, step)
		}
	}
	var spare *rule.Key
	if len(u.Keys) >= 2 {
		for i := range u.Keys {
			if u.Keys[i].AccessKeyID != old.AccessKeyID {
				spare = &u.Keys[i]
			}
		}
		p := enforce.Policy(r.Config, u.AccountID, acct.OU)
		switch {
		case spare.Active():
			step.Outcome, step.Detail = enforce.OutcomeRefused, fmt.Sprintf("user %q has two active keys (%s, %s): no room for a new key", u.UserName, old.AccessKeyID, spare.AccessKeyID)
			return r.record(ctx, step)
		case p.DeleteAge == 0 || now.Sub(spare.CreateDate) < p.DeleteAge:
			step.Outcome, step.Detail = enforce.OutcomeRefused, fmt.Sprintf("user %q has two keys and the inactive key %s is %d days old, not past deleteAge (%d days): no room for a new key",
				u.UserName, spare.AccessKeyID, rule.AgeDays(spare.CreateDate, now), int(p.DeleteAge/rule.Day))
			return r.record(ctx, step)
		}
	}
	sm := secretsmanager.NewFromConfig(cfg)
	desc, err := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(st.SecretName)})
	var nf *smtypes.ResourceNotFoundException
	switch {
	case errors.As(err, &nf):
	case err != nil:
		step.Outcome, step.Detail = enforce.OutcomeFailed, fmt.Sprintf("describe secret %q in %s: %v", st.SecretName, u.AccountID, awsenv.Simplify(err))
		return r.record(ctx, step)
	default:
		for _, t := range desc.Tags {
			if aws.ToString(t.Key) == tagUserID && aws.ToString(t.Value) != u.UserID {
				step.Outcome = enforce.OutcomeRefused
				step.Detail = fmt.Sprintf("secret %q in %s belongs to UserId %s, not %s: a name collision; change lifecycle.rotate.secretName", st.SecretName, u.AccountID, aws.ToString(t.Value), u.UserID)
				return r.record(ctx, step)
			}
		}
		st.SecretARN = aws.ToString(desc.ARN)
	}
	if r.limited(step) {
		return r.record(ctx, step)
	}
	if !r.Apply {
		step.Outcome = enforce.OutcomeDryRun
		step.Detail = fmt.Sprintf("would create a new key, store it in secret %q and deactivate %s %d days later", st.SecretName, old.AccessKeyID, int(rc.DeactivateAfter))
		if spare != nil {
			step.Detail += "; would first delete the inactive key " + spare.AccessKeyID
		}
		return r.record(ctx, step)
	}
	r.taken++
	if spare != nil {
		if err := r.call(ctx, st, spare.AccessKeyID, ActDeleteSpare, "inactive and past deleteAge: room for the new key", func() error {
			_, err := iam.NewFromConfig(cfg).DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String(u.UserName), AccessKeyId: aws.String(spare.AccessKeyID)})
			return err
		}); err != nil {
			return err
		}
	}
	st.Phase, st.StartedAt = PhaseCreating, now
	if err := r.save(ctx, st); err != nil {
		return err
	}
	return r.create(ctx, cfg, u, st, step, now)
}

const (
	tagUserID  = "keyage:user-id"
	tagManaged = "keyage:managed-by"
)

// create makes the new key and stores it; its secret lives only in this function.
func (r *Rotator) create(ctx context.Context, cfg aws.Config, u rule.User, st *State, step *Step, now time.Time) error {
	var created *iamtypes.AccessKey
	if err := r.call(ctx, st, st.OldKeyID, ActCreate, "old key "+st.OldKeyID+" reached rotateAge", func() error {
		out, err := iam.NewFromConfig(cfg).CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(u.UserName)})
		if err == nil {
			created = out.AccessKey
		}
		return err
	}); err != nil {
		return err
	}
	st.NewKeyID = aws.ToString(created.AccessKeyId)
	st.CreatedAt = aws.ToTime(created.CreateDate).UTC()
	if st.CreatedAt.IsZero() {
		st.CreatedAt = now
	}
	if r.afterCreate != nil {
		if err := r.afterCreate(); err != nil {
			return fmt.Errorf("%w: %v", errCrash, err)
		}
	}
	value, err := json.Marshal(map[string]string{"AccessKeyId": st.NewKeyID, "SecretAccessKey": aws.ToString(created.SecretAccessKey),
		"CreateDate": st.CreatedAt.Format(time.RFC3339), "UserName": u.UserName})
	created = nil
	if err != nil {
		return err
	}
	if err := r.storeSecret(ctx, cfg, u, st, string(value)); err != nil {
		return err
	}
	rc := r.Config.Lifecycle.Rotate
	st.Phase, st.DeactivateAt = PhaseStored, st.CreatedAt.Add(rc.DeactivateAfter.Duration())
	step.Outcome, step.State = enforce.OutcomeApplied, *st
	r.Logger.Info("access key rotated into Secrets Manager", "account", u.AccountID, "user", u.UserName, "old", st.OldKeyID, "new", st.NewKeyID, "secret", st.SecretARN)
	return r.save(ctx, st)
}

// storeSecret writes value as the secret's AWSCURRENT version, creating the secret first.
func (r *Rotator) storeSecret(ctx context.Context, cfg aws.Config, u rule.User, st *State, value string) error {
	rc := r.Config.Lifecycle.Rotate
	sm := secretsmanager.NewFromConfig(cfg)
	version := aws.String(versionID(st.NewKeyID))
	if st.SecretARN == "" {
		var arn string
		if err := r.call(ctx, st, st.NewKeyID, ActStore, "create secret "+st.SecretName, func() error {
			in := &secretsmanager.CreateSecretInput{Name: aws.String(st.SecretName), ClientRequestToken: version, SecretString: aws.String(value),
				Description: aws.String("Access key of IAM user " + u.UserName + ", rotated by keyage"),
				Tags:        []smtypes.Tag{{Key: aws.String(tagUserID), Value: aws.String(u.UserID)}, {Key: aws.String(tagManaged), Value: aws.String("keyage")}}}
			if rc.KMSKeyID != "" {
				in.KmsKeyId = aws.String(rc.KMSKeyID)
			}
			out, err := sm.CreateSecret(ctx, in)
			if err == nil {
				arn = aws.ToString(out.ARN)
			}
			return err
		}); err != nil {
			return err
		}
		st.SecretARN = arn
	} else if err := r.call(ctx, st, st.NewKeyID, ActStore, "put the new key in "+st.SecretARN, func() error {
		_, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(st.SecretARN), ClientRequestToken: version, SecretString: aws.String(value)})
		return err
	}); err != nil {
		return err
	}
	if !rc.GrantUserRead {
		return nil
	}
	policy := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":%q},"Action":"secretsmanager:GetSecretValue","Resource":"*"}]}`,
		"arn:aws:iam::"+u.AccountID+":user"+u.Path+u.UserName)
	return r.call(ctx, st, st.NewKeyID, ActPolicy, "let the user read "+st.SecretARN, func() error {
		_, err := sm.PutResourcePolicy(ctx, &secretsmanager.PutResourcePolicyInput{SecretId: aws.String(st.SecretARN), ResourcePolicy: aws.String(policy)})
		return err
	})
}

// recover settles a rotation an earlier run left between creating the key and storing it:
// the key is stored if the secret's AWSCURRENT version is that key's (the crash came after
// PutSecretValue), else the orphan key (created after the intent, not the old key) is deleted
// (its secret access key is lost) and the rotation starts again.
func (r *Rotator) recover(ctx context.Context, cfg aws.Config, u rule.User, acct scan.AccountResult, st *State, step *Step, now time.Time) error {
	step.Action, step.State = ActDeleteOrph, *st
	var orphans []rule.Key
	for _, k := range u.Keys {
		if k.AccessKeyID != st.OldKeyID && !k.CreateDate.Before(st.StartedAt.Truncate(time.Second)) {
			orphans = append(orphans, k)
		}
	}
	sm := secretsmanager.NewFromConfig(cfg)
	if desc, err := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(st.SecretName)}); err == nil {
		for _, k := range orphans {
			if stages := desc.VersionIdsToStages[versionID(k.AccessKeyID)]; slices.Contains(stages, "AWSCURRENT") {
				st.NewKeyID, st.CreatedAt, st.SecretARN = k.AccessKeyID, k.CreateDate, aws.ToString(desc.ARN)
				st.Phase, st.DeactivateAt = PhaseStored, k.CreateDate.Add(r.Config.Lifecycle.Rotate.DeactivateAfter.Duration())
				step.Outcome, step.AccessKeyID, step.Detail = enforce.OutcomeUnchanged, k.AccessKeyID, "recovered: the new key was stored before the interruption"
				step.State = *st
				if err := r.record(ctx, step); err != nil {
					return err
				}
				return r.save(ctx, st)
			}
		}
	}
	if !r.Apply {
		step.Outcome, step.Detail = enforce.OutcomeDryRun, fmt.Sprintf("would delete %d unstored key(s) left by an interrupted rotation", len(orphans))
		return r.record(ctx, step)
	}
	for _, k := range orphans {
		step.AccessKeyID = k.AccessKeyID
		if err := r.call(ctx, st, k.AccessKeyID, ActDeleteOrph, "created by an interrupted rotation and never stored", func() error {
			_, err := iam.NewFromConfig(cfg).DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String(u.UserName), AccessKeyId: aws.String(k.AccessKeyID)})
			return err
		}); err != nil {
			return err
		}
	}
	if err := r.Store.DeleteRotation(ctx, st.AccountID, st.ResourceID); err != nil {
		return err
	}
	delete(r.states, rule.ResourceRef{AccountID: st.AccountID, ResourceID: st.ResourceID})
	// Start again on the key list as it is now.
	kept := u.Keys[:0:0]
	for _, k := range u.Keys {
		if !containsKey(orphans, k.AccessKeyID) {
			kept = append(kept, k)
		}
	}
	u.Keys = kept
	*step = Step{AccountID: step.AccountID, UserName: step.UserName, ResourceID: step.ResourceID}
	return r.start(ctx, cfg, u, acct, nil, step, now)
}

func containsKey(l []rule.Key, id string) bool {
	for _, k := range l {
		if k.AccessKeyID == id {
			return true
		}
	}
	return false
}

// exempt says why the user is exempt at now, or "".
func exempt(cfg *config.Config, u rule.User, now time.Time) string {
	if ex := lifecycle.ExemptionFor(cfg, u, now); ex != nil && ex.Active(now) {
		return fmt.Sprintf("exempt until %s: %s", ex.Until.Format(time.DateOnly), ex.Reason)
	}
	return ""
}
