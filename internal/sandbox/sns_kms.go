package sandbox

import (
	"net/http"
	"strings"
)

// Server-side encryption of SNS topics and of the SQS queues SNS delivers to, as far as who
// may use the KMS key. The rules, from AWS's documentation:
//
//   - "Encryption at rest" / "Key management" in the Amazon SNS Developer Guide
//     (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html): a publisher to a
//     topic with KmsMasterKeyId needs kms:GenerateDataKey* and kms:Decrypt on the key; SNS
//     refuses the Publish with KMSAccessDenied (HTTP 400, the SDK's KMSAccessDeniedException)
//     when KMS denies it, and KMSNotFound when the key does not exist.
//   - "Enable compatibility between encrypted topics and encrypted queues" (same page): SNS
//     delivering to a queue encrypted with a customer-managed key needs that key's policy to
//     allow the sns.amazonaws.com service principal kms:GenerateDataKey* and kms:Decrypt;
//     without it the message is not delivered (Publish itself succeeds).
//   - The AWS-managed alias/aws/sns key's policy allows principals of its own account only
//     (kms:CallerAccount), so publishers in other accounts cannot use it.
//   - "Key policies in AWS KMS" (https://docs.aws.amazon.com/kms/latest/developerguide/key-policies.html,
//     "Allows access to the AWS account and enables IAM policies"): a key policy statement whose
//     principal is an account ("arn:aws:iam::<acct>:root" or the bare account id) grants
//     nothing by itself, it lets that account's IAM policies grant the key's use; a statement
//     naming the role (or "*") grants it directly in the key's account.
//   - "Allowing users in other accounts to use a KMS key"
//     (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-modifying-external-accounts.html):
//     a caller in another account needs both the key policy and its own IAM policy to allow.
//
// Keys are those created by CloudFormation stacks (cloudformation_kms.go); the sandbox has no
// KMS API. Condition keys of KMS (kms:CallerAccount, kms:ViaService, ...) are not modelled: a
// statement conditioned on them does not match.

// snsKMSActions are what SNS calls KMS for on the publisher's behalf.
var snsKMSActions = []string{"kms:GenerateDataKey", "kms:Decrypt"}

// kmsKey is a KMS key as the sandbox knows it.
type kmsKey struct {
	arn, account string
	policy       *policyDoc
	awsManaged   bool // alias/aws/<service>: usable by its own account only
}

// findKMSKey resolves a KmsMasterKeyId (key id, key ARN, alias name or alias ARN) as seen from
// account and region; nil when no such key exists.
func (s *Server) findKMSKey(id, account, region string) *kmsKey {
	if strings.HasPrefix(id, "arn:") {
		parts := strings.SplitN(id, ":", 6)
		if len(parts) != 6 || parts[2] != "kms" {
			return nil
		}
		region, account, id = parts[3], parts[4], parts[5]
		if rest, ok := strings.CutPrefix(id, "key/"); ok {
			id = rest
		}
	}
	if strings.HasPrefix(id, "alias/aws/") {
		return &kmsKey{arn: "arn:aws:kms:" + region + ":" + account + ":" + id, account: account, awsManaged: true}
	}
	cf := s.cfn()
	if cf == nil {
		return nil
	}
	cf.mu.Lock()
	defer cf.mu.Unlock()
	for _, st := range cf.stacks {
		if !st.deleted.IsZero() || st.acct != account || st.region != region {
			continue
		}
		for _, r := range st.resources {
			if r.typ != "AWS::KMS::Key" || r.attrs == nil || r.attrs["KeyId"] != id {
				continue
			}
			doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + account +
				`:root"},"Action":"kms:*","Resource":"*"}]}` // KMS's default key policy
			if p := r.props["KeyPolicy"]; p != nil {
				if j, err := policyJSON(p); err == nil {
					doc = j
				}
			}
			pol, err := parsePolicy(doc)
			if err != nil {
				return nil
			}
			return &kmsKey{arn: r.attrs["Arn"], account: account, policy: pol}
		}
	}
	return nil
}

// keyPolicyDecision evaluates a key policy for r: the decision, and whether an Allow named the
// caller directly (its ARN or "*") rather than delegating to its account. service, when not
// "", is the AWS service principal making the request (sns.amazonaws.com).
func keyPolicyDecision(d *policyDoc, r policyRequest, service string) (dec policyDecision, direct bool) {
	for i := range d.Statement {
		st := &d.Statement[i]
		if st.NotPrincipal != nil || st.NotAction != nil || !actionMatches(st.Action, r.action) ||
			(st.Resource != nil && !anyGlob(st.Resource, r.resource, false)) || !conditionsMatch(st.Condition, r) {
			continue
		}
		matched, named := keyPrincipalMatches(st.Principal, r, service)
		if !matched {
			continue
		}
		if st.Effect == "Deny" {
			return policyDeny, false
		}
		dec, direct = policyAllow, direct || named
	}
	return dec, direct
}

// keyPrincipalMatches reports whether a key policy principal matches the caller, and whether
// it names the caller itself rather than the caller's account.
func keyPrincipalMatches(p any, r policyRequest, service string) (matched, named bool) {
	if s, ok := p.(string); ok {
		return s == "*", s == "*"
	}
	m, ok := p.(map[string]any)
	if !ok {
		return false, false
	}
	if service != "" {
		for _, v := range strs(m["Service"]) {
			if v == service {
				return true, true
			}
		}
		return false, false
	}
	for _, v := range strs(m["AWS"]) {
		switch {
		case v == "*":
			return true, true
		case v == r.account, v == "arn:aws:iam::"+r.account+":root":
			matched = true
		}
		for _, arn := range r.arns {
			if v == arn {
				return true, true
			}
		}
	}
	return matched, false
}

// authorizeTopicKey checks that the caller of a Publish to a topic encrypted with keyID (the
// topic's KmsMasterKeyId, in the topic's account and region) may use the key, returning SNS's
// KMSNotFound or KMSAccessDenied error when not.
func (s *Server) authorizeTopicKey(c *call, keyID, account, region string) error {
	key := s.findKMSKey(keyID, account, region)
	if key == nil {
		return newError(http.StatusBadRequest, "KMSNotFound", "Invalid keyId "+keyID)
	}
	for _, action := range snsKMSActions {
		if why := s.kmsDenial(c.p, key, action); why != "" {
			return newError(http.StatusBadRequest, "KMSAccessDenied", "User: "+c.p.arn()+" is not authorized to perform: "+action+
				" on resource: "+key.arn+" "+why+" (Service: AWSKMS; Status Code: 400; Error Code: AccessDeniedException)")
		}
	}
	return nil
}

// kmsDenial is why KMS refuses p the action on key, "" when it allows it.
func (s *Server) kmsDenial(p *principal, key *kmsKey, action string) string {
	if key.awsManaged {
		if p.acct.id != key.account {
			return "because the AWS managed key's policy allows its own account only"
		}
		return ""
	}
	r := s.policyRequest(p, action, key.arn)
	dec, direct := keyPolicyDecision(key.policy, r, "")
	switch dec {
	case policyDeny:
		return "with an explicit deny in a resource-based policy"
	case policyNone:
		return "because no resource-based policy allows the " + action + " action"
	}
	pols, enforced := identityPolicies(p)
	id := policyNone
	for _, pol := range pols {
		switch pol.evaluateIdentity(r) {
		case policyDeny:
			return "with an explicit deny in an identity-based policy"
		case policyAllow:
			id = policyAllow
		}
	}
	if enforced && id != policyAllow && (!direct || p.acct.id != key.account) {
		return "because no identity-based policy allows the " + action + " action"
	}
	return ""
}

// snsMayEncryptFor reports whether SNS may deliver to the queue: true unless the queue is
// encrypted with a KMS key whose policy does not let sns.amazonaws.com use it (or that does
// not exist, or is AWS-managed alias/aws/sqs, whose policy SNS cannot be added to).
func (s *Server) snsMayEncryptFor(queueARN string) bool {
	region, acct, name, ok := parseQueueARN(queueARN)
	a := s.accounts[acct]
	if !ok || a == nil {
		return true // deliverToQueue drops it
	}
	a.sqs.mu.Lock()
	keyID := ""
	if q := a.sqs.queues[name]; q != nil {
		keyID = q.attrs["KmsMasterKeyId"]
	}
	a.sqs.mu.Unlock()
	if keyID == "" {
		return true
	}
	key := s.findKMSKey(keyID, acct, region)
	if key == nil || key.awsManaged {
		return false
	}
	for _, action := range snsKMSActions {
		r := policyRequest{action: action, resource: key.arn, account: acct, orgID: s.org.id, arns: []string{"sns.amazonaws.com"}}
		if dec, _ := keyPolicyDecision(key.policy, r, "sns.amazonaws.com"); dec != policyAllow {
			return false
		}
	}
	return true
}
