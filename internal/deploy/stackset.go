package deploy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"

	"github.com/keyage/keyage/internal/awsenv"
)

// Preferences are a StackSet operation's preferences; nil fields are AWS's defaults (one
// instance at a time, no failure tolerated).
type Preferences struct {
	MaxConcurrentCount, MaxConcurrentPercentage       *int32
	FailureToleranceCount, FailureTolerancePercentage *int32
	// RegionConcurrency is SEQUENTIAL (default) or PARALLEL.
	RegionConcurrency string
}

// Validate checks the combinations AWS refuses.
func (p Preferences) Validate() error {
	var errs []error
	if p.MaxConcurrentCount != nil && p.MaxConcurrentPercentage != nil {
		errs = append(errs, errors.New("--max-concurrent-count and --max-concurrent-percentage are exclusive"))
	}
	if p.FailureToleranceCount != nil && p.FailureTolerancePercentage != nil {
		errs = append(errs, errors.New("--failure-tolerance-count and --failure-tolerance-percentage are exclusive"))
	}
	for name, v := range map[string]*int32{"--max-concurrent-percentage": p.MaxConcurrentPercentage, "--failure-tolerance-percentage": p.FailureTolerancePercentage} {
		if v != nil && (*v < 0 || *v > 100) {
			errs = append(errs, fmt.Errorf("%s %d: want 0 to 100", name, *v))
		}
	}
	switch p.RegionConcurrency {
	case "", "SEQUENTIAL", "PARALLEL":
	default:
		errs = append(errs, fmt.Errorf("--region-concurrency %q: want SEQUENTIAL or PARALLEL", p.RegionConcurrency))
	}
	return errors.Join(errs...)
}

// api is the preferences as AWS takes them. With a maximum concurrency, the concurrency mode is
// SOFT_FAILURE_TOLERANCE: in AWS's default STRICT_FAILURE_TOLERANCE mode, no more instances
// than the failure tolerance + 1 are deployed at once, so --max-concurrent-* alone would not
// raise the concurrency.
func (p Preferences) api() *types.StackSetOperationPreferences {
	out := &types.StackSetOperationPreferences{
		MaxConcurrentCount: p.MaxConcurrentCount, MaxConcurrentPercentage: p.MaxConcurrentPercentage,
		FailureToleranceCount: p.FailureToleranceCount, FailureTolerancePercentage: p.FailureTolerancePercentage,
		RegionConcurrencyType: types.RegionConcurrencyType(p.RegionConcurrency),
	}
	if p.MaxConcurrentCount != nil || p.MaxConcurrentPercentage != nil {
		out.ConcurrencyMode = types.ConcurrencyModeSoftFailureTolerance
	}
	return out
}

// TargetsOptions are the target StackSet's name, parameters, targets and permissions.
type TargetsOptions struct {
	StackSetName string // default AccessKeyRotationTarget

	TopicArn                  string // the master stack's TopicArn
	MasterAccountID           string
	MaxAccessKeyAge           int    // default 90
	MaximumExecutionFrequency string // default TwentyFour_Hours
	OwnerTagKey, ExternalID   string
	AuditRoleName             string // default KeyageAuditRole

	// Accounts (self-managed) or OrganizationalUnits (service-managed), times Regions.
	Accounts, OrganizationalUnits, Regions []string
	// AdministrationRoleARN and ExecutionRoleName of a self-managed StackSet; defaults: AWS's
	// prerequisites, AWSCloudFormationStackSetAdministrationRole in the caller's account and
	// AWSCloudFormationStackSetExecutionRole.
	AdministrationRoleARN, ExecutionRoleName string

	// CallAs is DELEGATED_ADMIN when a delegated administrator of StackSets (not the
	// management account) deploys a service-managed StackSet; default SELF.
	CallAs types.CallAs
	// EnableEnforcement creates KeyageEnforceRole in each target (the EnableEnforcement
	// parameter).
	EnableEnforcement bool
	// EnableFindings creates KeyageFindingsRole in each target (the EnableFindings
	// parameter), for the securityhub receiver.
	EnableFindings bool
	// TopicKmsKeyArn is the key encrypting the master topic: the remediation role may use it.
	TopicKmsKeyArn string
	// ForwardEvents forwards IAM and compliance changes from us-east-1 to the master's default
	// event bus (MasterEventBusArn).
	ForwardEvents bool

	Preferences Preferences
}

// topicRegion is the region of an SNS topic ARN, "" when it has none.
func topicRegion(arn string) string {
	if parts := strings.Split(arn, ":"); len(parts) == 6 {
		return parts[3]
	}
	return ""
}

// ServiceManaged reports whether the options ask for a service-managed StackSet.
func (o TargetsOptions) ServiceManaged() bool { return len(o.OrganizationalUnits) > 0 }

// Validate checks the options before anything is sent to AWS.
func (o TargetsOptions) Validate() error {
	var errs []error
	if o.TopicArn == "" {
		errs = append(errs, errors.New("--topic-arn: required (the TopicArn output of keyage deploy master)"))
	} else if !strings.HasPrefix(o.TopicArn, "arn:aws") || strings.Count(o.TopicArn, ":") != 5 {
		errs = append(errs, fmt.Errorf("--topic-arn %q: not an SNS topic ARN", o.TopicArn))
	}
	switch {
	case len(o.Accounts) == 0 && len(o.OrganizationalUnits) == 0:
		errs = append(errs, errors.New("--accounts or --org-units: one is required"))
	case len(o.Accounts) > 0 && len(o.OrganizationalUnits) > 0:
		errs = append(errs, errors.New("--accounts (self-managed StackSet) and --org-units (service-managed) are exclusive"))
	}
	for _, a := range o.Accounts {
		if !isAccountID(a) {
			errs = append(errs, fmt.Errorf("--accounts: %q is not a 12-digit account id", a))
		}
	}
	for _, ou := range o.OrganizationalUnits {
		if !strings.HasPrefix(ou, "ou-") && !strings.HasPrefix(ou, "r-") {
			errs = append(errs, fmt.Errorf("--org-units: %q is not an organizational unit id (ou-... or r-...)", ou))
		}
	}
	if len(o.Regions) == 0 {
		errs = append(errs, errors.New("--regions: required"))
	} else if r := topicRegion(o.TopicArn); r != "" && !slices.Contains(o.Regions, r) {
		// SNS refuses a publish to a topic of another region: the remediation in every other
		// region would fail.
		errs = append(errs, fmt.Errorf("--regions %s: must include %s, the region of the topic %s (SNS refuses publishing to another region's topic)",
			strings.Join(o.Regions, ","), r, o.TopicArn))
	}
	switch o.CallAs {
	case "", types.CallAsSelf, types.CallAsDelegatedAdmin:
	default:
		errs = append(errs, fmt.Errorf("--call-as %q: want SELF or DELEGATED_ADMIN", o.CallAs))
	}
	if o.MasterAccountID != "" && !isAccountID(o.MasterAccountID) {
		errs = append(errs, fmt.Errorf("--master-account-id %q: not a 12-digit account id", o.MasterAccountID))
	}
	if o.MaxAccessKeyAge < 0 || o.MaxAccessKeyAge > 3650 {
		errs = append(errs, fmt.Errorf("--max-access-key-age %d: want 1 to 3650 days", o.MaxAccessKeyAge))
	}
	if f := o.MaximumExecutionFrequency; f != "" {
		ok := false
		for _, x := range ExecutionFrequencies {
			ok = ok || x == f
		}
		if !ok {
			errs = append(errs, fmt.Errorf("--maximum-execution-frequency %q: want one of %s", f, strings.Join(ExecutionFrequencies, ", ")))
		}
	}
	if len(o.OrganizationalUnits) > 0 && (o.AdministrationRoleARN != "" || o.ExecutionRoleName != "") {
		errs = append(errs, errors.New("--admin-role-arn and --execution-role-name are for self-managed StackSets (--accounts)"))
	}
	if err := o.Preferences.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Instance is one stack instance of the StackSet.
type Instance struct {
	Account, Region, OU string
	// Status is CURRENT, OUTDATED or INOPERABLE; DetailedStatus SUCCEEDED, FAILED, RUNNING, ...
	Status, DetailedStatus, Reason string
	StackID                        string
	Drift                          string
}

// OperationResult is the outcome of one instance in a StackSet operation.
type OperationResult struct {
	Account, Region, OU, Status, Reason string
}

// Operation is a StackSet operation, followed to its end.
type Operation struct {
	ID, Action, Status, Reason string
	Results                    []OperationResult
}

// OperationError is a StackSet operation that did not succeed, with the instances that failed
// and their reasons.
type OperationError struct {
	StackSet string
	Op       Operation
}

func (e *OperationError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "StackSet %s: operation %s (%s) %s", e.StackSet, e.Op.ID, e.Op.Action, e.Op.Status)
	if e.Op.Reason != "" {
		b.WriteString(": " + e.Op.Reason)
	}
	for _, r := range e.Op.Results {
		if r.Status == "FAILED" {
			fmt.Fprintf(&b, "; %s/%s FAILED: %s", r.Account, r.Region, r.Reason)
		}
	}
	return b.String()
}

// InstancesFailedError reports instances that are not CURRENT after a deployment whose
// operations succeeded (their failures were within the failure tolerance).
type InstancesFailedError struct {
	StackSet  string
	Instances []Instance
}

func (e *InstancesFailedError) Error() string {
	l := joinInstances(e.Instances, "; ", func(in Instance) string {
		return fmt.Sprintf("%s/%s %s %s: %s", in.Account, in.Region, in.Status, in.DetailedStatus, in.Reason)
	})
	return fmt.Sprintf("StackSet %s: %d instance(s) not deployed: %s", e.StackSet, len(e.Instances), l)
}

// joinInstances describes each instance with describe and joins them with sep, for an error.
func joinInstances(ins []Instance, sep string, describe func(Instance) string) string {
	l := make([]string, len(ins))
	for i, in := range ins {
		l[i] = describe(in)
	}
	return strings.Join(l, sep)
}

// TargetsResult is the outcome of deploying or destroying the StackSet.
type TargetsResult struct {
	StackSetName string
	Created      bool
	NotFound     bool // destroy: there was no StackSet
	Operations   []Operation
	Instances    []Instance
}

func stackSetNotFound(err error) bool { return awsenv.ErrorCode(err) == "StackSetNotFoundException" }

func (o TargetsOptions) parameters() map[string]string {
	age := o.MaxAccessKeyAge
	if age == 0 {
		age = 90
	}
	freq := o.MaximumExecutionFrequency
	if freq == "" {
		freq = "TwentyFour_Hours"
	}
	p := map[string]string{
		ParamMaxAccessKeyAge:           strconv.Itoa(age),
		ParamMaximumExecutionFrequency: freq,
		ParamSNSTopicArn:               o.TopicArn,
		ParamMasterAccountID:           o.MasterAccountID,
		ParamOwnerTagKey:               o.OwnerTagKey,
		ParamExternalID:                o.ExternalID,
		ParamEnableEnforcement:         boolParam(o.EnableEnforcement),
		ParamEnableFindings:            boolParam(o.EnableFindings),
		ParamTopicKmsKeyArn:            o.TopicKmsKeyArn,
	}
	if o.ForwardEvents && o.MasterAccountID != "" {
		p[ParamMasterEventBusArn] = "arn:" + partitionOf(o.TopicArn) + ":events:us-east-1:" + o.MasterAccountID + ":event-bus/default"
	}
	if o.AuditRoleName != "" {
		p[ParamAuditRoleName] = o.AuditRoleName
	}
	return p
}

// DeployTargets creates or updates the target StackSet and its instances, following every
// operation to its end. The StackSet is created when missing, else updated (which updates
// every existing instance); instances missing from Accounts (or OrganizationalUnits) x Regions
// are then created.
func (d *Deployer) DeployTargets(ctx context.Context, o TargetsOptions) (*TargetsResult, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if o.MasterAccountID == "" {
		return nil, errors.New("--master-account-id: required (the account keyage scans from)")
	}
	if o.StackSetName == "" {
		o.StackSetName = DefaultTargetStackSet
	}
	if o.CallAs != "" {
		d.CallAs = o.CallAs
	}
	if !o.ServiceManaged() {
		if o.AdministrationRoleARN == "" {
			o.AdministrationRoleARN = administrationRoleARN(o.TopicArn, o.MasterAccountID)
		}
		if o.ExecutionRoleName == "" {
			o.ExecutionRoleName = StackSetExecutionRole
		}
	}
	body, err := Target().YAML()
	if err != nil {
		return nil, err
	}
	name := o.StackSetName
	res := &TargetsResult{StackSetName: name}
	caps := []types.Capability{types.CapabilityCapabilityNamedIam}
	params := cfnParameters(o.parameters())

	cur, err := d.CFN.DescribeStackSet(ctx, &cloudformation.DescribeStackSetInput{StackSetName: aws.String(name), CallAs: d.CallAs})
	switch {
	case stackSetNotFound(err) || (err == nil && cur.StackSet != nil && cur.StackSet.Status == types.StackSetStatusDeleted):
		in := &cloudformation.CreateStackSetInput{
			StackSetName: aws.String(name), CallAs: d.CallAs, TemplateBody: aws.String(string(body)), Parameters: params, Capabilities: caps,
			Description: aws.String("keyage target accounts: AWS Config rule access-keys-rotated, SSM remediation, audit role"),
		}
		if o.ServiceManaged() {
			in.PermissionModel = types.PermissionModelsServiceManaged
			in.AutoDeployment = &types.AutoDeployment{Enabled: aws.Bool(true), RetainStacksOnAccountRemoval: aws.Bool(false)}
		} else {
			in.PermissionModel = types.PermissionModelsSelfManaged
			in.AdministrationRoleARN = aws.String(o.AdministrationRoleARN)
			in.ExecutionRoleName = aws.String(o.ExecutionRoleName)
		}
		if _, err := d.CFN.CreateStackSet(ctx, in); err != nil {
			return nil, fmt.Errorf("create StackSet %s: %w", name, awsenv.Simplify(err))
		}
		res.Created = true
		d.progress("created StackSet %s (%s)", name, in.PermissionModel)
	case err != nil:
		return nil, fmt.Errorf("describe StackSet %s: %w", name, awsenv.Simplify(err))
	default:
		model := cur.StackSet.PermissionModel
		if (model == types.PermissionModelsServiceManaged) != o.ServiceManaged() {
			return nil, fmt.Errorf("StackSet %s is %s: deploy it with %s, or destroy it first", name, model,
				map[bool]string{true: "--org-units", false: "--accounts"}[model == types.PermissionModelsServiceManaged])
		}
		in := &cloudformation.UpdateStackSetInput{
			StackSetName: aws.String(name), CallAs: d.CallAs, TemplateBody: aws.String(string(body)), Parameters: params, Capabilities: caps,
			OperationPreferences: o.Preferences.api(),
		}
		if !o.ServiceManaged() {
			in.AdministrationRoleARN = aws.String(o.AdministrationRoleARN)
			in.ExecutionRoleName = aws.String(o.ExecutionRoleName)
		}
		up, err := d.CFN.UpdateStackSet(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("update StackSet %s: %w", name, awsenv.Simplify(err))
		}
		d.progress("updating StackSet %s and its instances (operation %s)", name, aws.ToString(up.OperationId))
		if failed, err := d.followInto(ctx, res, name, aws.ToString(up.OperationId)); err != nil {
			return failed, err
		}
	}

	existing, err := d.Instances(ctx, name)
	if err != nil {
		return nil, err
	}
	for _, in := range d.missing(o, existing) {
		out, err := d.CFN.CreateStackInstances(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("create stack instances of %s: %w", name, awsenv.Simplify(err))
		}
		d.progress("creating instances in %s x %s (operation %s)", strings.Join(append(in.Accounts, targetOUs(in)...), ","),
			strings.Join(in.Regions, ","), aws.ToString(out.OperationId))
		if failed, err := d.followInto(ctx, res, name, aws.ToString(out.OperationId)); err != nil {
			return failed, err
		}
	}
	if res.Instances, err = d.Instances(ctx, name); err != nil {
		return nil, err
	}
	var failed []Instance
	for _, in := range res.Instances {
		if in.Status != "CURRENT" {
			failed = append(failed, in)
		}
	}
	if len(failed) > 0 {
		return res, &InstancesFailedError{StackSet: name, Instances: failed}
	}
	return res, nil
}

func targetOUs(in *cloudformation.CreateStackInstancesInput) []string {
	if in.DeploymentTargets == nil {
		return nil
	}
	return in.DeploymentTargets.OrganizationalUnitIds
}

// missing returns the CreateStackInstances calls for the wanted instances that do not exist:
// regions wanting the same accounts (or OUs) share a call, since a call is a cross product.
func (d *Deployer) missing(o TargetsOptions, existing []Instance) []*cloudformation.CreateStackInstancesInput {
	have := map[string]bool{}
	for _, in := range existing {
		have[in.Account+"/"+in.Region] = true
		if in.OU != "" {
			have[in.OU+"/"+in.Region] = true
		}
	}
	targets := o.Accounts
	if o.ServiceManaged() {
		targets = o.OrganizationalUnits
	}
	byRegion := map[string][]string{} // region -> missing targets
	for _, r := range o.Regions {
		for _, t := range targets {
			if !have[t+"/"+r] {
				byRegion[r] = append(byRegion[r], t)
			}
		}
	}
	var out []*cloudformation.CreateStackInstancesInput
	for _, g := range regionGroups(byRegion) {
		in := &cloudformation.CreateStackInstancesInput{StackSetName: aws.String(stackSetName(o)), CallAs: d.CallAs, Regions: g.regions,
			OperationPreferences: o.Preferences.api()}
		if o.ServiceManaged() {
			in.DeploymentTargets = &types.DeploymentTargets{OrganizationalUnitIds: g.targets}
		} else {
			in.Accounts = g.targets
		}
		out = append(out, in)
	}
	return out
}

// regionGroup is one StackSet instances call: a call is a cross product of
// its targets (accounts or OUs) and regions.
type regionGroup struct {
	targets, regions []string
}

// regionGroups groups the regions that want the same targets (byRegion:
// region -> targets) into one call each, in the order of their sorted
// targets, with the regions sorted.
func regionGroups(byRegion map[string][]string) []regionGroup {
	groups := map[string][]string{} // targets -> regions
	for r, ts := range byRegion {
		sort.Strings(ts)
		k := strings.Join(ts, ",")
		groups[k] = append(groups[k], r)
	}
	keys := make([]string, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]regionGroup, 0, len(keys))
	for _, k := range keys {
		regions := groups[k]
		sort.Strings(regions)
		out = append(out, regionGroup{targets: strings.Split(k, ","), regions: regions})
	}
	return out
}

func stackSetName(o TargetsOptions) string {
	if o.StackSetName == "" {
		return DefaultTargetStackSet
	}
	return o.StackSetName
}

// followInto follows operation id of StackSet set to its end and adds it to
// res. An operation that did not succeed is an *OperationError returned with
// res (its instances as they are then); one that could not be followed is an
// error returned without a result.
func (d *Deployer) followInto(ctx context.Context, res *TargetsResult, set, id string) (*TargetsResult, error) {
	op, err := d.follow(ctx, set, id)
	if err != nil {
		return nil, err
	}
	res.Operations = append(res.Operations, *op)
	if op.Status != "SUCCEEDED" {
		res.Instances, _ = d.Instances(ctx, set)
		return res, &OperationError{StackSet: set, Op: *op}
	}
	return nil, nil
}

// follow polls a StackSet operation until it ends, reporting each instance's progress.
func (d *Deployer) follow(ctx context.Context, set, id string) (*Operation, error) {
	p := d.poller()
	reported := map[string]string{}
	for {
		out, err := d.CFN.DescribeStackSetOperation(ctx, &cloudformation.DescribeStackSetOperationInput{
			StackSetName: aws.String(set), CallAs: d.CallAs, OperationId: aws.String(id)})
		if err != nil {
			return nil, fmt.Errorf("describe operation %s of StackSet %s: %w", id, set, awsenv.Simplify(err))
		}
		so := out.StackSetOperation
		op := &Operation{ID: id, Action: string(so.Action), Status: string(so.Status), Reason: aws.ToString(so.StatusReason)}
		summaries, err := d.operationResults(ctx, set, id)
		if err != nil {
			return nil, err
		}
		for _, r := range summaries {
			res := OperationResult{Account: aws.ToString(r.Account), Region: aws.ToString(r.Region),
				OU: aws.ToString(r.OrganizationalUnitId), Status: string(r.Status), Reason: aws.ToString(r.StatusReason)}
			op.Results = append(op.Results, res)
			key := res.Account + "/" + res.Region
			if reported[key] != res.Status {
				reported[key] = res.Status
				line := fmt.Sprintf("  %s %-12s %s", op.Action, key, res.Status)
				if res.Reason != "" {
					line += "  " + res.Reason
				}
				d.progress("%s", line)
			}
		}
		switch so.Status {
		case types.StackSetOperationStatusSucceeded, types.StackSetOperationStatusFailed, types.StackSetOperationStatusStopped:
			d.progress("operation %s (%s): %s", id, op.Action, op.Status)
			return op, nil
		}
		if err := p.wait(ctx); err != nil {
			return nil, fmt.Errorf("wait for operation %s of StackSet %s: %w", id, set, err)
		}
	}
}

// operationResults reads every page of an operation's results (AWS returns at most 100 a page).
func (d *Deployer) operationResults(ctx context.Context, set, id string) ([]types.StackSetOperationResultSummary, error) {
	var out []types.StackSetOperationResultSummary
	var token *string
	for {
		in := &cloudformation.ListStackSetOperationResultsInput{StackSetName: aws.String(set), CallAs: d.CallAs,
			OperationId: aws.String(id), NextToken: token}
		if d.resultsPageSize > 0 {
			in.MaxResults = aws.Int32(d.resultsPageSize)
		}
		page, err := d.CFN.ListStackSetOperationResults(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("list results of operation %s of StackSet %s: %w", id, set, awsenv.Simplify(err))
		}
		out = append(out, page.Summaries...)
		if token = page.NextToken; token == nil {
			return out, nil
		}
	}
}

// Instances lists the StackSet's instances; none when the StackSet does not exist.
func (d *Deployer) Instances(ctx context.Context, set string) ([]Instance, error) {
	var out []Instance
	var token *string
	for {
		page, err := d.CFN.ListStackInstances(ctx, &cloudformation.ListStackInstancesInput{StackSetName: aws.String(set), CallAs: d.CallAs, NextToken: token})
		if stackSetNotFound(err) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("list instances of StackSet %s: %w", set, awsenv.Simplify(err))
		}
		for _, s := range page.Summaries {
			in := Instance{Account: aws.ToString(s.Account), Region: aws.ToString(s.Region), OU: aws.ToString(s.OrganizationalUnitId),
				Status: string(s.Status), Reason: aws.ToString(s.StatusReason), StackID: aws.ToString(s.StackId), Drift: string(s.DriftStatus)}
			if s.StackInstanceStatus != nil {
				in.DetailedStatus = string(s.StackInstanceStatus.DetailedStatus)
			}
			out = append(out, in)
		}
		if token = page.NextToken; token == nil {
			break
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		return a.Account < b.Account || a.Account == b.Account && a.Region < b.Region
	})
	return out, nil
}

// DestroyTargets deletes every instance of the StackSet (their stacks too), waits, then deletes
// the StackSet.
func (d *Deployer) DestroyTargets(ctx context.Context, set string, prefs Preferences) (*TargetsResult, error) {
	if set == "" {
		set = DefaultTargetStackSet
	}
	if err := prefs.Validate(); err != nil {
		return nil, err
	}
	res := &TargetsResult{StackSetName: set}
	cur, err := d.CFN.DescribeStackSet(ctx, &cloudformation.DescribeStackSetInput{StackSetName: aws.String(set), CallAs: d.CallAs})
	if stackSetNotFound(err) {
		res.NotFound = true
		return res, nil
	}
	if err != nil {
		return nil, fmt.Errorf("describe StackSet %s: %w", set, awsenv.Simplify(err))
	}
	service := cur.StackSet.PermissionModel == types.PermissionModelsServiceManaged
	ins, err := d.Instances(ctx, set)
	if err != nil {
		return nil, err
	}
	// Regions deleting the same accounts (or OUs) share a call.
	byRegion := map[string][]string{}
	seen := map[string]bool{}
	for _, in := range ins {
		t := in.Account
		if service {
			t = in.OU
		}
		if !seen[in.Region+"/"+t] {
			seen[in.Region+"/"+t] = true
			byRegion[in.Region] = append(byRegion[in.Region], t)
		}
	}
	for _, g := range regionGroups(byRegion) {
		in := &cloudformation.DeleteStackInstancesInput{StackSetName: aws.String(set), CallAs: d.CallAs, Regions: g.regions,
			RetainStacks: aws.Bool(false), OperationPreferences: prefs.api()}
		if service {
			in.DeploymentTargets = &types.DeploymentTargets{OrganizationalUnitIds: g.targets}
		} else {
			in.Accounts = g.targets
		}
		out, err := d.CFN.DeleteStackInstances(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("delete stack instances of %s: %w", set, awsenv.Simplify(err))
		}
		d.progress("deleting instances in %s x %s (operation %s)", strings.Join(g.targets, ","), strings.Join(g.regions, ","), aws.ToString(out.OperationId))
		if failed, err := d.followInto(ctx, res, set, aws.ToString(out.OperationId)); err != nil {
			return failed, err
		}
	}
	if res.Instances, err = d.Instances(ctx, set); err != nil {
		return nil, err
	}
	if len(res.Instances) > 0 {
		return res, &InstancesFailedError{StackSet: set, Instances: res.Instances}
	}
	if _, err := d.CFN.DeleteStackSet(ctx, &cloudformation.DeleteStackSetInput{StackSetName: aws.String(set), CallAs: d.CallAs}); err != nil {
		return res, fmt.Errorf("delete StackSet %s: %w", set, awsenv.Simplify(err))
	}
	d.progress("deleted StackSet %s", set)
	return res, nil
}

// StackSetStatus is what keyage deploy status reports of the StackSet.
type StackSetStatus struct {
	Name, ID, Status, PermissionModel string
	Parameters                        map[string]string
	Instances                         []Instance
	// Drift, after a detection: the StackSet's drift status and instance counts.
	Drift                                  string
	DriftedInstances, InSyncInstances      int
	DriftFailedInstances, TotalDriftChecks int
}

// StackSet returns the StackSet's status, nil when it does not exist; with drift, it runs a
// drift detection first.
func (d *Deployer) StackSet(ctx context.Context, name string, drift bool) (*StackSetStatus, error) {
	if drift {
		out, err := d.CFN.DetectStackSetDrift(ctx, &cloudformation.DetectStackSetDriftInput{StackSetName: aws.String(name), CallAs: d.CallAs})
		if stackSetNotFound(err) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("detect drift of StackSet %s: %w", name, awsenv.Simplify(err))
		}
		if _, err := d.follow(ctx, name, aws.ToString(out.OperationId)); err != nil {
			return nil, err
		}
	}
	cur, err := d.CFN.DescribeStackSet(ctx, &cloudformation.DescribeStackSetInput{StackSetName: aws.String(name), CallAs: d.CallAs})
	if stackSetNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("describe StackSet %s: %w", name, awsenv.Simplify(err))
	}
	ss := cur.StackSet
	s := &StackSetStatus{Name: aws.ToString(ss.StackSetName), ID: aws.ToString(ss.StackSetId), Status: string(ss.Status),
		PermissionModel: string(ss.PermissionModel), Parameters: map[string]string{}, Drift: "NOT_CHECKED"}
	for _, p := range ss.Parameters {
		s.Parameters[aws.ToString(p.ParameterKey)] = aws.ToString(p.ParameterValue)
	}
	if dd := ss.StackSetDriftDetectionDetails; dd != nil && dd.DriftStatus != "" {
		s.Drift = string(dd.DriftStatus)
		s.DriftedInstances, s.InSyncInstances = int(aws.ToInt32(dd.DriftedStackInstancesCount)), int(aws.ToInt32(dd.InSyncStackInstancesCount))
		s.DriftFailedInstances, s.TotalDriftChecks = int(aws.ToInt32(dd.FailedStackInstancesCount)), int(aws.ToInt32(dd.TotalStackInstancesCount))
	}
	if s.Instances, err = d.Instances(ctx, name); err != nil {
		return nil, err
	}
	return s, nil
}

// partitionOf is the partition of an ARN, aws when it has none.
func partitionOf(arn string) string {
	if parts := strings.Split(arn, ":"); len(parts) > 1 && parts[1] != "" {
		return parts[1]
	}
	return "aws"
}

// administrationRoleARN is the StackSet administration role of the master
// account, in the partition of the master's topic (aws, aws-us-gov, aws-cn).
func administrationRoleARN(topicARN, masterAccountID string) string {
	partition := "aws"
	if parts := strings.Split(topicARN, ":"); len(parts) > 1 && parts[1] != "" {
		partition = parts[1]
	}
	return "arn:" + partition + ":iam::" + masterAccountID + ":role/" + StackSetAdministrationRole
}
