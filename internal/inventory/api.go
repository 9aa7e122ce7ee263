package inventory

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/keyage/keyage/internal/awsenv"
	"github.com/keyage/keyage/internal/rule"
)

// fromAPI is the per-user baseline: ListUsers, then ListAccessKeys per user
// and GetAccessKeyLastUsed per key.
func (c *collector) fromAPI(ctx context.Context) (*Result, error) {
	listed, err := c.listUsers(ctx)
	if err != nil {
		return nil, err
	}
	users := make([]rule.User, len(listed))
	g, gctx := newGroup(ctx, c.workers)
	g.SetLimit(c.o.UserConcurrency)
	for i, lu := range listed {
		users[i] = c.userFrom(lu)
		u := &users[i]
		g.Go(func() error { return c.loadKeys(gctx, u, nil) })
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	root, err := c.rootKeysFromSummary(ctx)
	if err != nil {
		return nil, err
	}
	return &Result{Users: users, RootKeys: root}, nil
}

func (c *collector) listUsers(ctx context.Context) ([]types.User, error) {
	var out []types.User
	size := int32(1000)
	if c.o.PageSize > 0 {
		size = c.o.PageSize
	}
	p := iam.NewListUsersPaginator(c.iam, &iam.ListUsersInput{MaxItems: aws.Int32(size)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list users: %w", awsenv.Simplify(err))
		}
		out = append(out, page.Users...)
	}
	return out, nil
}

func (c *collector) userFrom(u types.User) rule.User {
	return rule.User{
		AccountID:  c.account,
		UserID:     aws.ToString(u.UserId),
		UserName:   aws.ToString(u.UserName),
		Path:       aws.ToString(u.Path),
		ARN:        aws.ToString(u.Arn),
		CreateDate: aws.ToTime(u.CreateDate),
	}
}

func (c *collector) listAccessKeys(ctx context.Context, user string) ([]rule.Key, error) {
	var keys []rule.Key
	in := &iam.ListAccessKeysInput{UserName: aws.String(user)}
	if c.o.PageSize > 0 {
		in.MaxItems = aws.Int32(c.o.PageSize)
	}
	p := iam.NewListAccessKeysPaginator(c.iam, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list access keys for user %q: %w", user, awsenv.Simplify(err))
		}
		for _, k := range page.AccessKeyMetadata {
			keys = append(keys, rule.Key{
				AccessKeyID: aws.ToString(k.AccessKeyId),
				Status:      string(k.Status),
				CreateDate:  aws.ToTime(k.CreateDate),
			})
		}
	}
	return keys, nil
}

func (c *collector) lastUsed(ctx context.Context, user string, k *rule.Key) error {
	out, err := c.iam.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String(k.AccessKeyID)})
	if err != nil {
		return fmt.Errorf("get last use of access key %s of user %q: %w", k.AccessKeyID, user, awsenv.Simplify(err))
	}
	if lu := out.AccessKeyLastUsed; lu != nil {
		k.LastUsedDate = aws.ToTime(lu.LastUsedDate)
		k.LastUsedService = notApplicable(aws.ToString(lu.ServiceName))
		k.LastUsedRegion = notApplicable(aws.ToString(lu.Region))
	}
	return nil
}

func (c *collector) listTags(ctx context.Context, user string) (map[string]string, error) {
	tags := map[string]string{}
	p := iam.NewListUserTagsPaginator(c.iam, &iam.ListUserTagsInput{UserName: aws.String(user)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list tags of user %q: %w", user, awsenv.Simplify(err))
		}
		for _, t := range page.Tags {
			tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
	}
	return tags, nil
}

// rootKeysFromSummary counts root keys with GetAccountSummary: the API tells
// whether root keys exist, not how old they are.
func (c *collector) rootKeysFromSummary(ctx context.Context) ([]RootKey, error) {
	out, err := c.iam.GetAccountSummary(ctx, &iam.GetAccountSummaryInput{})
	if err != nil {
		return nil, fmt.Errorf("get account summary: %w", awsenv.Simplify(err))
	}
	n := out.SummaryMap[string(types.SummaryKeyTypeAccountAccessKeysPresent)]
	root := make([]RootKey, 0, n)
	for range n {
		root = append(root, RootKey{Status: RootKeyPresent})
	}
	return root, nil
}

// notApplicable maps IAM's "N/A" to "".
func notApplicable(s string) string {
	if s == "N/A" {
		return ""
	}
	return s
}
