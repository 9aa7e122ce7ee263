package sandbox

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/keyage/keyage/internal/events"
)

// IAM changes through the API, and DeleteUser, send CloudTrail-shaped
// EventBridge events that keyage's event parser reads.
func TestIAMEvents(t *testing.T) {
	ts := newServicesSandbox(t, Options{})
	q := sqs.NewFromConfig(ts.mgmtConfig())
	url := ts.queueURL("111111111111", "findings")
	client := ts.iam(t, "222222222222")
	ctx := context.Background()

	// No target: nothing is sent.
	if _, err := client.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("dave")}); err != nil {
		t.Fatal(err)
	}
	if got := receiveAll(t, q, url); len(got) != 0 {
		t.Fatalf("events sent without a target: %d", len(got))
	}
	if err := ts.SetEventsQueue("arn:aws:sqs:us-east-1:999999999999:nope"); err == nil {
		t.Errorf("SetEventsQueue accepted a queue of an unknown account")
	}
	if err := ts.SetEventsQueue("arn:aws:sqs:us-east-1:111111111111:findings"); err != nil {
		t.Fatal(err)
	}
	created, err := client.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("dave")})
	if err != nil {
		t.Fatal(err)
	}
	id := created.AccessKey.AccessKeyId
	if _, err := client.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("dave"), AccessKeyId: id, Status: "Inactive"}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("dave"), AccessKeyId: id}); err != nil {
		t.Fatal(err)
	}
	if err := ts.DeleteUser("222222222222", "dave"); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range receiveAll(t, q, url) {
		ev, err := events.Parse([]byte(aws.ToString(m.Body)), "access-keys-rotated")
		if err != nil {
			t.Fatalf("event does not parse: %v\n%s", err, aws.ToString(m.Body))
		}
		if ev.Kind != events.KindAPICall || ev.AccountID != "222222222222" || ev.UserName != "dave" {
			t.Errorf("event = %+v", ev)
		}
		got = append(got, ev.EventName)
	}
	want := []string{"CreateAccessKey", "UpdateAccessKey", "DeleteAccessKey", "DeleteUser"}
	diff(t, "events", got, want)
}

// A user changing their own keys (their own credentials, no UserName) gets
// the event CloudTrail writes: no requestParameters.userName, the caller in
// userIdentity, region us-east-1 whatever region the call was signed for;
// keyage's parser finds the user from userIdentity.
func TestIAMEventsSelfService(t *testing.T) {
	ts := newServicesSandbox(t, Options{EventsQueueARN: "arn:aws:sqs:us-east-1:111111111111:findings"})
	ctx := context.Background()
	q := sqs.NewFromConfig(ts.mgmtConfig())
	url := ts.queueURL("111111111111", "findings")
	admin := ts.iam(t, "222222222222")
	first, err := admin.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("dave")})
	if err != nil {
		t.Fatal(err)
	}
	daveKey := aws.ToString(first.AccessKey.AccessKeyId)
	daveCfg := ts.config(daveKey, aws.ToString(first.AccessKey.SecretAccessKey), "")
	daveCfg.Region = "eu-west-1"
	dave := iam.NewFromConfig(daveCfg)
	second, err := dave.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	other := second.AccessKey.AccessKeyId
	if _, err := dave.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{AccessKeyId: other, Status: "Inactive"}); err != nil {
		t.Fatal(err)
	}
	if _, err := dave.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{AccessKeyId: other}); err != nil {
		t.Fatal(err)
	}
	msgs := receiveAll(t, q, url)
	type identity struct {
		Type, PrincipalID, Arn, AccountID, AccessKeyID, UserName string
	}
	for i, tt := range []struct {
		event        string
		wantUserName bool // requestParameters.userName present
		identity     identity
	}{
		{"CreateAccessKey", true, identity{Type: "AssumedRole", Arn: "arn:aws:sts::222222222222:assumed-role/KeyageAuditRole/keyage-test", AccountID: "222222222222"}},
		{"CreateAccessKey", false, identity{Type: "IAMUser", Arn: "arn:aws:iam::222222222222:user/dave", AccountID: "222222222222", AccessKeyID: daveKey, UserName: "dave"}},
		{"UpdateAccessKey", false, identity{Type: "IAMUser", Arn: "arn:aws:iam::222222222222:user/dave", AccountID: "222222222222", AccessKeyID: daveKey, UserName: "dave"}},
		{"DeleteAccessKey", false, identity{Type: "IAMUser", Arn: "arn:aws:iam::222222222222:user/dave", AccountID: "222222222222", AccessKeyID: daveKey, UserName: "dave"}},
	} {
		t.Run(tt.event, func(t *testing.T) {
			if i >= len(msgs) {
				t.Fatalf("%d events, want %d or more", len(msgs), i+1)
			}
			body := aws.ToString(msgs[i].Body)
			var ev struct {
				Region string `json:"region"`
				Detail struct {
					EventName         string         `json:"eventName"`
					AWSRegion         string         `json:"awsRegion"`
					UserIdentity      map[string]any `json:"userIdentity"`
					RequestParameters map[string]any `json:"requestParameters"`
				} `json:"detail"`
			}
			if err := json.Unmarshal([]byte(body), &ev); err != nil {
				t.Fatal(err)
			}
			d := ev.Detail
			if d.EventName != tt.event || ev.Region != "us-east-1" || d.AWSRegion != "us-east-1" {
				t.Errorf("event %s in %s (awsRegion %s), want %s in us-east-1", d.EventName, ev.Region, d.AWSRegion, tt.event)
			}
			if _, ok := d.RequestParameters["userName"]; ok != tt.wantUserName {
				t.Errorf("%s requestParameters = %v; userName present = %v, want %v", tt.event, d.RequestParameters, ok, tt.wantUserName)
			}
			str := func(k string) string { s, _ := d.UserIdentity[k].(string); return s }
			got := identity{Type: str("type"), PrincipalID: str("principalId"), Arn: str("arn"), AccountID: str("accountId"), AccessKeyID: str("accessKeyId"), UserName: str("userName")}
			want := tt.identity
			if want.Type == "AssumedRole" {
				want.AccessKeyID = got.AccessKeyID // a session key id, ASIA...
				if !strings.HasPrefix(got.AccessKeyID, "ASIA") || !strings.HasPrefix(got.PrincipalID, "AROA") {
					t.Errorf("assumed role identity %+v: want an ASIA key and an AROA principal", got)
				}
			} else if !strings.HasPrefix(got.PrincipalID, "AIDA") {
				t.Errorf("user identity principalId %q, want AIDA...", got.PrincipalID)
			}
			want.PrincipalID = got.PrincipalID
			if got != want {
				t.Errorf("%s userIdentity = %+v, want %+v", tt.event, got, want)
			}
			parsed, err := events.Parse([]byte(body), "access-keys-rotated")
			if err != nil || parsed.UserName != "dave" || parsed.AccountID != "222222222222" {
				t.Errorf("events.Parse = %+v, %v; want user dave in 222222222222", parsed, err)
			}
		})
	}
}
