package server

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/keyage/keyage/internal/store"
)

// benchAudit gives the benchmark org an enforcement history: for each of
// the 10,000 expired keys a dry run a week ago, and for every other one an
// applied deactivation (5,000) a day ago, and 1,000 planned deactivations.
func benchAudit(ctx context.Context, st *store.Store) error {
	for a := range benchAccounts {
		acct := fmt.Sprintf("%012d", 100000000000+a)
		for u := 0; u < benchUsers; u += 10 {
			r := store.AuditRecord{At: t0.Add(-7 * day), AccountID: acct, UserName: fmt.Sprintf("user-%03d", u), ResourceID: fmt.Sprintf("AIDA%08d%04d", a, u),
				AccessKeyID: fmt.Sprintf("AKIA%08d%04d", a, u), Action: "deactivate", Outcome: "dry-run", DryRun: true, Reason: "active key is past deactivateAge"}
			if _, err := st.Audit(ctx, r); err != nil {
				return err
			}
			if u%20 == 0 {
				r.At, r.Outcome, r.DryRun, r.BeforeStatus, r.AfterStatus = t0.Add(-day), "applied", false, "Active", "Inactive"
				if _, err := st.Audit(ctx, r); err != nil {
					return err
				}
			}
			if u == 30 {
				if err := st.RecordDeactivationNotice(ctx, store.DeactivationNotice{AccountID: acct, AccessKeyID: r.AccessKeyID, ResourceID: r.ResourceID,
					UserName: r.UserName, NoticedAt: t0.Add(-day), DeactivateAt: t0.Add(time.Duration(1+a%14) * day)}); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// BenchmarkEnforcementPages serves the enforcement, exemptions and user
// pages, their API and the audit report over the 1,000 x 100 org with
// 15,000 audit records and 1,000 exemptions.
func BenchmarkEnforcementPages(b *testing.B) {
	s := benchServer(b)
	for _, path := range []string{
		"/enforcement", "/enforcement?account=100000000007&key=AKIA000000070020", "/api/v1/enforcement",
		"/exemptions", "/api/v1/exemptions",
		"/users/100000000007/AIDA000000070020",
		"/report.html", "/api/v1/report",
	} {
		b.Run(path, func(b *testing.B) { servePath(b, s, path) })
	}
}
