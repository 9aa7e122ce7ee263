package config

import (
	"regexp"
	"strings"
)

// SNSConfig publishes to an SNS topic, typically a central topic in the
// management account.
type SNSConfig struct {
	// TopicARN is the topic: arn:<partition>:sns:<region>:<account>:<name>.
	// Required.
	TopicARN string `yaml:"topicArn"`
	// Region of the API call; "" uses the topic's region. If set, it must
	// be the topic's region.
	Region string `yaml:"region"`
}

// SQSConfig sends to an SQS queue.
type SQSConfig struct {
	// QueueURL is the queue's URL, e.g.
	// https://sqs.us-east-1.amazonaws.com/111111111111/keys. Required.
	QueueURL string `yaml:"queueUrl"`
	// Region of the API call; "" uses the scan's region.
	Region string `yaml:"region"`
}

// LambdaConfig invokes a Lambda function with the JSON payload.
type LambdaConfig struct {
	// FunctionName is a function name, ARN or partial ARN. Required.
	FunctionName string `yaml:"functionName"`
	// InvocationType is Event (asynchronous, the default) or
	// RequestResponse (wait for the function, fail on its error).
	InvocationType string `yaml:"invocationType"`
	// Qualifier is a version or alias; "" invokes $LATEST.
	Qualifier string `yaml:"qualifier"`
	// Region of the API call; "" uses the function ARN's region or the
	// scan's region.
	Region string `yaml:"region"`
}

// The Lambda invocation types.
const (
	InvocationEvent           = "Event"
	InvocationRequestResponse = "RequestResponse"
)

// SecurityHubConfig imports findings into AWS Security Hub as ASFF
// (BatchImportFindings) with each account's default custom product. Security
// Hub accepts such a finding only from the account it is about, so keyage
// imports each account's findings through a role in that account.
type SecurityHubConfig struct {
	// Region is the Security Hub region of the product ARN: where Security
	// Hub is enabled in every account (the aggregation region, if one is
	// set). Required.
	Region string `yaml:"region"`
	// RoleName is the role keyage assumes in each target account to call
	// securityhub:BatchImportFindings: the findings role, or the
	// enforcement role when it is deployed. Not the audit role, which stays
	// read-only. Required.
	RoleName string `yaml:"roleName"`
	// ExternalID is passed to sts:AssumeRole when set.
	ExternalID string `yaml:"externalId"`
	// Partition is aws, aws-cn or aws-us-gov; "" takes each user's.
	Partition string `yaml:"partition"`
}

// DefaultFindingsRoleName is the findings role keyage's target template
// creates when Security Hub is enabled.
const DefaultFindingsRoleName = "KeyageFindingsRole"

var (
	snsTopicARNRE = regexp.MustCompile(`^arn:(aws[a-z-]*):sns:([a-z0-9-]+):([0-9]{12}):([A-Za-z0-9_-]{1,256}(\.fifo)?)$`)
	// From the Lambda Invoke API reference.
	functionNameRE = regexp.MustCompile(`^(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_.]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?$`)
	qualifierRE    = regexp.MustCompile(`^(\$LATEST|[a-zA-Z0-9-_]{1,128})$`)
)

// SNSTopicRegion returns the region of an SNS topic ARN, "" if arn is not one.
func SNSTopicRegion(arn string) string {
	if m := snsTopicARNRE.FindStringSubmatch(arn); m != nil {
		return m[2]
	}
	return ""
}

func (s *SNSConfig) validate(c *checker) {
	m := snsTopicARNRE.FindStringSubmatch(s.TopicARN)
	switch {
	case s.TopicARN == "":
		c.errorf("topicArn", "required")
	case m == nil:
		c.errorf("topicArn", "%q: not an SNS topic ARN (arn:aws:sns:<region>:<12-digit account>:<topic name>)", s.TopicARN)
	}
	c.region("region", s.Region)
	if m != nil && s.Region != "" && regionRE.MatchString(s.Region) && s.Region != m[2] {
		c.errorf("region", "%q: the topic is in %s; leave region out or make it the topic's", s.Region, m[2])
	}
}

func (s *SQSConfig) validate(c *checker) {
	if s.QueueURL == "" {
		c.errorf("queueUrl", "required")
	} else {
		c.httpURL("queueUrl", s.QueueURL, false)
	}
	c.region("region", s.Region)
}

func (l *LambdaConfig) setDefaults(c *checker) {
	defaultTo(c, "invocationType", &l.InvocationType, InvocationEvent)
}

func (l *LambdaConfig) validate(c *checker) {
	switch {
	case l.FunctionName == "":
		c.errorf("functionName", "required")
	case len(l.FunctionName) > 170 || !functionNameRE.MatchString(l.FunctionName):
		c.errorf("functionName", "%q: not a Lambda function name or ARN", l.FunctionName)
	}
	switch l.InvocationType {
	case InvocationEvent, InvocationRequestResponse:
	default:
		c.errorf("invocationType", "%q: use Event or RequestResponse", l.InvocationType)
	}
	if l.Qualifier != "" && !qualifierRE.MatchString(l.Qualifier) {
		c.errorf("qualifier", "%q: not a function version or alias", l.Qualifier)
	}
	c.region("region", l.Region)
}

func (s *SecurityHubConfig) validate(c *checker) {
	if s.Region == "" {
		c.errorf("region", "required")
	} else {
		c.region("region", s.Region)
	}
	switch {
	case s.RoleName == "":
		c.errorf("roleName", "required (the role in each account that may call securityhub:BatchImportFindings, e.g. %s)", DefaultFindingsRoleName)
	case strings.HasPrefix(s.RoleName, "arn:"):
		c.errorf("roleName", "%q: a role name, not an ARN (keyage builds the ARN for each account)", s.RoleName)
	case !roleNameRE.MatchString(s.RoleName):
		c.errorf("roleName", "%q: not an IAM role name (1 to 64 letters, digits and +=,.@_-)", s.RoleName)
	case c.cfg != nil && s.RoleName == c.cfg.Accounts.RoleName:
		c.errorf("roleName", "%q is the audit role (accounts.roleName), which stays read-only; name the findings role (%s) or the enforcement role", s.RoleName, DefaultFindingsRoleName)
	}
	if s.ExternalID != "" && (len(s.ExternalID) < 2 || len(s.ExternalID) > 1224 || !externalIDRE.MatchString(s.ExternalID)) {
		c.errorf("externalId", "must be 2 to 1224 letters, digits and +=,.@:/_-")
	}
	switch s.Partition {
	case "", "aws", "aws-cn", "aws-us-gov":
	default:
		c.errorf("partition", "%q: use aws, aws-cn or aws-us-gov", s.Partition)
	}
}

// region checks an optional AWS region name.
func (c *checker) region(key, s string) {
	if s != "" && !regionRE.MatchString(s) {
		c.errorf(key, "%q: not an AWS region name such as us-east-1", s)
	}
}
