package deploy

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
)

// topicKey checks that a topic encrypted with a KMS key gets that key passed to the targets.
// SNS server-side encryption makes a publisher use the topic's key (kms:GenerateDataKey*,
// kms:Decrypt; AWS SNS Developer Guide, "Encryption at rest"), so a remediation role deployed
// without --topic-kms-key-arn cannot publish, and every remediation fails. The AWS managed
// alias/aws/sns key cannot serve at all: its key policy cannot grant another account.
func (p *Preflight) topicKey(ctx context.Context, o TargetsOptions) Check {
	c := Check{Name: "topic-key", Account: p.MasterAccountID, Region: topicRegion(o.TopicArn)}
	cfg := p.Master.Copy()
	if c.Region != "" {
		cfg.Region = c.Region
	}
	out, err := sns.NewFromConfig(cfg).GetTopicAttributes(ctx, &sns.GetTopicAttributesInput{TopicArn: aws.String(o.TopicArn)})
	if err != nil {
		// The topic may live in an account this caller cannot read: say so, do not guess.
		c.OK, c.Detail = true, "not checked: reading topic "+o.TopicArn+": "+err.Error()
		return c
	}
	key := out.Attributes["KmsMasterKeyId"]
	switch {
	case key == "":
		c.OK, c.Detail = true, "topic "+o.TopicArn+" is not encrypted"
	case strings.HasSuffix(key, "alias/aws/sns"):
		c.Detail = "topic " + o.TopicArn + " is encrypted with alias/aws/sns"
		c.Fix = "encrypt the topic with a customer managed key (keyage deploy master --kms-key create): other accounts cannot be granted alias/aws/sns"
	case o.TopicKmsKeyArn == "":
		c.Detail = "topic " + o.TopicArn + " is encrypted with " + key + ", and no --topic-kms-key-arn was given"
		c.Fix = "pass --topic-kms-key-arn (the KmsKeyArn output keyage deploy master printed): without it the remediation role cannot publish"
	case strings.HasPrefix(key, "arn:") && !strings.Contains(key, ":alias/") && key != o.TopicKmsKeyArn:
		c.Detail = "topic " + o.TopicArn + " is encrypted with " + key + ", not --topic-kms-key-arn " + o.TopicKmsKeyArn
		c.Fix = "pass --topic-kms-key-arn " + key
	default:
		c.OK, c.Detail = true, "topic "+o.TopicArn+" is encrypted with "+key+"; the remediation role may use "+o.TopicKmsKeyArn
	}
	return c
}
