package awsenv

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// DefaultRoleName is the audit role keyage assumes in each target account.
const DefaultRoleName = "KeyageAuditRole"

// DefaultSessionName names keyage's sessions in CloudTrail.
const DefaultSessionName = "keyage-scan"

var sessionNameRE = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)

// Assumer hands out an aws.Config per account: the caller's own account uses
// the caller's credentials, every other account assumed-role credentials.
type Assumer struct {
	base          aws.Config
	sts           *sts.Client
	partition     string
	callerAccount string
	callerARN     string
	roleName      string
	externalID    string
	sessionName   string
}

// AssumerOptions names the role to assume in target accounts.
type AssumerOptions struct {
	RoleName    string
	ExternalID  string
	SessionName string
}

// NewAssumer resolves the caller identity (sts:GetCallerIdentity) and returns
// an Assumer for it.
func NewAssumer(ctx context.Context, base aws.Config, o AssumerOptions) (*Assumer, error) {
	if o.RoleName == "" {
		o.RoleName = DefaultRoleName
	}
	if o.SessionName == "" {
		o.SessionName = DefaultSessionName
	}
	if !sessionNameRE.MatchString(o.SessionName) {
		return nil, fmt.Errorf("role session name %q: must be 2-64 characters of letters, digits and +=,.@_-", o.SessionName)
	}
	client := sts.NewFromConfig(base)
	id, err := client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		if strings.Contains(err.Error(), "failed to refresh cached credentials") {
			return nil, &CallerError{fmt.Errorf("no usable AWS credentials (set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run with an instance or task role; \"keyage demo\" needs none): %w", err)}
		}
		return nil, &CallerError{fmt.Errorf("get caller identity: %w", Simplify(err))}
	}
	a := &Assumer{
		base: base, sts: client,
		callerAccount: aws.ToString(id.Account), callerARN: aws.ToString(id.Arn),
		roleName: o.RoleName, externalID: o.ExternalID, sessionName: o.SessionName,
		partition: "aws",
	}
	if p := partitionOf(a.callerARN); p != "" {
		a.partition = p
	}
	return a, nil
}

// CallerAccount is the account of the credentials keyage runs with.
func (a *Assumer) CallerAccount() string { return a.callerAccount }

// CallerARN is the ARN of the credentials keyage runs with.
func (a *Assumer) CallerARN() string { return a.callerARN }

// Base is the caller's own config.
func (a *Assumer) Base() aws.Config { return a.base }

// RoleARN is the audit role's ARN in accountID.
func (a *Assumer) RoleARN(accountID string) string {
	return fmt.Sprintf("arn:%s:iam::%s:role/%s", a.partition, accountID, a.roleName)
}

// ForAccount returns a config acting in accountID. For any account but the
// caller's it assumes the audit role now, so that a denied role is reported
// as such before any other call is made.
func (a *Assumer) ForAccount(ctx context.Context, accountID string) (aws.Config, error) {
	if accountID == a.callerAccount {
		return a.base, nil
	}
	roleARN := a.RoleARN(accountID)
	provider := stscreds.NewAssumeRoleProvider(a.sts, roleARN, func(o *stscreds.AssumeRoleOptions) {
		o.RoleSessionName = a.sessionName
		if a.externalID != "" {
			o.ExternalID = aws.String(a.externalID)
		}
	})
	cache := aws.NewCredentialsCache(provider)
	if _, err := cache.Retrieve(ctx); err != nil {
		return aws.Config{}, fmt.Errorf("assume role %s: %w", roleARN, Simplify(err))
	}
	cfg := a.base.Copy()
	cfg.Credentials = cache
	return cfg, nil
}

func partitionOf(arn string) string {
	// arn:PARTITION:service:...
	if len(arn) < 5 || arn[:4] != "arn:" {
		return ""
	}
	for i := 4; i < len(arn); i++ {
		if arn[i] == ':' {
			return arn[4:i]
		}
	}
	return ""
}
