package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"

	"gopkg.in/yaml.v3"
)

// SSM Automation documents checked as SSM's CreateDocument checks them: schemaVersion 0.3, a
// mainSteps list whose steps have valid, unique names and known actions, and outputs whose
// selectors are the JSONPath subset SSM evaluates (dot notation and array indexes; no filter
// expressions, wildcards or recursive descent). The sandbox serves no SSM API: CloudFormation's
// AWS::SSM::Document is where documents meet it.

// automationActions are the actions of the Systems Manager Automation actions reference
// (docs.aws.amazon.com/systems-manager/latest/userguide/automation-actions.html).
var automationActions = map[string]bool{
	"aws:approve": true, "aws:assertAwsResourceProperty": true, "aws:branch": true, "aws:changeInstanceState": true,
	"aws:copyImage": true, "aws:createImage": true, "aws:createStack": true, "aws:createTags": true,
	"aws:deleteImage": true, "aws:deleteStack": true, "aws:executeAutomation": true, "aws:executeAwsApi": true,
	"aws:executeScript": true, "aws:executeStateMachine": true, "aws:invokeLambdaFunction": true,
	"aws:invokeWebhook": true, "aws:loop": true, "aws:pause": true, "aws:runCommand": true,
	"aws:runInstances": true, "aws:sleep": true, "aws:updateVariable": true, "aws:waitForAwsResourceProperty": true,
}

// automationOutputTypes are the types of a step output.
var automationOutputTypes = map[string]bool{"String": true, "Integer": true, "Boolean": true, "StringList": true,
	"StringMap": true, "MapList": true}

var (
	stepNamePattern = regexp.MustCompile(`^[a-zA-Z0-9_]{1,128}$`)
	// ssmSelector is the JSONPath SSM evaluates: $ then .name or [index] segments.
	ssmSelector = regexp.MustCompile(`^\$(\.[A-Za-z0-9_-]+|\[[0-9]+\])*$`)
)

type automationDocument struct {
	SchemaVersion string `json:"schemaVersion"`
	MainSteps     []struct {
		Name    string `json:"name"`
		Action  string `json:"action"`
		Outputs []struct {
			Name     string `json:"Name"`
			Selector string `json:"Selector"`
			Type     string `json:"Type"`
		} `json:"outputs"`
	} `json:"mainSteps"`
}

func invalidDocument(format string, args ...any) *apiError {
	return newError(http.StatusBadRequest, "InvalidDocumentContent", fmt.Sprintf(format, args...))
}

// checkAutomationDocument checks a document's content: an object, or JSON or YAML text.
func checkAutomationDocument(content any) *apiError {
	if s, ok := content.(string); ok {
		var v any
		if err := yaml.Unmarshal([]byte(s), &v); err != nil {
			return invalidDocument("Document content is not valid JSON or YAML: %v", err)
		}
		content = v
	}
	b, err := json.Marshal(content)
	if err != nil {
		return invalidDocument("Document content is not valid JSON or YAML: %v", err)
	}
	var doc automationDocument
	if err := json.Unmarshal(b, &doc); err != nil {
		return invalidDocument("Document content is malformed: %v", err)
	}
	if doc.SchemaVersion != "0.3" {
		return newError(http.StatusBadRequest, "InvalidDocumentSchemaVersion",
			fmt.Sprintf("Automation documents support schemaVersion 0.3, not %q", doc.SchemaVersion))
	}
	if len(doc.MainSteps) == 0 {
		return invalidDocument("mainSteps must contain at least one step")
	}
	seen := map[string]bool{}
	for i, step := range doc.MainSteps {
		switch {
		case !stepNamePattern.MatchString(step.Name):
			return invalidDocument("Step name %q of step %d is invalid: use 1 to 128 letters, digits and underscores", step.Name, i+1)
		case seen[step.Name]:
			return invalidDocument("Step name %s is used by more than one step", step.Name)
		case !automationActions[step.Action]:
			return invalidDocument("Action %q of step %s is not a valid automation action", step.Action, step.Name)
		}
		seen[step.Name] = true
		for _, o := range step.Outputs {
			switch {
			case o.Name == "":
				return invalidDocument("An output of step %s has no Name", step.Name)
			case !automationOutputTypes[o.Type]:
				return invalidDocument("Output %s of step %s has type %q: use String, Integer, Boolean, StringList, StringMap or MapList", o.Name, step.Name, o.Type)
			case !ssmSelector.MatchString(o.Selector):
				return invalidDocument("Selector %s of output %s in step %s is not a supported JSONPath: use dot notation and array indexes ($.Name[0].Field), without filter expressions", o.Selector, o.Name, step.Name)
			}
		}
	}
	return nil
}
