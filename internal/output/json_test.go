package output

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/keyage/keyage/internal/rule"
	"github.com/keyage/keyage/internal/scan"
)

// The streamed JSON must be byte for byte what encoding/json writes for the
// whole document.
func TestWriteJSONMatchesMarshalIndent(t *testing.T) {
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	age := 400
	for _, tt := range []struct {
		name string
		r    *scan.Result
	}{
		{"empty", &scan.Result{Rule: rule.Name, EvaluatedAt: now, Accounts: []scan.AccountResult{}, Evaluations: []rule.Evaluation{}}},
		{"full", &scan.Result{
			Rule: rule.Name, Parameters: scan.Parameters{MaxAccessKeyAge: 90, WarnAge: 80}, EvaluatedAt: now, Source: "auto",
			Accounts: []scan.AccountResult{{AccountID: "222222222222", Name: "<prod>", Status: "ok", Users: 2, RootKeys: []scan.RootKey{{Status: "Active", AgeDays: &age}}}},
			Evaluations: []rule.Evaluation{
				rule.Evaluate(rule.User{AccountID: "222222222222", UserID: "AIDA1", UserName: "alice", Tags: map[string]string{"email": "a@example.com"},
					Keys: []rule.Key{{AccessKeyID: "AKIA1", Status: "Active", CreateDate: now.Add(-120 * rule.Day), LastUsedDate: now.Add(-time.Hour), LastUsedService: "s3"}}},
					rule.DefaultPolicy(), now),
				rule.NotApplicableAccount("333333333333"),
			},
			Summary: scan.Summary{Accounts: 1, Users: 2, Keys: map[string]int{"ok": 1}},
		}},
		{"many", manyEvaluations(now, 3*evaluationBlock+7)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			want, err := json.MarshalIndent(tt.r, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, '\n')
			var got bytes.Buffer
			if err := writeJSON(&got, tt.r); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("writeJSON differs from MarshalIndent:\ngot:\n%s\nwant:\n%s", got.String(), want)
			}
		})
	}
}

// manyEvaluations is a result of n users, enough for several encoding blocks.
func manyEvaluations(now time.Time, n int) *scan.Result {
	r := &scan.Result{Rule: rule.Name, EvaluatedAt: now, Accounts: []scan.AccountResult{}}
	for i := range n {
		r.Evaluations = append(r.Evaluations, rule.Evaluate(rule.User{AccountID: "222222222222", UserID: fmt.Sprintf("AIDA%d", i), UserName: fmt.Sprintf("user-%d", i),
			Keys: []rule.Key{{AccessKeyID: fmt.Sprintf("AKIA%d", i), Status: "Active", CreateDate: now.Add(-time.Duration(i) * rule.Day)}}},
			rule.DefaultPolicy(), now))
	}
	return r
}
