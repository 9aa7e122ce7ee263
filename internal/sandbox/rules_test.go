package sandbox

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/configservice"
	cfgtypes "github.com/aws/aws-sdk-go-v2/service/configservice/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
)

// The service rules AWS enforces (issue 11 item 3), through the SDK over HTTP.

func TestPutConfigRuleTriggerRules(t *testing.T) {
	ts := newTestSandbox(t, Options{Fixture: cfnFixture()})
	client := configservice.NewFromConfig(ts.mgmtConfig())
	typesScope := &cfgtypes.Scope{ComplianceResourceTypes: []string{"AWS::IAM::User"}}
	for _, tt := range []struct {
		name       string
		identifier string
		scope      *cfgtypes.Scope
		freq       cfgtypes.MaximumExecutionFrequency
		code, msg  string
	}{
		{"periodic rule with a frequency", "ACCESS_KEYS_ROTATED", nil, cfgtypes.MaximumExecutionFrequencyTwentyFourHours, "", ""},
		{"periodic rule with resource types", "ACCESS_KEYS_ROTATED", typesScope, "", "InvalidParameterValueException",
			"A scope for this rule is not allowed because only a periodic frequency triggers this managed rule."},
		{"periodic rule with a tag key", "IAM_PASSWORD_POLICY", &cfgtypes.Scope{TagKey: aws.String("team")}, "", "InvalidParameterValueException",
			"A scope for this rule is not allowed because only a periodic frequency triggers this managed rule."},
		{"periodic rule with a resource id", "IAM_USER_UNUSED_CREDENTIALS_CHECK", &cfgtypes.Scope{ComplianceResourceId: aws.String("AIDAX")}, "",
			"InvalidParameterValueException", "A scope for this rule is not allowed because only a periodic frequency triggers this managed rule."},
		{"periodic rule with an empty scope", "ROOT_ACCOUNT_MFA_ENABLED", &cfgtypes.Scope{}, "", "", ""},
		{"change-triggered rule with a scope", "IAM_USER_NO_POLICIES_CHECK", typesScope, "", "", ""},
		{"change-triggered rule with a frequency", "IAM_USER_NO_POLICIES_CHECK", nil, cfgtypes.MaximumExecutionFrequencyOneHour,
			"InvalidParameterValueException", "A maximum execution frequency for this rule is not allowed because only a change in resources triggers this managed rule."},
		{"unknown frequency", "ACCESS_KEYS_ROTATED", nil, "Hourly", "ValidationException",
			"1 validation error detected: Value 'Hourly' at 'configRule.maximumExecutionFrequency' failed to satisfy constraint: Member must satisfy enum value set: [One_Hour, Three_Hours, Six_Hours, Twelve_Hours, TwentyFour_Hours]"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			name := strings.ReplaceAll(tt.name, " ", "-")
			_, err := client.PutConfigRule(context.Background(), &configservice.PutConfigRuleInput{ConfigRule: &cfgtypes.ConfigRule{
				ConfigRuleName:            aws.String(name),
				Source:                    &cfgtypes.Source{Owner: cfgtypes.OwnerAws, SourceIdentifier: aws.String(tt.identifier)},
				Scope:                     tt.scope,
				MaximumExecutionFrequency: tt.freq,
			}})
			if tt.code == "" {
				if err != nil {
					t.Fatalf("PutConfigRule: %v", err)
				}
				out, err := client.DescribeConfigRules(context.Background(), &configservice.DescribeConfigRulesInput{ConfigRuleNames: []string{name}})
				if err != nil || len(out.ConfigRules) != 1 || !strings.HasPrefix(aws.ToString(out.ConfigRules[0].ConfigRuleArn), "arn:aws:config:us-east-1:111111111111:config-rule/config-rule-") {
					t.Errorf("DescribeConfigRules(%s) = %+v, %v; want the rule with its ARN", name, out, err)
				}
				return
			}
			if err == nil {
				t.Fatal("PutConfigRule succeeded")
			}
			if code, msg := apiErr(t, err); code != tt.code || msg != tt.msg {
				t.Errorf("PutConfigRule = %s: %s, want %s: %s", code, msg, tt.code, tt.msg)
			}
		})
	}
}

const configRuleTemplate = `
Parameters:
  Scoped: {Type: String, AllowedValues: ["true", "false"]}
Conditions:
  IsScoped: !Equals [!Ref Scoped, "true"]
Resources:
  Rule:
    Type: AWS::Config::ConfigRule
    Properties:
      ConfigRuleName: access-keys-rotated
      InputParameters: {maxAccessKeyAge: 90}
      MaximumExecutionFrequency: TwentyFour_Hours
      Scope: !If [IsScoped, {ComplianceResourceTypes: ["AWS::IAM::User"]}, !Ref AWS::NoValue]
      Source: {Owner: AWS, SourceIdentifier: ACCESS_KEYS_ROTATED}
Outputs:
  Id: {Value: !GetAtt Rule.ConfigRuleId}
`

func TestStackConfigRuleScope(t *testing.T) {
	ts, client := newCFNSandbox(t)
	ctx := context.Background()
	create := func(name, scoped string) cfntypes.Stack {
		t.Helper()
		if _, err := client.CreateStack(ctx, &cloudformation.CreateStackInput{StackName: aws.String(name),
			TemplateBody: aws.String(configRuleTemplate), Parameters: cfnParams("Scoped", scoped)}); err != nil {
			t.Fatal(err)
		}
		st, _ := waitStack(t, ts, client, name)
		return st
	}
	if st := create("scoped", "true"); st.StackStatus != cfntypes.StackStatusRollbackComplete {
		t.Fatalf("stack with a Scope on ACCESS_KEYS_ROTATED = %s, want ROLLBACK_COMPLETE", st.StackStatus)
	}
	want := `Rule CREATE_FAILED [Resource handler returned message: "A scope for this rule is not allowed because only a periodic frequency triggers this managed rule. (Service: Config, Status Code: 400)" (HandlerErrorCode: InvalidRequest)]`
	if events := stackEvents(t, client, "scoped"); indexOf(events, want) < 0 {
		t.Errorf("events lack\n%s\ngot:\n%s", want, strings.Join(events, "\n"))
	}
	st := create("unscoped", "false")
	if st.StackStatus != cfntypes.StackStatusCreateComplete {
		t.Fatalf("stack without the Scope = %s, want CREATE_COMPLETE; events:\n%s", st.StackStatus, strings.Join(stackEvents(t, client, "unscoped"), "\n"))
	}
	out, err := configservice.NewFromConfig(ts.mgmtConfig()).DescribeConfigRules(ctx, &configservice.DescribeConfigRulesInput{})
	if err != nil || len(out.ConfigRules) != 1 || aws.ToString(out.ConfigRules[0].ConfigRuleId) != stackOutput(st, "Id") ||
		aws.ToString(out.ConfigRules[0].InputParameters) != `{"maxAccessKeyAge":"90"}` {
		t.Fatalf("DescribeConfigRules = %+v, %v; want the stack's rule %s", out, err, stackOutput(st, "Id"))
	}
	if _, err := client.DeleteStack(ctx, &cloudformation.DeleteStackInput{StackName: aws.String("unscoped")}); err != nil {
		t.Fatal(err)
	}
	waitStack(t, ts, client, aws.ToString(st.StackId))
	if out, err := configservice.NewFromConfig(ts.mgmtConfig()).DescribeConfigRules(ctx, &configservice.DescribeConfigRulesInput{}); err != nil || len(out.ConfigRules) != 0 {
		t.Errorf("DescribeConfigRules after DeleteStack = %+v, %v; want none", out, err)
	}
}

func TestPublishToAnotherRegion(t *testing.T) {
	ts := newTestSandbox(t, Options{Fixture: cfnFixture()})
	topic := "arn:aws:sns:us-east-1:111111111111:taken"
	for _, tt := range []struct {
		region string
		code   string
	}{
		{"us-east-1", ""},
		{"eu-west-1", "InvalidParameter"},
	} {
		t.Run(tt.region, func(t *testing.T) {
			cfg := ts.mgmtConfig()
			cfg.Region = tt.region
			_, err := sns.NewFromConfig(cfg).Publish(context.Background(), &sns.PublishInput{TopicArn: aws.String(topic), Message: aws.String("hi")})
			if tt.code == "" {
				if err != nil {
					t.Fatalf("Publish from %s: %v", tt.region, err)
				}
				return
			}
			if code, msg := apiErr(t, err); code != tt.code || msg != "Invalid parameter: TopicArn" {
				t.Errorf("Publish from %s = %s: %s, want InvalidParameter: Invalid parameter: TopicArn", tt.region, code, msg)
			}
		})
	}
}

// automationTemplate is an AWS::SSM::Document whose content is the parameter Doc (JSON).
const automationTemplate = `
Parameters:
  Doc: {Type: String}
Resources:
  Document:
    Type: AWS::SSM::Document
    Properties:
      DocumentType: Automation
      Content: !Ref Doc
`

func TestStackAutomationDocument(t *testing.T) {
	ts, client := newCFNSandbox(t)
	step := func(name, action, selector string) string {
		return `{"name": "` + name + `", "action": "` + action + `", "inputs": {"Service": "iam", "Api": "GetUser"},
			"outputs": [{"Name": "out", "Selector": "` + selector + `", "Type": "String"}]}`
	}
	doc := func(schema string, steps ...string) string {
		return `{"schemaVersion": "` + schema + `", "mainSteps": [` + strings.Join(steps, ",") + `]}`
	}
	for i, tt := range []struct {
		name, doc, reason string
	}{
		{"dot notation and index", doc("0.3", step("get", "aws:executeAwsApi", "$.User.Tags[0].Value")), ""},
		{"filter selector", doc("0.3", step("get", "aws:executeAwsApi", "$.User.Tags[?(@.Key == 'owner')].Value")),
			"Selector $.User.Tags[?(@.Key == 'owner')].Value of output out in step get is not a supported JSONPath"},
		{"wildcard selector", doc("0.3", step("get", "aws:executeAwsApi", "$.User.Tags[*].Value")), "is not a supported JSONPath"},
		{"schema version", doc("2.2", step("get", "aws:executeAwsApi", "$.User")), `Automation documents support schemaVersion 0.3, not "2.2"`},
		{"unknown action", doc("0.3", step("get", "aws:runShellScript", "$.User")), `Action "aws:runShellScript" of step get is not a valid automation action`},
		{"step name", doc("0.3", step("get-user", "aws:executeAwsApi", "$.User")), `Step name "get-user" of step 1 is invalid`},
		{"duplicate step", doc("0.3", step("get", "aws:executeAwsApi", "$.User"), step("get", "aws:executeAwsApi", "$.User")), "Step name get is used by more than one step"},
		{"no steps", doc("0.3"), "mainSteps must contain at least one step"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			name := "doc" + string(rune('a'+i))
			if _, err := client.CreateStack(context.Background(), &cloudformation.CreateStackInput{StackName: aws.String(name),
				TemplateBody: aws.String(automationTemplate), Parameters: cfnParams("Doc", tt.doc)}); err != nil {
				t.Fatal(err)
			}
			st, _ := waitStack(t, ts, client, name)
			events := strings.Join(stackEvents(t, client, name), "\n")
			if tt.reason == "" {
				if st.StackStatus != cfntypes.StackStatusCreateComplete {
					t.Errorf("stack = %s, want CREATE_COMPLETE; events:\n%s", st.StackStatus, events)
				}
				return
			}
			if st.StackStatus != cfntypes.StackStatusRollbackComplete || !strings.Contains(events, "Document CREATE_FAILED [Resource handler returned message: \"") ||
				!strings.Contains(events, tt.reason) || !strings.Contains(events, "(Service: Ssm, Status Code: 400)") {
				t.Errorf("stack = %s, want ROLLBACK_COMPLETE with Document CREATE_FAILED: ...%s... (Service: Ssm, Status Code: 400); events:\n%s", st.StackStatus, tt.reason, events)
			}
		})
	}
}

const remediationTemplate = `
Resources:
  Remediation:
    Type: AWS::Config::RemediationConfiguration
    Properties: {ConfigRuleName: access-keys-rotated, TargetId: doc, TargetType: SSM_DOCUMENT}
`

func TestUnavailableResourceType(t *testing.T) {
	f := cfnFixture()
	f.Regions = map[string]FixtureRegion{"us-gov-west-1": {UnavailableResourceTypes: []string{"AWS::Config::RemediationConfiguration"}}}
	ts := newTestSandbox(t, Options{Fixture: f})
	ts.SetCloudFormationDelay(0)
	ctx := context.Background()
	for _, tt := range []struct {
		region, typ string
		found       bool
	}{
		{"us-east-1", "AWS::Config::RemediationConfiguration", true},
		{"us-gov-west-1", "AWS::Config::RemediationConfiguration", false},
		{"us-gov-west-1", "AWS::Config::ConfigRule", true},
		{"us-east-1", "Acme::Widget", false},
	} {
		t.Run(tt.region+" "+tt.typ, func(t *testing.T) {
			cfg := ts.mgmtConfig()
			cfg.Region = tt.region
			client := cloudformation.NewFromConfig(cfg)
			out, err := client.DescribeType(ctx, &cloudformation.DescribeTypeInput{Type: cfntypes.RegistryTypeResource, TypeName: aws.String(tt.typ)})
			if tt.found {
				if err != nil || aws.ToString(out.TypeName) != tt.typ || !strings.HasPrefix(aws.ToString(out.Arn), "arn:aws:cloudformation:"+tt.region+"::type/resource/") {
					t.Errorf("DescribeType(%s) in %s = %+v, %v; want the type", tt.typ, tt.region, out, err)
				}
			} else {
				var notFound *cfntypes.TypeNotFoundException
				if code, msg := apiErr(t, err); code != "TypeNotFoundException" || msg != "The type '"+tt.typ+"' cannot be found." || !errors.As(err, &notFound) {
					t.Errorf("DescribeType(%s) in %s = %s: %s, want TypeNotFoundException", tt.typ, tt.region, code, msg)
				}
			}
			if !strings.HasPrefix(tt.typ, "AWS::Config::Remediation") {
				return
			}
			_, err = client.CreateStack(ctx, &cloudformation.CreateStackInput{StackName: aws.String("remediation"), TemplateBody: aws.String(remediationTemplate)})
			if tt.found {
				if err != nil {
					t.Fatalf("CreateStack in %s: %v", tt.region, err)
				}
				if st, _ := waitStack(t, ts, client, "remediation"); st.StackStatus != cfntypes.StackStatusCreateComplete {
					t.Errorf("stack in %s = %s, want CREATE_COMPLETE", tt.region, st.StackStatus)
				}
				return
			}
			want := "Template format error: Unrecognized resource types: [AWS::Config::RemediationConfiguration]"
			if code, msg := apiErr(t, err); code != "ValidationError" || msg != want {
				t.Errorf("CreateStack in %s = %s: %s, want ValidationError: %s", tt.region, code, msg, want)
			}
		})
	}
}

func TestFixtureRegions(t *testing.T) {
	for _, tt := range []struct {
		name, yaml string
		want       []string // error lines; none: parsed
	}{
		{"valid", "managementAccountId: \"111111111111\"\nregions:\n  cn-north-1:\n    unavailableResourceTypes: [AWS::Config::RemediationConfiguration]\n", nil},
		{"bad region and type", "managementAccountId: \"111111111111\"\nregions:\n  mars:\n    unavailableResourceTypes: [Config::Thing]\n", []string{
			"fixture.yaml:3: regions.mars: not a region name",
			`fixture.yaml:4: regions.mars.unavailableResourceTypes[0]: want a resource type like AWS::Service::Resource, got "Config::Thing"`,
		}},
		{"unknown key", "managementAccountId: \"111111111111\"\nregions:\n  cn-north-1:\n    unavailable: [AWS::Config::RemediationConfiguration]\n", []string{
			`fixture.yaml:4: regions.cn-north-1.unavailable: unknown key (known keys: unavailableResourceTypes)`,
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ParseFixture([]byte(tt.yaml), "fixture.yaml")
			if tt.want == nil {
				if err != nil || !slices.Equal(f.Regions["cn-north-1"].UnavailableResourceTypes, []string{"AWS::Config::RemediationConfiguration"}) {
					t.Errorf("ParseFixture = %+v, %v; want cn-north-1 without AWS::Config::RemediationConfiguration", f, err)
				}
				return
			}
			if err == nil {
				t.Fatal("ParseFixture succeeded")
			}
			diff(t, "errors", strings.Split(err.Error(), "\n"), tt.want)
		})
	}
}
