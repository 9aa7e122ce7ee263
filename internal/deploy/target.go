package deploy

import (
	"slices"

	cfn "github.com/awslabs/goformation/v7/cloudformation"
	"github.com/awslabs/goformation/v7/cloudformation/config"
	"github.com/awslabs/goformation/v7/cloudformation/iam"
	"github.com/awslabs/goformation/v7/cloudformation/ssm"
)

// Target template parameters.
const (
	ParamMaxAccessKeyAge           = "MaxAccessKeyAge"
	ParamMaximumExecutionFrequency = "MaximumExecutionFrequency"
	ParamSNSTopicArn               = "SNSTopicArn"
	ParamMasterAccountID           = "MasterAccountId"
	ParamOwnerTagKey               = "OwnerTagKey"
	ParamExternalID                = "ExternalId"
	ParamAuditRoleName             = "AuditRoleName"
	ParamMaximumAutomaticAttempts  = "MaximumAutomaticAttempts"
	ParamRetryAttemptSeconds       = "RetryAttemptSeconds"
	ParamEnableEnforcement         = "EnableEnforcement"
	ParamEnableFindings            = "EnableFindings"
	ParamTopicKmsKeyArn            = "TopicKmsKeyArn"
)

// Target template conditions.
const (
	CondHasOwnerTagKey = "HasOwnerTagKey"
	CondHasExternalID  = "HasExternalId"
	CondEnforcement    = "EnableEnforcement"
	CondFindings       = "EnableFindings"
	CondHasTopicKey    = "HasTopicKmsKey"
)

// Target template logical IDs and outputs.
const (
	LogicalRemediationRole       = "RemediationRole"
	LogicalRemediationRolePolicy = "RemediationRolePolicy"
	LogicalDocument              = "RemediationDocument"
	LogicalConfigRule            = "AccessKeysRotatedRule"
	LogicalRemediation           = "AccessKeysRotatedRemediation"
	LogicalAuditRole             = "AuditRole"
	LogicalEnforceRole           = "EnforceRole"
	LogicalFindingsRole          = "FindingsRole"

	OutputRemediationRoleArn = "RemediationRoleArn"
	OutputDocumentName       = "RemediationDocumentName"
	OutputConfigRuleName     = "ConfigRuleName"
	OutputAuditRoleArn       = "AuditRoleArn"
	OutputEnforceRoleArn     = "EnforceRoleArn"
	OutputFindingsRoleArn    = "FindingsRoleArn"
)

// ConfigRuleName is the name of the managed rule, as the seed and AWS name it.
const ConfigRuleName = "access-keys-rotated"

// ExecutionFrequencies are the values AWS Config accepts for
// MaximumExecutionFrequency.
var ExecutionFrequencies = []string{"One_Hour", "Three_Hours", "Six_Hours", "Twelve_Hours", "TwentyFour_Hours"}

// Target is the template of every target account, deployed by a StackSet
// (the seed's step 2): the AWS Config rule access-keys-rotated, the SSM
// automation document with the seed's two steps, the role the automation
// runs as, the automatic remediation linking them, and the read-only audit
// role "keyage scan" assumes from the master account.
func Target() *Template {
	t := newTemplate("keyage target stack: AWS Config rule access-keys-rotated with an automatic SSM remediation that publishes each non-compliant IAM user to the master topic, and the read-only role keyage scan assumes.")

	age := parameter("Number", "Days an active access key may be old and still be compliant (the rule's maxAccessKeyAge).", 90)
	age.MinValue, age.MaxValue = cfn.Float64(1), cfn.Float64(3650)
	t.Parameters[ParamMaxAccessKeyAge] = age
	freq := parameter("String", "How often AWS Config evaluates the rule.", "TwentyFour_Hours")
	for _, f := range ExecutionFrequencies {
		freq.AllowedValues = append(freq.AllowedValues, f)
	}
	t.Parameters[ParamMaximumExecutionFrequency] = freq
	t.Parameters[ParamSNSTopicArn] = withPattern(parameter("String",
		"ARN of the master topic (the TopicArn output of the master stack).", nil),
		`^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]+$`)
	t.Parameters[ParamMasterAccountID] = withPattern(parameter("String",
		"The account keyage scans from: it may assume the audit role.", nil), `^\d{12}$`)
	t.Parameters[ParamOwnerTagKey] = parameter("String",
		"When set, the automation reads this tag of the user (its owner's email) and names it in the message.", "")
	t.Parameters[ParamExternalID] = parameter("String",
		"When set, assuming the audit role requires this sts:ExternalId.", "")
	t.Parameters[ParamAuditRoleName] = withPattern(parameter("String",
		"Name of the read-only role keyage assumes (keyage's --role-name).", DefaultAuditRoleName), `^[\w+=,.@-]{1,64}$`)
	attempts := parameter("Number", "Times AWS Config retries a failed remediation within RetryAttemptSeconds.", 5)
	attempts.MinValue, attempts.MaxValue = cfn.Float64(1), cfn.Float64(25)
	t.Parameters[ParamMaximumAutomaticAttempts] = attempts
	retry := parameter("Number", "The window, in seconds, in which AWS Config makes MaximumAutomaticAttempts attempts.", 60)
	retry.MinValue, retry.MaxValue = cfn.Float64(1), cfn.Float64(2678000)
	t.Parameters[ParamRetryAttemptSeconds] = retry

	enforce := parameter("String", "true creates "+DefaultEnforceRoleName+", the role keyage enforce assumes to deactivate and delete access keys.", "false")
	enforce.AllowedValues = []any{"true", "false"}
	t.Parameters[ParamEnableEnforcement] = enforce
	findings := parameter("String", "true creates "+DefaultFindingsRoleName+", the role the securityhub receiver assumes to import findings into the account's Security Hub.", "false")
	findings.AllowedValues = []any{"true", "false"}
	t.Parameters[ParamEnableFindings] = findings

	t.Parameters[ParamTopicKmsKeyArn] = withPattern(parameter("String",
		"ARN of the KMS key encrypting the master topic (the KmsKeyArn output of the master stack); empty when it is not encrypted.", ""),
		`^(arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9-]+)?$`)
	t.Conditions[CondHasTopicKey] = cfn.Not([]string{cfn.Equals(cfn.Ref(ParamTopicKmsKeyArn), "")})
	t.Conditions[CondEnforcement] = cfn.Equals(cfn.Ref(ParamEnableEnforcement), "true")
	t.Conditions[CondFindings] = cfn.Equals(cfn.Ref(ParamEnableFindings), "true")
	t.Conditions[CondHasOwnerTagKey] = cfn.Not([]string{cfn.Equals(cfn.Ref(ParamOwnerTagKey), "")})
	t.Conditions[CondHasExternalID] = cfn.Not([]string{cfn.Equals(cfn.Ref(ParamExternalID), "")})

	// The role AWS Config passes to the automation as AutomationAssumeRole.
	// Its permissions are a separate resource: they name the role's own ARN
	// (iam:PassRole to the child automation), which the role itself cannot.
	t.Resources[LogicalRemediationRole] = &iam.Role{
		Description: cfn.String("Runs the keyage remediation automation (AWS Config rule access-keys-rotated)."),
		AssumeRolePolicyDocument: PolicyDocument{
			Version: policyVersion,
			Statement: []Statement{{
				Effect:    "Allow",
				Principal: map[string]any{"Service": "ssm.amazonaws.com"},
				Action:    []string{"sts:AssumeRole"},
			}},
		},
	}
	t.Resources[LogicalRemediationRolePolicy] = &iam.RolePolicy{
		RoleName:       cfn.Ref(LogicalRemediationRole),
		PolicyName:     "keyage-remediation",
		PolicyDocument: remediationRolePolicy(),
	}

	t.Resources[LogicalDocument] = &ssm.Document{
		DocumentType: cfn.String("Automation"),
		Content:      cfn.If(CondHasOwnerTagKey, remediationDocument(true), remediationDocument(false)),
	}

	t.Resources[LogicalConfigRule] = &config.ConfigRule{
		ConfigRuleName:            cfn.String(ConfigRuleName),
		Description:               cfn.String("Checks that the active access keys of IAM users are rotated within maxAccessKeyAge days."),
		InputParameters:           map[string]any{"maxAccessKeyAge": cfn.Ref(ParamMaxAccessKeyAge)},
		MaximumExecutionFrequency: cfn.RefPtr(ParamMaximumExecutionFrequency),
		Source:                    &config.ConfigRule_Source{Owner: "AWS", SourceIdentifier: cfn.String("ACCESS_KEYS_ROTATED")},
	}

	t.Resources[LogicalRemediation] = &config.RemediationConfiguration{
		ConfigRuleName: cfn.Ref(LogicalConfigRule),
		TargetId:       cfn.Ref(LogicalDocument),
		TargetType:     "SSM_DOCUMENT",
		Automatic:      cfn.Bool(true),
		Parameters: map[string]config.RemediationConfiguration_RemediationParameterValue{
			"ResourceId": {ResourceValue: &config.RemediationConfiguration_ResourceValue{Value: cfn.String("RESOURCE_ID")}},
			"AutomationAssumeRole": {StaticValue: &config.RemediationConfiguration_StaticValue{
				Values: []string{cfn.GetAtt(LogicalRemediationRole, "Arn")},
			}},
		},
		// The automation must not run before its role may do its work.
		AWSCloudFormationDependsOn: []string{LogicalRemediationRolePolicy},
	}
	t.refProperty(LogicalRemediation, "MaximumAutomaticAttempts", ParamMaximumAutomaticAttempts)
	t.refProperty(LogicalRemediation, "RetryAttemptSeconds", ParamRetryAttemptSeconds)

	t.Resources[LogicalAuditRole] = masterRole(cfn.RefPtr(ParamAuditRoleName), "Read-only role keyage scan assumes from the master account.", "",
		"keyage-audit-read", allow("KeyageScan", "*", slices.Clone(AuditReadActions)...))

	// The enforcement role is apart from the read-only audit role: it may change keys, so it
	// exists only where enforcement is wanted, and its use is audited on its own.
	t.Resources[LogicalEnforceRole] = masterRole(cfn.String(DefaultEnforceRoleName),
		"Role keyage enforce assumes from the master account to deactivate and delete aged access keys.", CondEnforcement,
		"keyage-enforce", allow("EnforceOnUsers", cfn.Sub("arn:${AWS::Partition}:iam::*:user/*"), slices.Clone(EnforceActions)...),
		allow("RotateIntoSecrets", cfn.Sub("arn:${AWS::Partition}:secretsmanager:*:*:secret:"+DefaultSecretPrefix+"*"), slices.Clone(RotateSecretActions)...))
	t.Outputs[OutputEnforceRoleArn] = cfn.Output{Value: cfn.GetAtt(LogicalEnforceRole, "Arn"), Condition: cfn.String(CondEnforcement)}

	// The findings role imports findings into the account's own Security Hub (with the default
	// product ARN, AWS accepts only findings whose AwsAccountId is the caller's account), so the
	// audit role stays read-only.
	t.Resources[LogicalFindingsRole] = masterRole(cfn.String(DefaultFindingsRoleName),
		"Role the keyage securityhub receiver assumes from the master account to import findings.", CondFindings,
		"keyage-findings", allow("ImportFindings", cfn.Sub("arn:${AWS::Partition}:securityhub:*:*:product/*/default"), "securityhub:BatchImportFindings"))
	t.Outputs[OutputFindingsRoleArn] = cfn.Output{Value: cfn.GetAtt(LogicalFindingsRole, "Arn"), Condition: cfn.String(CondFindings)}

	addEventForwarding(t)

	t.Outputs[OutputRemediationRoleArn] = cfn.Output{Value: cfn.GetAtt(LogicalRemediationRole, "Arn")}
	t.Outputs[OutputDocumentName] = cfn.Output{Value: cfn.Ref(LogicalDocument)}
	t.Outputs[OutputConfigRuleName] = cfn.Output{Value: cfn.Ref(LogicalConfigRule)}
	t.Outputs[OutputAuditRoleArn] = cfn.Output{Value: cfn.GetAtt(LogicalAuditRole, "Arn")}
	return t
}

// masterRole is a role the master account assumes, with one inline policy
// of the statements, created only where condition holds (always when empty).
func masterRole(name *string, description, condition, policyName string, sts ...Statement) *iam.Role {
	return &iam.Role{
		RoleName:                   name,
		Description:                cfn.String(description),
		AssumeRolePolicyDocument:   masterTrust(),
		AWSCloudFormationCondition: condition,
		Policies: []iam.Role_Policy{{
			PolicyName:     policyName,
			PolicyDocument: PolicyDocument{Version: policyVersion, Statement: sts},
		}},
	}
}

// masterTrust lets the master account assume a role, with the ExternalId when one is set.
func masterTrust() PolicyDocument {
	return PolicyDocument{
		Version: policyVersion,
		Statement: []Statement{{
			Effect:    "Allow",
			Principal: map[string]any{"AWS": cfn.Sub("arn:${AWS::Partition}:iam::${" + ParamMasterAccountID + "}:root")},
			Action:    []string{"sts:AssumeRole"},
			Condition: cfn.If(CondHasExternalID,
				map[string]any{"StringEquals": map[string]any{"sts:ExternalId": cfn.Ref(ParamExternalID)}},
				cfn.Ref("AWS::NoValue")),
		}},
	}
}

// remediationRolePolicy is the least privilege of the automation: resolve
// the user name with AWS Config, run AWS-PublishSNSNotification as a child
// automation (which runs as this same role, hence iam:PassRole on itself),
// publish to the master topic only, and, with OwnerTagKey, read the user.
func remediationRolePolicy() map[string]any {
	return map[string]any{
		"Version": policyVersion,
		"Statement": []any{
			allow("ResolveUserName", "*", "config:ListDiscoveredResources"),
			allow("PublishToMasterTopic", cfn.Ref(ParamSNSTopicArn), "sns:Publish"),
			allow("RunPublishAutomation", []string{
				cfn.Sub("arn:${AWS::Partition}:ssm:${AWS::Region}:*:automation-definition/AWS-PublishSNSNotification:*"),
				cfn.Sub("arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:automation-execution/*"),
			}, "ssm:StartAutomationExecution", "ssm:GetAutomationExecution"),
			allow("PassOwnRoleToChildAutomation", cfn.GetAtt(LogicalRemediationRole, "Arn"), "iam:PassRole"),
			cfn.If(CondHasTopicKey,
				allow("EncryptForMasterTopic", cfn.Ref(ParamTopicKmsKeyArn), "kms:GenerateDataKey*", "kms:Decrypt"),
				cfn.Ref("AWS::NoValue")),
			cfn.If(CondHasOwnerTagKey,
				allow("ReadOwnerTag", cfn.Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:user/*"), "iam:ListUserTags"),
				cfn.Ref("AWS::NoValue")),
		},
	}
}
