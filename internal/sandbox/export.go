package sandbox

import (
	"fmt"
	"strings"
)

// ExportLines returns shell lines that point the AWS CLI and SDKs at the sandbox with the
// management credentials, and a comment naming the management account:
//
//	export AWS_ENDPOINT_URL=http://127.0.0.1:4566
//	export AWS_ACCESS_KEY_ID=AKIA...
//	export AWS_SECRET_ACCESS_KEY=...
//	export AWS_REGION=us-east-1
//	# management account: 111111111111
//
// An empty region means us-east-1.
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
	fmt.Fprintf(&b, "# management account: %s (%d accounts in the organization)\n", s.ManagementAccountID(), len(s.accountList))
	return b.String()
}
