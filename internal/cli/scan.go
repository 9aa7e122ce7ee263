package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyage/keyage/internal/awsenv"
	"github.com/keyage/keyage/internal/config"
	"github.com/keyage/keyage/internal/cycle"
	"github.com/keyage/keyage/internal/output"
	"github.com/keyage/keyage/internal/scan"
)

// defaultConfigPath is read when --config is not given and the file exists.
const defaultConfigPath = "keyage.yaml"

type scanOptions struct {
	configPath     string
	accounts       string
	org            bool
	ou             string
	roleName       string
	externalID     string
	source         string
	maxAge         int
	warnAge        int
	deactivateAge  int
	deleteAge      int
	unusedAge      int
	neverUsedAge   int
	withTags       bool
	output         string
	all            bool
	failOn         string
	concurrency    int
	accountTimeout string
	endpointURL    string
	region         string
	profile        string
}

// newScanCmd builds the command; runF, when not nil, replaces runScan
// (tests of flag parsing).
func newScanCmd(ios *IO, runF func(*scanOptions) error) *cobra.Command {
	o := &scanOptions{}
	cmd := &cobra.Command{
		Use:   "scan",
		Short: "Find active access keys older than the limit in every account",
		Long: `Scan evaluates the AWS Config rule access-keys-rotated over the accounts you
name (--accounts), the whole organization (--org) or one OU's subtree (--ou),
assuming --role-name in each target account. The caller's own account is
scanned with the caller's credentials; with no account flags, only it is.

Data goes to stdout (table, json or csv); progress and logs to stderr.
Exit codes: 0 done; 1 an account could not be scanned; 2 usage or config
error; 3 with --fail-on, a user matched; 4 nothing could be scanned (see
keyage --help).`,
		Example: `  keyage scan --org
  keyage scan --accounts 111111111111,222222222222 --max-age 90 --warn-age 80 -o json
  keyage scan --config keyage.yaml --fail-on non-compliant
  keyage scan --org --fail-on non-compliant,root-keys`,
		Args: cobra.NoArgs,
		RunE: runE(ios, o, runF, runScan),
	}
	addScanFlags(cmd, o)
	addFailOnFlag(cmd, o)
	return cmd
}

// addScanFlags registers the flags that select and tune a scan; scan, run,
// serve, enforce and remediate share them. Their defaults are the config's
// (config.Default): a flag overwrites the config only when it is given.
func addScanFlags(cmd *cobra.Command, o *scanOptions) {
	d := config.Default()
	f := cmd.Flags()
	addConfigFlag(f, &o.configPath)
	f.StringVar(&o.accounts, "accounts", "", "comma-separated account ids to scan")
	f.BoolVar(&o.org, "org", d.Accounts.Organization, "scan every ACTIVE account of the organization (Organizations ListAccounts)")
	f.StringVar(&o.ou, "ou", d.Accounts.OU, "with --org: only the accounts under this OU (ou-...) or root (r-...)")
	f.StringVar(&o.roleName, "role-name", d.Accounts.RoleName, "role to assume in each target account")
	f.StringVar(&o.externalID, "external-id", d.Accounts.ExternalID, "external id for AssumeRole")
	f.StringVar(&o.source, "source", string(d.Scan.Source), "key data source: auto, api or credential-report")
	f.IntVar(&o.maxAge, "max-age", int(d.Rule.MaxAccessKeyAge), "maxAccessKeyAge: days after which an active key is NON_COMPLIANT")
	f.IntVar(&o.warnAge, "warn-age", int(d.Rule.WarnAge), "days after which an active key is in the warning stage (0: off)")
	f.IntVar(&o.deactivateAge, "deactivate-age", int(d.Lifecycle.DeactivateAge), "lifecycle: days after which an active key is due for deactivation (0: off)")
	f.IntVar(&o.deleteAge, "delete-age", int(d.Lifecycle.DeleteAge), "lifecycle: days after which an inactive key is due for deletion (0: off)")
	f.IntVar(&o.unusedAge, "unused-age", int(d.Lifecycle.UnusedAge), "lifecycle: flag active keys unused for this many days (0: off; CIS: 45)")
	f.IntVar(&o.neverUsedAge, "never-used-age", int(d.Lifecycle.NeverUsedAge), "lifecycle: flag active keys never used this many days after creation (0: off)")
	f.BoolVar(&o.withTags, "with-tags", d.Scan.WithTags, "read user tags (api, credential-report: every user; auto: flagged users)")
	addOutputFlags(f, &o.output, &o.all, output.Table, output.JSON, output.CSV, output.ASFF, output.OCSF)
	f.IntVar(&o.concurrency, "concurrency", d.Scan.Concurrency, "accounts scanned at once")
	f.StringVar(&o.accountTimeout, "account-timeout", d.Scan.AccountTimeout.String(), "give up on one account after this long")
	addAWSFlags(f, &o.endpointURL, &o.region, &o.profile)
}

// scanJob is a scan fully resolved from flags and config.
type scanJob struct {
	cfg       *config.Config
	env       awsenv.Options
	assume    awsenv.AssumerOptions
	selection config.Accounts
	scan      scan.Options
	format    output.Format
	table     output.Options
	failOn    failOn
}

// resolveScan reads the config file, writes the flags the user changed over
// it (scanConfigFlags) and validates the result with the config's rules.
// Every value, default included, is then read from the config.
func resolveScan(o *scanOptions, changed func(string) bool) (*scanJob, error) {
	cfg, err := loadConfig(o.configPath)
	if err != nil {
		return nil, usageError(err)
	}
	var problems []error
	if err := applyFlags(cfg, o, changed, scanConfigFlags); err != nil {
		problems = append(problems, err)
	}
	format, err := output.ParseFormat(o.output)
	if err != nil {
		problems = append(problems, fmt.Errorf("--output: %w", err))
	}
	fo, err := parseFailOn(o.failOn)
	if err != nil {
		problems = append(problems, err)
	}
	if len(problems) > 0 {
		return nil, usageError(errors.Join(problems...))
	}
	sel, sc := cfg.Accounts, cfg.Scan
	so, err := cycle.ScanOptions(cfg)
	if err != nil {
		return nil, usageError(err) // the owners' template
	}
	return &scanJob{
		cfg:       cfg,
		env:       awsenv.Options{Profile: o.profile, Region: sc.Region, EndpointURL: sc.EndpointURL},
		assume:    awsenv.AssumerOptions{RoleName: sel.RoleName, ExternalID: sel.ExternalID, SessionName: sel.SessionName},
		selection: sel,
		scan:      so,
		format:    format,
		table:     output.Options{All: o.all},
		failOn:    fo,
	}, nil
}

// loadConfig reads path, or ./keyage.yaml when path is empty and it exists.
func loadConfig(path string) (*config.Config, error) {
	if path == "" {
		if _, err := os.Stat(defaultConfigPath); errors.Is(err, fs.ErrNotExist) {
			return config.Parse(nil, defaultConfigPath)
		}
		path = defaultConfigPath
	}
	return config.Load(path)
}

func runScan(ctx context.Context, ios *IO, o *scanOptions, changed func(string) bool) error {
	job, err := resolveScan(o, changed)
	if err != nil {
		return err
	}
	warnExpiredExemptions(ios.Logger, job.cfg, time.Now())
	// The output is written account by account as the scan goes (spilled,
	// then written in listing order), so that memory does not grow with
	// the organization.
	var stream *output.Stream
	res, err := executeScan(ctx, ios, job, func(assumer *awsenv.Assumer, head *scan.Result) (scan.Sink, error) {
		job.table.Region, job.table.Version = assumer.Base().Region, version() // -o asff, -o ocsf
		var err error
		stream, err = output.NewStream(ios.Out, job.format, head, job.table, "")
		if err != nil {
			return nil, err
		}
		return stream.Add, nil
	})
	if err != nil {
		if stream != nil {
			_ = stream.Discard()
		}
		return err
	}
	if err := stream.Close(res); err != nil {
		return err
	}
	return scanExit(res, job.failOn)
}

// scanExit maps a result to the exit code: 1 wins over 3.
func scanExit(res *scan.Result, fo failOn) error {
	if res.Summary.AccountsFailed > 0 {
		return &ExitError{Code: ExitAccountError}
	}
	if m := fo.matched(res); len(m) > 0 {
		return &ExitError{Code: ExitNonCompliant, Err: fmt.Errorf("--fail-on matched: %s", strings.Join(m, ", "))}
	}
	return nil
}

// executeScan resolves the accounts and scans them, handing each
// account's evaluations to the sink that sink makes once the caller's
// Assumer is known (it gives the region of finding formats) and the
// result's head is.
func executeScan(ctx context.Context, ios *IO, job *scanJob, sink func(*awsenv.Assumer, *scan.Result) (scan.Sink, error)) (*scan.Result, error) {
	log := ios.Logger
	base, err := awsenv.Load(ctx, job.env)
	if err != nil {
		return nil, err
	}
	assumer, err := awsenv.NewAssumer(ctx, base, job.assume)
	if err != nil {
		return nil, err
	}
	accounts, err := cycle.AccountSeq(ctx, assumer, job.selection, cycle.UsesOUs(job.cfg))
	if err != nil {
		return nil, err
	}
	log.Info("scanning", "source", job.scan.Source, "caller", assumer.CallerARN())
	so := job.scan
	so.Now = time.Now()
	so.Logger = log
	add, err := sink(assumer, scan.NewResult(so))
	if err != nil {
		return nil, err
	}
	bar := ios.display().Start("accounts")
	so.Progress = bar.Update
	res, err := scan.Stream(ctx, assumer, accounts, so, add)
	bar.Finish()
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("scan interrupted: %w", err)
	}
	return res, nil
}
