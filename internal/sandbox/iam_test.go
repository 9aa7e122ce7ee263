package sandbox

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestListUsersPagination(t *testing.T) {
	users := make([]FixtureUser, 2500)
	for i := range users {
		users[i] = FixtureUser{Name: fmt.Sprintf("user%04d", i), Path: "/team/"}
	}
	f := &Fixture{ManagementAccountID: "111111111111", Accounts: []FixtureAccount{{ID: "222222222222", Users: users}}}
	ts := newTestSandbox(t, Options{Fixture: f})
	client := ts.iam(t, "222222222222")
	ctx := context.Background()

	for _, tt := range []struct {
		name      string
		maxItems  int32
		wantPages int
	}{
		{"default page size 100", 0, 25},
		{"MaxItems 1000", 1000, 3},
		{"MaxItems 333", 333, 8},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := &iam.ListUsersInput{}
			if tt.maxItems > 0 {
				in.MaxItems = aws.Int32(tt.maxItems)
			}
			var names []string
			pages := 0
			for p := iam.NewListUsersPaginator(client, in); p.HasMorePages(); {
				out, err := p.NextPage(ctx)
				if err != nil {
					t.Fatalf("ListUsers page %d: %v", pages+1, err)
				}
				pages++
				for _, u := range out.Users {
					names = append(names, *u.UserName)
				}
			}
			if pages != tt.wantPages {
				t.Errorf("ListUsers(MaxItems %d) took %d pages, want %d", tt.maxItems, pages, tt.wantPages)
			}
			if len(names) != 2500 || names[0] != "user0000" || names[2499] != "user2499" {
				t.Errorf("ListUsers returned %d users (%s..%s), want user0000..user2499", len(names), names[0], names[len(names)-1])
			}
		})
	}

	t.Run("MaxItems out of range", func(t *testing.T) {
		_, err := client.ListUsers(ctx, &iam.ListUsersInput{MaxItems: aws.Int32(1001)})
		if code, _ := apiErr(t, err); code != "ValidationError" {
			t.Errorf("ListUsers(MaxItems 1001) error %s, want ValidationError", code)
		}
	})
}

func TestIAMUsersAndKeys(t *testing.T) {
	ts := newTestSandbox(t, Options{})
	ctx := context.Background()
	client := ts.iam(t, "222222222222")
	start := ts.clock.Now()

	out, err := client.ListUsers(ctx, &iam.ListUsersInput{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, u := range out.Users {
		got = append(got, *u.Arn)
		if !strings.HasPrefix(*u.UserId, "AIDA") || len(*u.UserId) != 20 {
			t.Errorf("UserId %q, want AIDA + 16 characters", *u.UserId)
		}
	}
	diff(t, "ListUsers ARNs", got, []string{
		"arn:aws:iam::222222222222:user/engineering/alice",
		"arn:aws:iam::222222222222:user/bob",
		"arn:aws:iam::222222222222:user/service/svc-deploy",
	})

	u, err := client.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("alice")})
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "GetUser tags", u.User.Tags, []types.Tag{{Key: aws.String("email"), Value: aws.String("alice@example.com")}, {Key: aws.String("team"), Value: aws.String("payments")}},
		cmpopts.IgnoreUnexported(types.Tag{}))

	t.Run("ListAccessKeys MaxItems 1 on a two-key user", func(t *testing.T) {
		var keys []types.AccessKeyMetadata
		pages := 0
		for p := iam.NewListAccessKeysPaginator(client, &iam.ListAccessKeysInput{UserName: aws.String("alice"), MaxItems: aws.Int32(1)}); p.HasMorePages(); {
			out, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			pages++
			keys = append(keys, out.AccessKeyMetadata...)
		}
		if pages != 2 || len(keys) != 2 {
			t.Fatalf("ListAccessKeys(MaxItems 1) gave %d keys in %d pages, want 2 in 2", len(keys), pages)
		}
		// Keys come in creation order: the 2026-01-05 key is older than 120 days only after May 2026.
		byStatus := map[types.StatusType]types.AccessKeyMetadata{}
		for _, k := range keys {
			byStatus[k.Status] = k
			if !strings.HasPrefix(*k.AccessKeyId, "AKIA") || len(*k.AccessKeyId) != 20 {
				t.Errorf("AccessKeyId %q, want AKIA + 16 characters", *k.AccessKeyId)
			}
		}
		active := byStatus[types.StatusTypeActive]
		if want := start.Add(-120 * day); !active.CreateDate.Equal(want) {
			t.Errorf("active key CreateDate %v, want %v (120 days before start)", active.CreateDate, want)
		}
		if want := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC); !byStatus[types.StatusTypeInactive].CreateDate.Equal(want) {
			t.Errorf("inactive key CreateDate %v, want %v", byStatus[types.StatusTypeInactive].CreateDate, want)
		}

		lu, err := client.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: active.AccessKeyId})
		if err != nil {
			t.Fatal(err)
		}
		if *lu.UserName != "alice" || *lu.AccessKeyLastUsed.ServiceName != "s3" || *lu.AccessKeyLastUsed.Region != "us-east-1" ||
			!lu.AccessKeyLastUsed.LastUsedDate.Equal(start.Add(-2*day)) {
			t.Errorf("GetAccessKeyLastUsed = %s %s %s %v, want alice s3 us-east-1 %v", *lu.UserName, *lu.AccessKeyLastUsed.ServiceName,
				*lu.AccessKeyLastUsed.Region, lu.AccessKeyLastUsed.LastUsedDate, start.Add(-2*day))
		}
		never, err := client.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: byStatus[types.StatusTypeInactive].AccessKeyId})
		if err != nil {
			t.Fatal(err)
		}
		if never.AccessKeyLastUsed.LastUsedDate != nil || *never.AccessKeyLastUsed.ServiceName != "N/A" {
			t.Errorf("never-used key: LastUsedDate %v ServiceName %s, want nil N/A", never.AccessKeyLastUsed.LastUsedDate, *never.AccessKeyLastUsed.ServiceName)
		}
	})

	t.Run("errors", func(t *testing.T) {
		for _, tt := range []struct {
			name     string
			call     func() error
			wantCode string
			wantMsg  string
		}{
			{"unknown user", func() error {
				_, err := client.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("nobody")})
				return err
			}, "NoSuchEntity", "The user with name nobody cannot be found."},
			{"third key", func() error {
				_, err := client.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("alice")})
				return err
			}, "LimitExceeded", "Cannot exceed quota for AccessKeysPerUser: 2"},
			{"unknown key", func() error {
				_, err := client.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("bob"), AccessKeyId: aws.String("AKIAAAAAAAAAAAAAAAAA"), Status: types.StatusTypeInactive})
				return err
			}, "NoSuchEntity", "The Access Key with id AKIAAAAAAAAAAAAAAAAA cannot be found."},
			{"no user name with role credentials", func() error {
				_, err := client.ListAccessKeys(ctx, &iam.ListAccessKeysInput{})
				return err
			}, "ValidationError", "Must specify userName when calling with non-User credentials"},
			{"tags need a user", func() error {
				_, err := client.ListUserTags(ctx, &iam.ListUserTagsInput{UserName: aws.String("ghost")})
				return err
			}, "NoSuchEntity", "The user with name ghost cannot be found."},
		} {
			t.Run(tt.name, func(t *testing.T) {
				code, msg := apiErr(t, tt.call())
				if code != tt.wantCode || msg != tt.wantMsg {
					t.Errorf("error %s: %s, want %s: %s", code, msg, tt.wantCode, tt.wantMsg)
				}
			})
		}
	})

	t.Run("key lifecycle and key credentials", func(t *testing.T) {
		created, err := client.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("bob")})
		if err != nil {
			t.Fatal(err)
		}
		k := created.AccessKey
		if k.Status != types.StatusTypeActive || len(*k.SecretAccessKey) != 40 || *k.UserName != "bob" {
			t.Errorf("CreateAccessKey = %+v, want an active key of bob with a 40-character secret", k)
		}
		// The new key acts as bob in bob's account.
		bob := ts.config(*k.AccessKeyId, *k.SecretAccessKey, "")
		me, err := iam.NewFromConfig(bob).GetUser(ctx, &iam.GetUserInput{})
		if err != nil {
			t.Fatalf("GetUser as bob: %v", err)
		}
		if *me.User.Arn != "arn:aws:iam::222222222222:user/bob" {
			t.Errorf("GetUser as bob = %s", *me.User.Arn)
		}
		lu, err := client.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: k.AccessKeyId})
		if err != nil {
			t.Fatal(err)
		}
		if *lu.AccessKeyLastUsed.ServiceName != "iam" || lu.AccessKeyLastUsed.LastUsedDate == nil {
			t.Errorf("last used after a call = %s %v, want iam and a date", *lu.AccessKeyLastUsed.ServiceName, lu.AccessKeyLastUsed.LastUsedDate)
		}

		if _, err := client.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("bob"), AccessKeyId: k.AccessKeyId, Status: types.StatusTypeInactive}); err != nil {
			t.Fatal(err)
		}
		_, err = iam.NewFromConfig(bob).GetUser(ctx, &iam.GetUserInput{})
		if code, _ := apiErr(t, err); code != "InvalidClientTokenId" {
			t.Errorf("call with an inactive key: %s, want InvalidClientTokenId", code)
		}
		if _, err := client.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("bob"), AccessKeyId: k.AccessKeyId}); err != nil {
			t.Fatal(err)
		}
		keys, err := client.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("bob")})
		if err != nil {
			t.Fatal(err)
		}
		if len(keys.AccessKeyMetadata) != 0 || keys.IsTruncated {
			t.Errorf("bob's keys after delete = %d, want none", len(keys.AccessKeyMetadata))
		}
	})

	t.Run("account summary reflects root keys", func(t *testing.T) {
		for acct, want := range map[string]int32{"222222222222": 1, "111111111111": 0} {
			out, err := ts.iam(t, acct).GetAccountSummary(ctx, &iam.GetAccountSummaryInput{})
			if err != nil {
				t.Fatal(err)
			}
			if got := out.SummaryMap["AccountAccessKeysPresent"]; got != want {
				t.Errorf("%s AccountAccessKeysPresent = %d, want %d", acct, got, want)
			}
		}
	})
}

func TestUnknownCredentials(t *testing.T) {
	ts := newTestSandbox(t, Options{})
	_, err := iam.NewFromConfig(ts.config("AKIAUNKNOWNUNKNOWN00", "secret", "")).ListUsers(context.Background(), &iam.ListUsersInput{})
	code, msg := apiErr(t, err)
	if code != "InvalidClientTokenId" || msg != "The security token included in the request is invalid." {
		t.Errorf("unknown key: %s: %s, want InvalidClientTokenId", code, msg)
	}
}
