package server

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/keyage/keyage/internal/config"
	"github.com/keyage/keyage/internal/enforce"
	"github.com/keyage/keyage/internal/lifecycle"
	"github.com/keyage/keyage/internal/rule"
	"github.com/keyage/keyage/internal/scan"
)

// With owners.tagKey: team-email, the dashboard row, the API row, the API
// owner filter and an enforcement notice all name the owner the evaluation
// was built with, not the user's email tag.
func TestOwnerAgreesEverywhere(t *testing.T) {
	ctx := context.Background()
	cfg, err := config.Parse([]byte("owners: {tagKey: team-email}\nlifecycle: {deactivateAge: 100}\n"), "keyage.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ev, err := lifecycle.NewEvaluator(cfg, lifecycle.ConfigPolicy(cfg))
	if err != nil {
		t.Fatal(err)
	}
	const owner, emailTag = "payments@example.com", "alice@example.com"
	u := rule.User{AccountID: acctProd, UserID: "AIDAALICE", UserName: "alice", Path: "/", ARN: "arn:aws:iam::" + acctProd + ":user/alice",
		Tags: map[string]string{"team-email": owner, "email": emailTag},
		Keys: []rule.Key{{AccessKeyID: "AKIAALICE1", Status: rule.StatusActive, CreateDate: t0.Add(-95 * day)}}}
	res := &scan.Result{Rule: rule.Name, EvaluatedAt: t0, Parameters: scan.Parameters{MaxAccessKeyAge: 90},
		Accounts:    []scan.AccountResult{{AccountID: acctProd, Name: "prod", Status: scan.StatusOK, Users: 1}},
		Evaluations: []rule.Evaluation{ev.Evaluate(u, "", t0)}}
	st := openStore(t)
	if _, err := st.RecordScan(ctx, t0.Add(-time.Minute), t0, res); err != nil {
		t.Fatal(err)
	}
	_, ts := newTestServer(t, st, Options{})

	got := map[string]string{}
	_, body := get(t, ts, "/users/"+acctProd+"/AIDAALICE")
	if strings.Contains(body, ">"+owner+"<") {
		got["dashboard row"] = owner
	}
	var page list[apiEvaluation]
	for _, who := range []string{owner, emailTag} {
		_, body = get(t, ts, "/api/v1/evaluations?owner="+who)
		if err := json.Unmarshal([]byte(body), &page); err != nil {
			t.Fatalf("GET /api/v1/evaluations?owner=%s: %v", who, err)
		}
		if len(page.Items) == 1 {
			got["API filter"] = who
		}
	}
	_, body = get(t, ts, "/api/v1/evaluations")
	if err := json.Unmarshal([]byte(body), &page); err != nil || len(page.Items) != 1 {
		t.Fatalf("GET /api/v1/evaluations = %s (%v), want one item", body, err)
	}
	got["API row"] = page.Items[0].Owner
	notices := enforce.Notices(cfg, res, nil, t0)
	if len(notices) != 1 || notices[0].Stage != string(lifecycle.DeactivationScheduled) {
		t.Fatalf("enforce.Notices = %+v, want one deactivation-scheduled notice", notices)
	}
	got["enforcement notice"] = notices[0].Owner
	for _, where := range []string{"dashboard row", "API row", "API filter", "enforcement notice"} {
		if got[where] != owner {
			t.Errorf("owner in the %s = %q, want %q (owners.tagKey team-email)", where, got[where], owner)
		}
	}
}
