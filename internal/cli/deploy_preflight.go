package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/spf13/cobra"

	"github.com/keyage/keyage/internal/awsenv"
	"github.com/keyage/keyage/internal/deploy"
)

func newDeployPreflightCmd(ios *IO) *cobra.Command {
	o := &deployTargetsOptions{}
	cmd := &cobra.Command{
		Use:   "preflight",
		Short: "Check the prerequisites of keyage deploy targets: Config recorders, StackSet roles, regions, collisions",
		Long: `Check, before anything is created, what "keyage deploy targets" needs, with the
same flags: in the master account and in each target account (reached through
the StackSet execution role, else the audit role) and region, AWS Config
recording IAM users; for a self-managed StackSet, the administration role
(trusting cloudformation.amazonaws.com) and the execution role in each target
(trusting this account); for a service-managed one, trusted access for
member.org.stacksets.cloudformation.amazonaws.com and, when this is not the
management account, its registration as delegated administrator; the topic's
region among --regions; every resource type of the target template offered in
each region (cloudformation DescribeType); an existing access-keys-rotated rule
or audit role the StackSet would collide with. One line per check on stdout,
ok or FAIL with the fix. Exit status 3 when a check fails.

"keyage deploy targets" runs it first unless --skip-preflight.`,
		Args: cobra.NoArgs,
		Example: `  keyage deploy preflight --topic-arn arn:aws:sns:us-east-1:111111111111:access-key-rotation \
      --accounts 222222222222,333333333333 --regions us-east-1`,
		RunE: func(cmd *cobra.Command, _ []string) error { return runDeployPreflight(cmd.Context(), ios, o) },
	}
	o.register(cmd.Flags())
	return cmd
}

func runDeployPreflight(ctx context.Context, ios *IO, o *deployTargetsOptions) error {
	o.targets.Preferences = o.prefs.preferences()
	if err := o.targets.Validate(); err != nil {
		return usageError(err)
	}
	d, cfg, err := o.env.deployer(ctx, ios)
	if err != nil {
		return err
	}
	return preflight(ctx, ios.Out, d, cfg, o.targets)
}

// preflight runs the checks, writes them to w and returns an exit-3 error when one fails.
func preflight(ctx context.Context, w io.Writer, d *deploy.Deployer, cfg aws.Config, t deploy.TargetsOptions) error {
	master := t.MasterAccountID
	if master == "" {
		id, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			return failed(fmt.Errorf("find this account: %w", awsenv.Simplify(err)))
		}
		master = aws.ToString(id.Account)
	}
	partition := "aws"
	if p := strings.Split(t.TopicArn, ":"); len(p) > 1 {
		partition = p[1]
	}
	pf := &deploy.Preflight{Master: cfg, MasterAccountID: master, Deployer: d,
		Assume: func(ctx context.Context, account, role, externalID string) (aws.Config, error) {
			p := stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), "arn:"+partition+":iam::"+account+":role/"+role,
				func(o *stscreds.AssumeRoleOptions) {
					o.RoleSessionName = "keyage-preflight"
					if externalID != "" {
						o.ExternalID = aws.String(externalID)
					}
				})
			c := cfg.Copy()
			c.Credentials = aws.NewCredentialsCache(p)
			if _, err := c.Credentials.Retrieve(ctx); err != nil {
				return aws.Config{}, awsenv.Simplify(err)
			}
			return c, nil
		}}
	checks := pf.Run(ctx, t)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	n := 0
	for _, c := range checks {
		where := c.Account
		if c.Region != "" {
			where += "/" + c.Region
		}
		status := "ok"
		line := c.Detail
		if !c.OK {
			status, n = "FAIL", n+1
			line += "; fix: " + c.Fix
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", status, c.Name, where, line)
	}
	tw.Flush()
	if n > 0 {
		return &ExitError{Code: ExitNonCompliant, Err: fmt.Errorf("preflight: %d check(s) failed", n)}
	}
	return nil
}

// --- keyage deploy target --account-stack ---

type deployTargetOptions struct {
	deployTargetsOptions
	accountStack bool
	stackName    string
}

func newDeployTargetCmd(ios *IO) *cobra.Command {
	o := &deployTargetOptions{}
	cmd := &cobra.Command{
		Use:   "target",
		Short: "Deploy the target template as one stack in this account (--account-stack), without a StackSet",
		Long: `Create or update the target template (Config rule, SSM remediation, audit role and,
with --enable-enforcement, the enforcement role) as one CloudFormation stack in the
current account and region, for teams without StackSets, as the seed's
single-account template does. The region must be the topic's.`,
		Args:    cobra.NoArgs,
		Example: `  keyage deploy target --account-stack --topic-arn arn:aws:sns:us-east-1:111111111111:access-key-rotation --master-account-id 111111111111`,
		RunE:    func(cmd *cobra.Command, _ []string) error { return runDeployTarget(cmd.Context(), ios, o) },
	}
	o.register(cmd.Flags())
	cmd.Flags().BoolVar(&o.accountStack, "account-stack", false, "deploy one stack in this account (required: the only mode)")
	cmd.Flags().StringVar(&o.stackName, "stack-name", deploy.DefaultAccountStack, "name of the stack")
	return cmd
}

func runDeployTarget(ctx context.Context, ios *IO, o *deployTargetOptions) error {
	if !o.accountStack {
		return usageError(fmt.Errorf("give --account-stack (one stack in this account), or use keyage deploy targets for a StackSet"))
	}
	if len(o.targets.Accounts) > 0 || len(o.targets.OrganizationalUnits) > 0 {
		return usageError(fmt.Errorf("--account-stack deploys in this account: --accounts and --org-units do not apply"))
	}
	d, cfg, err := o.env.deployer(ctx, ios)
	if err != nil {
		return err
	}
	if r := strings.Split(o.targets.TopicArn, ":"); len(r) == 6 && r[3] != cfg.Region {
		return usageError(fmt.Errorf("--topic-arn %s is in %s, the stack would be in %s: SNS refuses publishing to another region's topic (--region %s)", o.targets.TopicArn, r[3], cfg.Region, r[3]))
	}
	if o.targets.MasterAccountID == "" {
		id, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			return failed(fmt.Errorf("find this account: %w", awsenv.Simplify(err)))
		}
		o.targets.MasterAccountID = aws.ToString(id.Account)
	}
	res, err := d.DeployAccountStack(ctx, o.stackName, o.targets)
	if err != nil {
		return failed(err)
	}
	fmt.Fprintf(ios.ErrOut, "stack %s: %s\n", res.StackName, res.Status)
	for _, k := range sortedKeys(res.Outputs) {
		fmt.Fprintf(ios.Out, "%s\t%s\n", k, res.Outputs[k])
	}
	return nil
}
