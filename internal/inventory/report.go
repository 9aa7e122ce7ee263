package inventory

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"golang.org/x/sync/errgroup"

	"github.com/keyage/keyage/internal/awsenv"
	"github.com/keyage/keyage/internal/credreport"
	"github.com/keyage/keyage/internal/lifecycle"
	"github.com/keyage/keyage/internal/rule"
)

// maxReportWait caps one pause between credential report polls. AWS
// documents no generation time beyond the states GenerateCredentialReport
// returns (STARTED, INPROGRESS, COMPLETE; API reference); a report for a
// few hundred users completes within seconds, so the polls start at
// Options.ReportWait and double to 1 s: at most about 1 s past the moment
// the report is ready, and one cheap call a second per account while AWS
// is slower than that.
const maxReportWait = 1 * time.Second

// fromReport reads the credential report and ListUsers (for the immutable
// UserIds) side by side. With realtime (auto), users the report flags (their
// findings name the key id, which the report lacks) and users created after
// it are re-read with ListAccessKeys, and so are users whose report shows an
// inactive key past the limit, which may have been reactivated since, unless
// the report is current (generated during this scan, see reportCurrent). With
// either source, a user the report lists twice, or with a date after the
// report itself, is read from the API instead: such a row cannot be trusted.
func (c *collector) fromReport(ctx context.Context, realtime bool) (*Result, error) {
	var (
		report  *credreport.Report
		current bool
		listed  []types.User
	)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) { report, current, err = c.credentialReport(gctx); return err })
	g.Go(func() (err error) { listed, err = c.listUsers(gctx); return err })
	if err := g.Wait(); err != nil {
		return nil, err
	}

	rows := make(map[string]*credreport.Row, len(report.Users))
	untrusted := map[string]string{} // user name -> why
	for i := range report.Users {
		row := &report.Users[i]
		if prev, ok := rows[row.User]; ok {
			untrusted[row.User] = fmt.Sprintf("listed twice in the credential report (lines %d and %d)", prev.Line, row.Line)
		} else if why := impossible(row, c.o.Now); why != "" {
			untrusted[row.User] = why
		}
		rows[row.User] = row
	}
	users := make([]rule.User, len(listed))
	var (
		recheck []int
		skipped int // inactive past the limit, not re-read: the report is current
	)
	for i, lu := range listed {
		users[i] = c.userFrom(lu)
		row, ok := rows[users[i].UserName]
		if why, bad := untrusted[users[i].UserName]; bad {
			c.log.Warn("credential report row not trusted; reading the user from the IAM API", "user", users[i].UserName, "reason", why)
			recheck = append(recheck, i)
			continue
		}
		if ok {
			users[i].Keys = keysFromRow(row)
		}
		if !realtime {
			continue
		}
		switch {
		case !ok || lifecycle.Flagged(users[i], c.o.Policy, c.o.Now):
			recheck = append(recheck, i)
		case inactivePastLimit(users[i], c.o.Policy, c.o.Now):
			if current {
				skipped++
			} else {
				recheck = append(recheck, i)
			}
		}
	}
	if skipped > 0 {
		c.log.Debug("credential report generated during this scan: users with an inactive key past the limit not re-read",
			"users", skipped)
	}

	g, gctx = errgroup.WithContext(ctx)
	g.SetLimit(c.o.UserConcurrency)
	rechecked := make(map[int]bool, len(recheck))
	for _, i := range recheck {
		rechecked[i] = true
		u := &users[i]
		row := rows[u.UserName]
		if _, bad := untrusted[u.UserName]; bad {
			row = nil // nothing from it, not even last-used data
		}
		g.Go(func() error { return c.loadKeys(gctx, u, row) })
	}
	if !realtime && c.o.WithTags {
		for i := range users {
			if rechecked[i] {
				continue // recheck reads the tags
			}
			u := &users[i]
			g.Go(func() (err error) { u.Tags, err = c.listTags(gctx, u.UserName); return err })
		}
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return &Result{Users: users, RootKeys: rootKeysFromRow(report.Root), NotReread: skipped}, nil
}

// reportSkew is how far after now a report date may be (clocks differ)
// before the row counts as impossible.
const reportSkew = 24 * time.Hour

// impossible says why a report row cannot be right (a date in the future:
// creation, key rotation or last use), or "".
func impossible(row *credreport.Row, now time.Time) string {
	if now.IsZero() {
		return ""
	}
	limit := now.Add(reportSkew)
	if row.UserCreationTime.After(limit) {
		return fmt.Sprintf("user_creation_time %s is in the future (line %d)", row.UserCreationTime.Format(time.RFC3339), row.Line)
	}
	for i, k := range row.Keys {
		for _, d := range []struct {
			col string
			t   time.Time
		}{{"last_rotated", k.LastRotated}, {"last_used_date", k.LastUsed}} {
			if d.t.After(limit) {
				return fmt.Sprintf("access_key_%d_%s %s is in the future (line %d)", i+1, d.col, d.t.Format(time.RFC3339), row.Line)
			}
		}
	}
	return ""
}

// inactivePastLimit reports whether u has an inactive key older than the
// limit: reactivated after the report, it would make u NON_COMPLIANT.
func inactivePastLimit(u rule.User, p rule.Policy, now time.Time) bool {
	for _, k := range u.Keys {
		if k.Status == rule.StatusInactive && now.Sub(k.CreateDate) > p.MaxAge {
			return true
		}
	}
	return false
}

// loadKeys sets a user's keys from ListAccessKeys (and its tags, when
// asked). With a credential report row it keeps the report's last-used
// data for keys it knew (matched by creation time) and asks
// GetAccessKeyLastUsed only for keys created after the report; without
// one (the API source) it asks for every key.
func (c *collector) loadKeys(ctx context.Context, u *rule.User, row *credreport.Row) error {
	keys, err := c.listAccessKeys(ctx, u.UserName)
	if err != nil {
		return err
	}
	for i := range keys {
		if rk, ok := matchSlot(keys[i], row); ok {
			keys[i].Slot = rk.Slot
			keys[i].LastUsedDate, keys[i].LastUsedService, keys[i].LastUsedRegion = rk.LastUsedDate, rk.LastUsedService, rk.LastUsedRegion
			continue
		}
		if err := c.lastUsed(ctx, u.UserName, &keys[i]); err != nil {
			return err
		}
	}
	u.Keys = keys
	if c.o.WithTags {
		if u.Tags, err = c.listTags(ctx, u.UserName); err != nil {
			return err
		}
	}
	return nil
}

// matchSlot finds the report column of a key: the report's last_rotated is
// the key's creation time, to the second.
func matchSlot(k rule.Key, row *credreport.Row) (rule.Key, bool) {
	if row == nil {
		return rule.Key{}, false
	}
	for _, rk := range keysFromRow(row) {
		if rk.CreateDate.Unix() == k.CreateDate.Unix() {
			return rk, true
		}
	}
	return rule.Key{}, false
}

func keysFromRow(row *credreport.Row) []rule.Key {
	var keys []rule.Key
	for i, k := range row.Keys {
		if !k.Present {
			continue
		}
		status := rule.StatusInactive
		if k.Active {
			status = rule.StatusActive
		}
		keys = append(keys, rule.Key{
			Slot:            i + 1,
			Status:          status,
			CreateDate:      k.LastRotated,
			LastUsedDate:    k.LastUsed,
			LastUsedService: k.LastUsedService,
			LastUsedRegion:  k.LastUsedRegion,
		})
	}
	return keys
}

func rootKeysFromRow(row *credreport.Row) []RootKey {
	if row == nil {
		return nil
	}
	var out []RootKey
	for _, k := range keysFromRow(row) {
		out = append(out, RootKey{Status: k.Status, CreateDate: k.CreateDate})
	}
	return out
}

// Sleep waits d or until ctx is done: the default Options.Pause.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// credentialReport generates the report if needed, waits for it with
// backoff, and parses it. current reports whether the report is as recent
// as the scan (reportCurrent).
func (c *collector) credentialReport(ctx context.Context) (rep *credreport.Report, current bool, err error) {
	started := false
	wait := c.o.ReportWait
	pause := func() error {
		if err := c.o.Pause(ctx, wait); err != nil {
			return fmt.Errorf("wait for the credential report: %w", err)
		}
		wait = min(wait*2, maxReportWait)
		return nil
	}
	for {
		gen, err := c.iam.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{})
		switch {
		case isCode(err, "LimitExceeded"), isCode(err, "ReportGenerationLimitExceeded"):
			// Too many generation requests in flight for the account
			// (ReportGenerationLimitExceeded in the API's model): wait and
			// ask again.
		case err != nil:
			return nil, false, fmt.Errorf("generate credential report: %w", awsenv.Simplify(err))
		case gen.State == types.ReportStateTypeStarted:
			started = true
		case gen.State == types.ReportStateTypeComplete:
			out, err := c.iam.GetCredentialReport(ctx, &iam.GetCredentialReportInput{})
			switch {
			case isCode(err, "ReportInProgress"), isCode(err, "ReportNotPresent"), isCode(err, "ReportExpired"):
				// Generated in between, or expired: generate again.
			case err != nil:
				return nil, false, fmt.Errorf("get credential report: %w", awsenv.Simplify(err))
			default:
				if out.ReportFormat != "" && out.ReportFormat != types.ReportFormatTypeTextCsv {
					return nil, false, fmt.Errorf("credential report has format %q, want text/csv", out.ReportFormat)
				}
				generated := aws.ToTime(out.GeneratedTime)
				rep, err := credreport.Parse(out.Content)
				if err != nil {
					return nil, false, fmt.Errorf("parse credential report generated %s: %w", generated.UTC().Format(time.RFC3339), err)
				}
				return rep, reportCurrent(started, generated, c.o.Now), nil
			}
		}
		if err := pause(); err != nil {
			return nil, false, err
		}
	}
}

// reportCurrent reports whether a credential report generated at generated
// is as recent as a scan evaluated as of now: this scan started its
// generation (GenerateCredentialReport answered STARTED: "No report exists.
// Starting a new report generation task"; AWS otherwise serves the last
// report while it is under four hours old, IAM User Guide, "Getting
// credential reports"), or its GeneratedTime ("the date and time when the
// credential report was created", GetCredentialReport) is at or after now.
// No allowance for clock skew is made in the report's favour: a report one
// second older than the scan may miss a key reactivated in that second, so
// only the skew between AWS's clock and ours (seconds, with NTP) can make an
// older report count as current.
func reportCurrent(started bool, generated, now time.Time) bool {
	return started || !now.IsZero() && !generated.IsZero() && !generated.Before(now)
}

func isCode(err error, code string) bool {
	if err == nil {
		return false
	}
	var api interface{ ErrorCode() string }
	return errors.As(err, &api) && api.ErrorCode() == code
}
