package deploy

import (
	"bytes"
	"encoding/json"
	"flag"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/awslabs/goformation/v7"
	cfn "github.com/awslabs/goformation/v7/cloudformation"
	"github.com/awslabs/goformation/v7/cloudformation/config"
	"github.com/awslabs/goformation/v7/intrinsics"
	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// rendered returns the rendered YAML of every template by file name.
func rendered(t *testing.T) map[string][]byte {
	t.Helper()
	files, err := Render(FormatYAML)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, f := range files {
		out[f.Name] = f.Data
	}
	return out
}

func TestGolden(t *testing.T) {
	got := rendered(t)
	if len(got) != 2 || got["master.yaml"] == nil || got["target.yaml"] == nil {
		t.Fatalf("Render(yaml) = %v files, want master.yaml and target.yaml", sortedKeys(got))
	}
	for name, data := range got {
		golden := filepath.Join("testdata", name)
		if *update {
			if err := os.WriteFile(golden, data, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run go test ./internal/deploy/ -update)", err)
		}
		if diff := cmp.Diff(string(want), string(data)); diff != "" {
			t.Errorf("%s differs from the golden file (-golden +rendered); run go test ./internal/deploy/ -update if intended:\n%s", name, diff)
		}
	}
}

// TestJSONMatchesYAML checks the two formats render the same template.
func TestJSONMatchesYAML(t *testing.T) {
	ys, err := Render(FormatYAML)
	if err != nil {
		t.Fatal(err)
	}
	js, err := Render(FormatJSON)
	if err != nil {
		t.Fatal(err)
	}
	for i := range ys {
		var y, j any
		if err := yaml.Unmarshal(ys[i].Data, &y); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(js[i].Data, &j); err != nil {
			t.Fatalf("%s: %v", js[i].Name, err)
		}
		// Compare through JSON so both sides have the same number types.
		yb, _ := json.Marshal(y)
		jb, _ := json.Marshal(j)
		if !bytes.Equal(yb, jb) {
			t.Errorf("%s and %s differ", ys[i].Name, js[i].Name)
		}
	}
}

func TestParseFormat(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Format
		ok   bool
	}{
		{"yaml", FormatYAML, true}, {"yml", FormatYAML, true}, {"json", FormatJSON, true}, {"xml", "", false}, {"", "", false},
	} {
		got, err := ParseFormat(tt.in)
		if got != tt.want || (err == nil) != tt.ok {
			t.Errorf("ParseFormat(%q) = %q, %v; want %q, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func decodeYAML(t *testing.T, data []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	// Through JSON, so that numbers and maps have the types the validator
	// and encoding/json expect.
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	m = nil
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestTemplatesMatchSchema(t *testing.T) {
	v := loadSchema(t)
	for name, data := range rendered(t) {
		t.Run(name, func(t *testing.T) {
			for _, err := range v.Template(decodeYAML(t, data)) {
				t.Error(err)
			}
		})
	}
}

// TestSchemaRejectsMistakes shows the schema check would catch a
// misspelled property, a misspelled nested property, an unknown type, a
// missing required property and a wrong value type.
func TestSchemaRejectsMistakes(t *testing.T) {
	v := loadSchema(t)
	target := rendered(t)["target.yaml"]
	props := func(m map[string]any, logical string) map[string]any {
		return m["Resources"].(map[string]any)[logical].(map[string]any)["Properties"].(map[string]any)
	}
	for _, tt := range []struct {
		name    string
		mutate  func(m map[string]any)
		wantErr string
	}{
		{"misspelled property", func(m map[string]any) {
			p := props(m, LogicalRemediation)
			p["TargetID"] = p["TargetId"]
			delete(p, "TargetId")
		}, "Resources.AccessKeysRotatedRemediation.Properties.TargetID: unknown property"},
		{"misspelled nested property", func(m map[string]any) {
			src := props(m, LogicalConfigRule)["Source"].(map[string]any)
			src["SourceIdentifer"] = src["SourceIdentifier"]
			delete(src, "SourceIdentifier")
		}, "Resources.AccessKeysRotatedRule.Properties.Source.SourceIdentifer: unknown property"},
		{"misspelled resource attribute", func(m map[string]any) {
			r := m["Resources"].(map[string]any)[LogicalRemediation].(map[string]any)
			r["DependOn"] = r["DependsOn"]
		}, "Resources.AccessKeysRotatedRemediation.DependOn: unknown property"},
		{"unknown resource type", func(m map[string]any) {
			m["Resources"].(map[string]any)[LogicalDocument].(map[string]any)["Type"] = "AWS::SSM::Documents"
		}, `Resources.RemediationDocument.Type: unknown resource type "AWS::SSM::Documents"`},
		{"missing required property", func(m map[string]any) {
			delete(props(m, LogicalRemediation), "TargetType")
		}, "Resources.AccessKeysRotatedRemediation.Properties.TargetType: required"},
		{"wrong type", func(m map[string]any) {
			props(m, LogicalRemediation)["Automatic"] = "always"
		}, "Resources.AccessKeysRotatedRemediation.Properties.Automatic: string is not of type boolean"},
		{"misspelled parameter field", func(m map[string]any) {
			m["Parameters"].(map[string]any)[ParamMaxAccessKeyAge].(map[string]any)["Defualt"] = 90
		}, "Parameters.MaxAccessKeyAge.Defualt: unknown property"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := decodeYAML(t, target)
			tt.mutate(m)
			errs := v.Template(m)
			var msgs []string
			for _, err := range errs {
				msgs = append(msgs, err.Error())
			}
			found := false
			for _, msg := range msgs {
				if msg == tt.wantErr {
					found = true
				}
			}
			if !found {
				t.Errorf("schema errors = %q, want one to be %q", msgs, tt.wantErr)
			}
		})
	}
}

// parseKeepingIntrinsics parses a rendered template back with goformation,
// keeping intrinsic functions as goformation encodes them, so that a
// property can be compared with cfn.Ref(...) or cfn.GetAtt(...). A Ref to a
// Number parameter resolves to its default instead: goformation types those
// properties as int, which cannot hold a Ref.
func parseKeepingIntrinsics(t *testing.T, data []byte) *cfn.Template {
	t.Helper()
	handlers := maps.Clone(cfn.EncoderIntrinsics)
	encodeRef := cfn.EncoderIntrinsics["Ref"]
	handlers["Ref"] = func(name string, input, template any) any {
		if p, ok := templateParameter(template, input); ok && p["Type"] == "Number" {
			return p["Default"]
		}
		return encodeRef(name, input, template)
	}
	tmpl, err := goformation.ParseYAMLWithOptions(data, &intrinsics.ProcessorOptions{IntrinsicHandlerOverrides: handlers})
	if err != nil {
		t.Fatalf("goformation.ParseYAML: %v", err)
	}
	return tmpl
}

func templateParameter(template, name any) (map[string]any, bool) {
	n, _ := name.(string)
	tm, _ := template.(map[string]any)
	params, _ := tm["Parameters"].(map[string]any)
	p, ok := params[n].(map[string]any)
	return p, ok
}

func TestTargetWiring(t *testing.T) {
	data := rendered(t)["target.yaml"]
	tmpl := parseKeepingIntrinsics(t, data)

	rem, err := tmpl.GetConfigRemediationConfigurationWithName(LogicalRemediation)
	if err != nil {
		t.Fatal(err)
	}
	rule, err := tmpl.GetConfigConfigRuleWithName(LogicalConfigRule)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := tmpl.GetSSMDocumentWithName(LogicalDocument)
	if err != nil {
		t.Fatal(err)
	}
	role, err := tmpl.GetIAMRoleWithName(LogicalRemediationRole)
	if err != nil {
		t.Fatal(err)
	}

	if want := cfn.Ref(LogicalDocument); rem.TargetId != want {
		t.Errorf("remediation TargetId = %s, want Ref %s", decodeIntrinsic(rem.TargetId), LogicalDocument)
	}
	if rem.TargetType != "SSM_DOCUMENT" {
		t.Errorf("remediation TargetType = %q, want SSM_DOCUMENT", rem.TargetType)
	}
	if got := deref(doc.DocumentType); got != "Automation" {
		t.Errorf("document DocumentType = %q, want Automation", got)
	}
	if got := deref(rule.ConfigRuleName); got != ConfigRuleName {
		t.Errorf("rule ConfigRuleName = %q, want %q", got, ConfigRuleName)
	}
	if rem.ConfigRuleName != cfn.Ref(LogicalConfigRule) && rem.ConfigRuleName != ConfigRuleName {
		t.Errorf("remediation ConfigRuleName = %s, want Ref %s or %q", decodeIntrinsic(rem.ConfigRuleName), LogicalConfigRule, ConfigRuleName)
	}
	if rem.Automatic == nil || !*rem.Automatic {
		t.Errorf("remediation Automatic = %v, want true", rem.Automatic)
	}
	if rem.MaximumAutomaticAttempts == nil || *rem.MaximumAutomaticAttempts != 5 || rem.RetryAttemptSeconds == nil || *rem.RetryAttemptSeconds != 60 {
		t.Errorf("remediation MaximumAutomaticAttempts, RetryAttemptSeconds = %v, %v; want the parameter defaults 5, 60", rem.MaximumAutomaticAttempts, rem.RetryAttemptSeconds)
	}

	// The numbers goformation cannot type as Refs: check the raw template.
	raw := decodeYAML(t, data)
	remProps := raw["Resources"].(map[string]any)[LogicalRemediation].(map[string]any)["Properties"].(map[string]any)
	for prop, param := range map[string]string{"MaximumAutomaticAttempts": ParamMaximumAutomaticAttempts, "RetryAttemptSeconds": ParamRetryAttemptSeconds} {
		if diff := cmp.Diff(map[string]any{"Ref": param}, remProps[prop]); diff != "" {
			t.Errorf("remediation %s is not a Ref to parameter %s (-want +got):\n%s", prop, param, diff)
		}
	}

	var params map[string]config.RemediationConfiguration_RemediationParameterValue
	remarshal(t, rem.Parameters, &params)
	if len(params) != 2 {
		t.Errorf("remediation Parameters = %v, want ResourceId and AutomationAssumeRole", sortedKeys(params))
	}
	if rv := params["ResourceId"].ResourceValue; rv == nil || deref(rv.Value) != "RESOURCE_ID" || params["ResourceId"].StaticValue != nil {
		t.Errorf("remediation parameter ResourceId = %+v, want ResourceValue RESOURCE_ID", params["ResourceId"])
	}
	if sv := params["AutomationAssumeRole"].StaticValue; sv == nil || len(sv.Values) != 1 || sv.Values[0] != cfn.GetAtt(LogicalRemediationRole, "Arn") {
		t.Errorf("remediation parameter AutomationAssumeRole = %+v, want StaticValue [GetAtt %s.Arn]", params["AutomationAssumeRole"], LogicalRemediationRole)
	}

	var trust PolicyDocument
	remarshal(t, role.AssumeRolePolicyDocument, &trust)
	if len(trust.Statement) != 1 || trust.Statement[0].Principal["Service"] != "ssm.amazonaws.com" {
		t.Errorf("remediation role trust = %+v, want ssm.amazonaws.com", trust)
	}

	var inputs map[string]any
	remarshal(t, rule.InputParameters, &inputs)
	if inputs["maxAccessKeyAge"] != float64(90) {
		t.Errorf("rule InputParameters = %v, want maxAccessKeyAge from parameter MaxAccessKeyAge (default 90)", inputs)
	}
	if deref(rule.MaximumExecutionFrequency) != cfn.Ref(ParamMaximumExecutionFrequency) {
		t.Errorf("rule MaximumExecutionFrequency = %s, want Ref %s", decodeIntrinsic(deref(rule.MaximumExecutionFrequency)), ParamMaximumExecutionFrequency)
	}
	if rule.Source == nil || rule.Source.Owner != "AWS" || deref(rule.Source.SourceIdentifier) != "ACCESS_KEYS_ROTATED" {
		t.Errorf("rule Source = %+v, want AWS ACCESS_KEYS_ROTATED", rule.Source)
	}
	// ACCESS_KEYS_ROTATED is periodic only: AWS Config refuses a Scope on it.
	if rule.Scope != nil {
		t.Errorf("rule Scope = %+v, want none (AWS Config refuses a scope on a periodic-only rule)", rule.Scope)
	}
}

// TestTargetPermissions checks the two roles' policies against what the
// automation and keyage scan need, and no more.
func TestTargetPermissions(t *testing.T) {
	tmpl := parseKeepingIntrinsics(t, rendered(t)["target.yaml"])

	rp, err := tmpl.GetIAMRolePolicyWithName(LogicalRemediationRolePolicy)
	if err != nil {
		t.Fatal(err)
	}
	if rp.RoleName != cfn.Ref(LogicalRemediationRole) {
		t.Errorf("remediation policy attached to %s, want Ref %s", decodeIntrinsic(rp.RoleName), LogicalRemediationRole)
	}
	var pol struct{ Statement []any }
	remarshal(t, rp.PolicyDocument, &pol)
	got := map[string]any{}
	for _, s := range pol.Statement {
		m, ok := s.(map[string]any)
		if !ok { // the encoded Fn::If of the owner tag statement
			got["conditional"] = decodeIntrinsic(s.(string))
			continue
		}
		for _, a := range m["Action"].([]any) {
			got[a.(string)] = m["Resource"]
		}
	}
	want := map[string]any{
		"config:ListDiscoveredResources": "*",
		"sns:Publish":                    cfn.Ref(ParamSNSTopicArn),
		"iam:PassRole":                   cfn.GetAtt(LogicalRemediationRole, "Arn"),
	}
	for action, resource := range want {
		if got[action] != resource {
			t.Errorf("remediation role: %s on %v, want on %v", action, got[action], resource)
		}
	}
	for _, action := range []string{"ssm:StartAutomationExecution", "ssm:GetAutomationExecution"} {
		if got[action] == nil {
			t.Errorf("remediation role lacks %s, which running AWS-PublishSNSNotification as a child automation needs", action)
		}
	}
	if c, _ := got["conditional"].(string); !strings.Contains(c, CondHasOwnerTagKey) || !strings.Contains(c, "iam:ListUserTags") {
		t.Errorf("remediation role: owner tag statement = %q, want iam:ListUserTags under condition %s", c, CondHasOwnerTagKey)
	}
	if len(got) != len(want)+3 {
		t.Errorf("remediation role allows %v, want only %v, the two ssm calls and the conditional iam:ListUserTags", sortedKeys(got), sortedKeys(want))
	}

	audit, err := tmpl.GetIAMRoleWithName(LogicalAuditRole)
	if err != nil {
		t.Fatal(err)
	}
	if deref(audit.RoleName) != cfn.Ref(ParamAuditRoleName) {
		t.Errorf("audit role name = %s, want Ref %s", decodeIntrinsic(deref(audit.RoleName)), ParamAuditRoleName)
	}
	var trust struct {
		Statement []struct {
			Principal struct{ AWS string }
			Action    []string
			Condition string
		}
	}
	remarshal(t, audit.AssumeRolePolicyDocument, &trust)
	if len(trust.Statement) != 1 || !strings.Contains(decodeIntrinsic(trust.Statement[0].Principal.AWS), "${MasterAccountId}:root") {
		t.Errorf("audit role trust = %+v, want the master account's root", trust)
	} else if c := decodeIntrinsic(trust.Statement[0].Condition); !strings.Contains(c, CondHasExternalID) || !strings.Contains(c, "sts:ExternalId") || !strings.Contains(c, "AWS::NoValue") {
		t.Errorf("audit role trust condition = %s, want sts:ExternalId when %s, no condition otherwise", c, CondHasExternalID)
	}
	if len(audit.Policies) != 1 {
		t.Fatalf("audit role has %d policies, want 1", len(audit.Policies))
	}
	var read PolicyDocument
	remarshal(t, audit.Policies[0].PolicyDocument, &read)
	if len(read.Statement) != 1 || !cmp.Equal(read.Statement[0].Action, AuditReadActions) || read.Statement[0].Resource != "*" {
		t.Errorf("audit role policy = %+v, want exactly %v", read, AuditReadActions)
	}
}

// TestRemediationDocumentContent parses the automation document out of the
// rendered template (both sides of its Fn::If on OwnerTagKey) and compares
// it with the seed's steps.
func TestRemediationDocumentContent(t *testing.T) {
	raw := decodeYAML(t, rendered(t)["target.yaml"])
	content := raw["Resources"].(map[string]any)[LogicalDocument].(map[string]any)["Properties"].(map[string]any)["Content"].(map[string]any)
	branches, ok := content["Fn::If"].([]any)
	if !ok || len(branches) != 3 || branches[0] != CondHasOwnerTagKey {
		t.Fatalf("document Content = %v, want Fn::If [%s, with owner, seed]", sortedKeys(content), CondHasOwnerTagKey)
	}

	configStep := Step{
		Name:   "configStep",
		Action: "aws:executeAwsApi",
		Inputs: map[string]any{
			"Service":      "config",
			"Api":          "ListDiscoveredResources",
			"resourceType": "AWS::IAM::User",
			"resourceIds":  []any{"{{ResourceId}}"},
		},
		Outputs: []StepOutput{{Name: "configUserName", Selector: "$.resourceIdentifiers[0].resourceName", Type: "String"}},
	}
	publish := func(message string) Step {
		return Step{
			Name:           "publishMessage",
			Action:         "aws:executeAutomation",
			MaxAttempts:    1,
			TimeoutSeconds: 30,
			OnFailure:      "Abort",
			Inputs: map[string]any{
				"DocumentName": "AWS-PublishSNSNotification",
				"RuntimeParameters": map[string]any{
					"TopicArn": map[string]any{"Ref": "SNSTopicArn"},
					"Message":  message,
				},
			},
		}
	}
	const seedMessage = `Account "{{global:ACCOUNT_ID}}" User "{{configStep.configUserName}}" needs to rotate their access key.`
	for _, tt := range []struct {
		name    string
		content any
		steps   []Step
		message string
	}{
		{"seed (OwnerTagKey empty)", branches[2], []Step{configStep, publish(seedMessage)}, seedMessage},
		{"OwnerTagKey set", branches[1], []Step{
			configStep,
			{
				Name:      "ownerStep",
				Action:    "aws:executeScript",
				OnFailure: "Continue",
				Inputs: map[string]any{"Runtime": "python3.11", "Handler": "handler", "Script": ownerScript,
					"InputPayload": map[string]any{"UserName": "{{configStep.configUserName}}", "TagKey": map[string]any{"Ref": "OwnerTagKey"}}},
				// SSM selectors have no filters; the script returns the tag's value as one string.
				Outputs: []StepOutput{{Name: "ownerEmail", Selector: "$.Payload.owner", Type: "String"}},
			},
			publish(OwnerMessage),
		}, OwnerMessage},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.content)
			if err != nil {
				t.Fatal(err)
			}
			// The selector of the owner step is an Fn::Sub; read it apart.
			var probe struct {
				MainSteps []struct {
					Outputs []struct{ Selector any }
				} `json:"mainSteps"`
			}
			if err := json.Unmarshal(b, &probe); err != nil {
				t.Fatal(err)
			}
			var subSelector any
			for _, s := range probe.MainSteps {
				for _, o := range s.Outputs {
					if _, isString := o.Selector.(string); !isString {
						subSelector = o.Selector
						b = bytes.Replace(b, mustJSON(t, o.Selector), []byte(`""`), 1)
					}
				}
			}

			var doc AutomationDocument
			dec := json.NewDecoder(bytes.NewReader(b))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&doc); err != nil {
				t.Fatalf("decode document content: %v", err)
			}
			if doc.SchemaVersion != "0.3" || doc.AssumeRole != "{{ AutomationAssumeRole }}" {
				t.Errorf("schemaVersion, assumeRole = %q, %q; want 0.3, {{ AutomationAssumeRole }}", doc.SchemaVersion, doc.AssumeRole)
			}
			if got := sortedKeys(doc.Parameters); !cmp.Equal(got, []string{"AutomationAssumeRole", "ResourceId"}) {
				t.Errorf("document parameters = %v, want AutomationAssumeRole and ResourceId", got)
			}
			for name, p := range doc.Parameters {
				if p.Type != "String" {
					t.Errorf("document parameter %s has type %q, want String", name, p.Type)
				}
			}
			if diff := cmp.Diff(tt.steps, doc.MainSteps); diff != "" {
				t.Errorf("document steps differ from the seed's (-want +got):\n%s", diff)
			}
			last := doc.MainSteps[len(doc.MainSteps)-1]
			got := last.Inputs["RuntimeParameters"].(map[string]any)["Message"].(string)
			if got != tt.message {
				t.Errorf("message = %q, want byte for byte %q", got, tt.message)
			}
			if tt.steps[len(tt.steps)-1].Inputs["RuntimeParameters"].(map[string]any)["Message"] == seedMessage && got != SeedMessage {
				t.Errorf("SeedMessage = %q, not the seed's %q", SeedMessage, seedMessage)
			}
			if subSelector != nil {
				t.Errorf("document has an intrinsic selector %v", subSelector)
			}
		})
	}
}

// TestMasterTopicPolicy evaluates the master template for both ways of
// naming the publishers, with goformation's intrinsic processor, and checks
// who the topic policy lets publish.
func TestMasterTopicPolicy(t *testing.T) {
	data := rendered(t)["master.yaml"]
	type statement struct {
		Sid       string
		Principal map[string]any
		Action    []string
		Condition map[string]map[string]string
	}
	for _, tt := range []struct {
		name   string
		params map[string]any
		want   statement
	}{
		{"target accounts", map[string]any{ParamTargetAccounts: "111111111111,222222222222"}, statement{
			Sid:       "PublishFromTargetAccounts",
			Principal: map[string]any{"AWS": []any{"111111111111", "222222222222"}},
			Action:    []string{"sns:Publish"},
		}},
		{"organization", map[string]any{ParamTargetAccounts: "111111111111", ParamOrganizationID: "o-abcdefghij"}, statement{
			Sid:       "PublishFromOrganization",
			Principal: map[string]any{"AWS": "*"},
			Action:    []string{"sns:Publish"},
			Condition: map[string]map[string]string{"StringEquals": {"aws:PrincipalOrgID": "o-abcdefghij"}},
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tmpl, err := goformation.ParseYAMLWithOptions(data, &intrinsics.ProcessorOptions{
				ParameterOverrides:        tt.params,
				IntrinsicHandlerOverrides: map[string]intrinsics.IntrinsicHandler{"Ref": refWithLists, "Fn::If": fnIf(t)},
			})
			if err != nil {
				t.Fatalf("goformation.ParseYAML: %v", err)
			}
			tp, err := tmpl.GetSNSTopicPolicyWithName(LogicalTopicPolicy)
			if err != nil {
				t.Fatal(err)
			}
			var doc struct{ Statement []statement }
			remarshal(t, tp.PolicyDocument, &doc)
			if len(doc.Statement) != 1 {
				t.Fatalf("topic policy has %d statements, want 1: %+v", len(doc.Statement), doc)
			}
			if diff := cmp.Diff(tt.want, doc.Statement[0]); diff != "" {
				t.Errorf("topic policy statement (-want +got):\n%s", diff)
			}
		})
	}

	// The topic policy names the topic, and the outputs give its ARN.
	tmpl := parseKeepingIntrinsics(t, data)
	tp, err := tmpl.GetSNSTopicPolicyWithName(LogicalTopicPolicy)
	if err != nil {
		t.Fatal(err)
	}
	if !cmp.Equal(tp.Topics, []string{cfn.Ref(LogicalTopic)}) {
		t.Errorf("topic policy Topics = %v, want [Ref %s]", tp.Topics, LogicalTopic)
	}
	if got := tmpl.Outputs[OutputTopicArn].Value; got != cfn.Ref(LogicalTopic) {
		t.Errorf("output %s = %v, want Ref %s", OutputTopicArn, got, LogicalTopic)
	}
	topic, err := tmpl.GetSNSTopicWithName(LogicalTopic)
	if err != nil {
		t.Fatal(err)
	}
	if deref(topic.TopicName) != cfn.Ref(ParamTopicName) || tmpl.Parameters[ParamTopicName].Default != DefaultTopicName {
		t.Errorf("topic name = %s (default %v), want Ref %s, default %s", decodeIntrinsic(deref(topic.TopicName)), tmpl.Parameters[ParamTopicName].Default, ParamTopicName, DefaultTopicName)
	}
}

// fnIf evaluates Fn::If with the template's condition, itself evaluated
// with goformation's processor. (goformation's EvaluateConditions option
// cannot be used: it replaces every resource that has a Condition with the
// condition's value.)
func fnIf(t *testing.T) intrinsics.IntrinsicHandler {
	return func(_ string, input, template any) any {
		arr, ok := input.([]any)
		if !ok || len(arr) != 3 {
			t.Errorf("Fn::If %v: want [condition, then, else]", input)
			return nil
		}
		tm := template.(map[string]any)
		conds, _ := tm["Conditions"].(map[string]any)
		expr, ok := conds[arr[0].(string)]
		if !ok {
			t.Errorf("Fn::If names condition %v, which the template does not define", arr[0])
			return nil
		}
		doc, err := json.Marshal(map[string]any{"Parameters": tm["Parameters"], "Value": expr})
		if err != nil {
			t.Fatal(err)
		}
		out, err := intrinsics.ProcessJSON(doc, &intrinsics.ProcessorOptions{IntrinsicHandlerOverrides: map[string]intrinsics.IntrinsicHandler{"Ref": refWithLists}})
		if err != nil {
			t.Fatal(err)
		}
		var v struct{ Value bool }
		if err := json.Unmarshal(out, &v); err != nil {
			t.Fatalf("condition %v: %s: %v", arr[0], out, err)
		}
		if v.Value {
			return arr[1]
		}
		return arr[2]
	}
}

// refWithLists resolves a Ref as goformation does, except that a
// CommaDelimitedList parameter becomes a list, as in CloudFormation.
func refWithLists(name string, input, template any) any {
	if p, ok := templateParameter(template, input); ok && p["Type"] == "CommaDelimitedList" {
		var list []any
		for _, s := range strings.Split(p["Default"].(string), ",") {
			list = append(list, s)
		}
		return list
	}
	return intrinsics.Ref(name, input, template)
}

// TestMasterSubscriptions checks the optional subscriptions and the queue
// exist only under their conditions, and the queue lets only the topic in.
func TestMasterSubscriptions(t *testing.T) {
	raw := decodeYAML(t, rendered(t)["master.yaml"])
	resources := raw["Resources"].(map[string]any)
	for logical, cond := range map[string]string{
		LogicalEmailSubscription: CondHasEmail,
		LogicalQueue:             CondCreateQueue,
		LogicalQueuePolicy:       CondCreateQueue,
		LogicalQueueSubscription: CondCreateQueue,
		LogicalTopic:             "",
		LogicalTopicPolicy:       "",
	} {
		r, ok := resources[logical].(map[string]any)
		if !ok {
			t.Errorf("master template has no resource %s", logical)
			continue
		}
		if got, _ := r["Condition"].(string); got != cond {
			t.Errorf("%s has condition %q, want %q", logical, got, cond)
		}
	}
	if out := raw["Outputs"].(map[string]any)[OutputQueueURL].(map[string]any); out["Condition"] != CondCreateQueue {
		t.Errorf("output %s has condition %v, want %s", OutputQueueURL, out["Condition"], CondCreateQueue)
	}

	tmpl := parseKeepingIntrinsics(t, rendered(t)["master.yaml"])
	email, err := tmpl.GetSNSSubscriptionWithName(LogicalEmailSubscription)
	if err != nil {
		t.Fatal(err)
	}
	if email.Protocol != "email" || deref(email.Endpoint) != cfn.Ref(ParamNotificationEmail) || email.TopicArn != cfn.Ref(LogicalTopic) {
		t.Errorf("email subscription = %s to %s on %s, want email to Ref %s on Ref %s", email.Protocol, decodeIntrinsic(deref(email.Endpoint)), decodeIntrinsic(email.TopicArn), ParamNotificationEmail, LogicalTopic)
	}
	sub, err := tmpl.GetSNSSubscriptionWithName(LogicalQueueSubscription)
	if err != nil {
		t.Fatal(err)
	}
	if sub.Protocol != "sqs" || deref(sub.Endpoint) != cfn.GetAtt(LogicalQueue, "Arn") || sub.TopicArn != cfn.Ref(LogicalTopic) {
		t.Errorf("queue subscription = %s to %s, want sqs to GetAtt %s.Arn", sub.Protocol, decodeIntrinsic(deref(sub.Endpoint)), LogicalQueue)
	}
	qp, err := tmpl.GetSQSQueuePolicyWithName(LogicalQueuePolicy)
	if err != nil {
		t.Fatal(err)
	}
	var doc PolicyDocument
	remarshal(t, qp.PolicyDocument, &doc)
	if len(doc.Statement) != 1 {
		t.Fatalf("queue policy = %+v, want one statement", doc)
	}
	s := doc.Statement[0]
	cond, _ := json.Marshal(s.Condition)
	if s.Principal["Service"] != "sns.amazonaws.com" || !cmp.Equal(s.Action, []string{"sqs:SendMessage"}) ||
		!strings.Contains(string(cond), cfn.Ref(LogicalTopic)) || s.Resource != cfn.GetAtt(LogicalQueue, "Arn") {
		t.Errorf("queue policy statement = %+v, want sns.amazonaws.com sqs:SendMessage to the queue from the topic only", s)
	}
}

func remarshal(t *testing.T, in, out any) {
	t.Helper()
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// decodeIntrinsic shows an intrinsic function goformation encoded, for
// error messages.
func decodeIntrinsic(s string) string {
	b, err := json.Marshal(intrinsicValue(s))
	if err != nil {
		return s
	}
	return string(b)
}

func intrinsicValue(s string) any {
	in, err := json.Marshal(map[string]string{"v": s})
	if err != nil {
		return s
	}
	out, err := intrinsics.ProcessJSON(in, &intrinsics.ProcessorOptions{IntrinsicHandlerOverrides: keepAll()})
	if err != nil {
		return s
	}
	var m map[string]any
	if json.Unmarshal(out, &m) != nil {
		return s
	}
	return m["v"]
}

// keepAll leaves every intrinsic function as it is.
func keepAll() map[string]intrinsics.IntrinsicHandler {
	h := map[string]intrinsics.IntrinsicHandler{}
	for name := range cfn.EncoderIntrinsics {
		h[name] = func(name string, input, _ any) any { return map[string]any{name: input} }
	}
	return h
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
