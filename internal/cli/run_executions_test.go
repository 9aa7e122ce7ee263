package cli

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/keyage/keyage/internal/remediate"
	"github.com/keyage/keyage/internal/rule"
)

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
