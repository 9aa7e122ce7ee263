package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyage/keyage/internal/config"
	"github.com/keyage/keyage/internal/report"
	"github.com/keyage/keyage/internal/rule"
	"github.com/keyage/keyage/internal/store"
)

type reportOptions struct {
	statePath  string
	configPath string
	since      string
	out        string
	format     string
}

// newReportCmd builds the command; runF, when not nil, replaces runReport
// (tests of flag parsing).
func newReportCmd(f *Factory, runF func(*reportOptions) error) *cobra.Command {
	o := &reportOptions{}
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Write the audit report: one self-contained HTML file, or JSON",
		Long: `Report reads the state database and writes what an auditor keeps: compliance
now and its trend over the window (the non-compliant users at the end of each
UTC day, from the day the window starts in, as the dashboard's trend by day), the mean and 90th-percentile time to
remediate (from a user turning NON_COMPLIANT to its key being rotated,
deactivated or deleted), the overdue keys, the exemptions with their reasons,
what enforcement planned and did, and the configuration in force with its
secrets redacted.

The HTML file loads nothing (inline CSS and SVG under a strict
Content-Security-Policy) and prints to PDF from a browser. --format json
writes the same numbers. The dashboard serves the same report at /report.html
and /api/v1/report.`,
		Example: `  keyage report --since 90d --out report.html
  keyage report --config keyage.yaml --state keyage.db --since 30d --out report.html
  keyage report --format json | jq .mttr`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(o)
			}
			return runReport(cmd.Context(), f, o)
		},
	}
	fl := cmd.Flags()
	addStateFlag(fl, &o.statePath)
	addConfigFlag(fl, &o.configPath)
	fl.StringVar(&o.since, "since", "90d", "the report's window: 90d, 2w, 720h")
	fl.StringVar(&o.out, "out", "-", "file to write (- for stdout)")
	o.format = "html"
	fl.Var(&choiceValue{p: &o.format, choices: []string{"html", "json"}}, "format", "html or json")
	return cmd
}

func runReport(ctx context.Context, f *Factory, o *reportOptions) error {
	since, err := config.ParseDuration(o.since)
	if err != nil || since <= 0 {
		return usageError(fmt.Errorf("--since %q: want a positive duration such as 90d, 2w or 720h", o.since))
	}
	cfg, err := loadConfig(o.configPath)
	if err != nil {
		return err
	}
	maxAge := cfg.Rule.MaxAccessKeyAge
	if maxAge <= 0 {
		maxAge = config.DefaultMaxAccessKeyAge
	}
	var rep *report.Report
	err = withState(ctx, o.statePath, func(st *store.Store) (err error) {
		rep, err = report.Build(ctx, st, report.Options{Now: f.Now(), Since: time.Duration(since), MaxAge: time.Duration(maxAge) * rule.Day, Config: cfg})
		return err
	})
	if err != nil {
		return err
	}
	write := rep.WriteHTML
	if o.format == "json" {
		write = rep.WriteJSON
	}
	if o.out == "-" || o.out == "" {
		return write(f.IO.Out)
	}
	// Write beside the target and rename: a failed run leaves no half report.
	tmp, err := os.CreateTemp(filepath.Dir(o.out), ".keyage-report-*")
	if err != nil {
		return fmt.Errorf("write report %s: %w", o.out, err)
	}
	defer os.Remove(tmp.Name())
	if err := write(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("write report %s: %w", o.out, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write report %s: %w", o.out, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("write report %s: %w", o.out, err)
	}
	if err := os.Rename(tmp.Name(), o.out); err != nil {
		return fmt.Errorf("write report %s: %w", o.out, err)
	}
	fmt.Fprintf(f.IO.ErrOut, "wrote %s (%d overdue keys, %d exemptions, %d enforcement actions)\n", o.out, rep.OverdueTotal, len(rep.Exemptions), rep.Enforcement.Total)
	return nil
}
