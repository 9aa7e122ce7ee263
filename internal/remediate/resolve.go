package remediate

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/configservice"
	cstypes "github.com/aws/aws-sdk-go-v2/service/configservice/types"

	"github.com/keyage/keyage/internal/awsenv"
	"github.com/keyage/keyage/internal/inventory"
)

// ErrUnknownResource means neither AWS Config nor IAM knows the resourceId.
var ErrUnknownResource = errors.New("no IAM user has this resourceId")

// ResolveUserName resolves an IAM user's name from its resourceId (UserId)
// as the seed's automation does, with AWS Config ListDiscoveredResources
// (resourceType AWS::IAM::User, resourceIds [id]), falling back to IAM when
// Config has no record (Config not enabled, or not recording IAM users).
// via says which answered.
func ResolveUserName(ctx context.Context, cfg aws.Config, accountID, resourceID string) (name, via string, err error) {
	out, cerr := configservice.NewFromConfig(cfg).ListDiscoveredResources(ctx, &configservice.ListDiscoveredResourcesInput{
		ResourceType: cstypes.ResourceTypeUser,
		ResourceIds:  []string{resourceID},
	})
	if cerr == nil {
		for _, r := range out.ResourceIdentifiers {
			if aws.ToString(r.ResourceId) == resourceID && r.ResourceDeletionTime == nil && aws.ToString(r.ResourceName) != "" {
				return aws.ToString(r.ResourceName), "config:ListDiscoveredResources", nil
			}
		}
	}
	name, err = inventory.FindUserByID(ctx, cfg, accountID, resourceID)
	if err != nil {
		if cerr != nil {
			return "", "", fmt.Errorf("resolve %s in %s: config: %v; iam: %w", resourceID, accountID, awsenv.Simplify(cerr), err)
		}
		return "", "", fmt.Errorf("resolve %s in %s: %w", resourceID, accountID, err)
	}
	if name == "" {
		return "", "", fmt.Errorf("resolve %s in %s: %w", resourceID, accountID, ErrUnknownResource)
	}
	via = "iam:ListUsers (AWS Config has no record)"
	if cerr != nil {
		via = fmt.Sprintf("iam:ListUsers (AWS Config: %v)", awsenv.Simplify(cerr))
	}
	return name, via, nil
}
