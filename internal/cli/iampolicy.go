package cli

import (
	"context"
	"encoding/json"

	"github.com/spf13/cobra"

	"github.com/keyage/keyage/internal/deploy"
)

type iamPolicyOptions struct {
	mode   string
	policy deploy.PolicyOptions
}

func newIAMPolicyCmd(ios *IO) *cobra.Command {
	o := &iamPolicyOptions{}
	cmd := &cobra.Command{
		Use:   "iam-policy scanner|remediation|deployer|enforcer|findings",
		Short: "Print the least-privilege IAM policy keyage needs in a mode",
		Long: `Print, as JSON, the IAM policy document keyage itself needs:

  scanner      keyage scan from the management account: the organization's
               accounts, the audit role in each, the IAM reads in its own account
  remediation  keyage run, remediate and the daemon: the receivers (SNS, SQS,
               Lambda, SES), resolving a resourceId, the audit role
  deployer     keyage deploy: the master stack with its topic and queue, the
               target StackSet and its administration role
  enforcer     keyage enforce, in each account: read, deactivate and delete
               users' access keys; keyage rotate: create them and write them
               to the Secrets Manager secrets under --secret-prefix (with
               --kms-key-arn's key)
  findings     the findings role in each target account, assumed by the
               securityhub receiver: securityhub:BatchImportFindings only

The audit role itself, in every target account, is created by the target
template ("keyage deploy render").`,
		ValidArgs: deploy.PolicyModes,
		Args:      cobra.ExactArgs(1),
		Example: `  keyage iam-policy scanner
  keyage iam-policy deployer --topic-name key-rotation > deployer.json
  keyage iam-policy scanner --partition aws-us-gov
  keyage iam-policy enforcer
  keyage iam-policy enforcer --kms-key-arn arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.mode = args[0]
			return runIAMPolicy(cmd.Context(), ios, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.policy.AuditRoleName, "role-name", deploy.DefaultAuditRoleName, "the audit role assumed in each account")
	f.StringVar(&o.policy.TopicName, "topic-name", deploy.DefaultTopicName, "the master topic (and queue name prefix), for deployer")
	f.StringVar(&o.policy.MasterStack, "master-stack", deploy.DefaultMasterStack, "the master stack name, for deployer")
	f.StringVar(&o.policy.TargetStackSet, "target-stackset", deploy.DefaultTargetStackSet, "the target StackSet name, for deployer")
	f.StringVar(&o.policy.Partition, "partition", "aws", "the partition of the ARNs: aws, aws-us-gov or aws-cn")
	f.StringVar(&o.policy.SecretPrefix, "secret-prefix", deploy.DefaultSecretPrefix, "the name prefix of keyage rotate's secrets, for enforcer")
	f.StringVar(&o.policy.RotateKMSKeyARN, "kms-key-arn", "", "lifecycle.rotate.kmsKeyId's key ARN, for enforcer (kms:GenerateDataKey, kms:Decrypt)")
	return cmd
}

func runIAMPolicy(_ context.Context, ios *IO, o *iamPolicyOptions) error {
	doc, err := deploy.Policy(o.mode, o.policy)
	if err != nil {
		return usageError(err)
	}
	enc := json.NewEncoder(ios.Out)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}
