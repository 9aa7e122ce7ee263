package cli

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keyage/keyage/internal/remediate"
	"github.com/keyage/keyage/internal/rule"
)

// TestRunJSON: keyage run -o json prints one JSON document and nothing else
// on stdout: the scan's summary, the executions and the notifications.
func TestRunJSON(t *testing.T) {
	sandboxEnv(t)
	dir := t.TempDir()
	cfg := writeConfig(t, `
accounts: {ids: ["111111111111", "222222222222"]}
receivers: [{name: central, file: {path: `+filepath.Join(dir, "central.jsonl")+`}}]
routes: [{receivers: [central]}]
`)
	state := filepath.Join(dir, "keyage.db")
	for _, tt := range []struct {
		name string
		args []string
		want messageCounts
		exec int
	}{
		{"dry run", []string{"--dry-run"}, messageCounts{Planned: 2}, 0},
		{"first run", nil, messageCounts{Planned: 2, Sent: 2}, 2},
		{"second run", nil, messageCounts{AlreadyNotified: 2}, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"run", "--config", cfg, "--state", state, "-o", "json", "--log-level", "error"}, tt.args...)
			code, out, stderr := runCLI(t, args...)
			if code != ExitOK {
				t.Fatalf("keyage %s: exit %d\n%s", strings.Join(args, " "), code, stderr)
			}
			var doc runDocument
			dec := json.NewDecoder(strings.NewReader(out))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&doc); err != nil || dec.More() {
				t.Fatalf("keyage %s: stdout is not one JSON document (%v):\n%s", strings.Join(args, " "), err, out)
			}
			if doc.SchemaVersion != runJSONVersion || doc.Scan.Summary.Accounts != 2 || doc.Scan.Summary.NonCompliant != 2 {
				t.Errorf("schemaVersion %d, scan summary %+v; want %d, 2 accounts, 2 non-compliant", doc.SchemaVersion, doc.Scan.Summary, runJSONVersion)
			}
			if diff := cmp.Diff(tt.want, doc.Messages); diff != "" {
				t.Errorf("messages (-want +got):\n%s", diff)
			}
			if len(doc.Executions) != tt.exec || (tt.exec > 0 && doc.Executions[0].UserName != "over-limit") {
				t.Errorf("executions %+v, want %d (over-limit first)", doc.Executions, tt.exec)
			}
		})
	}
}

// TestEnforceJSON: keyage enforce -o json prints the enforcement report as
// one JSON document.
func TestEnforceJSON(t *testing.T) {
	cfg, dir := enforceOrg(t, "")
	code, out, stderr := runCLI(t, "enforce", "--config", cfg, "--state", filepath.Join(dir, "keyage.db"), "-o", "json", "--log-level", "error")
	if code != ExitOK {
		t.Fatalf("enforce -o json: exit %d\n%s", code, stderr)
	}
	var doc enforceDocument
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("enforce -o json: %v:\n%s", err, out)
	}
	if doc.SchemaVersion != runJSONVersion || doc.Applied || doc.Counts.Planned != 3 || len(doc.Actions) < 3 {
		t.Errorf("enforce -o json = %+v; want a dry run with 3 planned actions", doc)
	}
}

// TestOutputOffered: a command offers -o only with the formats it prints.
func TestOutputOffered(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string // in the error
	}{
		{[]string{"run", "-o", "csv"}, "want table or json"},
		{[]string{"enforce", "-o", "csv"}, "want table or json"},
		{[]string{"serve", "-o", "json"}, "prints no data"},
		{[]string{"remediate", "-o", "json"}, "prints no data"},
	} {
		code, _, stderr := runCLI(t, tt.args...)
		if code != ExitUsage || !strings.Contains(stderr, tt.want) {
			t.Errorf("keyage %s: exit %d, want %d and %q; stderr:\n%s", strings.Join(tt.args, " "), code, ExitUsage, tt.want, stderr)
		}
	}
}

// TestDemoJSON: demo --once -o json prints only the scan's JSON document on
// stdout; the narrative goes to stderr.
func TestDemoJSON(t *testing.T) {
	code, out, stderr := runCLI(t, "demo", "--accounts", "3", "--users", "5", "--once", "-o", "json", "--dir", t.TempDir(), "--log-level", "error")
	if code != ExitOK {
		t.Fatalf("demo -o json: exit %d; stderr:\n%s", code, stderr)
	}
	var doc map[string]any
	dec := json.NewDecoder(strings.NewReader(out))
	if err := dec.Decode(&doc); err != nil || dec.More() || doc["summary"] == nil {
		t.Errorf("demo -o json: stdout is not one scan document (%v):\n%s", err, out)
	}
	if !strings.Contains(stderr, "Arrived in the queue") {
		t.Errorf("demo -o json: the narrative is not on stderr:\n%s", stderr)
	}
}

// TestStateCSV: executions and audit print CSV with a header row.
func TestStateCSV(t *testing.T) {
	cfg, dir := enforceOrg(t, "")
	state := filepath.Join(dir, "keyage.db")
	if code, _, stderr := runCLI(t, "run", "--config", cfg, "--state", state, "--log-level", "error"); code != ExitOK {
		t.Fatalf("run: exit %d\n%s", code, stderr)
	}
	if code, _, stderr := runCLI(t, "enforce", "--config", cfg, "--state", state, "--log-level", "error"); code != ExitOK {
		t.Fatalf("enforce: exit %d\n%s", code, stderr)
	}
	for _, tt := range []struct {
		cmd    string
		header string
	}{
		{"executions", "account_id,user_name,resource_id,config_rule_name,state,attempts,invocation_time,last_updated_time,last_error"},
		{"audit", "when,account_id,user_name,access_key_id,action,outcome,before,after,by,reason"},
	} {
		code, out, stderr := runCLI(t, tt.cmd, "--state", state, "-o", "csv")
		rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
		if code != ExitOK || err != nil || len(rows) < 2 || strings.Join(rows[0], ",") != tt.header {
			t.Errorf("%s -o csv: exit %d, %v; want the header %q and rows:\n%s\n%s", tt.cmd, code, err, tt.header, out, stderr)
		}
	}
}

// TestWriteRunDocument: the executions spilled batch by batch come out
// where writeJSON would put them, byte for byte, in the order applied.
func TestWriteRunDocument(t *testing.T) {
	for _, tt := range []struct {
		name    string
		batches []int // NON_COMPLIANT users per batch
	}{
		{"none", nil},
		{"one", []int{1}},
		{"several batches, one empty", []int{2, 0, 3}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			spill, err := newExecutionSpill()
			if err != nil {
				t.Fatal(err)
			}
			defer spill.close()
			want := &runDocument{SchemaVersion: runJSONVersion, Started: time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), Automatic: true,
				Scan: scanDocument{FailedAccounts: []failedAccount{{AccountID: "1", Error: `"executions": []`}}}, Executions: []runExecution{}}
			for b, n := range tt.batches {
				p := &remediate.Plan{}
				for i := 0; i < n; i++ {
					ev := rule.Evaluation{AccountID: fmt.Sprint(b), ResourceID: fmt.Sprintf("AIDA%d%d", b, i), UserName: fmt.Sprintf("u%d", i), Compliance: rule.NonCompliant}
					p.NonCompliant = append(p.NonCompliant, ev)
					want.Executions = append(want.Executions, runExecution{AccountID: ev.AccountID, ResourceID: ev.ResourceID, UserName: ev.UserName})
				}
				if err := spill.add(p); err != nil {
					t.Fatal(err)
				}
			}
			var wantOut, got bytes.Buffer
			if err := writeJSON(&wantOut, want); err != nil {
				t.Fatal(err)
			}
			d := *want
			d.Executions = []runExecution{}
			if err := writeRunDocument(&got, &d, spill); err != nil {
				t.Fatalf("writeRunDocument: %v", err)
			}
			if got.String() != wantOut.String() {
				t.Errorf("writeRunDocument wrote\n%s\nwant writeJSON's\n%s", got.String(), wantOut.String())
			}
		})
	}
}
