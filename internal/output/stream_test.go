package output

import (
	"bytes"
	"testing"

	"github.com/keyage/keyage/internal/rule"
	"github.com/keyage/keyage/internal/scan"
)

// A streamed document is byte for byte what Write makes of the whole
// result, whatever the order in which the accounts finish.
func TestStreamMatchesWrite(t *testing.T) {
	full := findingsResult(t)
	root := 30
	full.Accounts = append(full.Accounts,
		scan.AccountResult{AccountID: "444444444444", Name: "broken", Status: scan.StatusError, Error: "assume role: AccessDenied"},
		scan.AccountResult{AccountID: "555555555555", Status: scan.StatusOK, RootKeys: []scan.RootKey{{Status: rule.StatusActive, AgeDays: &root}}})
	full.Evaluations = append(full.Evaluations, rule.NotApplicableAccount("555555555555"))
	full.Summary = scan.Summary{Accounts: 4, AccountsFailed: 1, Users: 4, Keys: map[string]int{"ok": 1}}
	noRoots := findingsResult(t)
	noRoots.Accounts[0].RootKeys = nil
	empty := &scan.Result{Rule: rule.Name, EvaluatedAt: findingsNow, Accounts: []scan.AccountResult{}, Evaluations: []rule.Evaluation{}}
	for _, r := range []struct {
		name string
		res  *scan.Result
	}{{"accounts with root keys and a failure", full}, {"no root keys", noRoots}, {"no accounts", empty}} {
		for _, f := range []Format{JSON, CSV, ASFF, OCSF, Table} {
			for _, all := range []bool{false, true} {
				if all && f != Table {
					continue
				}
				t.Run(r.name+"/"+string(f), func(t *testing.T) {
					o := Options{All: all, Region: "eu-west-1", Version: "test"}
					var want bytes.Buffer
					if err := Write(&want, f, r.res, o); err != nil {
						t.Fatal(err)
					}
					head := *r.res
					head.Accounts, head.Evaluations = nil, nil
					var got bytes.Buffer
					s, err := NewStream(&got, f, &head, o, t.TempDir())
					if err != nil {
						t.Fatal(err)
					}
					// The accounts finish last to first.
					for i := len(r.res.Accounts) - 1; i >= 0; i-- {
						a := r.res.Accounts[i]
						var evs []rule.Evaluation
						for _, ev := range r.res.Evaluations {
							if ev.AccountID == a.AccountID {
								evs = append(evs, ev)
							}
						}
						if err := s.Add(i, a, evs); err != nil {
							t.Fatal(err)
						}
					}
					done := *r.res
					done.Evaluations = nil
					if err := s.Close(&done); err != nil {
						t.Fatal(err)
					}
					if got.String() != want.String() {
						t.Errorf("streamed -o %s (all %v) differs from Write:\ngot:\n%s\nwant:\n%s", f, all, got.String(), want.String())
					}
				})
			}
		}
	}
}
