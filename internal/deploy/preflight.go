package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/configservice"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"

	"github.com/keyage/keyage/internal/awsenv"
	"github.com/keyage/keyage/internal/inventory"
)

// Check is one preflight check in one account (and region): OK, or what failed and the fix.
type Check struct {
	Name            string // config-recorder, execution-role, topic-region, ...
	Account, Region string
	OK              bool
	Detail          string // what was found
	Fix             string // what to do, when not OK
}

// Preflight checks the prerequisites of a target deployment before anything is created.
type Preflight struct {
	// Master is the configuration of the account that deploys (and hosts the topic).
	Master          aws.Config
	MasterAccountID string
	// Assume returns a configuration acting in account through the role roleName.
	Assume func(ctx context.Context, account, roleName, externalID string) (aws.Config, error)
	// Deployer reads the StackSet's existing instances: resources they created do not collide.
	Deployer *Deployer
}

// Run runs every check for o and returns them in order: the master's, then each target's.
func (p *Preflight) Run(ctx context.Context, o TargetsOptions) []Check {
	if o.StackSetName == "" {
		o.StackSetName = DefaultTargetStackSet
	}
	if o.AuditRoleName == "" {
		o.AuditRoleName = DefaultAuditRoleName
	}
	if o.ExecutionRoleName == "" && !o.ServiceManaged() {
		o.ExecutionRoleName = StackSetExecutionRole
	}
	var checks []Check
	add := func(c Check) { checks = append(checks, c) }

	tr := topicRegion(o.TopicArn)
	c := Check{Name: "topic-region", Account: p.MasterAccountID, Region: tr, OK: slices.Contains(o.Regions, tr),
		Detail: "topic " + o.TopicArn + ", StackSet regions " + strings.Join(o.Regions, ",")}
	if !c.OK {
		c.Fix = "add " + tr + " to --regions (SNS refuses publishing to another region's topic)"
	}
	add(c)
	if tr != "" {
		add(p.topicKey(ctx, o))
		add(recorderCheck(ctx, p.Master, p.MasterAccountID, tr))
	}
	for _, region := range o.Regions {
		add(p.resourceTypes(ctx, region))
	}
	if o.ServiceManaged() {
		for _, c := range p.organizationAccess(ctx) {
			add(c)
		}
	} else {
		add(p.administrationRole(ctx, o.AdministrationRoleARN))
	}

	ours := map[string]bool{}
	if p.Deployer != nil {
		ins, _ := p.Deployer.Instances(ctx, o.StackSetName)
		for _, in := range ins {
			ours[in.Account+"/"+in.Region] = true
		}
	}
	accounts := o.Accounts
	if o.ServiceManaged() {
		var err error
		if accounts, err = p.ouAccounts(ctx, o.OrganizationalUnits); err != nil {
			add(Check{Name: "organization", Account: p.MasterAccountID, Detail: err.Error(),
				Fix: "run preflight from the management account or a delegated administrator, or give --accounts"})
		}
	}
	for _, acct := range accounts {
		var cfg aws.Config
		reached := false
		if !o.ServiceManaged() {
			var err error
			cfg, err = p.Assume(ctx, acct, o.ExecutionRoleName, "")
			c := Check{Name: "execution-role", Account: acct, OK: err == nil, Detail: "role " + o.ExecutionRoleName}
			if err != nil {
				// STS answers AccessDenied alike for a missing role and for one whose trust
				// policy does not name the caller: say both, with both fixes.
				c.Detail += ": " + err.Error()
				if strings.Contains(err.Error(), "AccessDenied") {
					c.Detail += fmt.Sprintf(" (the role does not exist, or it does not trust %s)", p.MasterAccountID)
				}
				c.Fix = fmt.Sprintf("create %s in %s trusting %s in %s (AWS's StackSet prerequisites); if it exists, "+
					"let arn:aws:iam::%s:root (the StackSet administrator account) assume %s in %s (its trust policy); or give --execution-role-name",
					o.ExecutionRoleName, acct, StackSetAdministrationRole, p.MasterAccountID, p.MasterAccountID, o.ExecutionRoleName, acct)
			}
			if err == nil {
				c = executionRoleTrust(ctx, cfg, acct, o.ExecutionRoleName, p.MasterAccountID)
			}
			add(c)
			reached = err == nil
		}
		auditCfg, auditErr := p.Assume(ctx, acct, o.AuditRoleName, o.ExternalID)
		if !reached && auditErr == nil {
			cfg, reached = auditCfg, true
		}
		for _, region := range o.Regions {
			deployed := ours[acct+"/"+region]
			if auditErr == nil && !deployed && region == o.Regions[0] {
				add(Check{Name: "audit-role-collision", Account: acct, Detail: "role " + o.AuditRoleName + " exists and no instance of " + o.StackSetName + " created it",
					Fix: "give --audit-role-name another name (the AuditRoleName parameter), or delete the existing role"})
			}
			if !reached {
				add(Check{Name: "reach-account", Account: acct, Region: region, Detail: "neither the execution role nor " + o.AuditRoleName + " can be assumed",
					Fix: "deploy the execution role (self-managed) or check the account after the deployment"})
				continue
			}
			rc := cfg.Copy()
			rc.Region = region
			add(recorderCheck(ctx, rc, acct, region))
			if !deployed {
				add(ruleCollision(ctx, rc, acct, region))
			}
		}
	}
	return checks
}

// Failed reports whether any check failed.
func Failed(checks []Check) bool {
	return slices.ContainsFunc(checks, func(c Check) bool { return !c.OK })
}

// recorderCheck: AWS Config records, and records IAM users (global resources).
func recorderCheck(ctx context.Context, cfg aws.Config, acct, region string) Check {
	c := Check{Name: "config-recorder", Account: acct, Region: region}
	cs := configservice.NewFromConfig(cfg)
	recs, err := cs.DescribeConfigurationRecorders(ctx, &configservice.DescribeConfigurationRecordersInput{})
	if err != nil {
		c.Detail, c.Fix = "describe configuration recorders: "+awsenv.Simplify(err).Error(), "allow config:DescribeConfigurationRecorders, or check the recorder by hand"
		return c
	}
	if len(recs.ConfigurationRecorders) == 0 {
		c.Detail, c.Fix = "no configuration recorder", "set up AWS Config in "+region+" (aws configservice put-configuration-recorder, start-configuration-recorder)"
		return c
	}
	r := recs.ConfigurationRecorders[0]
	st, err := cs.DescribeConfigurationRecorderStatus(ctx, &configservice.DescribeConfigurationRecorderStatusInput{
		ConfigurationRecorderNames: []string{aws.ToString(r.Name)}})
	if err != nil {
		c.Detail, c.Fix = "describe recorder status: "+awsenv.Simplify(err).Error(), "allow config:DescribeConfigurationRecorderStatus"
		return c
	}
	if len(st.ConfigurationRecordersStatus) == 0 || !st.ConfigurationRecordersStatus[0].Recording {
		c.Detail, c.Fix = "recorder "+aws.ToString(r.Name)+" is not recording", "aws configservice start-configuration-recorder --configuration-recorder-name "+aws.ToString(r.Name)
		return c
	}
	g := r.RecordingGroup
	iamUsers := g != nil && (g.AllSupported && g.IncludeGlobalResourceTypes || slices.Contains(g.ResourceTypes, "AWS::IAM::User"))
	if !iamUsers {
		c.Detail, c.Fix = "recorder "+aws.ToString(r.Name)+" does not record AWS::IAM::User", "record global resources (includeGlobalResourceTypes) or AWS::IAM::User in "+region
		return c
	}
	c.OK, c.Detail = true, "recorder "+aws.ToString(r.Name)+" recording, IAM users included"
	return c
}

// ruleCollision: no access-keys-rotated rule exists that the StackSet would collide with.
func ruleCollision(ctx context.Context, cfg aws.Config, acct, region string) Check {
	c := Check{Name: "rule-collision", Account: acct, Region: region}
	_, err := configservice.NewFromConfig(cfg).DescribeConfigRules(ctx, &configservice.DescribeConfigRulesInput{ConfigRuleNames: []string{ConfigRuleName}})
	switch {
	case awsenv.ErrorCode(err) == "NoSuchConfigRuleException":
		c.OK, c.Detail = true, "no rule "+ConfigRuleName
	case err != nil:
		c.Detail, c.Fix = "describe config rules: "+awsenv.Simplify(err).Error(), "allow config:DescribeConfigRules"
	default:
		c.Detail = "rule " + ConfigRuleName + " exists (the seed's deployment?)"
		c.Fix = "delete it (with the stack that created it) before deploying; see docs/deployment.md, Coming from the AWS blog's solution"
	}
	return c
}

// resourceTypes: every resource type of the target template is offered in region.
func (p *Preflight) resourceTypes(ctx context.Context, region string) Check {
	c := Check{Name: "resource-types", Account: p.MasterAccountID, Region: region}
	cfg := p.Master.Copy()
	cfg.Region = region
	client := cloudformation.NewFromConfig(cfg)
	var types []string
	for _, r := range Target().Resources {
		if !slices.Contains(types, r.AWSCloudFormationType()) {
			types = append(types, r.AWSCloudFormationType())
		}
	}
	sort.Strings(types)
	var missing []string
	for _, t := range types {
		_, err := client.DescribeType(ctx, &cloudformation.DescribeTypeInput{Type: cfntypes.RegistryTypeResource, TypeName: aws.String(t)})
		if err != nil {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		c.Detail = "not offered: " + strings.Join(missing, ", ")
		c.Fix = "leave " + region + " out of --regions (AWS does not offer these resource types there)"
		return c
	}
	c.OK, c.Detail = true, fmt.Sprintf("%d resource types offered", len(types))
	return c
}

// ouAccounts lists the active accounts under the OUs (or roots), nested OUs included, sorted
// and each once, without the organization's management account: service-managed StackSets
// never deploy there, even when it is in a target OU (the CloudFormation API reference,
// DeploymentTargets). On an error it returns the accounts of the parents walked before it.
func (p *Preflight) ouAccounts(ctx context.Context, parents []string) ([]string, error) {
	org, err := organizations.NewFromConfig(p.Master).DescribeOrganization(ctx, &organizations.DescribeOrganizationInput{})
	if err != nil {
		return nil, fmt.Errorf("describe the organization: %w", awsenv.Simplify(err))
	}
	mgmt := aws.ToString(org.Organization.MasterAccountId)
	var out []string
	for _, parent := range parents {
		accts, err := inventory.OUAccounts(ctx, p.Master, parent)
		if err != nil {
			return out, err
		}
		for _, a := range accts {
			if a.ID != mgmt && !slices.Contains(out, a.ID) {
				out = append(out, a.ID)
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

// administrationRole (self-managed): the StackSet administration role exists in the master
// account and lets CloudFormation assume it, as AWS's self-managed prerequisites create it
// (AWSCloudFormationStackSetAdministrationRole.yml trusts cloudformation.amazonaws.com).
func (p *Preflight) administrationRole(ctx context.Context, roleARN string) Check {
	name := StackSetAdministrationRole
	if roleARN != "" {
		name = roleARN[strings.LastIndexByte(roleARN, '/')+1:]
	}
	c := Check{Name: "administration-role", Account: p.MasterAccountID, Detail: "role " + name}
	fix := fmt.Sprintf("create %s in %s trusting cloudformation.amazonaws.com (AWS's StackSet prerequisites, AWSCloudFormationStackSetAdministrationRole.yml), or give --admin-role-arn", name, p.MasterAccountID)
	trust, err := roleTrust(ctx, p.Master, name)
	switch {
	case err != nil:
		c.Detail, c.Fix = err.Error(), fix
	case !trusts(trust, func(kind, v string) bool { return kind == "Service" && v == "cloudformation.amazonaws.com" }):
		c.Detail, c.Fix = c.Detail+" does not trust cloudformation.amazonaws.com", "let cloudformation.amazonaws.com assume "+name+" (its trust policy), or "+fix
	default:
		c.OK, c.Detail = true, c.Detail+" trusts cloudformation.amazonaws.com"
	}
	return c
}

// executionRoleTrust (self-managed): the execution role in acct trusts the administrator
// account (its root or a role in it), as AWS's AWSCloudFormationStackSetExecutionRole.yml
// has it. cfg acts through the execution role itself.
func executionRoleTrust(ctx context.Context, cfg aws.Config, acct, name, admin string) Check {
	c := Check{Name: "execution-role", Account: acct, Detail: "role " + name}
	trust, err := roleTrust(ctx, cfg, name)
	switch {
	case err != nil:
		c.Detail, c.Fix = err.Error(), "allow iam:GetRole on "+name+" in "+acct+", or check its trust policy by hand"
	case !trusts(trust, func(kind, v string) bool { return kind == "AWS" && (v == admin || arnAccountID(v) == admin) }):
		c.Detail = c.Detail + " does not trust " + admin
		c.Fix = fmt.Sprintf("let arn:aws:iam::%s:root (the StackSet administrator account) assume %s in %s (its trust policy)", admin, name, acct)
	default:
		c.OK, c.Detail = true, c.Detail+" trusts "+admin
	}
	return c
}

// roleTrust reads a role's trust policy with iam:GetRole; IAM returns it URL-encoded.
func roleTrust(ctx context.Context, cfg aws.Config, name string) (string, error) {
	out, err := iam.NewFromConfig(cfg).GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(name)})
	if err != nil {
		return "", fmt.Errorf("get role %s: %w", name, awsenv.Simplify(err))
	}
	doc, err := url.QueryUnescape(aws.ToString(out.Role.AssumeRolePolicyDocument))
	if err != nil {
		return "", fmt.Errorf("decode the trust policy of %s: %w", name, err)
	}
	return doc, nil
}

// trusts reports whether an Allow statement of the trust policy doc lets a principal match
// assume the role: match gets the principal's kind (AWS, Service, Federated) and value.
func trusts(doc string, match func(kind, value string) bool) bool {
	var p struct {
		Statement []struct {
			Effect    string
			Action    any
			Principal any
		}
	}
	if json.Unmarshal([]byte(doc), &p) != nil {
		return false
	}
	for _, st := range p.Statement {
		if st.Effect != "Allow" || !slices.ContainsFunc(stringList(st.Action), func(a string) bool { return a == "sts:AssumeRole" || a == "sts:*" || a == "*" }) {
			continue
		}
		if st.Principal == "*" {
			return true
		}
		m, _ := st.Principal.(map[string]any)
		for kind, v := range m {
			if slices.ContainsFunc(stringList(v), func(s string) bool { return s == "*" || match(kind, s) }) {
				return true
			}
		}
	}
	return false
}

// stringList reads a policy element that is a string or a list of strings.
func stringList(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, x := range v {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// arnAccountID is the account of an ARN, "" when v is not one.
func arnAccountID(v string) string {
	if p := strings.Split(v, ":"); len(p) >= 6 && p[0] == "arn" {
		return p[4]
	}
	return ""
}

// StackSetsServicePrincipal is CloudFormation StackSets' service principal in Organizations:
// trusted access and delegated administrators are registered for it.
const StackSetsServicePrincipal = "member.org.stacksets.cloudformation.amazonaws.com"

// organizationAccess (service-managed): trusted access for StackSets is enabled and, when the
// caller is not the management account, it is registered as StackSets' delegated
// administrator.
func (p *Preflight) organizationAccess(ctx context.Context) []Check {
	org := organizations.NewFromConfig(p.Master)
	mgmt := ""
	if out, err := org.DescribeOrganization(ctx, &organizations.DescribeOrganizationInput{}); err == nil {
		mgmt = aws.ToString(out.Organization.MasterAccountId)
	}
	var checks []Check
	if mgmt != "" && mgmt != p.MasterAccountID {
		c := Check{Name: "delegated-admin", Account: p.MasterAccountID, Detail: "account " + p.MasterAccountID + " is not the management account (" + mgmt + ")"}
		found, err := listDelegated(ctx, org, p.MasterAccountID)
		switch {
		case err != nil:
			c.Detail += "; " + err.Error()
		case found:
			c.OK, c.Detail = true, c.Detail+" and is a delegated administrator of "+StackSetsServicePrincipal
		default:
			c.Detail += " and not a delegated administrator of " + StackSetsServicePrincipal
		}
		if !c.OK {
			c.Fix = "in the management account: aws organizations register-delegated-administrator --service-principal " + StackSetsServicePrincipal + " --account-id " + p.MasterAccountID
		}
		checks = append(checks, c)
	}
	c := Check{Name: "trusted-access", Account: p.MasterAccountID, Detail: "trusted access for " + StackSetsServicePrincipal}
	enabled, err := serviceAccess(ctx, org, StackSetsServicePrincipal)
	switch {
	case err != nil:
		c.Detail += ": " + err.Error()
	case enabled:
		c.OK, c.Detail = true, c.Detail+" enabled"
	default:
		c.Detail += " not enabled"
	}
	if !c.OK {
		c.Fix = "in the management account: aws cloudformation activate-organizations-access (or, in the console, StackSets: Activate trusted access)"
	}
	return append(checks, c)
}

// listDelegated reports whether account is a delegated administrator of StackSets.
func listDelegated(ctx context.Context, org *organizations.Client, account string) (bool, error) {
	pages := organizations.NewListDelegatedAdministratorsPaginator(org, &organizations.ListDelegatedAdministratorsInput{ServicePrincipal: aws.String(StackSetsServicePrincipal)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return false, fmt.Errorf("list delegated administrators of %s: %w", StackSetsServicePrincipal, awsenv.Simplify(err))
		}
		if slices.ContainsFunc(page.DelegatedAdministrators, func(a orgtypes.DelegatedAdministrator) bool { return aws.ToString(a.Id) == account }) {
			return true, nil
		}
	}
	return false, nil
}

// serviceAccess reports whether trusted access is enabled for the service principal.
func serviceAccess(ctx context.Context, org *organizations.Client, principal string) (bool, error) {
	pages := organizations.NewListAWSServiceAccessForOrganizationPaginator(org, &organizations.ListAWSServiceAccessForOrganizationInput{})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return false, fmt.Errorf("list the services with trusted access: %w", awsenv.Simplify(err))
		}
		if slices.ContainsFunc(page.EnabledServicePrincipals, func(s orgtypes.EnabledServicePrincipal) bool { return aws.ToString(s.ServicePrincipal) == principal }) {
			return true, nil
		}
	}
	return false, nil
}
