package server

import (
	"cmp"
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/keyage/keyage/internal/rotate"
)

// rotationView is one user's key rotation as the dashboard and
// /api/v1/rotations show it: internal/rotate's state, which holds the keys,
// the secret's name and ARN (never its value) and the date of each step.
// Dates not reached are omitted; deactivateAt and deleteAt are the planned
// ones; phase is the step reached.
type rotationView = rotate.State

// rotationsData is the rotations page and /api/v1/rotations.
type rotationsData struct {
	AccountID string         `json:"account,omitempty"`
	User      string         `json:"user,omitempty"`
	Rotations []rotationView `json:"rotations"`
}

// rotations lists the rotations of account (all when empty) whose user has
// the name or UserId user (all when empty), most recently started first.
func (s *Server) rotations(ctx context.Context, account, user string) ([]rotationView, error) {
	states, err := rotate.States(ctx, s.opts.Store)
	if err != nil {
		return nil, err
	}
	out := []rotationView{}
	for _, st := range states {
		if (account == "" || st.AccountID == account) && (user == "" || st.UserName == user || st.ResourceID == user) {
			out = append(out, st)
		}
	}
	slices.SortStableFunc(out, func(a, b rotationView) int {
		return cmp.Or(b.StartedAt.Compare(a.StartedAt), cmp.Compare(a.AccountID, b.AccountID), cmp.Compare(a.UserName, b.UserName))
	})
	return out, nil
}

func (s *Server) rotationsView(r *http.Request) (rotationsData, error) {
	q := r.URL.Query()
	d := rotationsData{AccountID: strings.TrimSpace(q.Get("account")), User: strings.TrimSpace(q.Get("user"))}
	var err error
	d.Rotations, err = s.rotations(r.Context(), d.AccountID, d.User)
	return d, err
}

// rotationEvents are a user's rotation steps as timeline events: the new
// key stored, the old key deactivated and deleted, the undo, and the steps
// still planned.
func rotationEvents(rs []rotationView, now time.Time) []event {
	var out []event
	for _, r := range rs {
		add := func(at time.Time, key, text string, planned bool) {
			if !at.IsZero() {
				out = append(out, event{At: at, Kind: "rotation", Key: key, Text: text, Future: planned || at.After(now)})
			}
		}
		if r.NewKeyID != "" {
			add(r.CreatedAt, r.NewKeyID, "Rotation: new key "+r.NewKeyID+" stored in "+cmp.Or(r.SecretARN, r.SecretName), false)
		}
		add(r.DeactivatedAt, r.OldKeyID, "Rotation: old key "+r.OldKeyID+" deactivated", false)
		add(r.DeletedAt, r.OldKeyID, "Rotation: old key "+r.OldKeyID+" deleted", false)
		add(r.UndoneAt, r.OldKeyID, "Rotation undone: "+r.OldKeyID+" active again, "+r.NewKeyID+" deactivated", false)
		if r.UndoneAt.IsZero() {
			if r.DeactivatedAt.IsZero() {
				add(r.DeactivateAt, r.OldKeyID, "Rotation: old key "+r.OldKeyID+" to be deactivated", true)
			}
			if r.DeletedAt.IsZero() {
				add(r.DeleteAt, r.OldKeyID, "Rotation: old key "+r.OldKeyID+" to be deleted", true)
			}
		}
	}
	return out
}
