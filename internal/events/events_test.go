package events

import (
	"encoding/json"
	"errors"
	"os"
	"testing"
)

func read(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func snsWrap(t *testing.T, body []byte) []byte {
	b, err := json.Marshal(map[string]string{"Type": "Notification", "MessageId": "m", "TopicArn": "arn:aws:sns:us-east-1:111111111111:t", "Message": string(body)})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParse(t *testing.T) {
	cc := read(t, "compliance-change.json")
	ak := read(t, "create-access-key.json")
	own := read(t, "update-own-access-key.json")
	for _, tt := range []struct {
		name string
		body []byte
		want Event
	}{
		{"compliance change", cc, Event{Kind: KindComplianceChange, AccountID: "222222222222", ResourceID: "AIDAEXAMPLEUSER00001", Compliance: "NON_COMPLIANT", RuleName: "access-keys-rotated"}},
		{"compliance change through SNS", snsWrap(t, cc), Event{Kind: KindComplianceChange, AccountID: "222222222222", ResourceID: "AIDAEXAMPLEUSER00001", Compliance: "NON_COMPLIANT", RuleName: "access-keys-rotated"}},
		{"create access key", ak, Event{Kind: KindAPICall, AccountID: "222222222222", UserName: "alice", EventName: "CreateAccessKey"}},
		{"a user's own key: no userName, the user is the caller", own, Event{Kind: KindAPICall, AccountID: "222222222222", UserName: "alice", EventName: "UpdateAccessKey"}},
		{"a user's own key through SNS", snsWrap(t, own), Event{Kind: KindAPICall, AccountID: "222222222222", UserName: "alice", EventName: "UpdateAccessKey"}},
		{"the deployment's owner variant", []byte(`Account "222222222222" User "alice" (owner "alice@example.com") needs to rotate their access key.`), Event{Kind: KindSeedMessage, AccountID: "222222222222", UserName: "alice"}},
		{"the companion repository's spelling, raw", []byte(`Account "222222222222" User "alice" needs to rotate their Access Key`), Event{Kind: KindSeedMessage, AccountID: "222222222222", UserName: "alice"}},
		{"the companion repository's spelling through SNS", snsWrap(t, []byte(`Account "222222222222" User "alice" needs to rotate their Access Key`)), Event{Kind: KindSeedMessage, AccountID: "222222222222", UserName: "alice"}},
		{"the seed's message without the period", []byte(`Account "222222222222" User "alice" needs to rotate their access key`), Event{Kind: KindSeedMessage, AccountID: "222222222222", UserName: "alice"}},
		{"capitalised with the period", []byte(`Account "222222222222" User "alice" needs to rotate their Access Key.`), Event{Kind: KindSeedMessage, AccountID: "222222222222", UserName: "alice"}},
		{"the companion repository's SQS body", []byte(`{"account_id": "333333333333", "resource_id": "AIDAEXAMPLEUSER00002", "resource_name": "bob"}`), Event{Kind: KindSeedQueueMessage, AccountID: "333333333333", ResourceID: "AIDAEXAMPLEUSER00002", UserName: "bob"}},
		{"the companion repository's SQS body through SNS", snsWrap(t, []byte(`{"account_id": "333333333333", "resource_id": "AIDAEXAMPLEUSER00002", "resource_name": "bob"}`)), Event{Kind: KindSeedQueueMessage, AccountID: "333333333333", ResourceID: "AIDAEXAMPLEUSER00002", UserName: "bob"}},
		{"the seed's message through SNS", snsWrap(t, []byte(`Account "222222222222" User "alice" needs to rotate their access key.`)), Event{Kind: KindSeedMessage, AccountID: "222222222222", UserName: "alice"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.body, "access-keys-rotated")
			if err != nil {
				t.Fatal(err)
			}
			if got.Kind != tt.want.Kind || got.AccountID != tt.want.AccountID || got.ResourceID != tt.want.ResourceID ||
				got.UserName != tt.want.UserName || got.Compliance != tt.want.Compliance || got.EventName != tt.want.EventName {
				t.Errorf("Parse = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	for _, tt := range []struct {
		name    string
		body    string
		ignored bool
	}{
		{"not json", "hello", false},
		{"seed message with a bad account", `Account "2222" User "alice" needs to rotate their access key.`, false},
		{"companion body with a bad account", `{"account_id": "33", "resource_id": "AIDA1", "resource_name": "bob"}`, false},
		{"companion body without the user", `{"account_id": "333333333333"}`, false},
		{"json without detail", `{"id":"x"}`, false},
		{"other detail type", `{"id":"x","detail-type":"EC2 Instance State-change Notification","account":"222222222222","detail":{}}`, true},
		{"other rule", `{"id":"x","detail-type":"Config Rules Compliance Change","account":"222222222222","detail":{"resourceId":"AIDA1","resourceType":"AWS::IAM::User","configRuleName":"mfa-enabled"}}`, true},
		{"other IAM call", `{"id":"x","detail-type":"AWS API Call via CloudTrail","account":"222222222222","detail":{"eventSource":"iam.amazonaws.com","eventName":"CreateRole"}}`, true},
		{"failed IAM call", `{"id":"x","detail-type":"AWS API Call via CloudTrail","account":"222222222222","detail":{"eventSource":"iam.amazonaws.com","eventName":"DeleteAccessKey","errorCode":"NoSuchEntity","requestParameters":{"userName":"a"}}}`, true},
		{"a role without userName names no user", `{"id":"x","detail-type":"AWS API Call via CloudTrail","account":"222222222222","detail":{"eventSource":"iam.amazonaws.com","eventName":"UpdateAccessKey","userIdentity":{"type":"AssumedRole","accountId":"222222222222","arn":"arn:aws:sts::222222222222:assumed-role/r/s"},"requestParameters":{"accessKeyId":"AKIA1","status":"Inactive"},"recipientAccountId":"222222222222"}}`, false},
		{"a user of another account is not the target", `{"id":"x","detail-type":"AWS API Call via CloudTrail","account":"222222222222","detail":{"eventSource":"iam.amazonaws.com","eventName":"UpdateAccessKey","userIdentity":{"type":"IAMUser","accountId":"333333333333","userName":"mallory"},"requestParameters":{"accessKeyId":"AKIA1","status":"Inactive"},"recipientAccountId":"222222222222"}}`, false},
		{"bad account", `{"id":"x","detail-type":"AWS API Call via CloudTrail","account":"22","detail":{"eventSource":"iam.amazonaws.com","eventName":"DeleteUser","requestParameters":{"userName":"a"}}}`, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.body), "access-keys-rotated")
			if err == nil {
				t.Fatalf("Parse(%s) succeeded, want an error", tt.name)
			}
			if got := errors.Is(err, ErrIgnored); got != tt.ignored {
				t.Errorf("Parse(%s) = %v; ignored = %v, want %v", tt.name, err, got, tt.ignored)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"compliance-change.json", "create-access-key.json", "update-own-access-key.json"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := Parse(b, "access-keys-rotated")
		if err == nil && len(ev.AccountID) != 12 {
			t.Errorf("accepted event with account %q", ev.AccountID)
		}
	})
}
