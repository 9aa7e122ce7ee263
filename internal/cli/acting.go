package cli

import (
	"context"
	"io"

	"github.com/spf13/cobra"

	"github.com/keyage/keyage/internal/config"
	"github.com/keyage/keyage/internal/cycle"
	"github.com/keyage/keyage/internal/output"
	"github.com/keyage/keyage/internal/store"
)

// actingOptions are the flags of the commands that change IAM, keyage
// enforce and keyage rotate: a scan, the state, --apply and --audit-log.
type actingOptions struct {
	scan      scanOptions
	statePath string
	apply     bool
	auditLog  string
}

// addActingFlags adds the flags of actingOptions to cmd; changes names what
// --apply lets the command change.
func addActingFlags(cmd *cobra.Command, o *actingOptions, changes string) {
	addScanFlags(cmd, &o.scan)
	offerOutput(cmd, false, output.Table, output.JSON)
	fl := cmd.Flags()
	addStateFlag(fl, &o.statePath)
	fl.BoolVar(&o.apply, "apply", false, "change "+changes+" (default: dry run)")
	fl.StringVar(&o.auditLog, "audit-log", "", "append every audit record to this file as a JSON line")
}

// acting is what a command that changes IAM has opened before it acts.
type acting struct {
	job   *scanJob
	store *store.Store
	audit io.Writer
	close func()
}

// open resolves the config, refuses it with enabled's error when the
// command has nothing to do under it, and opens the state and the audit
// log; close releases both.
func (o *actingOptions) open(ctx context.Context, f *Factory, changed func(string) bool, enabled func(*config.Config) error) (*acting, error) {
	job, err := f.Config(&o.scan, changed)
	if err != nil {
		return nil, err
	}
	if err := enabled(job.cfg); err != nil {
		return nil, usageError(err)
	}
	st, err := f.OpenStore(ctx, o.statePath)
	if err != nil {
		return nil, err
	}
	audit, closeAudit, err := openAuditLog(o.auditLog)
	if err != nil {
		st.Close()
		return nil, err
	}
	return &acting{job: job, store: st, audit: audit, close: func() { closeAudit(); st.Close() }}, nil
}

// enforce runs the cycle's enforcement (with eo and the opened state and
// audit log) under a progress bar and writes its report: doc's document
// with -o json, else what print prints.
func (act *acting) enforce(ctx context.Context, f *Factory, eo cycle.EnforceOptions, doc func(*cycle.Report) any, print func(io.Writer, *cycle.Report)) (*cycle.Report, error) {
	eo.AuditLog = act.audit
	co := cycle.Options{Store: act.store, Deliver: true, Enforce: &eo}
	co.Progress, co.AfterScan = f.progressBar()
	r, err := f.Cycle(ctx, act.job, co)
	if err != nil {
		return nil, err
	}
	rep, err := r.Enforce(ctx, f.Now())
	if err != nil {
		return nil, err
	}
	if act.job.format == output.JSON {
		return rep, writeJSON(f.IO.Out, doc(rep))
	}
	print(f.IO.Out, rep)
	return rep, nil
}
