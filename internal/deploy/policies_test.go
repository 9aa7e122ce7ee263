package deploy

import (
	"slices"
	"strings"
	"testing"
)

func TestPolicy(t *testing.T) {
	for _, mode := range PolicyModes {
		t.Run(mode, func(t *testing.T) {
			doc, err := Policy(mode, PolicyOptions{})
			if err != nil {
				t.Fatal(err)
			}
			sids := map[string]bool{}
			for _, s := range doc.Statement {
				if s.Sid == "" || sids[s.Sid] {
					t.Errorf("Policy(%s): statement Sid %q empty or repeated", mode, s.Sid)
				}
				sids[s.Sid] = true
				for _, a := range s.Action {
					service, action, ok := strings.Cut(a, ":")
					if !ok || service == "" || action == "" || action == "*" {
						t.Errorf("Policy(%s): action %q is not service:Action, or is a whole service", mode, a)
					}
				}
			}
		})
	}
	if _, err := Policy("admin", PolicyOptions{}); err == nil {
		t.Error(`Policy("admin") succeeded, want an error`)
	}
}

// TestScannerReadsWhatTheAuditRoleAllows checks the scanner's own-account
// reads and the audit role of the target template are the same list.
func TestScannerReadsWhatTheAuditRoleAllows(t *testing.T) {
	doc, err := Policy(ModeScanner, PolicyOptions{AuditRoleName: "Auditor"})
	if err != nil {
		t.Fatal(err)
	}
	var own []string
	assumes := ""
	for _, s := range doc.Statement {
		if slices.Contains(s.Action, "sts:AssumeRole") {
			assumes, _ = s.Resource.(string)
		}
		if s.Sid == "ReadOwnAccount" {
			own = s.Action
		}
	}
	if !slices.Equal(own, AuditReadActions) {
		t.Errorf("scanner reads its own account with %v, want %v", own, AuditReadActions)
	}
	if assumes != "arn:aws:iam::*:role/Auditor" {
		t.Errorf("scanner assumes %q, want arn:aws:iam::*:role/Auditor", assumes)
	}
}
