package sandbox

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Resources CloudFormation creates through the rules of their own service, so that a template
// AWS would refuse fails its stack here too: AWS::Config::ConfigRule is checked as AWS Config's
// PutConfigRule checks it and stored in the account's Config rules; AWS::SSM::Document is
// checked as SSM's CreateDocument checks it (ssm_document.go) and recorded.

// serviceError is how CloudFormation reports a service's refusal of a resource.
func serviceError(service string, e *apiError) error {
	return handlerError("InvalidRequest", "%s (Service: %s, Status Code: %d)", e.Message, service, e.Status)
}

// configRuleFromProps reads an AWS::Config::ConfigRule's properties as a PutConfigRule input.
func configRuleFromProps(props map[string]any) (*configRule, error) {
	rest := make(map[string]any, len(props))
	for k, v := range props {
		if k != "InputParameters" {
			rest[k] = v
		}
	}
	b, err := json.Marshal(rest)
	if err != nil {
		return nil, err
	}
	var r configRule
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("Properties validation failed for resource with message: %v", err)
	}
	switch p := props["InputParameters"].(type) {
	case nil:
	case string:
		r.InputParameters = p
	default:
		b, _ := json.Marshal(p)
		r.InputParameters = string(b)
	}
	return &r, nil
}

func configRuleCreate(cf *cloudFormation, a *account, st *cfnStack, r *cfnRes) error {
	rule, err := configRuleFromProps(r.props)
	if err != nil {
		return err
	}
	if rule.ConfigRuleName == "" {
		rule.ConfigRuleName = cf.physicalName(st, r.logical, 128)
	}
	if e := checkConfigRule(rule); e != nil {
		return serviceError("Config", e)
	}
	cf.s.putConfigRule(a, st.region, rule)
	r.physical = rule.ConfigRuleName
	r.attrs = map[string]string{"Ref": rule.ConfigRuleName, "Arn": rule.ConfigRuleArn, "ConfigRuleId": rule.ConfigRuleID,
		"Compliance.Type": "INSUFFICIENT_DATA"}
	return nil
}

func configRuleUpdate(cf *cloudFormation, a *account, st *cfnStack, r *cfnRes, props map[string]any) error {
	rule, err := configRuleFromProps(props)
	if err != nil {
		return err
	}
	if rule.ConfigRuleName == "" {
		rule.ConfigRuleName = r.physical
	}
	if e := checkConfigRule(rule); e != nil {
		return serviceError("Config", e)
	}
	if rule.ConfigRuleName != r.physical {
		a.deleteConfigRule(st.region, r.physical)
	}
	cf.s.putConfigRule(a, st.region, rule)
	r.physical = rule.ConfigRuleName
	r.attrs = map[string]string{"Ref": rule.ConfigRuleName, "Arn": rule.ConfigRuleArn, "ConfigRuleId": rule.ConfigRuleID,
		"Compliance.Type": "INSUFFICIENT_DATA"}
	return nil
}

func configRuleDelete(_ *cloudFormation, a *account, st *cfnStack, r *cfnRes) error {
	a.deleteConfigRule(st.region, r.physical)
	return nil
}

func configRuleExists(_ *cloudFormation, a *account, st *cfnStack, r *cfnRes) bool {
	a.rules.mu.Lock()
	defer a.rules.mu.Unlock()
	return a.rules.rules[st.region+"/"+r.physical] != nil
}

// ssmDocumentCreate checks an Automation document's content and records the document.
func ssmDocumentCreate(cf *cloudFormation, _ *account, st *cfnStack, r *cfnRes) error {
	if strings.EqualFold(propString(r.props, "DocumentType"), "Automation") {
		if e := checkAutomationDocument(r.props["Content"]); e != nil {
			return serviceError("Ssm", e)
		}
	}
	recordedCreate(cf, st, r)
	return nil
}

// ssmDocumentDelete forgets a recorded document: the sandbox serves no SSM API.
func ssmDocumentDelete(*cloudFormation, *account, *cfnStack, *cfnRes) error { return nil }
