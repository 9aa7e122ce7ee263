package deploy

import cfn "github.com/awslabs/goformation/v7/cloudformation"

// AutomationDocument is the content of an SSM Automation document
// (schemaVersion 0.3), as it appears structured inside the target template.
type AutomationDocument struct {
	SchemaVersion string                       `json:"schemaVersion"`
	Description   string                       `json:"description,omitempty"`
	AssumeRole    string                       `json:"assumeRole"`
	Parameters    map[string]DocumentParameter `json:"parameters"`
	MainSteps     []Step                       `json:"mainSteps"`
}

// DocumentParameter is a parameter of an automation document.
type DocumentParameter struct {
	Type        string `json:"type"`
	Description string `json:"description,omitempty"`
}

// Step is one step of an automation document.
type Step struct {
	Name           string         `json:"name"`
	Action         string         `json:"action"`
	MaxAttempts    int            `json:"maxAttempts,omitempty"`
	TimeoutSeconds int            `json:"timeoutSeconds,omitempty"`
	OnFailure      string         `json:"onFailure,omitempty"`
	Inputs         map[string]any `json:"inputs"`
	Outputs        []StepOutput   `json:"outputs,omitempty"`
}

// StepOutput is an output of an aws:executeAwsApi step.
type StepOutput struct {
	Name     string `json:"Name"`
	Selector string `json:"Selector"`
	Type     string `json:"Type"`
}

// The seed's automation: step names, the user name output and the message.
const (
	StepConfig  = "configStep"
	StepOwner   = "ownerStep"
	StepPublish = "publishMessage"

	// SeedMessage is the seed's message, byte for byte: the account from the
	// SSM system variable and the user name resolved by configStep.
	SeedMessage = `Account "{{global:ACCOUNT_ID}}" User "{{configStep.configUserName}}" needs to rotate their access key.`
	// OwnerMessage is the message when OwnerTagKey is set: the seed's, with
	// the value of the user's owner tag read by ownerStep.
	OwnerMessage = `Account "{{global:ACCOUNT_ID}}" User "{{configStep.configUserName}}" (owner "{{ownerStep.ownerEmail}}") needs to rotate their access key.`
)

// remediationDocument is the seed's automation document: resolve the user
// name of the non-compliant resourceId with AWS Config, then publish the
// message to the master topic through AWS-PublishSNSNotification. With
// withOwner, a step between them reads the user's owner tag (the seed's
// "fully automated option") and the message names the owner.
func remediationDocument(withOwner bool) AutomationDocument {
	doc := AutomationDocument{
		SchemaVersion: "0.3",
		Description:   "Publishes the name of an IAM user whose access keys need rotation (AWS Config rule access-keys-rotated) to the keyage master topic.",
		AssumeRole:    "{{ AutomationAssumeRole }}",
		Parameters: map[string]DocumentParameter{
			"ResourceId":           {Type: "String", Description: "The resourceId (UserId) of the non-compliant IAM user, passed by AWS Config."},
			"AutomationAssumeRole": {Type: "String", Description: "The role the automation runs as, passed by AWS Config."},
		},
	}
	configStep := Step{
		Name:   StepConfig,
		Action: "aws:executeAwsApi",
		Inputs: map[string]any{
			"Service":      "config",
			"Api":          "ListDiscoveredResources",
			"resourceType": "AWS::IAM::User",
			"resourceIds":  []string{"{{ResourceId}}"},
		},
		Outputs: []StepOutput{{Name: "configUserName", Selector: "$.resourceIdentifiers[0].resourceName", Type: "String"}},
	}
	message := SeedMessage
	doc.MainSteps = append(doc.MainSteps, configStep)
	if withOwner {
		// SSM's selectors are dot notation and array indexes only (no JSONPath filter), so the
		// tag is picked by a script; it returns one string, "" when the user lacks the tag.
		doc.MainSteps = append(doc.MainSteps, Step{
			Name:      StepOwner,
			Action:    "aws:executeScript",
			OnFailure: "Continue",
			Inputs: map[string]any{
				"Runtime": "python3.11",
				"Handler": "handler",
				"Script":  ownerScript,
				"InputPayload": map[string]any{
					"UserName": "{{configStep.configUserName}}",
					"TagKey":   cfn.Ref(ParamOwnerTagKey),
				},
			},
			Outputs: []StepOutput{{Name: "ownerEmail", Selector: "$.Payload.owner", Type: "String"}},
		})
		message = OwnerMessage
	}
	doc.MainSteps = append(doc.MainSteps, Step{
		Name:           StepPublish,
		Action:         "aws:executeAutomation",
		MaxAttempts:    1,
		TimeoutSeconds: 30,
		OnFailure:      "Abort",
		Inputs: map[string]any{
			"DocumentName": "AWS-PublishSNSNotification",
			"RuntimeParameters": map[string]any{
				"TopicArn": cfn.Ref(ParamSNSTopicArn),
				"Message":  message,
			},
		},
	})
	return doc
}

// ownerScript is the owner step's script: the value of the user's TagKey tag, as a string.
const ownerScript = `import boto3


def handler(event, context):
    tags = boto3.client("iam").list_user_tags(UserName=event["UserName"])["Tags"]
    owner = next((t["Value"] for t in tags if t["Key"] == event["TagKey"]), "")
    return {"owner": owner}
`
