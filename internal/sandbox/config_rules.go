package sandbox

import (
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
)

// AWS Config rules: PutConfigRule, DescribeConfigRules and DeleteConfigRule, and the rules AWS
// Config enforces on a managed rule's trigger (checkConfigRule), shared with CloudFormation's
// AWS::Config::ConfigRule. Rules live in the account, per region.

// managedTrigger is how an AWS managed rule is triggered.
type managedTrigger int

const (
	triggerPeriodic managedTrigger = iota + 1 // periodic only: no Scope
	triggerChanges                            // configuration changes only: no MaximumExecutionFrequency
)

// managedRuleTriggers are the trigger types of the AWS managed rules keyage uses or may use,
// each from its page in the AWS Config developer guide ("Trigger type: Periodic" or
// "Trigger type: Configuration changes"), github.com/awsdocs/aws-config-developer-guide,
// doc_source/<rule-name>.md at commit 1d71457536bb2f3a585690b88aa1cc8e6a72768a. A managed rule
// not listed here is accepted as it is: the sandbox does not know its trigger.
var managedRuleTriggers = map[string]managedTrigger{
	"ACCESS_KEYS_ROTATED":                        triggerPeriodic, // access-keys-rotated.md
	"IAM_PASSWORD_POLICY":                        triggerPeriodic, // iam-password-policy.md
	"IAM_ROOT_ACCESS_KEY_CHECK":                  triggerPeriodic, // iam-root-access-key-check.md
	"IAM_USER_MFA_ENABLED":                       triggerPeriodic, // iam-user-mfa-enabled.md
	"IAM_USER_UNUSED_CREDENTIALS_CHECK":          triggerPeriodic, // iam-user-unused-credentials-check.md
	"MFA_ENABLED_FOR_IAM_CONSOLE_ACCESS":         triggerPeriodic, // mfa-enabled-for-iam-console-access.md
	"ROOT_ACCOUNT_MFA_ENABLED":                   triggerPeriodic, // root-account-mfa-enabled.md
	"IAM_POLICY_NO_STATEMENTS_WITH_ADMIN_ACCESS": triggerChanges,  // iam-policy-no-statements-with-admin-access.md
	"IAM_USER_GROUP_MEMBERSHIP_CHECK":            triggerChanges,  // iam-user-group-membership-check.md
	"IAM_USER_NO_POLICIES_CHECK":                 triggerChanges,  // iam-user-no-policies-check.md
	"ELB_LOGGING_ENABLED":                        triggerChanges,  // elb-logging-enabled.md
}

// configFrequencies are the values of MaximumExecutionFrequency.
var configFrequencies = []string{"One_Hour", "Three_Hours", "Six_Hours", "Twelve_Hours", "TwentyFour_Hours"}

// configRule is an AWS Config rule, in the API's shape.
type configRule struct {
	ConfigRuleName            string            `json:"ConfigRuleName"`
	ConfigRuleArn             string            `json:"ConfigRuleArn,omitempty"`
	ConfigRuleID              string            `json:"ConfigRuleId,omitempty"`
	Description               string            `json:"Description,omitempty"`
	Scope                     *configRuleScope  `json:"Scope,omitempty"`
	Source                    *configRuleSource `json:"Source"`
	InputParameters           string            `json:"InputParameters,omitempty"`
	MaximumExecutionFrequency string            `json:"MaximumExecutionFrequency,omitempty"`
	ConfigRuleState           string            `json:"ConfigRuleState,omitempty"`
}

type configRuleScope struct {
	ComplianceResourceTypes []string `json:"ComplianceResourceTypes,omitempty"`
	TagKey                  string   `json:"TagKey,omitempty"`
	TagValue                string   `json:"TagValue,omitempty"`
	ComplianceResourceID    string   `json:"ComplianceResourceId,omitempty"`
}

// scoped reports whether the scope restricts the rule to some resources.
func (s *configRuleScope) scoped() bool {
	return s != nil && (len(s.ComplianceResourceTypes) > 0 || s.TagKey != "" || s.ComplianceResourceID != "")
}

type configRuleSource struct {
	Owner            string `json:"Owner"`
	SourceIdentifier string `json:"SourceIdentifier,omitempty"`
}

// configRuleState holds an account's rules by region and name.
type configRuleState struct {
	mu    sync.Mutex
	rules map[string]*configRule // region + "/" + name
}

func configInvalid(msg string) *apiError {
	return newError(http.StatusBadRequest, "InvalidParameterValueException", msg)
}

// checkConfigRule applies the rules AWS Config enforces at PutConfigRule.
func checkConfigRule(r *configRule) *apiError {
	switch {
	case r.ConfigRuleName == "" && r.ConfigRuleArn == "" && r.ConfigRuleID == "":
		return configInvalid("One or more identifiers needs to be provided. Provide Name or Id or Arn")
	case len(r.ConfigRuleName) > 128:
		return configValidation("1 validation error detected: Value '" + r.ConfigRuleName + "' at 'configRule.configRuleName' failed to satisfy constraint: Member must have length less than or equal to 128")
	}
	if f := r.MaximumExecutionFrequency; f != "" && !slices.Contains(configFrequencies, f) {
		return configValidation("1 validation error detected: Value '" + f + "' at 'configRule.maximumExecutionFrequency' failed to satisfy constraint: Member must satisfy enum value set: [" + strings.Join(configFrequencies, ", ") + "]")
	}
	if r.Source == nil {
		// PutConfigRule requires a Source; CloudFormation stacks of the sandbox's own tests
		// may leave it out.
		return nil
	}
	switch r.Source.Owner {
	case "AWS":
	case "CUSTOM_LAMBDA", "CUSTOM_POLICY":
		return nil
	default:
		return configValidation("1 validation error detected: Value '" + r.Source.Owner + "' at 'configRule.source.owner' failed to satisfy constraint: Member must satisfy enum value set: [CUSTOM_POLICY, AWS, CUSTOM_LAMBDA]")
	}
	switch managedRuleTriggers[r.Source.SourceIdentifier] {
	case triggerPeriodic:
		if r.Scope.scoped() {
			// AWS Config refuses a scope on periodic rules since 2025 (it ignored it before);
			// its message is not documented, this one says the same in the words of the next.
			return configInvalid("A scope for this rule is not allowed because only a periodic frequency triggers this managed rule.")
		}
	case triggerChanges:
		if r.MaximumExecutionFrequency != "" {
			return configInvalid("A maximum execution frequency for this rule is not allowed because only a change in resources triggers this managed rule.")
		}
	}
	return nil
}

// putConfigRule stores a checked rule in the account, filling in its id and ARN.
func (s *Server) putConfigRule(a *account, region string, r *configRule) {
	r.ConfigRuleID = "config-rule-" + strings.ToLower(s.ids.id("", 6, a.id, region, r.ConfigRuleName))
	r.ConfigRuleArn = "arn:aws:config:" + region + ":" + a.id + ":config-rule/" + r.ConfigRuleID
	if r.ConfigRuleState == "" {
		r.ConfigRuleState = "ACTIVE"
	}
	a.rules.mu.Lock()
	defer a.rules.mu.Unlock()
	if a.rules.rules == nil {
		a.rules.rules = map[string]*configRule{}
	}
	a.rules.rules[region+"/"+r.ConfigRuleName] = r
}

func (a *account) deleteConfigRule(region, name string) bool {
	a.rules.mu.Lock()
	defer a.rules.mu.Unlock()
	_, ok := a.rules.rules[region+"/"+name]
	delete(a.rules.rules, region+"/"+name)
	return ok
}

func (s *Server) configPutConfigRule(c *call) (any, error) {
	var in struct {
		ConfigRule *configRule `json:"ConfigRule"`
	}
	if err := c.decodeJSON(&in); err != nil {
		return nil, err
	}
	if in.ConfigRule == nil {
		return nil, configValidation("1 validation error detected: Value null at 'configRule' failed to satisfy constraint: Member must not be null")
	}
	if in.ConfigRule.Source == nil {
		return nil, configValidation("1 validation error detected: Value null at 'configRule.source' failed to satisfy constraint: Member must not be null")
	}
	if err := checkConfigRule(in.ConfigRule); err != nil {
		return nil, err
	}
	if in.ConfigRule.ConfigRuleName == "" {
		return nil, configInvalid("The sandbox updates rules by ConfigRuleName only")
	}
	s.putConfigRule(c.acct(), c.region, in.ConfigRule)
	return struct{}{}, nil
}

func (s *Server) configDescribeConfigRules(c *call) (any, error) {
	var in struct {
		ConfigRuleNames []string `json:"ConfigRuleNames"`
	}
	if err := c.decodeJSON(&in); err != nil {
		return nil, err
	}
	a := c.acct()
	a.rules.mu.Lock()
	defer a.rules.mu.Unlock()
	out := struct {
		ConfigRules []configRule `json:"ConfigRules"`
	}{ConfigRules: []configRule{}}
	if len(in.ConfigRuleNames) == 0 {
		for k, r := range a.rules.rules {
			if strings.HasPrefix(k, c.region+"/") {
				out.ConfigRules = append(out.ConfigRules, *r)
			}
		}
		sort.Slice(out.ConfigRules, func(i, j int) bool { return out.ConfigRules[i].ConfigRuleName < out.ConfigRules[j].ConfigRuleName })
		return out, nil
	}
	for _, name := range in.ConfigRuleNames {
		r := a.rules.rules[c.region+"/"+name]
		if r == nil {
			return nil, newError(http.StatusBadRequest, "NoSuchConfigRuleException", "The ConfigRule '"+name+"' provided in the request is invalid. Please check the configRule name.")
		}
		out.ConfigRules = append(out.ConfigRules, *r)
	}
	return out, nil
}

func (s *Server) configDeleteConfigRule(c *call) (any, error) {
	var in struct {
		ConfigRuleName string `json:"ConfigRuleName"`
	}
	if err := c.decodeJSON(&in); err != nil {
		return nil, err
	}
	if !c.acct().deleteConfigRule(c.region, in.ConfigRuleName) {
		return nil, newError(http.StatusBadRequest, "NoSuchConfigRuleException", "The ConfigRule '"+in.ConfigRuleName+"' provided in the request is invalid. Please check the configRule name.")
	}
	return struct{}{}, nil
}
