package cli

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/spf13/cobra"

	"github.com/keyage/keyage/internal/output"
)

type demoOptions struct {
	accounts int
	users    int
	seed     int64
	output   string
}

func newDemoCmd(ios *IO) *cobra.Command {
	o := &demoOptions{}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run keyage end to end against an in-process sandbox organization",
		Long: `Demo starts a sandbox organization in this process (no AWS account, no
network) and scans every account of it the way "keyage scan --org" scans a real
organization: assuming the audit role in each account, reading the credential
report, re-checking flagged users in real time and applying the rule.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDemo(cmd.Context(), ios, o)
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.accounts, "accounts", 12, "accounts in the sandbox organization")
	f.IntVar(&o.users, "users", 40, "IAM users per account")
	f.Int64Var(&o.seed, "seed", 1, "random seed of the generated organization")
	f.StringVarP(&o.output, "output", "o", string(output.Table), "output format: table, json or csv")
	return cmd
}

func runDemo(ctx context.Context, ios *IO, o *demoOptions) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	srv, err := newSandbox(&sandboxOptions{accounts: o.accounts, users: o.users, seed: o.seed}, ios)
	if err != nil {
		return err
	}
	url, wait, err := startSandbox(ctx, srv, "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer func() { cancel(); _ = wait() }()

	id, secret := srv.ManagementCredentials()
	fmt.Fprintf(ios.ErrOut, "keyage demo: sandbox organization of %d accounts x %d users at %s (management account %s)\n",
		o.accounts, o.users, url, srv.ManagementAccountID())
	fmt.Fprintf(ios.ErrOut, "keyage demo: scanning it like \"keyage scan --org --max-age 90 --warn-age 80\"\n\n")

	so := &scanOptions{
		org: true, roleName: "KeyageAuditRole", source: "auto", maxAge: 90, warnAge: 80, output: o.output,
		concurrency: 16, accountTimeout: "2m", endpointURL: url, region: "us-east-1",
		staticCredentials: &aws.Credentials{AccessKeyID: id, SecretAccessKey: secret}, skipConfig: true,
	}
	set := map[string]bool{"org": true, "role-name": true, "source": true, "max-age": true, "warn-age": true, "concurrency": true, "account-timeout": true}
	job, err := resolveScan(so, func(name string) bool { return set[name] })
	if err != nil {
		return err
	}
	res, _, err := executeScan(ctx, ios, job)
	if err != nil {
		return err
	}
	if err := output.Write(ios.Out, job.format, res, job.table); err != nil {
		return err
	}
	if o.output == string(output.Table) {
		fmt.Fprintf(ios.Out, "\nThe sandbox leaves one account without the audit role on purpose: it shows how a broken account is reported while every other account is still scanned.\nNext: keyage scan --help, or point keyage at your organization: keyage scan --org\n")
	}
	return nil
}
