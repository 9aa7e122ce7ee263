package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyage/keyage/internal/rotate"
	"github.com/keyage/keyage/internal/store"
)

// rotatedOrg is the test org with rotations stored as internal/rotate
// stores them: alice's done, carol's waiting for deactivation, eve's undone.
func rotatedOrg(t testing.TB) *store.Store {
	t.Helper()
	st := testOrg(t)
	arn := func(acct, name string) string {
		return "arn:aws:secretsmanager:us-east-1:" + acct + ":secret:keyage/access-keys/" + name + "-AbCdEf"
	}
	for _, s := range []rotate.State{
		{AccountID: acctProd, ResourceID: "AIDAALICE", UserName: "alice", Phase: rotate.PhaseDone, OldKeyID: "AKIAALICE1", NewKeyID: "AKIAALICE2",
			SecretName: "keyage/access-keys/alice", SecretARN: arn(acctProd, "alice"), StartedAt: t0.Add(-50 * day), CreatedAt: t0.Add(-50 * day),
			DeactivateAt: t0.Add(-36 * day), DeactivatedAt: t0.Add(-36 * day), DeleteAt: t0.Add(-6 * day), DeletedAt: t0.Add(-6 * day)},
		{AccountID: acctProd, ResourceID: "AIDACAROL", UserName: "carol", Phase: rotate.PhaseStored, OldKeyID: "AKIACAROL1", NewKeyID: "AKIACAROL2",
			SecretName: "keyage/access-keys/carol", SecretARN: arn(acctProd, "carol"), StartedAt: t0.Add(-2 * day), CreatedAt: t0.Add(-2 * day),
			DeactivateAt: t0.Add(12 * day)},
		{AccountID: acctHostile, ResourceID: "AIDAEVE", UserName: "eve", Phase: rotate.PhaseUndone, OldKeyID: "AKIAEVE1", NewKeyID: "AKIAEVE2",
			SecretName: "keyage/access-keys/eve", SecretARN: arn(acctHostile, "eve"), StartedAt: t0.Add(-10 * day), CreatedAt: t0.Add(-10 * day),
			DeactivateAt: t0.Add(4 * day), UndoneAt: t0.Add(-day)},
	} {
		b, err := json.Marshal(s)
		if err == nil {
			err = st.PutRotation(t.Context(), store.RotationRow{AccountID: s.AccountID, ResourceID: s.ResourceID, State: b, UpdatedAt: t0})
		}
		if err != nil {
			t.Fatalf("store the rotation of %s: %v", s.UserName, err)
		}
	}
	return st
}

func TestRotationsAPI(t *testing.T) {
	tests := []struct {
		name, query string
		want        []string // user, phase, new key
	}{
		{"all, most recently started first", "", []string{"carol stored AKIACAROL2", "eve undone AKIAEVE2", "alice done AKIAALICE2"}},
		{"one account", "?account=" + acctProd, []string{"carol stored AKIACAROL2", "alice done AKIAALICE2"}},
		{"a user by name", "?user=alice", []string{"alice done AKIAALICE2"}},
		{"a user by UserId", "?account=" + acctHostile + "&user=AIDAEVE", []string{"eve undone AKIAEVE2"}},
		{"no match", "?account=" + acctHostile + "&user=alice", nil},
	}
	_, ts := newTestServer(t, rotatedOrg(t), Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := get(t, ts, "/api/v1/rotations"+tt.query)
			var d struct {
				Rotations []map[string]any `json:"rotations"`
			}
			if err := json.Unmarshal([]byte(body), &d); resp.StatusCode != http.StatusOK || err != nil || d.Rotations == nil {
				t.Fatalf("GET /api/v1/rotations%s = %d, %v\n%s", tt.query, resp.StatusCode, err, body)
			}
			var got []string
			for _, r := range d.Rotations {
				got = append(got, r["userName"].(string)+" "+r["phase"].(string)+" "+r["newAccessKeyId"].(string))
			}
			if !slices.Equal(tt.want, got) {
				t.Errorf("GET /api/v1/rotations%s = %q, want %q", tt.query, got, tt.want)
			}
		})
	}
	resp, body := get(t, ts, "/api/v1/rotations?user=alice")
	var d struct{ Rotations []rotationView }
	if err := json.Unmarshal([]byte(body), &d); resp.StatusCode != http.StatusOK || err != nil || len(d.Rotations) != 1 {
		t.Fatalf("GET /api/v1/rotations?user=alice = %d, %v\n%s", resp.StatusCode, err, body)
	}
	a := d.Rotations[0]
	for _, c := range []struct {
		name      string
		got, want time.Time
	}{{"createdAt", a.CreatedAt, t0.Add(-50 * day)}, {"deactivatedAt", a.DeactivatedAt, t0.Add(-36 * day)}, {"deletedAt", a.DeletedAt, t0.Add(-6 * day)}} {
		if !c.got.Equal(c.want) {
			t.Errorf("alice's rotation %s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if !strings.HasPrefix(a.SecretARN, "arn:aws:secretsmanager:us-east-1:"+acctProd+":secret:keyage/access-keys/alice") || a.OldKeyID != "AKIAALICE1" {
		t.Errorf("alice's rotation = %+v, want old key AKIAALICE1 and the secret's ARN", a)
	}
}

func TestRotationsPageAndTimeline(t *testing.T) {
	_, ts := newTestServer(t, rotatedOrg(t), Options{})
	resp, page := get(t, ts, "/rotations")
	for _, want := range []string{`aria-current="page">Rotations`, `data-step="stored"`, "AKIACAROL2", "keyage/access-keys/carol-AbCdEf",
		"2026-12-06 <span class=\"small muted\">due</span>", `href="/users/` + acctProd + `/AIDAALICE">alice`} {
		if resp.StatusCode != http.StatusOK || !strings.Contains(page, want) {
			t.Errorf("GET /rotations = %d, lacks %q", resp.StatusCode, want)
		}
	}
	if _, page = get(t, ts, "/rotations?user=carol"); strings.Contains(page, "AKIAALICE2") || !strings.Contains(page, "AKIACAROL2") {
		t.Errorf("GET /rotations?user=carol lists another user's rotation or not carol's")
	}
	var got []string
	for _, e := range userTimeline(t, ts, acctProd, "AIDACAROL") {
		if e.Kind == "rotation" {
			got = append(got, e.At.Format(time.DateOnly)+" "+e.Text+map[bool]string{true: " (due)"}[e.Future])
		}
	}
	want := []string{
		"2026-11-22 Rotation: new key AKIACAROL2 stored in arn:aws:secretsmanager:us-east-1:" + acctProd + ":secret:keyage/access-keys/carol-AbCdEf",
		"2026-12-06 Rotation: old key AKIACAROL1 to be deactivated (due)",
	}
	if !slices.Equal(want, got) {
		t.Errorf("carol's rotation events = %q, want %q", got, want)
	}
	if _, page = get(t, ts, "/users/"+acctProd+"/AIDACAROL"); !strings.Contains(page, "<h2>Rotation</h2>") || !strings.Contains(page, `data-step="stored"`) {
		t.Errorf("carol's page has no rotation section")
	}
}

func TestRotationEvents(t *testing.T) {
	for _, tt := range []struct {
		name string
		r    rotationView
		want []string
	}{
		{"creating: nothing stored yet", rotationView{OldKeyID: "AKIAOLD", StartedAt: t0}, nil},
		{"undone: no step planned", rotationView{OldKeyID: "AKIAOLD", NewKeyID: "AKIANEW", SecretName: "s", CreatedAt: t0, DeactivateAt: t0.Add(day), UndoneAt: t0.Add(time.Hour)},
			[]string{"Rotation: new key AKIANEW stored in s", "Rotation undone: AKIAOLD active again, AKIANEW deactivated"}},
		{"deactivated: the deletion planned", rotationView{OldKeyID: "AKIAOLD", NewKeyID: "AKIANEW", SecretARN: "arn", CreatedAt: t0, DeactivateAt: t0.Add(day), DeactivatedAt: t0.Add(day), DeleteAt: t0.Add(2 * day)},
			[]string{"Rotation: new key AKIANEW stored in arn", "Rotation: old key AKIAOLD deactivated", "Rotation: old key AKIAOLD to be deleted (due)"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, e := range rotationEvents([]rotationView{tt.r}, t0.Add(3*day)) {
				got = append(got, e.Text+map[bool]string{true: " (due)"}[e.Future])
			}
			if !slices.Equal(tt.want, got) {
				t.Errorf("rotationEvents(%s) = %q, want %q", tt.name, got, tt.want)
			}
		})
	}
}

// userTimeline is the timeline of /api/v1/users/{account}/{resource}.
func userTimeline(t *testing.T, ts *httptest.Server, account, resource string) []event {
	t.Helper()
	resp, body := get(t, ts, "/api/v1/users/"+account+"/"+resource)
	var d struct{ Timeline []event }
	if err := json.Unmarshal([]byte(body), &d); resp.StatusCode != http.StatusOK || err != nil {
		t.Fatalf("GET user %s in %s = %d, %v", resource, account, resp.StatusCode, err)
	}
	return d.Timeline
}
