package cfn

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseErrors(t *testing.T) {
	for _, tt := range []struct {
		name, body, want string
	}{
		{"empty body", "  ", "Either Template URL or Template Body must be specified."},
		{"unknown section", "Resourcez: {}\nResources:\n  T: {Type: AWS::SNS::Topic}\n", "Template format error: Invalid template property or properties [Resourcez]"},
		{"no resources", "Description: x\n", "Template format error: At least one Resources member must be defined."},
		{"resource without a type", "Resources:\n  T: {Properties: {}}\n", "Template format error: [/Resources/T] Every Resources object must contain a Type member."},
		{"unknown tag", "Resources:\n  T: {Type: AWS::SNS::Topic, Properties: {TopicName: !Nope x}}\n", "Template format error: unknown tag !Nope at line 2"},
		{"Sub of a missing name", "Resources:\n  T: {Type: AWS::SNS::Topic, Properties: {TopicName: !Sub '${Missing}-t'}}\n",
			"Template format error: Unresolved resource dependencies [Missing] in the Resources block of the template"},
		{"If of a missing condition", "Resources:\n  T: {Type: AWS::SNS::Topic, Properties: {TopicName: !If [Nope, a, b]}}\n",
			"Template format error: Unresolved condition dependency Nope in Fn::If"},
		{"circular dependency", "Resources:\n  A: {Type: AWS::SNS::Topic, DependsOn: B}\n  B: {Type: AWS::SNS::Topic, Properties: {TopicName: !GetAtt A.TopicName}}\n",
			"Template format error: Circular dependency between resources: [A, B, A]"},
		{"transform", "Transform: AWS::Serverless-2016-10-31\nResources:\n  T: {Type: AWS::SNS::Topic}\n", "The sandbox does not process template transforms (Transform)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.body)
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Message != tt.want {
				t.Errorf("Parse = %v, want ValidationError %q", err, tt.want)
			}
		})
	}
}

func TestOrderAndCapabilities(t *testing.T) {
	for _, tt := range []struct {
		name, body string
		order      []string
		caps       string
	}{
		{"by name when independent", "Resources:\n  B: {Type: AWS::SNS::Topic}\n  A: {Type: AWS::SNS::Topic}\n", []string{"A", "B"}, ""},
		{"dependencies first", "Resources:\n  A: {Type: AWS::SNS::Subscription, Properties: {TopicArn: !Ref Z}}\n  Z: {Type: AWS::SNS::Topic}\n", []string{"Z", "A"}, ""},
		{"Sub and DependsOn", "Resources:\n  A: {Type: AWS::SNS::Topic, DependsOn: [C], Properties: {TopicName: !Sub '${B.TopicName}-x'}}\n  B: {Type: AWS::SNS::Topic}\n  C: {Type: AWS::SNS::Topic}\n",
			[]string{"B", "C", "A"}, ""},
		{"unnamed role", "Resources:\n  R: {Type: AWS::IAM::Role}\n", []string{"R"}, "CAPABILITY_IAM"},
		{"named role", "Resources:\n  R: {Type: AWS::IAM::Role, Properties: {RoleName: x}}\n", []string{"R"}, "CAPABILITY_NAMED_IAM"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tmpl, err := Parse(tt.body)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			order, err := tmpl.Order()
			if err != nil {
				t.Fatalf("Order: %v", err)
			}
			if diff := cmp.Diff(tt.order, order); diff != "" {
				t.Errorf("Order() (-want +got):\n%s", diff)
			}
			if got := tmpl.RequiresIAM(); got != tt.caps {
				t.Errorf("RequiresIAM() = %q, want %q", got, tt.caps)
			}
		})
	}
}

const paramTemplate = `
Parameters:
  Env: {Type: String, AllowedValues: [dev, prod], Default: dev}
  Count: {Type: Number, MinValue: 1, MaxValue: 5, Default: 2}
  Name: {Type: String, AllowedPattern: '[a-z]+', MinLength: 2, MaxLength: 8}
Resources:
  T: {Type: AWS::SNS::Topic, Properties: {TopicName: !Ref Name}}
`

func TestResolveParams(t *testing.T) {
	tmpl, err := Parse(paramTemplate)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	for _, tt := range []struct {
		name     string
		given    []Param
		previous map[string]string
		want     map[string]string
		err      string
	}{
		{"defaults", []Param{{Key: "Name", Value: "abc"}}, nil, map[string]string{"Env": "dev", "Count": "2", "Name": "abc"}, ""},
		{"previous value", []Param{{Key: "Name", UsePrevious: true}}, map[string]string{"Name": "old"}, map[string]string{"Env": "dev", "Count": "2", "Name": "old"}, ""},
		{"previous value of a new parameter", []Param{{Key: "Name", UsePrevious: true}}, nil, nil,
			"Invalid input for parameter key Name. Cannot specify usePreviousValue as true for a parameter key not in the previous template"},
		{"missing", nil, nil, nil, "Parameters: [Name] must have values"},
		{"unknown", []Param{{Key: "Name", Value: "abc"}, {Key: "X", Value: "1"}}, nil, nil, "Parameters: [X] do not exist in the template"},
		{"not allowed", []Param{{Key: "Name", Value: "abc"}, {Key: "Env", Value: "qa"}}, nil, nil, "Parameter 'Env' must be one of AllowedValues"},
		{"pattern", []Param{{Key: "Name", Value: "ab1"}}, nil, nil, "Parameter 'Name' must match pattern [a-z]+"},
		{"too short", []Param{{Key: "Name", Value: "a"}}, nil, nil, "Parameter 'Name' must contain at least 2 characters"},
		{"not a number", []Param{{Key: "Name", Value: "abc"}, {Key: "Count", Value: "x"}}, nil, nil, "Parameter 'Count' must be a number"},
		{"above maximum", []Param{{Key: "Name", Value: "abc"}, {Key: "Count", Value: "6"}}, nil, nil, "Parameter 'Count' must be a number not greater than 5"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tmpl.ResolveParams(tt.given, tt.previous)
			if tt.err != "" {
				var ve *ValidationError
				if !errors.As(err, &ve) || ve.Message != tt.err {
					t.Fatalf("ResolveParams = %v, want ValidationError %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ResolveParams: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ResolveParams (-want +got):\n%s", diff)
			}
		})
	}
}

const evalTemplate = `
Parameters:
  Env: {Type: String, Default: prod}
  Ids: {Type: CommaDelimitedList, Default: "a, b"}
Mappings:
  Sizes: {prod: {n: "3"}}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
  NotProd: !Not [!Condition IsProd]
  Both: !And [!Condition IsProd, !Or [!Condition NotProd, !Equals [x, x]]]
Resources:
  Topic: {Type: AWS::SNS::Topic}
  Q:
    Type: AWS::SQS::Queue
    Properties:
      Sub: !Sub '${AWS::Region}-${Topic.TopicName}-${Env}-${!Literal}'
      SubVars: !Sub ['${X}/${Ids}', {X: !Ref Topic}]
      Join: !Join ['-', [a, !Ref Env, !Select [1, !Ref Ids]]]
      Split: !Split [',', 'x,y']
      If: !If [IsProd, yes, no]
      Gone: !If [NotProd, here, !Ref AWS::NoValue]
      List: [one, !If [NotProd, two, !Ref AWS::NoValue]]
      Map: !FindInMap [Sizes, !Ref Env, n]
      B64: !Base64 hi
      AZs: !GetAZs ''
Outputs:
  Name: {Value: !GetAtt Topic.TopicName, Description: the topic}
  Ids: {Value: !Ref Ids}
  Hidden: {Value: x, Condition: NotProd}
`

func TestEvaluator(t *testing.T) {
	tmpl, err := Parse(evalTemplate)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	params, err := tmpl.ResolveParams(nil, nil)
	if err != nil {
		t.Fatalf("ResolveParams: %v", err)
	}
	ev := &Evaluator{Template: tmpl, Params: params, Pseudo: map[string]string{"AWS::Region": "eu-west-1"},
		Ref: func(lg string) (string, bool) { return "arn:" + lg, lg == "Topic" },
		GetAtt: func(lg, attr string) (string, error) {
			if lg != "Topic" {
				return "", errors.New("not provisioned: " + lg)
			}
			return lg + "." + attr, nil
		},
	}
	if err := ev.EvalConditions(); err != nil {
		t.Fatalf("EvalConditions: %v", err)
	}
	if diff := cmp.Diff(map[string]bool{"IsProd": true, "NotProd": false, "Both": true}, ev.Conditions); diff != "" {
		t.Errorf("Conditions (-want +got):\n%s", diff)
	}
	props, err := ev.Props(tmpl.Resources["Q"])
	if err != nil {
		t.Fatalf("Props: %v", err)
	}
	want := map[string]any{
		"Sub":     "eu-west-1-Topic.TopicName-prod-${Literal}",
		"SubVars": "arn:Topic/a,b",
		"Join":    "a-prod-b",
		"Split":   []any{"x", "y"},
		"If":      "yes",
		"List":    []any{"one"},
		"Map":     "3",
		"B64":     "aGk=",
		"AZs":     []any{"eu-west-1a", "eu-west-1b", "eu-west-1c"},
	}
	if diff := cmp.Diff(want, props); diff != "" {
		t.Errorf("Props(Q) (-want +got):\n%s", diff)
	}
	wantOut := []OutputValue{{Key: "Ids", Value: "a,b"}, {Key: "Name", Value: "Topic.TopicName", Description: "the topic"}}
	if diff := cmp.Diff(wantOut, ev.Outputs()); diff != "" {
		t.Errorf("Outputs() (-want +got):\n%s", diff)
	}
	for _, tt := range []struct {
		name string
		v    any
		err  string
	}{
		{"Select out of range", map[string]any{"Fn::Select": []any{"5", []any{"a"}}}, "Fn::Select cannot select nonexistent value at index 5"},
		{"missing mapping", map[string]any{"Fn::FindInMap": []any{"Sizes", "dev", "n"}}, "Unable to get mapping for Sizes::dev::n"},
		{"unsupported function", map[string]any{"Fn::Cidr": []any{"10.0.0.0/16", "1", "8"}}, "the sandbox does not support the intrinsic function Fn::Cidr"},
		{"resource not yet provisioned", map[string]any{"Fn::GetAtt": []any{"Q", "Arn"}}, "not provisioned: Q"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ev.Eval(tt.v)
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("Eval(%v) = %v, want an error containing %q", tt.v, err, tt.err)
			}
		})
	}
}
