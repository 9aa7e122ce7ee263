package sandbox

import (
	"fmt"
	"strings"
)

// A ServedService is one AWS service the sandbox serves: its SigV4 signing name and the name
// people know it by.
type ServedService struct{ SigningName, Name string }

// Services lists the AWS services the sandbox serves, in the order help texts name them. A test
// keeps it in step with the services New registers.
var Services = []ServedService{
	{"iam", "IAM"}, {"sts", "STS"}, {"organizations", "Organizations"},
	{"sns", "SNS"}, {"sqs", "SQS"}, {"config", "AWS Config"}, {"lambda", "Lambda"},
	{"ses", "SES v2"}, {"securityhub", "Security Hub"}, {"secretsmanager", "Secrets Manager"},
	{"cloudformation", "CloudFormation"},
}

// ServiceNames returns the names of Services joined for prose: "IAM, STS, ... and CloudFormation".
func ServiceNames() string {
	names := make([]string, len(Services))
	for i, s := range Services {
		names[i] = s.Name
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// ExportLines returns shell lines that point the AWS CLI and SDKs at the sandbox with the
// management credentials, and a comment naming the management account:
//
//	export AWS_ENDPOINT_URL=http://127.0.0.1:4566
//	export AWS_ACCESS_KEY_ID=AKIA...
//	export AWS_SECRET_ACCESS_KEY=...
//	export AWS_REGION=us-east-1
//	export AWS_DEFAULT_REGION=us-east-1
//	# management account: 111111111111
//
// AWS_DEFAULT_REGION is there for the AWS CLI v1 and older SDKs, which read only that. AWS CLI
// versions before 2.13 ignore AWS_ENDPOINT_URL: they need --endpoint-url. An empty region means
// us-east-1.
func ExportLines(endpointURL string, s *Server, region string) string {
	if region == "" {
		region = "us-east-1"
	}
	id, secret := s.ManagementCredentials()
	var b strings.Builder
	fmt.Fprintf(&b, "export AWS_ENDPOINT_URL=%s\n", endpointURL)
	fmt.Fprintf(&b, "export AWS_ACCESS_KEY_ID=%s\n", id)
	fmt.Fprintf(&b, "export AWS_SECRET_ACCESS_KEY=%s\n", secret)
	fmt.Fprintf(&b, "export AWS_REGION=%s\n", region)
	fmt.Fprintf(&b, "export AWS_DEFAULT_REGION=%s\n", region)
	fmt.Fprintf(&b, "# management account: %s (%d accounts in the organization)\n", s.ManagementAccountID(), len(s.accountList))
	return b.String()
}
