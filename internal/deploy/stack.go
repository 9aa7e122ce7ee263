package deploy

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"

	"github.com/keyage/keyage/internal/awsenv"
)

// MasterOptions are the master stack's name and parameters.
type MasterOptions struct {
	StackName      string   // default AccessKeyRotationMaster
	TopicName      string   // default access-key-rotation
	TargetAccounts []string // accounts allowed to publish
	OrganizationID string   // o-...: the whole organization may publish instead
	Email          string
	SubscribeQueue bool
	// EventsReceiver creates the receiving side of change-triggered re-checks (EventsQueue).
	EventsReceiver bool
	// KmsKey encrypts the topic: create (default), a customer-managed key's ARN, or none.
	KmsKey string
}

// Validate checks the options before anything is sent to AWS.
func (o MasterOptions) Validate() error {
	var errs []error
	if len(o.TargetAccounts) == 0 && o.OrganizationID == "" {
		errs = append(errs, errors.New("--target-accounts or --organization-id: one is required (who may publish to the topic)"))
	}
	for _, a := range o.TargetAccounts {
		if !isAccountID(a) {
			errs = append(errs, fmt.Errorf("--target-accounts: %q is not a 12-digit account id", a))
		}
	}
	switch k := o.KmsKey; {
	case k == "" || k == "create" || k == "none":
	case strings.Contains(k, "alias/aws/sns"):
		errs = append(errs, fmt.Errorf("--kms-key %s: the AWS-managed key of SNS cannot encrypt this topic: its key policy cannot be changed, so publishers in other accounts cannot be granted its use; give create or a customer-managed key", k))
	case !strings.HasPrefix(k, "arn:aws") || !strings.Contains(k, ":kms:") || !strings.Contains(k, ":key/"):
		errs = append(errs, fmt.Errorf("--kms-key %q: want create, none or a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)", k))
	}
	if o.OrganizationID != "" && !strings.HasPrefix(o.OrganizationID, "o-") {
		errs = append(errs, fmt.Errorf("--organization-id %q: want o-...", o.OrganizationID))
	}
	return errors.Join(errs...)
}

func isAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	_, err := strconv.ParseUint(s, 10, 64)
	return err == nil
}

// StackResult is the outcome of a stack operation.
type StackResult struct {
	StackID, StackName, Status string
	Outputs                    map[string]string
	// NoChanges: the template and parameters were already deployed; nothing was executed.
	NoChanges bool
	// Created: the stack did not exist before.
	Created bool
	// NotFound: there was no stack to delete.
	NotFound bool
}

func outputs(st *types.Stack) map[string]string {
	m := map[string]string{}
	for _, o := range st.Outputs {
		m[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	return m
}

func boolParam(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// DeployMaster creates or updates the master stack through a change set and waits for it.
func (d *Deployer) DeployMaster(ctx context.Context, o MasterOptions) (*StackResult, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if o.StackName == "" {
		o.StackName = DefaultMasterStack
	}
	if o.TopicName == "" {
		o.TopicName = DefaultTopicName
	}
	body, err := Master().YAML()
	if err != nil {
		return nil, err
	}
	params := map[string]string{
		ParamTopicName:         o.TopicName,
		ParamTargetAccounts:    strings.Join(o.TargetAccounts, ","),
		ParamOrganizationID:    o.OrganizationID,
		ParamNotificationEmail: o.Email,
		ParamSubscribeQueue:    boolParam(o.SubscribeQueue),
		ParamKmsKey:            o.KmsKey,
		ParamEventsQueue:       boolParam(o.EventsReceiver),
	}
	if o.KmsKey == "" {
		params[ParamKmsKey] = "create"
	}
	return d.deployStack(ctx, o.StackName, string(body), params, nil)
}

func cfnParameters(m map[string]string) []types.Parameter {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]types.Parameter, 0, len(m))
	for _, k := range keys {
		out = append(out, types.Parameter{ParameterKey: aws.String(k), ParameterValue: aws.String(m[k])})
	}
	return out
}

// deployStack creates or updates a stack with a change set: CREATE for a new stack (or one
// left in REVIEW_IN_PROGRESS), UPDATE otherwise. A stack whose creation rolled back
// (ROLLBACK_COMPLETE) cannot be updated; it is deleted first, as the console offers.
func (d *Deployer) deployStack(ctx context.Context, name, body string, params map[string]string, caps []types.Capability) (*StackResult, error) {
	st, err := d.describeStack(ctx, name)
	if err != nil {
		return nil, err
	}
	if st != nil {
		switch status := string(st.StackStatus); {
		case status == "ROLLBACK_COMPLETE":
			d.progress("stack %s is ROLLBACK_COMPLETE (its creation failed): deleting it before creating it again", name)
			if _, err := d.deleteStack(ctx, st); err != nil {
				return nil, err
			}
			st = nil
		case strings.HasSuffix(status, "_IN_PROGRESS") && status != "REVIEW_IN_PROGRESS":
			return nil, fmt.Errorf("stack %s is %s: wait for that operation to end", name, status)
		case status == "DELETE_FAILED" || status == "ROLLBACK_FAILED" || status == "UPDATE_ROLLBACK_FAILED":
			return nil, fmt.Errorf("stack %s is %s: fix it in the CloudFormation console (or keyage destroy master) first", name, status)
		}
	}
	typ := types.ChangeSetTypeUpdate
	if st == nil || st.StackStatus == types.StackStatusReviewInProgress {
		typ = types.ChangeSetTypeCreate
	}
	// Executed change sets stay listed: the name must be new each time.
	now := d.now().UTC()
	csName := fmt.Sprintf("keyage-%s-%09d", now.Format("20060102-150405"), now.Nanosecond())
	cs, err := d.CFN.CreateChangeSet(ctx, &cloudformation.CreateChangeSetInput{
		StackName: aws.String(name), ChangeSetName: aws.String(csName), ChangeSetType: typ,
		TemplateBody: aws.String(body), Parameters: cfnParameters(params), Capabilities: caps,
		Description: aws.String("keyage deploy"),
	})
	if err != nil {
		return nil, fmt.Errorf("create change set for stack %s: %w", name, awsenv.Simplify(err))
	}
	stackID, csID := aws.ToString(cs.StackId), aws.ToString(cs.Id)
	d.progress("change set %s (%s) for stack %s", csName, typ, name)
	desc, err := d.waitChangeSet(ctx, csID)
	if err != nil {
		return nil, err
	}
	if desc.Status == types.ChangeSetStatusFailed {
		reason := aws.ToString(desc.StatusReason)
		if strings.Contains(reason, "didn't contain changes") || strings.Contains(reason, "No updates are to be performed") {
			d.progress("stack %s is up to date: no changes", name)
			if _, err := d.CFN.DeleteChangeSet(ctx, &cloudformation.DeleteChangeSetInput{ChangeSetName: aws.String(csID)}); err != nil {
				return nil, fmt.Errorf("delete change set %s: %w", csName, awsenv.Simplify(err))
			}
			cur, err := d.describeStack(ctx, stackID)
			if err != nil || cur == nil {
				return nil, err
			}
			return &StackResult{StackID: stackID, StackName: name, Status: string(cur.StackStatus), Outputs: outputs(cur), NoChanges: true}, nil
		}
		return nil, fmt.Errorf("change set %s of stack %s FAILED: %s", csName, name, reason)
	}
	for _, c := range desc.Changes {
		rc := c.ResourceChange
		if rc == nil {
			continue
		}
		line := fmt.Sprintf("  %-7s %-28s %s", rc.Action, aws.ToString(rc.LogicalResourceId), aws.ToString(rc.ResourceType))
		if rc.Replacement == types.ReplacementTrue {
			line += " (replacement)"
		}
		d.progress("%s", line)
	}
	log, err := d.prime(ctx, stackID)
	if err != nil {
		return nil, err
	}
	if _, err := d.CFN.ExecuteChangeSet(ctx, &cloudformation.ExecuteChangeSetInput{ChangeSetName: aws.String(csID)}); err != nil {
		return nil, fmt.Errorf("execute change set %s of stack %s: %w", csName, name, awsenv.Simplify(err))
	}
	final, err := d.waitStack(ctx, stackID, log)
	if err != nil {
		return nil, err
	}
	switch final.StackStatus {
	case types.StackStatusCreateComplete, types.StackStatusUpdateComplete:
		return &StackResult{StackID: stackID, StackName: name, Status: string(final.StackStatus), Outputs: outputs(final),
			Created: typ == types.ChangeSetTypeCreate}, nil
	}
	return nil, stackFailed(final, log)
}

// waitChangeSet waits until the change set is computed (CREATE_COMPLETE or FAILED).
func (d *Deployer) waitChangeSet(ctx context.Context, id string) (*cloudformation.DescribeChangeSetOutput, error) {
	p := d.poller()
	for {
		out, err := d.CFN.DescribeChangeSet(ctx, &cloudformation.DescribeChangeSetInput{ChangeSetName: aws.String(id)})
		if err != nil {
			return nil, fmt.Errorf("describe change set %s: %w", id, awsenv.Simplify(err))
		}
		switch out.Status {
		case types.ChangeSetStatusCreateComplete, types.ChangeSetStatusFailed:
			return out, nil
		}
		if err := p.wait(ctx); err != nil {
			return nil, fmt.Errorf("wait for change set %s: %w", id, err)
		}
	}
}

// deleteStack deletes a stack and waits until it is gone.
func (d *Deployer) deleteStack(ctx context.Context, st *types.Stack) (*StackResult, error) {
	id, name := aws.ToString(st.StackId), aws.ToString(st.StackName)
	log, err := d.prime(ctx, id)
	if err != nil {
		return nil, err
	}
	if _, err := d.CFN.DeleteStack(ctx, &cloudformation.DeleteStackInput{StackName: aws.String(id)}); err != nil {
		return nil, fmt.Errorf("delete stack %s: %w", name, awsenv.Simplify(err))
	}
	final, err := d.waitStack(ctx, id, log)
	if err != nil {
		return nil, err
	}
	if final.StackStatus != types.StackStatusDeleteComplete {
		return nil, stackFailed(final, log)
	}
	return &StackResult{StackID: id, StackName: name, Status: string(final.StackStatus)}, nil
}

// InstancesRemainError refuses to delete the master stack while the StackSet still has
// instances publishing to its topic.
type InstancesRemainError struct {
	StackSet  string
	Instances []Instance
}

func (e *InstancesRemainError) Error() string {
	l := joinInstances(e.Instances, ", ", func(in Instance) string { return in.Account + "/" + in.Region + " " + in.Status })
	return fmt.Sprintf("StackSet %s still has %d instance(s) publishing to the master topic (%s): run \"keyage destroy targets\" first, or give --force",
		e.StackSet, len(e.Instances), l)
}

// DestroyMaster deletes the master stack (its topic, policy and subscriptions) and waits. It
// refuses while the target StackSet has instances, unless force.
func (d *Deployer) DestroyMaster(ctx context.Context, stackName, stackSetName string, force bool) (*StackResult, error) {
	if stackName == "" {
		stackName = DefaultMasterStack
	}
	if stackSetName == "" {
		stackSetName = DefaultTargetStackSet
	}
	ins, err := d.Instances(ctx, stackSetName)
	if err != nil {
		return nil, err
	}
	if len(ins) > 0 {
		if !force {
			return nil, &InstancesRemainError{StackSet: stackSetName, Instances: ins}
		}
		d.progress("--force: deleting the master stack although StackSet %s has %d instance(s)", stackSetName, len(ins))
	}
	return d.destroyStack(ctx, stackName)
}

// destroyStack deletes the stack and waits until it is gone; NotFound when there is none.
func (d *Deployer) destroyStack(ctx context.Context, stackName string) (*StackResult, error) {
	st, err := d.describeStack(ctx, stackName)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return &StackResult{StackName: stackName, NotFound: true}, nil
	}
	return d.deleteStack(ctx, st)
}

// StackStatus is what keyage deploy status reports of a stack.
type StackStatus struct {
	Name, ID, Status, Reason string
	Created, Updated         time.Time
	Parameters, Outputs      map[string]string
	// Failures are the failed resources of the last operation when the stack is in a failed or
	// rolled back state.
	Failures []ResourceFailure
	// Drift is the stack's drift status (NOT_CHECKED unless detected); DriftedResources counts
	// the resources that drifted, after a detection.
	Drift            string
	DriftedResources int
}

// Stack returns the status of a stack, nil when it does not exist; with drift, it runs a drift
// detection first.
func (d *Deployer) Stack(ctx context.Context, name string, drift bool) (*StackStatus, error) {
	st, err := d.describeStack(ctx, name)
	if err != nil || st == nil {
		return nil, err
	}
	s := &StackStatus{Name: aws.ToString(st.StackName), ID: aws.ToString(st.StackId), Status: string(st.StackStatus),
		Reason: aws.ToString(st.StackStatusReason), Created: aws.ToTime(st.CreationTime), Updated: aws.ToTime(st.LastUpdatedTime),
		Parameters: map[string]string{}, Outputs: outputs(st), Drift: "NOT_CHECKED"}
	for _, p := range st.Parameters {
		s.Parameters[aws.ToString(p.ParameterKey)] = aws.ToString(p.ParameterValue)
	}
	if st.DriftInformation != nil {
		s.Drift = string(st.DriftInformation.StackDriftStatus)
	}
	if strings.Contains(s.Status, "ROLLBACK") || strings.Contains(s.Status, "FAILED") {
		if s.Failures, err = d.lastFailures(ctx, s.ID); err != nil {
			return nil, err
		}
	}
	if drift {
		if err := d.detectStackDrift(ctx, s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// lastFailures returns the failed resources of the stack's last operation.
func (d *Deployer) lastFailures(ctx context.Context, id string) ([]ResourceFailure, error) {
	out, err := d.CFN.DescribeStackEvents(ctx, &cloudformation.DescribeStackEventsInput{StackName: aws.String(id)})
	if err != nil {
		return nil, fmt.Errorf("describe events of stack %s: %w", id, awsenv.Simplify(err))
	}
	var failed []types.StackEvent
	for _, e := range out.StackEvents { // newest first, back to the operation's start
		if strings.HasSuffix(string(e.ResourceStatus), "_FAILED") {
			failed = append([]types.StackEvent{e}, failed...)
		}
		if aws.ToString(e.PhysicalResourceId) == id && aws.ToString(e.ResourceStatusReason) == "User Initiated" {
			break
		}
	}
	return failuresOf(failed, id), nil
}

func (d *Deployer) detectStackDrift(ctx context.Context, s *StackStatus) error {
	out, err := d.CFN.DetectStackDrift(ctx, &cloudformation.DetectStackDriftInput{StackName: aws.String(s.ID)})
	if err != nil {
		return fmt.Errorf("detect drift of stack %s: %w", s.Name, awsenv.Simplify(err))
	}
	p := d.poller()
	for {
		st, err := d.CFN.DescribeStackDriftDetectionStatus(ctx, &cloudformation.DescribeStackDriftDetectionStatusInput{StackDriftDetectionId: out.StackDriftDetectionId})
		if err != nil {
			return fmt.Errorf("drift detection of stack %s: %w", s.Name, awsenv.Simplify(err))
		}
		switch st.DetectionStatus {
		case types.StackDriftDetectionStatusDetectionComplete:
			s.Drift, s.DriftedResources = string(st.StackDriftStatus), int(aws.ToInt32(st.DriftedStackResourceCount))
			return nil
		case types.StackDriftDetectionStatusDetectionFailed:
			return fmt.Errorf("drift detection of stack %s failed: %s", s.Name, aws.ToString(st.DetectionStatusReason))
		}
		if err := p.wait(ctx); err != nil {
			return err
		}
	}
}

// DefaultAccountStack is the name of the target stack deployed in one account without a
// StackSet (keyage deploy target --account-stack).
const DefaultAccountStack = "AccessKeyRotationTargetAccount"

// DeployAccountStack deploys the target template as one stack in the caller's account, for
// teams without StackSets (the seed's single-account template). o's Accounts, Regions and
// StackSet fields are not used; the stack lives in the client's region, which must be the
// topic's.
func (d *Deployer) DeployAccountStack(ctx context.Context, stackName string, o TargetsOptions) (*StackResult, error) {
	if stackName == "" {
		stackName = DefaultAccountStack
	}
	if o.TopicArn == "" {
		return nil, errors.New("--topic-arn: required (the TopicArn output of keyage deploy master)")
	}
	if o.MasterAccountID == "" {
		return nil, errors.New("--master-account-id: required (the account keyage scans from)")
	}
	body, err := Target().YAML()
	if err != nil {
		return nil, err
	}
	return d.deployStack(ctx, stackName, string(body), o.parameters(), []types.Capability{types.CapabilityCapabilityNamedIam})
}

// DestroyAccountStack deletes the single-account stack DeployAccountStack created and waits
// until it is gone; NotFound when there is none.
func (d *Deployer) DestroyAccountStack(ctx context.Context, stackName string) (*StackResult, error) {
	if stackName == "" {
		stackName = DefaultAccountStack
	}
	return d.destroyStack(ctx, stackName)
}
