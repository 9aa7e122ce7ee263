package inventory

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"golang.org/x/sync/errgroup"

	"github.com/keyage/keyage/internal/awsenv"
	"github.com/keyage/keyage/internal/rule"
)

// User reads one IAM user in real time: GetUser (path, ARN, tags),
// ListAccessKeys and GetAccessKeyLastUsed per key. It is what a
// change-triggered or single-resource evaluation costs instead of a scan.
func User(ctx context.Context, cfg aws.Config, accountID, userName string) (rule.User, error) {
	c := &collector{iam: iam.NewFromConfig(cfg), account: accountID}
	out, err := c.iam.GetUser(ctx, &iam.GetUserInput{UserName: aws.String(userName)})
	if err != nil {
		return rule.User{}, fmt.Errorf("get user %q in %s: %w", userName, accountID, awsenv.Simplify(err))
	}
	u := c.userFrom(*out.User)
	if len(out.User.Tags) > 0 {
		u.Tags = make(map[string]string, len(out.User.Tags))
		for _, t := range out.User.Tags {
			u.Tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
	}
	keys, err := c.listAccessKeys(ctx, userName)
	if err != nil {
		return rule.User{}, err
	}
	g, gctx := errgroup.WithContext(ctx)
	for i := range keys {
		g.Go(func() error { return c.lastUsed(gctx, userName, &keys[i]) })
	}
	if err := g.Wait(); err != nil {
		return rule.User{}, err
	}
	u.Keys = keys
	return u, nil
}

// FindUserByID finds a user's name from its UserId with IAM ListUsers, for
// when AWS Config has no record of it. It returns "" when no user has it.
func FindUserByID(ctx context.Context, cfg aws.Config, accountID, userID string) (string, error) {
	c := &collector{iam: iam.NewFromConfig(cfg), account: accountID}
	users, err := c.listUsers(ctx)
	if err != nil {
		return "", err
	}
	for _, u := range users {
		if aws.ToString(u.UserId) == userID {
			return aws.ToString(u.UserName), nil
		}
	}
	return "", nil
}

// IsNoSuchUser reports whether err is IAM's NoSuchEntity for a user.
func IsNoSuchUser(err error) bool {
	return err != nil && awsenv.ErrorCode(err) == "NoSuchEntity"
}
