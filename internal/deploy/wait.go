package deploy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"

	"github.com/keyage/keyage/internal/awsenv"
)

// CloudFormationAPI is the part of the CloudFormation API keyage's deployment uses;
// *cloudformation.Client implements it.
type CloudFormationAPI interface {
	DescribeStacks(context.Context, *cloudformation.DescribeStacksInput, ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error)
	DescribeStackEvents(context.Context, *cloudformation.DescribeStackEventsInput, ...func(*cloudformation.Options)) (*cloudformation.DescribeStackEventsOutput, error)
	CreateChangeSet(context.Context, *cloudformation.CreateChangeSetInput, ...func(*cloudformation.Options)) (*cloudformation.CreateChangeSetOutput, error)
	DescribeChangeSet(context.Context, *cloudformation.DescribeChangeSetInput, ...func(*cloudformation.Options)) (*cloudformation.DescribeChangeSetOutput, error)
	ExecuteChangeSet(context.Context, *cloudformation.ExecuteChangeSetInput, ...func(*cloudformation.Options)) (*cloudformation.ExecuteChangeSetOutput, error)
	DeleteChangeSet(context.Context, *cloudformation.DeleteChangeSetInput, ...func(*cloudformation.Options)) (*cloudformation.DeleteChangeSetOutput, error)
	DeleteStack(context.Context, *cloudformation.DeleteStackInput, ...func(*cloudformation.Options)) (*cloudformation.DeleteStackOutput, error)
	DetectStackDrift(context.Context, *cloudformation.DetectStackDriftInput, ...func(*cloudformation.Options)) (*cloudformation.DetectStackDriftOutput, error)
	DescribeStackDriftDetectionStatus(context.Context, *cloudformation.DescribeStackDriftDetectionStatusInput, ...func(*cloudformation.Options)) (*cloudformation.DescribeStackDriftDetectionStatusOutput, error)

	CreateStackSet(context.Context, *cloudformation.CreateStackSetInput, ...func(*cloudformation.Options)) (*cloudformation.CreateStackSetOutput, error)
	UpdateStackSet(context.Context, *cloudformation.UpdateStackSetInput, ...func(*cloudformation.Options)) (*cloudformation.UpdateStackSetOutput, error)
	DescribeStackSet(context.Context, *cloudformation.DescribeStackSetInput, ...func(*cloudformation.Options)) (*cloudformation.DescribeStackSetOutput, error)
	DeleteStackSet(context.Context, *cloudformation.DeleteStackSetInput, ...func(*cloudformation.Options)) (*cloudformation.DeleteStackSetOutput, error)
	CreateStackInstances(context.Context, *cloudformation.CreateStackInstancesInput, ...func(*cloudformation.Options)) (*cloudformation.CreateStackInstancesOutput, error)
	DeleteStackInstances(context.Context, *cloudformation.DeleteStackInstancesInput, ...func(*cloudformation.Options)) (*cloudformation.DeleteStackInstancesOutput, error)
	ListStackInstances(context.Context, *cloudformation.ListStackInstancesInput, ...func(*cloudformation.Options)) (*cloudformation.ListStackInstancesOutput, error)
	DescribeStackSetOperation(context.Context, *cloudformation.DescribeStackSetOperationInput, ...func(*cloudformation.Options)) (*cloudformation.DescribeStackSetOperationOutput, error)
	ListStackSetOperationResults(context.Context, *cloudformation.ListStackSetOperationResultsInput, ...func(*cloudformation.Options)) (*cloudformation.ListStackSetOperationResultsOutput, error)
	DetectStackSetDrift(context.Context, *cloudformation.DetectStackSetDriftInput, ...func(*cloudformation.Options)) (*cloudformation.DetectStackSetDriftOutput, error)
}

var _ CloudFormationAPI = (*cloudformation.Client)(nil)

// Deployer deploys, inspects and removes keyage's master stack and target StackSet.
type Deployer struct {
	CFN CloudFormationAPI
	// Progress receives one line per stack event, change and StackSet operation step, for
	// stderr; nil discards them.
	Progress func(line string)
	// MaxPoll caps the interval between two polls of a waiting operation; it starts at 50ms
	// and grows by half each time. Default 5s.
	MaxPoll time.Duration
	// Now is the clock (change set names); default time.Now.
	Now func() time.Time
	// CallAs is sent with every StackSet call: DELEGATED_ADMIN when a delegated administrator,
	// not the management account, operates a service-managed StackSet; empty is AWS's SELF.
	CallAs types.CallAs

	// resultsPageSize is the MaxResults of ListStackSetOperationResults; 0 is AWS's 100.
	resultsPageSize int32
}

func (d *Deployer) progress(format string, args ...any) {
	if d.Progress != nil {
		d.Progress(fmt.Sprintf(format, args...))
	}
}

func (d *Deployer) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

// poller sleeps between polls, longer each time.
type poller struct {
	next, max time.Duration
}

func (d *Deployer) poller() *poller {
	m := d.MaxPoll
	if m <= 0 {
		m = 5 * time.Second
	}
	return &poller{next: 50 * time.Millisecond, max: m}
}

func (p *poller) wait(ctx context.Context) error {
	t := time.NewTimer(p.next)
	defer t.Stop()
	p.next = min(p.max, p.next*3/2)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// ResourceFailure is a resource CloudFormation could not create, update or delete.
type ResourceFailure struct {
	LogicalID, Type, Status, Reason string
}

func (f ResourceFailure) String() string {
	return fmt.Sprintf("%s (%s) %s: %s", f.LogicalID, f.Type, f.Status, f.Reason)
}

// StackError is a stack operation that ended in failure: its final status, the reason the
// stack gave (ROLLBACK_IN_PROGRESS: "The following resource(s) failed to create: ...") and the
// resources that failed, with CloudFormation's reasons.
type StackError struct {
	Stack, Status, Reason string
	Failures              []ResourceFailure
}

func (e *StackError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "stack %s: %s", e.Stack, e.Status)
	for i, f := range e.Failures {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(f.String())
	}
	if len(e.Failures) == 0 && e.Reason != "" {
		b.WriteString(": " + e.Reason)
	}
	return b.String()
}

// notFound reports whether err says a stack does not exist.
func notFound(err error) bool {
	var ae interface{ ErrorMessage() string }
	return awsenv.ErrorCode(err) == "ValidationError" && errors.As(err, &ae) && strings.Contains(ae.ErrorMessage(), "does not exist")
}

// describeStack returns the stack, or nil when it does not exist.
func (d *Deployer) describeStack(ctx context.Context, name string) (*types.Stack, error) {
	out, err := d.CFN.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(name)})
	if notFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("describe stack %s: %w", name, awsenv.Simplify(err))
	}
	if len(out.Stacks) == 0 {
		return nil, nil
	}
	return &out.Stacks[0], nil
}

// eventLog tracks the events of a stack already seen, to report only new ones.
type eventLog struct {
	seen map[string]bool
	// failures are the *_FAILED events seen since the log started, oldest first.
	failures []types.StackEvent
	reason   string // of the last stack event with a reason
}

// prime marks every current event of the stack as seen.
func (d *Deployer) prime(ctx context.Context, stackID string) (*eventLog, error) {
	l := &eventLog{seen: map[string]bool{}}
	out, err := d.CFN.DescribeStackEvents(ctx, &cloudformation.DescribeStackEventsInput{StackName: aws.String(stackID)})
	if err != nil {
		return nil, fmt.Errorf("describe events of stack %s: %w", stackID, awsenv.Simplify(err))
	}
	for _, e := range out.StackEvents {
		l.seen[aws.ToString(e.EventId)] = true
	}
	return l, nil
}

// newEvents reports the events not seen yet, oldest first.
func (d *Deployer) newEvents(ctx context.Context, stackID string, l *eventLog) error {
	out, err := d.CFN.DescribeStackEvents(ctx, &cloudformation.DescribeStackEventsInput{StackName: aws.String(stackID)})
	if err != nil {
		return fmt.Errorf("describe events of stack %s: %w", stackID, awsenv.Simplify(err))
	}
	var fresh []types.StackEvent
	for _, e := range out.StackEvents { // newest first
		if l.seen[aws.ToString(e.EventId)] {
			break
		}
		fresh = append(fresh, e)
	}
	for i := len(fresh) - 1; i >= 0; i-- {
		e := fresh[i]
		l.seen[aws.ToString(e.EventId)] = true
		line := fmt.Sprintf("%s  %-28s %-30s %s", aws.ToTime(e.Timestamp).UTC().Format("15:04:05"),
			aws.ToString(e.LogicalResourceId), aws.ToString(e.ResourceType), e.ResourceStatus)
		if r := aws.ToString(e.ResourceStatusReason); r != "" {
			line += "  " + r
		}
		d.progress("%s", line)
		if strings.HasSuffix(string(e.ResourceStatus), "_FAILED") {
			l.failures = append(l.failures, e)
		}
		if aws.ToString(e.PhysicalResourceId) == stackID && aws.ToString(e.ResourceStatusReason) != "" {
			l.reason = aws.ToString(e.ResourceStatusReason)
		}
	}
	return nil
}

// failuresOf turns failed events into ResourceFailures: the resources first (the stack's own
// failure only when no resource failed), "Resource creation cancelled" only when nothing else
// explains the failure.
func failuresOf(evs []types.StackEvent, stackID string) []ResourceFailure {
	var root, cancelled, stack []ResourceFailure
	for _, e := range evs {
		f := ResourceFailure{LogicalID: aws.ToString(e.LogicalResourceId), Type: aws.ToString(e.ResourceType),
			Status: string(e.ResourceStatus), Reason: aws.ToString(e.ResourceStatusReason)}
		switch {
		case aws.ToString(e.PhysicalResourceId) == stackID || f.Type == "AWS::CloudFormation::Stack":
			stack = append(stack, f)
		case strings.Contains(f.Reason, "cancelled"):
			cancelled = append(cancelled, f)
		default:
			root = append(root, f)
		}
	}
	switch {
	case len(root) > 0:
		return root
	case len(cancelled) > 0:
		return cancelled
	}
	return stack
}

// waitStack follows a stack until it leaves its _IN_PROGRESS status, reporting its events.
func (d *Deployer) waitStack(ctx context.Context, stackID string, l *eventLog) (*types.Stack, error) {
	p := d.poller()
	for {
		if err := d.newEvents(ctx, stackID, l); err != nil {
			return nil, err
		}
		st, err := d.describeStack(ctx, stackID)
		if err != nil {
			return nil, err
		}
		if st == nil {
			return nil, fmt.Errorf("stack %s disappeared while waiting for it", stackID)
		}
		status := string(st.StackStatus)
		if !strings.HasSuffix(status, "_IN_PROGRESS") || status == "REVIEW_IN_PROGRESS" {
			if err := d.newEvents(ctx, stackID, l); err != nil {
				return nil, err
			}
			return st, nil
		}
		if err := p.wait(ctx); err != nil {
			return nil, fmt.Errorf("wait for stack %s (%s): %w", aws.ToString(st.StackName), status, err)
		}
	}
}

// stackFailed builds the StackError of a stack that ended in status.
func stackFailed(st *types.Stack, l *eventLog) *StackError {
	e := &StackError{Stack: aws.ToString(st.StackName), Status: string(st.StackStatus), Reason: aws.ToString(st.StackStatusReason)}
	if l != nil {
		e.Failures = failuresOf(l.failures, aws.ToString(st.StackId))
		if e.Reason == "" {
			e.Reason = l.reason
		}
	}
	return e
}
