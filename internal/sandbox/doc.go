// Package sandbox is a local AWS-compatible endpoint serving a synthetic organization over the
// real AWS wire protocols: IAM, STS and SNS (awsQuery), Organizations and AWS Config
// (awsJson1_1), SQS (awsJson1_0), Lambda, SES v2 and Security Hub (restJson1). The unmodified AWS SDKs and the
// AWS CLI work against it through an endpoint override.
//
// A Server is an http.Handler built from a Fixture (loaded with LoadFixture or made by
// Generate). The caller is identified by the access key id of the SigV4 credential scope;
// signatures are not verified. The management credentials (ManagementCredentials) act in the
// management account; sts:AssumeRole returns temporary credentials acting in the target account.
// Options inject latency, throttling and failures; Stats counts requests per API and per
// account; /_sandbox/ serves an admin API for tests. SNS delivers to the sandbox's own SQS queues;
// what was published, invoked (Lambda) and emailed (SES) is recorded (Published, Invocations,
// Emails). CloudFormation (awsQuery; templates by the cfn subpackage) creates stacks, change sets
// and StackSets asynchronously; the SNS topics, policies and IAM roles they declare become real
// sandbox resources (a role a stack created can be assumed by whom its trust policy allows,
// with the sts:ExternalId it requires; every role's trust policy is evaluated).
//
// All state is in memory. The sandbox is a test and demo tool, not a security boundary.
//
// Each service is one file building a service value (iam.go, sts.go, organizations.go): its
// signing name, protocol and operations. Requests are routed by X-Amz-Target for JSON protocols
// and by the credential scope's service name otherwise; REST services then name the operation
// from the method and path.
package sandbox
