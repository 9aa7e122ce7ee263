package sandbox

import "testing"

func TestFilterPolicy(t *testing.T) {
	str := func(v string) MessageAttribute { return MessageAttribute{DataType: "String", StringValue: v} }
	num := func(v string) MessageAttribute { return MessageAttribute{DataType: "Number", StringValue: v} }
	for _, tt := range []struct {
		name, policy string
		attrs        map[string]MessageAttribute
		want         bool
	}{
		{"exact match in a list", `{"stage":["warn","expired"]}`, map[string]MessageAttribute{"stage": str("expired")}, true},
		{"exact mismatch", `{"stage":["warn"]}`, map[string]MessageAttribute{"stage": str("expired")}, false},
		{"missing attribute", `{"stage":["warn"]}`, nil, false},
		{"every key must match", `{"stage":["expired"],"team":["pay"]}`, map[string]MessageAttribute{"stage": str("expired"), "team": str("ops")}, false},
		{"prefix", `{"team":[{"prefix":"pay"}]}`, map[string]MessageAttribute{"team": str("payments")}, true},
		{"suffix", `{"email":[{"suffix":"@example.com"}]}`, map[string]MessageAttribute{"email": str("a@example.com")}, true},
		{"anything-but a list", `{"team":[{"anything-but":["ops","dev"]}]}`, map[string]MessageAttribute{"team": str("ops")}, false},
		{"anything-but a value", `{"team":[{"anything-but":"ops"}]}`, map[string]MessageAttribute{"team": str("pay")}, true},
		{"anything-but a prefix", `{"team":[{"anything-but":{"prefix":"o"}}]}`, map[string]MessageAttribute{"team": str("ops")}, false},
		{"anything-but needs the attribute", `{"team":[{"anything-but":"ops"}]}`, nil, false},
		{"numeric >= at the bound", `{"age":[{"numeric":[">=",90]}]}`, map[string]MessageAttribute{"age": num("90")}, true},
		{"numeric below", `{"age":[{"numeric":[">=",90]}]}`, map[string]MessageAttribute{"age": num("89.9")}, false},
		{"numeric range", `{"age":[{"numeric":[">",0,"<=",100]}]}`, map[string]MessageAttribute{"age": num("100")}, true},
		{"numeric on a string attribute", `{"age":[{"numeric":[">=",90]}]}`, map[string]MessageAttribute{"age": str("120")}, false},
		{"number value", `{"age":[120]}`, map[string]MessageAttribute{"age": num("120.0")}, true},
		{"exists true", `{"owner":[{"exists":true}]}`, map[string]MessageAttribute{"owner": str("x")}, true},
		{"exists false", `{"owner":[{"exists":false}]}`, nil, true},
		{"exists false with the attribute", `{"owner":[{"exists":false}]}`, map[string]MessageAttribute{"owner": str("x")}, false},
		{"string array", `{"tags":["red"]}`, map[string]MessageAttribute{"tags": {DataType: "String.Array", StringValue: `["blue","red"]`}}, true},
		{"equals-ignore-case", `{"stage":[{"equals-ignore-case":"EXPIRED"}]}`, map[string]MessageAttribute{"stage": str("expired")}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fp, err := parseFilterPolicy(tt.policy)
			if err != nil {
				t.Fatalf("parseFilterPolicy(%s): %v", tt.policy, err)
			}
			if got := fp.matches(tt.attrs); got != tt.want {
				t.Errorf("filter %s on %v = %v, want %v", tt.policy, tt.attrs, got, tt.want)
			}
		})
	}
	for _, bad := range []string{`[]`, `{"a":"x"}`, `{"a":[{"numeric":["~",1]}]}`, `{"a":[{"prefix":1}]}`, `{"a":[{"wat":1}]}`, `{"a":[{"exists":"yes"}]}`} {
		if _, err := parseFilterPolicy(bad); err == nil {
			t.Errorf("parseFilterPolicy(%s) = nil error, want one", bad)
		}
	}
}

func TestResourcePolicy(t *testing.T) {
	const topic = "arn:aws:sns:us-east-1:111111111111:t"
	req := policyRequest{action: "SNS:Publish", resource: topic, account: "222222222222", orgID: "o-abc",
		arns: []string{"arn:aws:sts::222222222222:assumed-role/R/s", "arn:aws:iam::222222222222:role/R"}}
	for _, tt := range []struct {
		name, policy string
		want         policyDecision
	}{
		{"role principal", `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::222222222222:role/R"},"Action":"sns:publish","Resource":"` + topic + `"}]}`, policyAllow},
		{"wildcard action and resource", `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sns:*","Resource":"arn:aws:sns:*:111111111111:*"}]}`, policyAllow},
		{"another resource", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"sns:Publish","Resource":"arn:aws:sns:us-east-1:111111111111:other"}]}`, policyNone},
		{"org condition mismatch", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"sns:Publish","Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-other"}}}]}`, policyNone},
		{"StringLike org condition", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"sns:Publish","Condition":{"StringLike":{"aws:PrincipalOrgID":"o-a*"}}}]}`, policyAllow},
		{"unknown condition key", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"sns:Publish","Condition":{"StringEquals":{"aws:SourceArn":"x"}}}]}`, policyNone},
		{"unknown operator", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"sns:Publish","Condition":{"DateLessThan":{"aws:PrincipalOrgID":"o-abc"}}}]}`, policyNone},
		{"deny", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*"},{"Effect":"Deny","Principal":"*","Action":"sns:Publish"}]}`, policyDeny},
		{"NotPrincipal is ignored", `{"Statement":[{"Effect":"Allow","NotPrincipal":{"AWS":"333333333333"},"Action":"sns:Publish"}]}`, policyNone},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, err := parsePolicy(tt.policy)
			if err != nil {
				t.Fatalf("parsePolicy: %v", err)
			}
			if got := p.evaluate(req); got != tt.want {
				t.Errorf("evaluate(%s) = %v, want %v", tt.policy, got, tt.want)
			}
		})
	}
	for _, bad := range []string{`nope`, `{"Statement":[]}`[:12], `{"Statement":[{"Effect":"Maybe","Principal":"*","Action":"x"}]}`, `{"Statement":[{"Effect":"Allow","Action":"x"}]}`} {
		if _, err := parsePolicy(bad); err == nil {
			t.Errorf("parsePolicy(%s) = nil error, want one", bad)
		}
	}
}
