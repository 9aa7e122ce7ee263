package sandbox

import (
	"context"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/google/go-cmp/cmp"
)

const secretsFixture = `
managementAccountId: "111111111111"
accounts:
  - id: "111111111111"
    name: management
  - id: "222222222222"
    name: prod
    roles:
      - name: Rotator
        policy:
          Statement:
            - {Effect: Allow, Action: ["secretsmanager:*"], Resource: "arn:aws:secretsmanager:*:*:secret:keyage/*"}
            - {Effect: Allow, Action: ["kms:GenerateDataKey", "kms:Decrypt"], Resource: "arn:aws:kms:*:*:key/allowed"}
      - name: Everything
      - name: Reader
        policy: {Statement: [{Effect: Allow, Action: "sts:GetCallerIdentity", Resource: "*"}]}
    users:
      - {name: ci, keys: [{ageDays: 100}]}
`

func newSecretsSandbox(t *testing.T) *testSandbox {
	t.Helper()
	return fixtureSandbox(t, secretsFixture, Options{})
}

func TestSecretsManagerVersionStages(t *testing.T) {
	ts := newSecretsSandbox(t)
	ctx := context.Background()
	sm := secretsmanager.NewFromConfig(ts.assumeRole(t, "222222222222", "Rotator"))

	created, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("keyage/access-keys/ci"),
		SecretString: aws.String(`{"v":1}`), Tags: []smtypes.Tag{{Key: aws.String("keyage:managed"), Value: aws.String("true")}}})
	if err != nil {
		t.Fatalf("CreateSecret: %v", err)
	}
	arn := aws.ToString(created.ARN)
	if !strings.HasPrefix(arn, "arn:aws:secretsmanager:us-east-1:222222222222:secret:keyage/access-keys/ci-") || len(arn) != len("arn:aws:secretsmanager:us-east-1:222222222222:secret:keyage/access-keys/ci-")+6 {
		t.Errorf("CreateSecret ARN = %s, want the name and a 6-character suffix", arn)
	}
	v1 := aws.ToString(created.VersionId)
	put, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(arn), SecretString: aws.String(`{"v":2}`)})
	if err != nil {
		t.Fatalf("PutSecretValue: %v", err)
	}
	v2 := aws.ToString(put.VersionId)
	if _, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("keyage/access-keys/ci"),
		SecretString: aws.String(`{"v":3}`), ClientRequestToken: aws.String("33333333-3333-3333-3333-333333333333")}); err != nil {
		t.Fatalf("PutSecretValue v3: %v", err)
	}
	// The same token with the same value is idempotent; with another value it is refused.
	if _, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("keyage/access-keys/ci"),
		SecretString: aws.String(`{"v":3}`), ClientRequestToken: aws.String("33333333-3333-3333-3333-333333333333")}); err != nil {
		t.Errorf("PutSecretValue v3 again: %v", err)
	}
	_, err = sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("keyage/access-keys/ci"),
		SecretString: aws.String(`{"v":4}`), ClientRequestToken: aws.String("33333333-3333-3333-3333-333333333333")})
	if code, _ := apiErr(t, err); code != "ResourceExistsException" {
		t.Errorf("PutSecretValue with a used token and another value: %s, want ResourceExistsException", code)
	}

	got, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("keyage/access-keys/ci")})
	if err != nil || aws.ToString(got.SecretString) != `{"v":3}` {
		t.Fatalf("GetSecretValue = %v, %v; want v3", got, err)
	}
	prev, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn), VersionStage: aws.String("AWSPREVIOUS")})
	if err != nil || aws.ToString(prev.SecretString) != `{"v":2}` || aws.ToString(prev.VersionId) != v2 {
		t.Errorf("GetSecretValue(AWSPREVIOUS) = %v, %v; want v2", prev, err)
	}
	desc, err := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{"33333333-3333-3333-3333-333333333333": {"AWSCURRENT"}, v2: {"AWSPREVIOUS"}}
	if d := cmp.Diff(want, desc.VersionIdsToStages); d != "" {
		t.Errorf("VersionIdsToStages (-want +got):\n%s", d)
	}
	list, err := sm.ListSecretVersionIds(ctx, &secretsmanager.ListSecretVersionIdsInput{SecretId: aws.String(arn), IncludeDeprecated: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, v := range list.Versions {
		ids = append(ids, aws.ToString(v.VersionId)+":"+strings.Join(v.VersionStages, ","))
	}
	sort.Strings(ids)
	wantIDs := []string{"33333333-3333-3333-3333-333333333333:AWSCURRENT", v1 + ":", v2 + ":AWSPREVIOUS"}
	sort.Strings(wantIDs)
	if d := cmp.Diff(wantIDs, ids); d != "" {
		t.Errorf("ListSecretVersionIds (-want +got):\n%s", d)
	}

	if _, err := sm.TagResource(ctx, &secretsmanager.TagResourceInput{SecretId: aws.String(arn),
		Tags: []smtypes.Tag{{Key: aws.String("keyage:user-id"), Value: aws.String("AIDAEXAMPLE")}}}); err != nil {
		t.Errorf("TagResource: %v", err)
	}
	if _, err := sm.PutResourcePolicy(ctx, &secretsmanager.PutResourcePolicyInput{SecretId: aws.String(arn),
		ResourcePolicy: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::222222222222:user/ci"},"Action":"secretsmanager:GetSecretValue","Resource":"*"}]}`)}); err != nil {
		t.Errorf("PutResourcePolicy: %v", err)
	}
	if _, err := sm.PutResourcePolicy(ctx, &secretsmanager.PutResourcePolicyInput{SecretId: aws.String(arn), ResourcePolicy: aws.String(`{`)}); err == nil {
		t.Error("PutResourcePolicy with a malformed policy succeeded")
	}
	if desc, _ = sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(arn)}); len(desc.Tags) != 2 {
		t.Errorf("DescribeSecret tags = %v, want 2", desc.Tags)
	}

	// A role whose policy does not allow the call is refused; the secret's own resource
	// policy can allow it in the same account.
	reader := secretsmanager.NewFromConfig(ts.assumeRole(t, "222222222222", "Reader"))
	_, err = reader.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
	if code, _ := apiErr(t, err); code != "AccessDeniedException" {
		t.Errorf("GetSecretValue by Reader: %s, want AccessDeniedException", code)
	}
	_, err = sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("other/x"), SecretString: aws.String("x")})
	if code, _ := apiErr(t, err); code != "AccessDeniedException" {
		t.Errorf("CreateSecret outside the allowed prefix: %s, want AccessDeniedException", code)
	}

	for _, tt := range []struct {
		name, kms, wantCode string
	}{
		{"allowed customer key", "allowed", ""},
		{"key the role may not use", "denied", "AccessDeniedException"},
		{"AWS managed key", "alias/aws/secretsmanager", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("keyage/kms/" + strings.ReplaceAll(tt.kms, "/", "-")),
				KmsKeyId: aws.String(tt.kms), SecretString: aws.String("x")})
			code := ""
			if err != nil {
				code, _ = apiErr(t, err)
			}
			if code != tt.wantCode {
				t.Errorf("CreateSecret(KmsKeyId %s) = %q, want %q", tt.kms, code, tt.wantCode)
			}
		})
	}

	for _, tt := range []struct {
		name, secretName, wantCode string
	}{
		{"comma is not allowed", "keyage/a,b", "ValidationException"},
		{"existing name", "keyage/access-keys/ci", "ResourceExistsException"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(tt.secretName), SecretString: aws.String("x")})
			if code, _ := apiErr(t, err); code != tt.wantCode {
				t.Errorf("CreateSecret(%s) = %s, want %s", tt.secretName, code, tt.wantCode)
			}
		})
	}

	del, err := sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String(arn), RecoveryWindowInDays: aws.Int64(7)})
	if err != nil || del.DeletionDate == nil {
		t.Fatalf("DeleteSecret = %v, %v", del, err)
	}
	_, err = sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
	if code, _ := apiErr(t, err); code != "InvalidRequestException" {
		t.Errorf("GetSecretValue after DeleteSecret: %s, want InvalidRequestException", code)
	}
	ts.clock.Advance(8 * day)
	sm = secretsmanager.NewFromConfig(ts.assumeRole(t, "222222222222", "Rotator")) // the old session expired
	_, err = sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(arn)})
	if code, _ := apiErr(t, err); code != "ResourceNotFoundException" {
		t.Errorf("DescribeSecret after the recovery window: %s, want ResourceNotFoundException", code)
	}
}

// TestCreatedAccessKeySigns checks that a key from CreateAccessKey signs requests the
// sandbox accepts, and stops doing so once deactivated.
func TestCreatedAccessKeySigns(t *testing.T) {
	ts := newSecretsSandbox(t)
	ctx := context.Background()
	client := iam.NewFromConfig(ts.assumeRole(t, "222222222222", "Everything"))
	out, err := client.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("ci")})
	if err != nil {
		t.Fatalf("CreateAccessKey: %v", err)
	}
	k := out.AccessKey
	cfg := ts.config(aws.ToString(k.AccessKeyId), aws.ToString(k.SecretAccessKey), "")
	cfg.RetryMaxAttempts = 1
	id, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || aws.ToString(id.Arn) != "arn:aws:iam::222222222222:user/ci" {
		t.Fatalf("GetCallerIdentity with the new key = %v, %v", id, err)
	}
	if _, err := client.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("ci"), AccessKeyId: k.AccessKeyId, Status: "Inactive"}); err != nil {
		t.Fatal(err)
	}
	if _, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err == nil {
		t.Error("GetCallerIdentity with the deactivated key succeeded")
	}
}
