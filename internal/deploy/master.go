package deploy

import (
	cfn "github.com/awslabs/goformation/v7/cloudformation"
	"github.com/awslabs/goformation/v7/cloudformation/sns"
	"github.com/awslabs/goformation/v7/cloudformation/sqs"
)

// Master template parameters.
const (
	ParamTopicName         = "TopicName"
	ParamTargetAccounts    = "TargetAccounts"
	ParamOrganizationID    = "OrganizationId"
	ParamNotificationEmail = "NotificationEmail"
	ParamSubscribeQueue    = "SubscribeQueue"
)

// Master template conditions.
const (
	CondUseOrganization = "UseOrganization"
	CondHasEmail        = "HasNotificationEmail"
	CondCreateQueue     = "CreateQueue"
)

// Master template logical IDs and outputs.
const (
	LogicalTopic             = "NotificationTopic"
	LogicalTopicPolicy       = "NotificationTopicPolicy"
	LogicalEmailSubscription = "EmailSubscription"
	LogicalQueue             = "NotificationQueue"
	LogicalQueuePolicy       = "NotificationQueuePolicy"
	LogicalQueueSubscription = "QueueSubscription"

	OutputTopicArn = "TopicArn"
	OutputQueueURL = "QueueUrl"
)

// Master is the template of the master account (the seed's step 1): the SNS
// topic that receives a message for every non-compliant user of every target
// account, a topic policy letting the target accounts (or the whole
// organization) publish, and optional email and SQS subscriptions.
func Master() *Template {
	t := newTemplate("keyage master stack: the SNS topic that receives a message for every IAM user whose access keys need rotation, from every target account (AWS Config rule access-keys-rotated, SSM automation remediation).")

	t.Parameters[ParamTopicName] = withPattern(parameter("String",
		"Name of the SNS topic for non-compliance messages (also the name of the optional queue).",
		DefaultTopicName), `^[A-Za-z0-9_-]{1,256}$`)
	t.Parameters[ParamTargetAccounts] = parameter("CommaDelimitedList",
		"Accounts allowed to publish to the topic, comma separated (ignored when OrganizationId is set).", "")
	t.Parameters[ParamOrganizationID] = withPattern(parameter("String",
		"When set (o-...), every account of this organization may publish instead of TargetAccounts.", ""),
		`^(o-[a-z0-9]{10,32})?$`)
	t.Parameters[ParamNotificationEmail] = parameter("String",
		"When set, this address is subscribed to the topic (it must confirm the subscription).", "")
	subscribe := parameter("String", "true creates an SQS queue subscribed to the topic.", "false")
	subscribe.AllowedValues = []any{"true", "false"}
	t.Parameters[ParamSubscribeQueue] = subscribe

	t.Conditions[CondUseOrganization] = cfn.Not([]string{cfn.Equals(cfn.Ref(ParamOrganizationID), "")})
	t.Conditions[CondHasEmail] = cfn.Not([]string{cfn.Equals(cfn.Ref(ParamNotificationEmail), "")})
	t.Conditions[CondCreateQueue] = cfn.Equals(cfn.Ref(ParamSubscribeQueue), "true")

	t.Resources[LogicalTopic] = &sns.Topic{
		TopicName:   cfn.RefPtr(ParamTopicName),
		DisplayName: cfn.String("keyage access key rotation"),
	}

	orgStatement := Statement{
		Sid:       "PublishFromOrganization",
		Effect:    "Allow",
		Principal: map[string]any{"AWS": "*"},
		Action:    []string{"sns:Publish"},
		Resource:  cfn.Ref(LogicalTopic),
		Condition: map[string]any{"StringEquals": map[string]any{"aws:PrincipalOrgID": cfn.Ref(ParamOrganizationID)}},
	}
	accountsStatement := Statement{
		Sid:    "PublishFromTargetAccounts",
		Effect: "Allow",
		// Account IDs as principals stand for the accounts' roots in every
		// partition (aws, aws-us-gov, aws-cn), unlike arn:aws:iam::<id>:root.
		Principal: map[string]any{"AWS": cfn.Ref(ParamTargetAccounts)},
		Action:    []string{"sns:Publish"},
		Resource:  cfn.Ref(LogicalTopic),
	}
	t.Resources[LogicalTopicPolicy] = &sns.TopicPolicy{
		Topics: []string{cfn.Ref(LogicalTopic)},
		PolicyDocument: map[string]any{
			"Version":   policyVersion,
			"Statement": []any{cfn.If(CondUseOrganization, orgStatement, accountsStatement)},
		},
	}

	t.Resources[LogicalEmailSubscription] = &sns.Subscription{
		Protocol:                   "email",
		Endpoint:                   cfn.RefPtr(ParamNotificationEmail),
		TopicArn:                   cfn.Ref(LogicalTopic),
		AWSCloudFormationCondition: CondHasEmail,
	}

	t.Resources[LogicalQueue] = &sqs.Queue{
		QueueName:                  cfn.RefPtr(ParamTopicName),
		MessageRetentionPeriod:     cfn.Int(14 * 24 * 3600),
		SqsManagedSseEnabled:       cfn.Bool(true),
		AWSCloudFormationCondition: CondCreateQueue,
	}
	t.Resources[LogicalQueuePolicy] = &sqs.QueuePolicy{
		Queues: []string{cfn.Ref(LogicalQueue)},
		PolicyDocument: PolicyDocument{
			Version: policyVersion,
			Statement: []Statement{{
				Sid:       "TopicSendsToQueue",
				Effect:    "Allow",
				Principal: map[string]any{"Service": "sns.amazonaws.com"},
				Action:    []string{"sqs:SendMessage"},
				Resource:  cfn.GetAtt(LogicalQueue, "Arn"),
				Condition: map[string]any{"ArnEquals": map[string]any{"aws:SourceArn": cfn.Ref(LogicalTopic)}},
			}},
		},
		AWSCloudFormationCondition: CondCreateQueue,
	}
	t.Resources[LogicalQueueSubscription] = &sns.Subscription{
		Protocol:                   "sqs",
		Endpoint:                   cfn.GetAttPtr(LogicalQueue, "Arn"),
		TopicArn:                   cfn.Ref(LogicalTopic),
		AWSCloudFormationCondition: CondCreateQueue,
	}

	t.Outputs[OutputTopicArn] = cfn.Output{
		Value:       cfn.Ref(LogicalTopic),
		Description: cfn.String("ARN of the topic: the SNSTopicArn parameter of the target StackSet."),
	}
	t.Outputs[OutputQueueURL] = cfn.Output{
		Value:       cfn.Ref(LogicalQueue),
		Description: cfn.String("URL of the queue subscribed to the topic."),
		Condition:   cfn.String(CondCreateQueue),
	}
	return t
}

func withPattern(p cfn.Parameter, pattern string) cfn.Parameter {
	p.AllowedPattern = &pattern
	return p
}
