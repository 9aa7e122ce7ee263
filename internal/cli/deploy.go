package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/keyage/keyage/internal/awsenv"
	"github.com/keyage/keyage/internal/deploy"
	"github.com/keyage/keyage/internal/output"
)

// newDeployCmd is the parent of the commands that deploy keyage's AWS-native
// architecture (the seed's master stack and target StackSet).
func newDeployCmd(ios *IO) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "deploy",
		Short: "Deploy the AWS-native architecture: Config rule, SSM remediation, central SNS topic",
		Long: `The AWS-native deployment runs the seed's architecture inside AWS: in every
target account the AWS Config rule access-keys-rotated with an automatic SSM
remediation that publishes each non-compliant user to an SNS topic in the
master account, rolled out with a CloudFormation StackSet, plus the read-only
role "keyage scan" assumes. See docs/deployment.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newDeployRenderCmd(ios), newDeployMasterCmd(ios), newDeployTargetsCmd(ios), newDeployTargetCmd(ios), newDeployPreflightCmd(ios), newDeployStatusCmd(ios))
	return cmd
}

type deployRenderOptions struct {
	out      string
	format   string
	template string
}

func newDeployRenderCmd(ios *IO) *cobra.Command {
	o := &deployRenderOptions{}
	cmd := &cobra.Command{
		Use:   "render",
		Short: "Write the CloudFormation templates: master.yaml (master stack) and target.yaml (StackSet)",
		Args:  cobra.NoArgs,
		Example: `  keyage deploy render --out cfn/
  keyage deploy render --out cfn/ --format json
  keyage deploy render --template target > target.yaml`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDeployRender(cmd.Context(), ios, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.out, "out", "", "directory to write the templates to (created if missing)")
	f.StringVar(&o.format, "format", "yaml", "yaml or json")
	f.StringVar(&o.template, "template", "", "only this template: master or target; without --out it goes to stdout")
	return cmd
}

func runDeployRender(_ context.Context, ios *IO, o *deployRenderOptions) error {
	format, err := deploy.ParseFormat(o.format)
	if err != nil {
		return usageError(fmt.Errorf("--format: %w", err))
	}
	if o.template != "" && o.template != "master" && o.template != "target" {
		return usageError(fmt.Errorf("--template %q: want master or target", o.template))
	}
	if o.out == "" && o.template == "" {
		return usageError(errors.New("give --out DIR, or --template master|target to print one template"))
	}
	files, err := deploy.Render(format)
	if err != nil {
		return err
	}
	if o.out != "" {
		if err := os.MkdirAll(o.out, 0o755); err != nil {
			return fmt.Errorf("create output directory: %w", err)
		}
	}
	for _, file := range files {
		if o.template != "" && file.Name != o.template+"."+string(format) {
			continue
		}
		if o.out == "" {
			if _, err := ios.Out.Write(file.Data); err != nil {
				return err
			}
			continue
		}
		path := filepath.Join(o.out, file.Name)
		if err := os.WriteFile(path, file.Data, 0o644); err != nil {
			return fmt.Errorf("write template: %w", err)
		}
		ios.Logger.Info("wrote template", "path", path)
	}
	return nil
}

// deployEnv is how deploy and destroy reach AWS.
type deployEnv struct {
	profile, region, endpointURL string
}

func (e *deployEnv) flags(f *pflag.FlagSet) {
	addAWSFlags(f, &e.endpointURL, &e.region, &e.profile)
}

// addMasterStackFlag declares --stack-name, the master stack's name.
func addMasterStackFlag(f *pflag.FlagSet, p *string) {
	f.StringVar(p, "stack-name", deploy.DefaultMasterStack, "name of the master stack")
}

// addStackSetFlag declares --stack-set-name, the target StackSet's name.
func addStackSetFlag(f *pflag.FlagSet, p *string) {
	f.StringVar(p, "stack-set-name", deploy.DefaultTargetStackSet, "name of the StackSet")
}

func (e *deployEnv) load(ctx context.Context) (aws.Config, error) {
	cfg, err := awsenv.Load(ctx, awsenv.Options{Profile: e.profile, Region: e.region, EndpointURL: e.endpointURL})
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS configuration: %w", err)
	}
	return cfg, nil
}

// deployer builds a Deployer reporting progress on stderr.
func (e *deployEnv) deployer(ctx context.Context, ios *IO) (*deploy.Deployer, aws.Config, error) {
	cfg, err := e.load(ctx)
	if err != nil {
		return nil, cfg, err
	}
	return &deploy.Deployer{
		CFN:      cloudformation.NewFromConfig(cfg),
		Progress: func(line string) { fmt.Fprintln(ios.ErrOut, line) },
	}, cfg, nil
}

// failed marks err as a failed operation (exit 1), keeping CloudFormation's own words.
func failed(err error) error {
	if err == nil {
		return nil
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return err
	}
	return &ExitError{Code: ExitAccountError, Err: err}
}

// --- keyage deploy master ---

type deployMasterOptions struct {
	env    deployEnv
	master deploy.MasterOptions
}

func newDeployMasterCmd(ios *IO) *cobra.Command {
	o := &deployMasterOptions{}
	cmd := &cobra.Command{
		Use:   "master",
		Short: "Create or update the master stack (the central SNS topic); prints the topic ARN",
		Long: `Create or update the master stack in the current account through a change set:
CREATE when the stack does not exist, UPDATE otherwise ("no changes" when the
template and parameters are already deployed). Progress (the change set, then
every stack event) goes to stderr; the TopicArn output, the --topic-arn of
"keyage deploy targets", to stdout. On failure, the resources that failed are
shown with CloudFormation's reasons, and the exit status is 1.`,
		Args: cobra.NoArgs,
		Example: `  keyage deploy master --target-accounts 222222222222,333333333333
  keyage deploy master --organization-id o-abcdefghij --email secops@example.com --subscribe-queue`,
		RunE: func(cmd *cobra.Command, _ []string) error { return runDeployMaster(cmd.Context(), ios, o) },
	}
	f := cmd.Flags()
	f.StringSliceVar(&o.master.TargetAccounts, "target-accounts", nil, "accounts allowed to publish to the topic, comma separated")
	f.StringVar(&o.master.OrganizationID, "organization-id", "", "o-...: every account of the organization may publish instead")
	f.StringVar(&o.master.Email, "email", "", "subscribe this address to the topic (it must confirm)")
	f.StringVar(&o.master.KmsKey, "kms-key", "create", "encrypt the topic: create (a customer-managed key), a key ARN, or none; alias/aws/sns cannot serve")
	f.BoolVar(&o.master.EventsReceiver, "events-receiver", false, "accept the targets' EventBridge events on the default bus and queue them for keyage serve --events-queue")
	f.BoolVar(&o.master.SubscribeQueue, "subscribe-queue", false, "create an SQS queue subscribed to the topic (for keyage remediate --events-queue)")
	addMasterStackFlag(f, &o.master.StackName)
	f.StringVar(&o.master.TopicName, "topic-name", deploy.DefaultTopicName, "name of the topic (and of the queue)")
	o.env.flags(f)
	return cmd
}

func runDeployMaster(ctx context.Context, ios *IO, o *deployMasterOptions) error {
	if err := o.master.Validate(); err != nil {
		return usageError(err)
	}
	d, _, err := o.env.deployer(ctx, ios)
	if err != nil {
		return err
	}
	res, err := d.DeployMaster(ctx, o.master)
	if err != nil {
		return failed(err)
	}
	switch {
	case res.NoChanges:
		fmt.Fprintf(ios.ErrOut, "stack %s: no changes (%s)\n", res.StackName, res.Status)
	default:
		fmt.Fprintf(ios.ErrOut, "stack %s: %s\n", res.StackName, res.Status)
	}
	if k := res.Outputs[deploy.OutputKmsKeyArn]; k != "" {
		fmt.Fprintf(ios.ErrOut, "topic key: %s (keyage deploy targets --topic-kms-key-arn)\n", k)
	}
	if q := res.Outputs[deploy.OutputEventsQueueURL]; q != "" {
		fmt.Fprintf(ios.ErrOut, "events queue: %s (keyage serve --events-queue)\n", q)
	}
	if q := res.Outputs[deploy.OutputQueueURL]; q != "" {
		fmt.Fprintf(ios.ErrOut, "queue: %s\n", q)
	}
	_, err = fmt.Fprintln(ios.Out, res.Outputs[deploy.OutputTopicArn])
	return err
}

// --- keyage deploy targets ---

type deployTargetsOptions struct {
	env     deployEnv
	targets deploy.TargetsOptions
	prefs   prefFlags
	callAs  string

	skipPreflight bool
}

// prefFlags are the StackSet operation preferences as flags; only the flags given are sent.
type prefFlags struct {
	maxCount, maxPct, tolCount, tolPct int32
	concurrency                        string
	flags                              *pflag.FlagSet
}

func (p *prefFlags) register(f *pflag.FlagSet) {
	p.flags = f
	f.Int32Var(&p.maxCount, "max-concurrent-count", 1, "instances deployed at the same time")
	f.Int32Var(&p.maxPct, "max-concurrent-percentage", 0, "instead of a count: percentage of the instances deployed at the same time")
	f.Int32Var(&p.tolCount, "failure-tolerance-count", 0, "failed instances tolerated before the operation stops")
	f.Int32Var(&p.tolPct, "failure-tolerance-percentage", 0, "instead of a count: percentage of failed instances tolerated")
	f.StringVar(&p.concurrency, "region-concurrency", "", "SEQUENTIAL (default) or PARALLEL")
}

func (p *prefFlags) preferences() deploy.Preferences {
	ptr := func(name string, v int32) *int32 {
		if p.flags.Changed(name) {
			return &v
		}
		return nil
	}
	return deploy.Preferences{
		MaxConcurrentCount: ptr("max-concurrent-count", p.maxCount), MaxConcurrentPercentage: ptr("max-concurrent-percentage", p.maxPct),
		FailureToleranceCount: ptr("failure-tolerance-count", p.tolCount), FailureTolerancePercentage: ptr("failure-tolerance-percentage", p.tolPct),
		RegionConcurrency: strings.ToUpper(p.concurrency),
	}
}

func newDeployTargetsCmd(ios *IO) *cobra.Command {
	o := &deployTargetsOptions{}
	cmd := &cobra.Command{
		Use:   "targets",
		Short: "Create or update the target StackSet and its instances (Config rule, SSM remediation, audit role)",
		Long: `Create or update the target StackSet and its stack instances, and follow every
operation to its end: UpdateStackSet when the StackSet exists (its instances are
updated), then CreateStackInstances for the account/region pairs that have none.

With --accounts the StackSet is self-managed: the administration role
(--admin-role-arn, default AWSCloudFormationStackSetAdministrationRole in this
account) and the execution role (--execution-role-name, default
AWSCloudFormationStackSetExecutionRole) in every target account must exist, as
AWS's StackSet prerequisites describe. With --org-units it is service-managed
(AWS Organizations, automatic deployment to accounts joining the OUs).

Each instance's status and reason is printed on stdout; progress on stderr. The
exit status is 1 when an operation fails or an instance is not CURRENT.`,
		Args: cobra.NoArgs,
		Example: `  keyage deploy targets --topic-arn arn:aws:sns:us-east-1:111111111111:access-key-rotation \
      --accounts 222222222222,333333333333 --regions us-east-1
  keyage deploy targets --topic-arn ARN --org-units ou-ab12-cdef3456 --regions us-east-1 \
      --max-access-key-age 60 --max-concurrent-percentage 25 --failure-tolerance-percentage 10`,
		RunE: func(cmd *cobra.Command, _ []string) error { return runDeployTargets(cmd.Context(), ios, o) },
	}
	o.register(cmd.Flags())
	cmd.Flags().BoolVar(&o.skipPreflight, "skip-preflight", false, "do not run keyage deploy preflight first")
	return cmd
}

// register adds the flags deploy targets and deploy preflight share.
func (o *deployTargetsOptions) register(f *pflag.FlagSet) {
	t := &o.targets
	f.StringVar(&t.TopicArn, "topic-arn", "", "the master topic: the output of keyage deploy master (required)")
	f.StringSliceVar(&t.Accounts, "accounts", nil, "target accounts, comma separated (self-managed StackSet)")
	f.StringSliceVar(&t.OrganizationalUnits, "org-units", nil, "target organizational units ou-..., comma separated (service-managed StackSet)")
	f.StringSliceVar(&t.Regions, "regions", nil, "regions of the instances, comma separated (required); IAM is global: one region per account is usual")
	f.StringVar(&t.AdministrationRoleARN, "admin-role-arn", "", "administration role of a self-managed StackSet (default arn:aws:iam::<this account>:role/"+deploy.StackSetAdministrationRole+")")
	f.StringVar(&t.ExecutionRoleName, "execution-role-name", "", "execution role of a self-managed StackSet (default "+deploy.StackSetExecutionRole+")")
	f.IntVar(&t.MaxAccessKeyAge, "max-access-key-age", 90, "days a key may be old and compliant (the rule's maxAccessKeyAge)")
	f.StringVar(&t.MaximumExecutionFrequency, "maximum-execution-frequency", "TwentyFour_Hours", "how often AWS Config evaluates the rule: "+strings.Join(deploy.ExecutionFrequencies, ", "))
	f.StringVar(&t.MasterAccountID, "master-account-id", "", "the account keyage scans from, trusted by the audit role (default: this account)")
	f.StringVar(&t.OwnerTagKey, "owner-tag-key", "", "the automation names the user's owner from this tag")
	f.StringVar(&t.ExternalID, "external-id", "", "assuming the audit role requires this sts:ExternalId")
	f.StringVar(&t.AuditRoleName, "audit-role-name", deploy.DefaultAuditRoleName, "name of the read-only role the StackSet creates")
	addStackSetFlag(f, &t.StackSetName)
	f.StringVar(&t.TopicKmsKeyArn, "topic-kms-key-arn", "", "the key encrypting the topic (the KmsKeyArn keyage deploy master prints): the remediation role may use it")
	f.BoolVar(&t.ForwardEvents, "forward-events", false, "forward IAM and compliance changes from us-east-1 to the master's event bus (deploy master --events-receiver)")
	f.BoolVar(&t.EnableEnforcement, "enable-enforcement", false, "create "+deploy.DefaultEnforceRoleName+" in each target (keyage enforce assumes it)")
	f.BoolVar(&t.EnableFindings, "enable-findings", false, "create "+deploy.DefaultFindingsRoleName+" in each target (the securityhub receiver assumes it)")
	f.StringVar(&o.callAs, "call-as", "", "SELF or DELEGATED_ADMIN (default: DELEGATED_ADMIN with --org-units when this account is not the management account)")
	o.prefs.register(f)
	o.env.flags(f)
}

// delegatedAdmin tells whether account is not the organization's management account (so a
// service-managed StackSet is operated as its delegated administrator).
func delegatedAdmin(ctx context.Context, cfg aws.Config, account string) (bool, error) {
	org, err := organizations.NewFromConfig(cfg).DescribeOrganization(ctx, &organizations.DescribeOrganizationInput{})
	if err != nil {
		return false, fmt.Errorf("describe the organization (for --call-as): %w", awsenv.Simplify(err))
	}
	return aws.ToString(org.Organization.MasterAccountId) != account, nil
}

func runDeployTargets(ctx context.Context, ios *IO, o *deployTargetsOptions) error {
	o.targets.Preferences = o.prefs.preferences()
	o.targets.CallAs = cfntypes.CallAs(strings.ToUpper(o.callAs))
	if err := o.targets.Validate(); err != nil {
		return usageError(err)
	}
	d, cfg, err := o.env.deployer(ctx, ios)
	if err != nil {
		return err
	}
	id, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return failed(fmt.Errorf("find this account: %w", awsenv.Simplify(err)))
	}
	if o.targets.MasterAccountID == "" {
		o.targets.MasterAccountID = aws.ToString(id.Account)
	}
	if o.targets.CallAs == "" && o.targets.ServiceManaged() {
		delegated, err := delegatedAdmin(ctx, cfg, aws.ToString(id.Account))
		if err != nil {
			return failed(err)
		}
		if delegated {
			o.targets.CallAs = cfntypes.CallAsDelegatedAdmin
			fmt.Fprintf(ios.ErrOut, "account %s is not the management account: calling as its delegated administrator (CallAs DELEGATED_ADMIN)\n", aws.ToString(id.Account))
		}
	}
	d.CallAs = o.targets.CallAs
	if !o.skipPreflight {
		fmt.Fprintln(ios.ErrOut, "preflight (--skip-preflight to skip):")
		if err := preflight(ctx, ios.ErrOut, d, cfg, o.targets); err != nil {
			return err
		}
	}
	res, err := d.DeployTargets(ctx, o.targets)
	if res != nil {
		writeInstances(ios.Out, res.Instances, false)
	}
	return failed(err)
}

func writeInstances(w io.Writer, ins []deploy.Instance, drift bool) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	head := "ACCOUNT\tREGION\tSTATUS\tDETAILED\t"
	if drift {
		head += "DRIFT\t"
	}
	fmt.Fprintln(tw, head+"REASON")
	for _, in := range ins {
		acct := in.Account
		if in.OU != "" {
			acct += " (" + in.OU + ")"
		}
		line := acct + "\t" + in.Region + "\t" + in.Status + "\t" + in.DetailedStatus + "\t"
		if drift {
			line += in.Drift + "\t"
		}
		fmt.Fprintln(tw, line+in.Reason)
	}
	tw.Flush()
}

// --- keyage deploy status ---

type deployStatusOptions struct {
	env        deployEnv
	stack, set string
	drift      bool
	output     string
}

func newDeployStatusCmd(ios *IO) *cobra.Command {
	o := &deployStatusOptions{}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the master stack and the target StackSet: status, outputs, instances, drift",
		Args:  cobra.NoArgs,
		Example: `  keyage deploy status
  keyage deploy status --drift
  keyage deploy status -o json | jq -r '.StackSet.Instances[] | select(.Status != "CURRENT") | .Account'`,
		RunE: func(cmd *cobra.Command, _ []string) error { return runDeployStatus(cmd.Context(), ios, o) },
	}
	f := cmd.Flags()
	addOutputFlags(f, &o.output, nil, output.Table, output.JSON, output.CSV)
	f.BoolVar(&o.drift, "drift", false, "detect drift of the stack and the StackSet's instances first")
	addMasterStackFlag(f, &o.stack)
	addStackSetFlag(f, &o.set)
	o.env.flags(f)
	return cmd
}

func runDeployStatus(ctx context.Context, ios *IO, o *deployStatusOptions) error {
	d, _, err := o.env.deployer(ctx, ios)
	if err != nil {
		return err
	}
	st, err := d.Stack(ctx, o.stack, o.drift)
	if err != nil {
		return failed(err)
	}
	ss, err := d.StackSet(ctx, o.set, o.drift)
	if err != nil {
		return failed(err)
	}
	switch output.Format(o.output) {
	case output.JSON:
		return writeDeployStatusJSON(ios.Out, o.stack, o.set, st, ss)
	case output.CSV:
		return writeCSV(ios.Out, deployStatusRows(o.stack, o.set, st, ss))
	}
	w := ios.Out
	if st == nil {
		fmt.Fprintf(w, "Master stack %s: not deployed\n", o.stack)
	} else {
		fmt.Fprintf(w, "Master stack %s: %s\n", st.Name, st.Status)
		if st.Reason != "" {
			fmt.Fprintf(w, "  reason: %s\n", st.Reason)
		}
		for _, f := range st.Failures {
			fmt.Fprintf(w, "  failed: %s\n", f)
		}
		for _, k := range sortedKeys(st.Outputs) {
			fmt.Fprintf(w, "  %s: %s\n", k, st.Outputs[k])
		}
		if o.drift || st.Drift != "NOT_CHECKED" {
			fmt.Fprintf(w, "  drift: %s (%d resources drifted)\n", st.Drift, st.DriftedResources)
		}
	}
	if ss == nil {
		fmt.Fprintf(w, "StackSet %s: not deployed\n", o.set)
		return nil
	}
	fmt.Fprintf(w, "StackSet %s: %s, %s, %d instance(s)\n", ss.Name, ss.Status, ss.PermissionModel, len(ss.Instances))
	for _, k := range []string{deploy.ParamMaxAccessKeyAge, deploy.ParamMaximumExecutionFrequency, deploy.ParamSNSTopicArn} {
		if v, ok := ss.Parameters[k]; ok {
			fmt.Fprintf(w, "  %s: %s\n", k, v)
		}
	}
	if o.drift || ss.Drift != "NOT_CHECKED" {
		fmt.Fprintf(w, "  drift: %s (%d in sync, %d drifted, %d failed)\n", ss.Drift, ss.InSyncInstances, ss.DriftedInstances, ss.DriftFailedInstances)
	}
	if len(ss.Instances) > 0 {
		writeInstances(w, ss.Instances, o.drift)
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// --- keyage destroy ---

// newDestroyCmd is the parent of the commands that remove the AWS-native deployment.
func newDestroyCmd(ios *IO) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "destroy",
		Short: "Remove the AWS-native deployment: the target StackSet, then the master stack",
		Long: `Remove what "keyage deploy" created, as the seed's cleanup describes: first
the StackSet's instances and the StackSet ("keyage destroy targets"), or the
single-account stack ("keyage destroy target --account-stack"), then the master
stack with its topic ("keyage destroy master").`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newDestroyTargetsCmd(ios), newDestroyTargetCmd(ios), newDestroyMasterCmd(ios))
	return cmd
}

type destroyTargetsOptions struct {
	env   deployEnv
	set   string
	prefs prefFlags
}

func newDestroyTargetsCmd(ios *IO) *cobra.Command {
	o := &destroyTargetsOptions{}
	cmd := &cobra.Command{
		Use:   "targets",
		Short: "Delete every instance of the target StackSet (and its stack), then the StackSet",
		Example: `  # delete the instances one account at a time, then the StackSet
  keyage destroy targets
  # faster: ten accounts at once, in every region at the same time
  keyage destroy targets --max-concurrent-count 10 --region-concurrency PARALLEL`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runDestroyTargets(cmd.Context(), ios, o) },
	}
	f := cmd.Flags()
	addStackSetFlag(f, &o.set)
	o.prefs.register(f)
	o.env.flags(f)
	return cmd
}

func runDestroyTargets(ctx context.Context, ios *IO, o *destroyTargetsOptions) error {
	prefs := o.prefs.preferences()
	if err := prefs.Validate(); err != nil {
		return usageError(err)
	}
	d, _, err := o.env.deployer(ctx, ios)
	if err != nil {
		return err
	}
	res, err := d.DestroyTargets(ctx, o.set, prefs)
	if err != nil {
		if res != nil && len(res.Instances) > 0 {
			writeInstances(ios.Out, res.Instances, false)
		}
		return failed(err)
	}
	if res.NotFound {
		fmt.Fprintf(ios.ErrOut, "StackSet %s does not exist: nothing to destroy\n", o.set)
	}
	return nil
}

type destroyMasterOptions struct {
	env        deployEnv
	stack, set string
	force      bool
}

func newDestroyMasterCmd(ios *IO) *cobra.Command {
	o := &destroyMasterOptions{}
	cmd := &cobra.Command{
		Use:   "master",
		Short: "Delete the master stack (topic, policy, subscriptions, queue)",
		Example: `  # after "keyage destroy targets"
  keyage destroy master
  # a master stack deployed under another name, while target instances remain
  keyage destroy master --stack-name KeyRotationMaster --force`,
		Long: `Delete the master stack and wait until it is gone. While the target StackSet
still has instances (their remediations publish to the topic), the deletion is
refused and the instances are named; "keyage destroy targets" first, or --force.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runDestroyMaster(cmd.Context(), ios, o) },
	}
	f := cmd.Flags()
	f.BoolVar(&o.force, "force", false, "delete even while StackSet instances still exist")
	addMasterStackFlag(f, &o.stack)
	f.StringVar(&o.set, "stack-set-name", deploy.DefaultTargetStackSet, "name of the StackSet checked for instances")
	o.env.flags(f)
	return cmd
}

func runDestroyMaster(ctx context.Context, ios *IO, o *destroyMasterOptions) error {
	d, _, err := o.env.deployer(ctx, ios)
	if err != nil {
		return err
	}
	res, err := d.DestroyMaster(ctx, o.stack, o.set, o.force)
	return stackDestroyed(ios, o.stack, res, err)
}

type destroyTargetOptions struct {
	env          deployEnv
	stack        string
	accountStack bool
}

func newDestroyTargetCmd(ios *IO) *cobra.Command {
	o := &destroyTargetOptions{}
	cmd := &cobra.Command{
		Use:   "target",
		Short: "Delete the single-account stack of keyage deploy target --account-stack",
		Long: `Delete the stack "keyage deploy target --account-stack" created in this account
(Config rule, SSM remediation, audit role and, when enabled, the enforcement and
findings roles) and wait until it is gone.`,
		Example: `  keyage destroy target --account-stack`,
		Args:    cobra.NoArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return runDestroyTarget(cmd.Context(), ios, o) },
	}
	f := cmd.Flags()
	f.BoolVar(&o.accountStack, "account-stack", false, "delete the stack in this account (required: the only mode)")
	f.StringVar(&o.stack, "stack-name", deploy.DefaultAccountStack, "name of the stack")
	o.env.flags(f)
	return cmd
}

func runDestroyTarget(ctx context.Context, ios *IO, o *destroyTargetOptions) error {
	if !o.accountStack {
		return usageError(fmt.Errorf("give --account-stack (the stack in this account), or use keyage destroy targets for the StackSet"))
	}
	d, _, err := o.env.deployer(ctx, ios)
	if err != nil {
		return err
	}
	res, err := d.DestroyAccountStack(ctx, o.stack)
	return stackDestroyed(ios, o.stack, res, err)
}

// stackDestroyed reports the deletion of one stack on stderr.
func stackDestroyed(ios *IO, stack string, res *deploy.StackResult, err error) error {
	if err != nil {
		return failed(err)
	}
	if res.NotFound {
		fmt.Fprintf(ios.ErrOut, "stack %s does not exist: nothing to destroy\n", stack)
		return nil
	}
	fmt.Fprintf(ios.ErrOut, "stack %s: %s\n", res.StackName, res.Status)
	return nil
}
