package deploy

import (
	"sort"

	cfn "github.com/awslabs/goformation/v7/cloudformation"
	"github.com/awslabs/goformation/v7/cloudformation/events"
	"github.com/awslabs/goformation/v7/cloudformation/iam"
	"github.com/awslabs/goformation/v7/cloudformation/sqs"
)

// The change-triggered plumbing: in each target account, in us-east-1 (where IAM's CloudTrail
// events are delivered), EventBridge rules forward IAM key and user changes and the rule's
// compliance changes to the master account's default event bus; there a rule sends them to
// keyage's events queue (keyage serve --events-queue).

// Event plumbing parameters, conditions and logical IDs.
const (
	ParamMasterEventBusArn = "MasterEventBusArn" // target: where to forward; empty: no forwarding
	ParamEventsQueue       = "EventsQueue"       // master: true creates the receiving side

	CondForwardEvents = "ForwardEvents"
	CondEventsQueue   = "CreateEventsQueue"

	LogicalIAMChangesRule     = "IAMChangesRule"
	LogicalComplianceRule     = "ComplianceChangesRule"
	LogicalEventsForwardRole  = "EventsForwardRole"
	LogicalEventsQueue        = "EventsToKeyageQueue"
	LogicalEventsQueuePolicy  = "EventsQueuePolicy"
	LogicalEventBusPolicy     = "EventBusPolicy"
	LogicalEventsReceiverRule = "EventsToQueueRule"

	OutputEventsQueueURL = "EventsQueueUrl"
)

// iamEventNames are the IAM calls forwarded: events.IAMEvents, sorted.
func iamEventNames() []string {
	names := []string{"CreateAccessKey", "UpdateAccessKey", "DeleteAccessKey", "CreateUser", "DeleteUser", "TagUser", "UntagUser"}
	sort.Strings(names)
	return names
}

// eventPatterns are the two patterns, shared by the forwarding and the receiving rules.
func iamPattern() map[string]any {
	return map[string]any{
		"source":      []string{"aws.iam"},
		"detail-type": []string{"AWS API Call via CloudTrail"},
		"detail":      map[string]any{"eventSource": []string{"iam.amazonaws.com"}, "eventName": iamEventNames()},
	}
}

func compliancePattern() map[string]any {
	return map[string]any{
		"source":      []string{"aws.config"},
		"detail-type": []string{"Config Rules Compliance Change"},
		"detail":      map[string]any{"configRuleName": []string{ConfigRuleName}, "resourceType": []string{"AWS::IAM::User"}},
	}
}

// addEventForwarding adds the target side to t.
func addEventForwarding(t *Template) {
	t.Parameters[ParamMasterEventBusArn] = withPattern(parameter("String",
		"When set (the master account's default event bus ARN), EventBridge rules in us-east-1 forward IAM key and user changes and the rule's compliance changes there, for keyage serve --events-queue.", ""),
		`^(arn:aws[a-z-]*:events:us-east-1:\d{12}:event-bus/default)?$`)
	t.Conditions[CondForwardEvents] = cfn.And([]string{
		cfn.Not([]string{cfn.Equals(cfn.Ref(ParamMasterEventBusArn), "")}),
		cfn.Equals(cfn.Ref("AWS::Region"), "us-east-1"),
	})
	t.Resources[LogicalEventsForwardRole] = &iam.Role{
		Description: cfn.String("Lets EventBridge forward keyage's events to the master account's event bus."),
		AssumeRolePolicyDocument: PolicyDocument{Version: policyVersion, Statement: []Statement{{
			Effect: "Allow", Principal: map[string]any{"Service": "events.amazonaws.com"}, Action: []string{"sts:AssumeRole"}}}},
		Policies: []iam.Role_Policy{{PolicyName: "keyage-forward-events", PolicyDocument: PolicyDocument{
			Version: policyVersion, Statement: []Statement{allow("PutEventsOnMasterBus", cfn.Ref(ParamMasterEventBusArn), "events:PutEvents")}}}},
		AWSCloudFormationCondition: CondForwardEvents,
	}
	for logical, pattern := range map[string]map[string]any{LogicalIAMChangesRule: iamPattern(), LogicalComplianceRule: compliancePattern()} {
		t.Resources[logical] = &events.Rule{
			Description:  cfn.String("keyage: forwards to the master account's event bus"),
			EventPattern: pattern,
			State:        cfn.String("ENABLED"),
			Targets: []events.Rule_Target{{Id: "MasterEventBus", Arn: cfn.Ref(ParamMasterEventBusArn),
				RoleArn: cfn.String(cfn.GetAtt(LogicalEventsForwardRole, "Arn"))}},
			AWSCloudFormationCondition: CondForwardEvents,
		}
	}
}

// addEventReceiver adds the master side to t: the default bus accepts the targets' events,
// a rule sends them to the events queue.
func addEventReceiver(t *Template) {
	p := parameter("String", "true creates the receiving side of change-triggered re-checks: the default event bus accepts the target accounts' events and a rule sends them to a queue for keyage serve --events-queue.", "false")
	p.AllowedValues = []any{"true", "false"}
	t.Parameters[ParamEventsQueue] = p
	t.Conditions[CondEventsQueue] = cfn.Equals(cfn.Ref(ParamEventsQueue), "true")

	t.Resources[LogicalEventsQueue] = &sqs.Queue{
		QueueName:                  cfn.String(cfn.Sub("${" + ParamTopicName + "}-events")),
		MessageRetentionPeriod:     cfn.Int(4 * 24 * 3600),
		SqsManagedSseEnabled:       cfn.Bool(true),
		AWSCloudFormationCondition: CondEventsQueue,
	}
	t.Resources[LogicalEventsReceiverRule] = &events.Rule{
		Description:                cfn.String("keyage: IAM changes and access-keys-rotated compliance changes to the events queue"),
		EventPattern:               map[string]any{"$or": []any{iamPattern(), compliancePattern()}},
		State:                      cfn.String("ENABLED"),
		Targets:                    []events.Rule_Target{{Id: "EventsQueue", Arn: cfn.GetAtt(LogicalEventsQueue, "Arn")}},
		AWSCloudFormationCondition: CondEventsQueue,
	}
	t.Resources[LogicalEventsQueuePolicy] = &sqs.QueuePolicy{
		Queues: []string{cfn.Ref(LogicalEventsQueue)},
		PolicyDocument: PolicyDocument{Version: policyVersion, Statement: []Statement{{
			Sid: "EventBridgeSendsToQueue", Effect: "Allow", Principal: map[string]any{"Service": "events.amazonaws.com"},
			Action: []string{"sqs:SendMessage"}, Resource: cfn.GetAtt(LogicalEventsQueue, "Arn"),
			Condition: map[string]any{"ArnEquals": map[string]any{"aws:SourceArn": cfn.GetAtt(LogicalEventsReceiverRule, "Arn")}},
		}}},
		AWSCloudFormationCondition: CondEventsQueue,
	}
	t.Resources[LogicalEventBusPolicy] = &events.EventBusPolicy{
		StatementId: "keyage-target-accounts",
		Statement: cfn.If(CondUseOrganization,
			Statement{Effect: "Allow", Principal: map[string]any{"AWS": "*"}, Action: []string{"events:PutEvents"},
				Resource:  cfn.Sub("arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/default"),
				Condition: map[string]any{"StringEquals": map[string]any{"aws:PrincipalOrgID": cfn.Ref(ParamOrganizationID)}}},
			Statement{Effect: "Allow", Principal: map[string]any{"AWS": cfn.Ref(ParamTargetAccounts)}, Action: []string{"events:PutEvents"},
				Resource: cfn.Sub("arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/default")}),
		AWSCloudFormationCondition: CondEventsQueue,
	}
	t.Outputs[OutputEventsQueueURL] = cfn.Output{Value: cfn.Ref(LogicalEventsQueue), Condition: cfn.String(CondEventsQueue),
		Description: cfn.String("URL of the events queue: keyage serve --events-queue.")}
}
