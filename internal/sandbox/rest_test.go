package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/configservice"
	cstypes "github.com/aws/aws-sdk-go-v2/service/configservice/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"
)

func TestConfigListDiscoveredResources(t *testing.T) {
	ts := newServicesSandbox(t, Options{})
	ctx := context.Background()
	mgmt := ts.ManagementAccountID()
	cfg := ts.mgmtConfig()
	client := configservice.NewFromConfig(cfg)
	ids := map[string]string{}
	users, err := iam.NewFromConfig(cfg).ListUsers(ctx, &iam.ListUsersInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range users.Users {
		ids[aws.ToString(u.UserName)] = aws.ToString(u.UserId)
	}
	if _, err := iam.NewFromConfig(cfg).DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("bob")}); err != nil {
		t.Fatalf("DeleteUser(bob): %v", err)
	}
	_, err = iam.NewFromConfig(cfg).DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("alice")})
	if code, _ := apiErr(t, err); code != "DeleteConflict" {
		t.Errorf("DeleteUser(alice, who has a key): %s, want DeleteConflict", code)
	}

	list := func(in configservice.ListDiscoveredResourcesInput) []cstypes.ResourceIdentifier {
		t.Helper()
		in.ResourceType = cstypes.ResourceTypeUser
		out, err := client.ListDiscoveredResources(ctx, &in)
		if err != nil {
			t.Fatalf("ListDiscoveredResources(%+v): %v", in, err)
		}
		return out.ResourceIdentifiers
	}
	got := list(configservice.ListDiscoveredResourcesInput{ResourceIds: []string{ids["alice"]}})
	if len(got) != 1 || aws.ToString(got[0].ResourceName) != "alice" || aws.ToString(got[0].ResourceId) != ids["alice"] ||
		got[0].ResourceType != cstypes.ResourceTypeUser || got[0].ResourceDeletionTime != nil {
		t.Errorf("by resourceId of alice = %+v", got)
	}
	if got := list(configservice.ListDiscoveredResourcesInput{ResourceIds: []string{ids["bob"]}}); len(got) != 0 {
		t.Errorf("deleted user listed without includeDeletedResources: %+v", got)
	}
	got = list(configservice.ListDiscoveredResourcesInput{ResourceIds: []string{ids["bob"]}, IncludeDeletedResources: true})
	if len(got) != 1 || aws.ToString(got[0].ResourceName) != "bob" || got[0].ResourceDeletionTime == nil {
		t.Errorf("deleted bob with includeDeletedResources = %+v, want him with a deletion time", got)
	}
	if got := list(configservice.ListDiscoveredResourcesInput{ResourceName: aws.String("carol")}); len(got) != 1 || aws.ToString(got[0].ResourceId) != ids["carol"] {
		t.Errorf("by name carol = %+v", got)
	}
	// Pagination: alice and carol, one per page.
	p := configservice.NewListDiscoveredResourcesPaginator(client, &configservice.ListDiscoveredResourcesInput{ResourceType: cstypes.ResourceTypeUser, Limit: 1})
	var names []string
	pages := 0
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, r := range out.ResourceIdentifiers {
			names = append(names, aws.ToString(r.ResourceName))
		}
	}
	if pages != 2 || len(names) != 2 {
		t.Errorf("paginated listing = %v in %d pages, want alice and carol in 2", names, pages)
	}

	// Config not enabled in 333333333333: an empty list, although erin exists.
	noConfig := configservice.NewFromConfig(ts.assume(t, "333333333333"))
	out, err := noConfig.ListDiscoveredResources(ctx, &configservice.ListDiscoveredResourcesInput{ResourceType: cstypes.ResourceTypeUser})
	if err != nil || len(out.ResourceIdentifiers) != 0 {
		t.Errorf("account without Config = %+v, %v; want an empty list", out, err)
	}
	prod := configservice.NewFromConfig(ts.assume(t, "222222222222"))
	out, err = prod.ListDiscoveredResources(ctx, &configservice.ListDiscoveredResourcesInput{ResourceType: cstypes.ResourceTypeUser})
	if err != nil || len(out.ResourceIdentifiers) != 1 || aws.ToString(out.ResourceIdentifiers[0].ResourceName) != "dave" {
		t.Errorf("account 222222222222 = %+v, %v; want dave only", out, err)
	}
	if n := ts.Stats().ByAccount[mgmt]["config:ListDiscoveredResources"]; n != 6 {
		t.Errorf("config:ListDiscoveredResources counted %d times in %s, want 6", n, mgmt)
	}
}

func TestLambdaInvoke(t *testing.T) {
	ts := newServicesSandbox(t, Options{})
	ctx := context.Background()
	client := lambda.NewFromConfig(ts.mgmtConfig())
	payload := []byte(`{"user":"alice","stage":"expired"}`)

	out, err := client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("keyage-notify"), Payload: payload})
	if err != nil {
		t.Fatalf("Invoke(RequestResponse): %v", err)
	}
	var body struct {
		OK   bool            `json:"ok"`
		Echo json.RawMessage `json:"echo"`
	}
	if err := json.Unmarshal(out.Payload, &body); err != nil || out.StatusCode != 200 || out.FunctionError != nil || !body.OK || string(body.Echo) != string(payload) {
		t.Errorf("Invoke(RequestResponse) = status %d, error %v, payload %s", out.StatusCode, out.FunctionError, out.Payload)
	}
	out, err = client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("arn:aws:lambda:us-east-1:111111111111:function:keyage-notify"),
		InvocationType: lambdatypes.InvocationTypeEvent, Payload: payload})
	if err != nil || out.StatusCode != 202 {
		t.Errorf("Invoke(Event) = %v, %v; want status 202", out, err)
	}
	out, err = client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("keyage-broken"), Payload: payload})
	if err != nil {
		t.Fatalf("Invoke(failing function): %v", err)
	}
	if aws.ToString(out.FunctionError) != "Unhandled" || out.StatusCode != 200 || !json.Valid(out.Payload) {
		t.Errorf("failing function: status %d, FunctionError %q, payload %s", out.StatusCode, aws.ToString(out.FunctionError), out.Payload)
	}
	_, err = client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("nope"), Payload: payload})
	var notFound *lambdatypes.ResourceNotFoundException
	if code, msg := apiErr(t, err); code != "ResourceNotFoundException" || msg != "Function not found: arn:aws:lambda:us-east-1:111111111111:function:nope" || !errors.As(err, &notFound) {
		t.Errorf("unknown function: %s: %s (%T)", code, msg, err)
	}
	_, err = client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("keyage-notify"), Payload: []byte("not json")})
	if code, _ := apiErr(t, err); code != "InvalidRequestContentException" {
		t.Errorf("payload that is not JSON: %s, want InvalidRequestContentException", code)
	}
	if err := ts.PutFunction("222222222222", "on-demand", false); err != nil {
		t.Fatal(err)
	}
	if _, err := lambda.NewFromConfig(ts.assume(t, "222222222222")).Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("on-demand")}); err != nil {
		t.Errorf("Invoke of a function made with PutFunction: %v", err)
	}

	inv := ts.Invocations()
	if len(inv) != 4 || inv[0].Payload != string(payload) || inv[0].InvocationType != "RequestResponse" || inv[1].InvocationType != "Event" ||
		inv[2].FunctionError != "Unhandled" || inv[3].Account != "222222222222" {
		t.Errorf("Invocations() = %+v", inv)
	}
	var admin []LambdaInvocation
	if code := getJSON(t, "GET", ts.url+"/_sandbox/lambda/invocations", &admin); code != 200 || len(admin) != 4 {
		t.Errorf("GET /_sandbox/lambda/invocations = %d, %d items", code, len(admin))
	}
	if n := ts.Stats().ByAPI["lambda:Invoke"]; n != 6 {
		t.Errorf("lambda:Invoke counted %d times, want 6", n)
	}
}

func TestSESSendEmail(t *testing.T) {
	ts := newServicesSandbox(t, Options{})
	ctx := context.Background()
	client := sesv2.NewFromConfig(ts.mgmtConfig())
	out, err := client.SendEmail(ctx, &sesv2.SendEmailInput{
		FromEmailAddress: aws.String("keyage@example.com"),
		Destination:      &sestypes.Destination{ToAddresses: []string{"alice@example.com"}, CcAddresses: []string{"sec@example.com"}},
		Content: &sestypes.EmailContent{Simple: &sestypes.Message{
			Subject: &sestypes.Content{Data: aws.String("Your access key is 120 days old")},
			Body:    &sestypes.Body{Text: &sestypes.Content{Data: aws.String("Rotate it.")}, Html: &sestypes.Content{Data: aws.String("<p>Rotate it.</p>")}},
		}},
	})
	if err != nil {
		t.Fatalf("SendEmail: %v", err)
	}
	emails := ts.Emails()
	if len(emails) != 1 {
		t.Fatalf("Emails() has %d emails, want 1", len(emails))
	}
	want := SentEmail{MessageID: aws.ToString(out.MessageId), Account: ts.ManagementAccountID(), From: "keyage@example.com",
		To: []string{"alice@example.com"}, Cc: []string{"sec@example.com"}, Subject: "Your access key is 120 days old",
		Text: "Rotate it.", HTML: "<p>Rotate it.</p>", Time: emails[0].Time}
	diff(t, "recorded email", emails[0], want)
	_, err = client.SendEmail(ctx, &sesv2.SendEmailInput{FromEmailAddress: aws.String("keyage@example.com"),
		Content: &sestypes.EmailContent{Simple: &sestypes.Message{Subject: &sestypes.Content{Data: aws.String("s")}, Body: &sestypes.Body{Text: &sestypes.Content{Data: aws.String("b")}}}}})
	if code, _ := apiErr(t, err); code != "BadRequestException" {
		t.Errorf("SendEmail without a destination: %s, want BadRequestException", code)
	}
	var admin []SentEmail
	if code := getJSON(t, "GET", ts.url+"/_sandbox/ses/emails", &admin); code != 200 || len(admin) != 1 || admin[0].Subject != want.Subject {
		t.Errorf("GET /_sandbox/ses/emails = %d, %+v", code, admin)
	}
	if n := ts.Stats().ByAPI["ses:SendEmail"]; n != 2 {
		t.Errorf("ses:SendEmail counted %d times, want 2", n)
	}
}

func TestDescribeOrganizationalUnit(t *testing.T) {
	ts := newTestSandbox(t, Options{})
	ctx := context.Background()
	var ouID string
	for id, u := range ts.Server.org.units {
		if u.name == "Prod" {
			ouID = id
		}
	}
	out, err := ts.org().DescribeOrganizationalUnit(ctx, &organizations.DescribeOrganizationalUnitInput{OrganizationalUnitId: aws.String(ouID)})
	if err != nil {
		t.Fatal(err)
	}
	if ou := out.OrganizationalUnit; aws.ToString(ou.Id) != ouID || aws.ToString(ou.Name) != "Prod" || aws.ToString(ou.Arn) == "" {
		t.Errorf("DescribeOrganizationalUnit = %+v", ou)
	}
	_, err = ts.org().DescribeOrganizationalUnit(ctx, &organizations.DescribeOrganizationalUnitInput{OrganizationalUnitId: aws.String("ou-zzzz-zzzzzzzz")})
	if code, _ := apiErr(t, err); code != "OrganizationalUnitNotFoundException" {
		t.Errorf("unknown OU: %s, want OrganizationalUnitNotFoundException", code)
	}
}
