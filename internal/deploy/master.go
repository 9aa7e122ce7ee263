package deploy

import (
	cfn "github.com/awslabs/goformation/v7/cloudformation"
	kmsres "github.com/awslabs/goformation/v7/cloudformation/kms"
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
	ParamKmsKey            = "KmsKey"
)

// Master template conditions.
const (
	CondUseOrganization = "UseOrganization"
	CondHasEmail        = "HasNotificationEmail"
	CondCreateQueue     = "CreateQueue"
	CondCreateKmsKey    = "CreateKmsKey"
	CondEncryptTopic    = "EncryptTopic"
)

// Master template logical IDs and outputs.
const (
	LogicalTopic             = "NotificationTopic"
	LogicalTopicPolicy       = "NotificationTopicPolicy"
	LogicalEmailSubscription = "EmailSubscription"
	LogicalQueue             = "NotificationQueue"
	LogicalQueuePolicy       = "NotificationQueuePolicy"
	LogicalQueueSubscription = "QueueSubscription"
	LogicalTopicKey          = "TopicKey"

	OutputTopicArn  = "TopicArn"
	OutputQueueURL  = "QueueUrl"
	OutputKmsKeyArn = "KmsKeyArn"
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

	kms := parameter("String", "create: a customer-managed KMS key encrypts the topic; a key ARN: that key; none: no encryption. The AWS-managed alias/aws/sns cannot serve: publishers in other accounts cannot be granted its use.", "create")
	t.Parameters[ParamKmsKey] = withPattern(kms, `^(create|none|arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9-]+)$`)
	t.Conditions[CondCreateKmsKey] = cfn.Equals(cfn.Ref(ParamKmsKey), "create")
	t.Conditions[CondEncryptTopic] = cfn.Not([]string{cfn.Equals(cfn.Ref(ParamKmsKey), "none")})

	t.Conditions[CondUseOrganization] = cfn.Not([]string{cfn.Equals(cfn.Ref(ParamOrganizationID), "")})
	t.Conditions[CondHasEmail] = cfn.Not([]string{cfn.Equals(cfn.Ref(ParamNotificationEmail), "")})
	t.Conditions[CondCreateQueue] = cfn.Equals(cfn.Ref(ParamSubscribeQueue), "true")

	t.Resources[LogicalTopic] = &sns.Topic{
		TopicName:   cfn.RefPtr(ParamTopicName),
		DisplayName: cfn.String("keyage access key rotation"),
		KmsMasterKeyId: cfn.String(cfn.If(CondEncryptTopic,
			cfn.If(CondCreateKmsKey, cfn.GetAtt(LogicalTopicKey, "Arn"), cfn.Ref(ParamKmsKey)),
			cfn.Ref("AWS::NoValue"))),
	}
	// The key: administered by this account; the publishers (the target accounts'
	// remediation roles, or the organization) may encrypt for the topic; SNS may decrypt
	// to deliver to the subscribed queue.
	kmsUse := []string{"kms:GenerateDataKey*", "kms:Decrypt"}
	t.Resources[LogicalTopicKey] = &kmsres.Key{
		Description:         cfn.String("keyage: encrypts the access key rotation topic"),
		EnableKeyRotation:   cfn.Bool(true),
		PendingWindowInDays: cfn.Int(7),
		KeyPolicy: map[string]any{
			"Version": policyVersion,
			"Statement": []any{
				Statement{Sid: "AdministerKey", Effect: "Allow", Principal: map[string]any{"AWS": cfn.Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")},
					Action: []string{"kms:*"}, Resource: "*"},
				Statement{Sid: "SnsDeliversToQueue", Effect: "Allow", Principal: map[string]any{"Service": "sns.amazonaws.com"},
					Action: kmsUse, Resource: "*"},
				cfn.If(CondUseOrganization,
					Statement{Sid: "PublishersEncrypt", Effect: "Allow", Principal: map[string]any{"AWS": "*"}, Action: kmsUse, Resource: "*",
						Condition: map[string]any{"StringEquals": map[string]any{"aws:PrincipalOrgID": cfn.Ref(ParamOrganizationID)}}},
					Statement{Sid: "PublishersEncrypt", Effect: "Allow", Principal: map[string]any{"AWS": cfn.Ref(ParamTargetAccounts)}, Action: kmsUse, Resource: "*"}),
			},
		},
		AWSCloudFormationCondition: CondCreateKmsKey,
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

	addEventReceiver(t)

	t.Outputs[OutputTopicArn] = cfn.Output{
		Value:       cfn.Ref(LogicalTopic),
		Description: cfn.String("ARN of the topic: the SNSTopicArn parameter of the target StackSet."),
	}
	t.Outputs[OutputKmsKeyArn] = cfn.Output{
		Value:       cfn.If(CondCreateKmsKey, cfn.GetAtt(LogicalTopicKey, "Arn"), cfn.Ref(ParamKmsKey)),
		Description: cfn.String("ARN of the key encrypting the topic: the TopicKmsKeyArn parameter of the target StackSet."),
		Condition:   cfn.String(CondEncryptTopic),
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
