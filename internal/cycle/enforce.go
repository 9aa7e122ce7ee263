package cycle

import (
	"context"
	"fmt"

	"github.com/keyage/keyage/internal/awsenv"
	"github.com/keyage/keyage/internal/enforce"
	"github.com/keyage/keyage/internal/rotate"
	"github.com/keyage/keyage/internal/scan"
)

// enforce acts on a scan's result with the enforcement role (and rotates keys when
// lifecycle.rotate is enabled) and, when
// applying, tells owners through the routes (notices of upcoming
// deactivations, and what was done). Without Deliver the notices stay in the
// outbox for the running dispatcher.
func (r *Runner) enforce(ctx context.Context, res *scan.Result) (*EnforceReport, error) {
	cfg, eo := r.cfg, r.opts.Enforce
	creds, err := r.base.Credentials.Retrieve(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the caller's credentials: %w", err)
	}
	enforcer, err := awsenv.NewAssumer(ctx, r.base, awsenv.AssumerOptions{RoleName: cfg.Enforce.RoleName, ExternalID: cfg.Accounts.ExternalID, SessionName: "keyage-enforce"})
	if err != nil {
		return nil, err
	}
	e := &enforce.Enforcer{Actor: enforce.Actor{Config: cfg, Store: r.opts.Store, Accounts: enforcer, CallerARN: r.assumer.CallerARN(), CallerKeyID: creds.AccessKeyID,
		Apply: eo.Apply, AuditLog: eo.AuditLog, Now: r.opts.Now, Logger: r.opts.Logger}}
	rep := &enforce.Report{}
	if !eo.RotateOnly {
		if rep, err = e.Run(ctx, res); err != nil {
			return nil, err
		}
	}
	out := &EnforceReport{Report: rep, Applied: eo.Apply}
	if rc := cfg.Lifecycle.Rotate; rc != nil && rc.Enabled && rep.Stopped == "" {
		ro := &rotate.Rotator{Actor: e.Actor}
		if out.Rotation, err = ro.Run(ctx, res); err != nil {
			return nil, err
		}
	}
	notices := append(enforce.Notices(cfg, res, rep, r.opts.Now()), rotate.Notices(cfg, res, out.Rotation)...)
	if len(notices) == 0 || len(cfg.Routes) == 0 {
		return out, nil
	}
	plan, err := r.engine.PlanNotices(ctx, r.opts.Store, notices, r.opts.Now())
	if err != nil {
		return nil, err
	}
	out.Notices, out.NoticesPlanned = len(plan.Messages), true
	if !eo.Apply {
		return out, nil
	}
	if err := r.engine.Apply(ctx, r.opts.Store, plan); err != nil {
		return nil, err
	}
	if !r.opts.Deliver || r.disp == nil {
		return out, nil
	}
	stats, err := r.disp.Drain(ctx)
	if err != nil {
		return nil, err
	}
	out.NoticeStats = &stats
	return out, nil
}
