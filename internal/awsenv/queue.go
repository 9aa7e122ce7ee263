package awsenv

import (
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// QueueRegion returns the region of an SQS queue URL (https://sqs.<region>.amazonaws.com/...,
// the .com.cn partition, or the legacy https://<region>.queue.amazonaws.com/...), "" when
// the URL names none (an endpoint override such as the sandbox's).
func QueueRegion(queueURL string) string {
	u, err := url.Parse(queueURL)
	if err != nil {
		return ""
	}
	host := u.Hostname()
	switch parts := strings.Split(host, "."); {
	case len(parts) >= 4 && parts[0] == "sqs" && parts[2] == "amazonaws":
		return parts[1]
	case len(parts) >= 4 && parts[1] == "queue" && parts[2] == "amazonaws":
		return parts[0]
	}
	return ""
}

// ForQueue returns cfg in the region of queueURL, so that an SQS client built from it calls
// the queue's region (IAM's CloudTrail events exist only in us-east-1, wherever keyage runs);
// cfg unchanged when the URL names no region.
func ForQueue(cfg aws.Config, queueURL string) aws.Config {
	r := QueueRegion(queueURL)
	if r == "" || r == cfg.Region {
		return cfg
	}
	c := cfg.Copy()
	c.Region = r
	return c
}
