package output

import (
	"bytes"
	"encoding/csv"
	"testing"
	"time"

	"github.com/keyage/keyage/internal/rule"
	"github.com/keyage/keyage/internal/scan"
)

func TestSafeCSV(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"", ""},
		{"alice", "alice"},
		{"a=b", "a=b"},
		{"=HYPERLINK(\"https://evil.example\",\"x\")", "'=HYPERLINK(\"https://evil.example\",\"x\")"},
		{"+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"},
		{"-2+3", "'-2+3"},
		{"@SUM(A1:A2)", "'@SUM(A1:A2)"},
		{"\t=1", "'\t=1"},
		{"\r=1", "'\r=1"},
	} {
		if got := SafeCSV(tt.in); got != tt.want {
			t.Errorf("SafeCSV(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// scan -o csv escapes formulas in every attacker-controlled cell: account
// names, user names, tags that become annotations.
func TestWriteCSVEscapesFormulas(t *testing.T) {
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	ev := rule.Evaluate(rule.User{AccountID: "222222222222", UserID: "AIDA1", UserName: "=HYPERLINK(\"https://evil.example\")",
		Keys: []rule.Key{{AccessKeyID: "AKIA1", Status: "Active", CreateDate: now.Add(-120 * rule.Day), LastUsedService: "@SUM(1)"}}},
		rule.DefaultPolicy(), now)
	noKeys := rule.Evaluate(rule.User{AccountID: "222222222222", UserID: "AIDA2", UserName: "+cmd"}, rule.DefaultPolicy(), now)
	r := &scan.Result{Rule: rule.Name, EvaluatedAt: now,
		Accounts:    []scan.AccountResult{{AccountID: "222222222222", Name: "-prod", Status: "ok", Users: 2}},
		Evaluations: []rule.Evaluation{ev, noKeys}}
	var b bytes.Buffer
	if err := Write(&b, CSV, r, Options{}); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatalf("read back the CSV: %v", err)
	}
	if len(recs) != 3 {
		t.Fatalf("CSV has %d records, want a header and 2 rows:\n%v", len(recs), recs)
	}
	for _, rec := range recs[1:] {
		for i, cell := range rec {
			if cell != "" && cell[0] != '\'' && SafeCSV(cell) != cell {
				t.Errorf("CSV column %s = %q: a formula, want it escaped", CSVHeader[i], cell)
			}
		}
	}
	if got, want := recs[1][2], "'=HYPERLINK(\"https://evil.example\")"; got != want {
		t.Errorf("CSV userName = %q, want %q", got, want)
	}
}
