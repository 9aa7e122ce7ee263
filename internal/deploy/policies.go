package deploy

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// This file is the single source of the IAM permissions keyage needs: the
// policies printed by "keyage iam-policy" and the audit role of the target
// template both come from here.

// PolicyDocument is an IAM policy document.
type PolicyDocument struct {
	Version   string      `json:"Version"`
	Statement []Statement `json:"Statement"`
}

// Statement is one statement of a PolicyDocument.
type Statement struct {
	Sid       string         `json:"Sid,omitempty"`
	Effect    string         `json:"Effect"`
	Principal map[string]any `json:"Principal,omitempty"`
	Action    []string       `json:"Action"`
	Resource  any            `json:"Resource,omitempty"`
	Condition any            `json:"Condition,omitempty"`
}

const policyVersion = "2012-10-17"

// AuditReadActions are the calls "keyage scan" makes in every account it
// reads, through the audit role: users, keys, key last use, tags, the
// credential report, the account summary and the verdicts of AWS Config;
// and the state of the Config recorder, which "keyage deploy preflight"
// reads through it when the StackSet execution role is not there.
var AuditReadActions = []string{
	"iam:ListUsers",
	"iam:GetUser",
	"iam:ListAccessKeys",
	"iam:GetAccessKeyLastUsed",
	"iam:ListUserTags",
	"iam:GenerateCredentialReport",
	"iam:GetCredentialReport",
	"iam:GetAccountSummary",
	"config:ListDiscoveredResources",
	"config:DescribeConfigurationRecorders",
	"config:DescribeConfigurationRecorderStatus",
}

// Defaults of the names policies are scoped to; they match the templates'
// parameter defaults and the seed's stack names.
const (
	DefaultAuditRoleName   = "KeyageAuditRole"
	DefaultEnforceRoleName = "KeyageEnforceRole"
	// DefaultFindingsRoleName is the role, in each target account, that
	// the securityhub receiver assumes to import findings.
	DefaultFindingsRoleName = "KeyageFindingsRole"
	DefaultTopicName        = "access-key-rotation"
	DefaultMasterStack      = "AccessKeyRotationMaster"
	DefaultTargetStackSet   = "AccessKeyRotationTarget"
	// StackSetAdministrationRole is the role of a self-managed StackSet in
	// the administrator account, as AWS's StackSet prerequisites name it.
	StackSetAdministrationRole = "AWSCloudFormationStackSetAdministrationRole"
	// StackSetExecutionRole is its counterpart in each target account.
	StackSetExecutionRole = "AWSCloudFormationStackSetExecutionRole"
)

// PolicyOptions are the names the policies are scoped to. Empty fields take
// the defaults.
type PolicyOptions struct {
	AuditRoleName string // KeyageAuditRole
	// FindingsRoleName is the securityhub receiver's role in each target
	// account: KeyageFindingsRole.
	FindingsRoleName string
	TopicName        string // access-key-rotation (also the queue name prefix)
	MasterStack      string // AccessKeyRotationMaster
	TargetStackSet   string // AccessKeyRotationTarget
	// Partition of the ARNs: aws (default), aws-us-gov or aws-cn.
	Partition string
	// SecretPrefix is the name prefix of keyage rotate's secrets: keyage/.
	SecretPrefix string
	// RotateKMSKeyARN, when set, is lifecycle.rotate.kmsKeyId's key: the enforcer may
	// kms:GenerateDataKey and kms:Decrypt with it.
	RotateKMSKeyARN string
}

// Partitions are the AWS partitions policies can be written for.
var Partitions = []string{"aws", "aws-us-gov", "aws-cn"}

func (o PolicyOptions) withDefaults() PolicyOptions {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&o.AuditRoleName, DefaultAuditRoleName)
	def(&o.FindingsRoleName, DefaultFindingsRoleName)
	def(&o.TopicName, DefaultTopicName)
	def(&o.MasterStack, DefaultMasterStack)
	def(&o.TargetStackSet, DefaultTargetStackSet)
	def(&o.Partition, "aws")
	def(&o.SecretPrefix, DefaultSecretPrefix)
	return o
}

// Policy modes.
const (
	ModeScanner     = "scanner"
	ModeRemediation = "remediation"
	ModeDeployer    = "deployer"
	ModeEnforcer    = "enforcer"
	ModeFindings    = "findings"
)

// PolicyModes lists the modes Policy knows, in the order they are documented.
var PolicyModes = []string{ModeScanner, ModeRemediation, ModeDeployer, ModeEnforcer, ModeFindings}

// EnforceActions are the calls "keyage enforce" makes on the users of each
// account it enforces in: read the keys, then deactivate or delete them.
var EnforceActions = []string{
	"iam:ListAccessKeys",
	"iam:GetAccessKeyLastUsed",
	"iam:GetUser",
	"iam:ListUserTags",
	"iam:UpdateAccessKey",
	"iam:DeleteAccessKey",
	"iam:CreateAccessKey", // keyage rotate (lifecycle.rotate)
}

// RotateSecretActions are the Secrets Manager calls keyage rotate makes on the secrets under
// the keyage prefix (docs/rotation.md).
var RotateSecretActions = []string{
	"secretsmanager:CreateSecret",
	"secretsmanager:PutSecretValue",
	"secretsmanager:DescribeSecret",
	"secretsmanager:TagResource",
	"secretsmanager:PutResourcePolicy",
}

// DefaultSecretPrefix is where keyage rotate's secrets live (lifecycle.rotate.secretName's
// default keyage/access-keys/{userName}).
const DefaultSecretPrefix = "keyage/"

// Policy returns the least-privilege policy keyage needs in mode:
//   - scanner: the management-account caller of "keyage scan": the
//     organization's accounts, the audit role in each, and the same IAM
//     reads in its own account;
//   - remediation: "keyage run", "remediate" and the daemon: the receivers
//     (SNS, SQS, Lambda, SES), resolving a resourceId, and the audit role;
//   - deployer: "keyage deploy": the master stack and its topic and queue,
//     the target StackSet and its administration role;
//   - enforcer: "keyage enforce" in each account: read, deactivate and
//     delete the access keys of users; and "keyage rotate": create them and
//     write them to the secrets under SecretPrefix (with RotateKMSKeyARN's key);
//   - findings: the findings role in each target account, which the
//     securityhub receiver assumes: BatchImportFindings into the account's
//     default product, nothing else (remediation may assume it).
func Policy(mode string, o PolicyOptions) (PolicyDocument, error) {
	o = o.withDefaults()
	if !slices.Contains(Partitions, o.Partition) {
		return PolicyDocument{}, fmt.Errorf("partition %q: want one of %s", o.Partition, strings.Join(Partitions, ", "))
	}
	var st []Statement
	switch mode {
	case ModeScanner:
		st = scannerStatements(o)
	case ModeRemediation:
		st = remediationStatements(o)
	case ModeDeployer:
		st = deployerStatements(o)
	case ModeEnforcer:
		st = []Statement{allow("EnforceOnUsers", o.arn("iam::*:user/*"), slices.Clone(EnforceActions)...),
			allow("RotateIntoSecrets", o.arn("secretsmanager:*:*:secret:"+o.SecretPrefix+"*"), slices.Clone(RotateSecretActions)...)}
		if o.RotateKMSKeyARN != "" {
			st = append(st, allow("RotateSecretsKey", o.RotateKMSKeyARN, "kms:GenerateDataKey", "kms:Decrypt"))
		}
	case ModeFindings:
		st = []Statement{allow("ImportFindings", o.arn("securityhub:*:*:product/*/default"), "securityhub:BatchImportFindings")}
	default:
		return PolicyDocument{}, fmt.Errorf("policy mode %q: want scanner, remediation, deployer, enforcer or findings", mode)
	}
	return PolicyDocument{Version: policyVersion, Statement: st}, nil
}

func allow(sid string, resource any, actions ...string) Statement {
	return Statement{Sid: sid, Effect: "Allow", Action: actions, Resource: resource}
}

func auditRoleARN(o PolicyOptions) string { return o.arn("iam::*:role/" + o.AuditRoleName) }

// arn is arn:<partition>:<rest>.
func (o PolicyOptions) arn(rest string) string { return "arn:" + o.Partition + ":" + rest }

func scannerStatements(o PolicyOptions) []Statement {
	return []Statement{
		allow("ListOrganizationAccounts", "*",
			"organizations:ListRoots",
			"organizations:ListAccounts",
			"organizations:ListAccountsForParent",
			"organizations:ListOrganizationalUnitsForParent",
			"organizations:DescribeOrganization"),
		allow("AssumeAuditRole", auditRoleARN(o), "sts:AssumeRole"),
		allow("WhoAmI", "*", "sts:GetCallerIdentity"),
		allow("ReadOwnAccount", "*", slices.Clone(AuditReadActions)...),
	}
}

func remediationStatements(o PolicyOptions) []Statement {
	return []Statement{
		allow("PublishNotifications", "*", "sns:Publish"),
		allow("QueueMessages", "*", "sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage"),
		allow("InvokeReceiverFunctions", "*", "lambda:InvokeFunction"),
		allow("SendEmail", "*", "ses:SendEmail"),
		allow("ResolveUsers", "*",
			"config:ListDiscoveredResources",
			"iam:GetUser",
			"iam:ListUsers",
			"iam:ListAccessKeys",
			"iam:GetAccessKeyLastUsed"),
		allow("AssumeAuditRole", auditRoleARN(o), "sts:AssumeRole"),
		allow("AssumeFindingsRole", o.arn("iam::*:role/"+o.FindingsRoleName), "sts:AssumeRole"),
	}
}

func deployerStatements(o PolicyOptions) []Statement {
	return []Statement{
		allow("MasterStack", []string{
			o.arn("cloudformation:*:*:stack/" + o.MasterStack + "/*"),
		},
			"cloudformation:CreateStack",
			"cloudformation:UpdateStack",
			"cloudformation:DeleteStack",
			"cloudformation:DescribeStacks",
			"cloudformation:DescribeStackEvents",
			"cloudformation:DescribeStackResources",
			"cloudformation:GetTemplate",
			"cloudformation:CreateChangeSet",
			"cloudformation:DescribeChangeSet",
			"cloudformation:ExecuteChangeSet",
			"cloudformation:DeleteChangeSet",
			"cloudformation:DetectStackDrift",
			"cloudformation:DescribeStackResourceDrifts"),
		allow("TargetStackSet", []string{
			o.arn("cloudformation:*:*:stackset/" + o.TargetStackSet + ":*"),
			o.arn("cloudformation:*:*:stackset-target/" + o.TargetStackSet + ":*/*"),
			o.arn("cloudformation:*::type/resource/*"),
		},
			"cloudformation:CreateStackSet",
			"cloudformation:UpdateStackSet",
			"cloudformation:DeleteStackSet",
			"cloudformation:DescribeStackSet",
			"cloudformation:DescribeStackSetOperation",
			"cloudformation:ListStackSetOperations",
			"cloudformation:ListStackSetOperationResults",
			"cloudformation:CreateStackInstances",
			"cloudformation:UpdateStackInstances",
			"cloudformation:DeleteStackInstances",
			"cloudformation:ListStackInstances",
			"cloudformation:DescribeStackInstance",
			"cloudformation:DetectStackSetDrift"),
		allow("AccountWideCloudFormationCalls", "*",
			"cloudformation:ValidateTemplate",
			"cloudformation:DescribeStackDriftDetectionStatus",
			"cloudformation:ListStacks",
			"cloudformation:ListStackSets"),
		{
			Sid:       "PassStackSetAdministrationRole",
			Effect:    "Allow",
			Action:    []string{"iam:PassRole"},
			Resource:  o.arn("iam::*:role/" + StackSetAdministrationRole),
			Condition: map[string]any{"StringEquals": map[string]any{"iam:PassedToService": "cloudformation.amazonaws.com"}},
		},
		allow("MasterTopic", o.arn("sns:*:*:"+o.TopicName+"*"),
			"sns:*Topic*",
			"sns:Subscribe",
			"sns:Unsubscribe",
			"sns:GetSubscriptionAttributes",
			"sns:SetSubscriptionAttributes",
			"sns:TagResource",
			"sns:UntagResource"),
		allow("MasterQueue", o.arn("sqs:*:*:"+o.TopicName+"*"),
			"sqs:*Queue*"),
		allow("ServiceManagedStackSets", "*",
			"organizations:DescribeOrganization",
			"organizations:ListAccountsForParent",
			"organizations:ListOrganizationalUnitsForParent",
			"organizations:ListDelegatedAdministrators",
			"organizations:ListAWSServiceAccessForOrganization"),
		// keyage deploy preflight: the StackSet roles' trust policies, the Config recorders and
		// rules, and the resource types each region offers.
		allow("Preflight", "*",
			"iam:GetRole",
			"config:DescribeConfigurationRecorders",
			"config:DescribeConfigurationRecorderStatus",
			"config:DescribeConfigRules",
			"cloudformation:DescribeType"),
	}
}

// RolePolicies returns, by role name, the identity policy (JSON) of each
// role keyage assumes in an account: the audit role gets the scanner
// policy, KeyageEnforceRole the enforcer policy. The sandbox gives its
// roles these by default.
func RolePolicies(o PolicyOptions) (map[string]string, error) {
	o = o.withDefaults()
	out := map[string]string{}
	for role, mode := range map[string]string{o.AuditRoleName: ModeScanner, DefaultEnforceRoleName: ModeEnforcer} {
		doc, err := Policy(mode, o)
		if err != nil {
			return nil, err
		}
		b, err := json.Marshal(doc)
		if err != nil {
			return nil, fmt.Errorf("encode the %s policy: %w", mode, err)
		}
		out[role] = string(b)
	}
	return out, nil
}
