package sandbox

import (
	"context"
	"runtime"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestGenerateDeterministic(t *testing.T) {
	a := Generate(GenerateOptions{Accounts: 20, Users: 50, Seed: 42})
	b := Generate(GenerateOptions{Accounts: 20, Users: 50, Seed: 42})
	diff(t, "Generate(seed 42) twice", a, b, cmpopts.IgnoreUnexported(Fixture{}))
	c := Generate(GenerateOptions{Accounts: 20, Users: 50, Seed: 43})
	if c.ManagementAccountID == a.ManagementAccountID {
		t.Errorf("seeds 42 and 43 give the same management account %s", a.ManagementAccountID)
	}

	// The same fixture gives the same ids and credentials.
	s1, err := New(Options{Fixture: a})
	if err != nil {
		t.Fatal(err)
	}
	s2, err := New(Options{Fixture: b})
	if err != nil {
		t.Fatal(err)
	}
	k1, _ := s1.ManagementCredentials()
	k2, _ := s2.ManagementCredentials()
	if k1 != k2 || s1.accounts[a.Accounts[5].ID].users[3].id != s2.accounts[a.Accounts[5].ID].users[3].id {
		t.Errorf("two servers for the same fixture differ in credentials or UserIds")
	}
}

func TestGenerateMix(t *testing.T) {
	f := Generate(GenerateOptions{Accounts: 40, Users: 100, Seed: 1})
	if err := f.Validate(); err != nil {
		t.Fatalf("generated fixture is invalid: %v", err)
	}
	count := map[string]int{}
	ous := map[string]bool{}
	for _, a := range f.Accounts {
		ous[a.OU] = true
		if a.Roles != nil && len(a.Roles) == 0 {
			count["account without audit role"]++
		}
		if len(a.RootKeys) > 0 {
			count["account with root key"]++
		}
		for _, u := range a.Users {
			if u.Tags["email"] != "" {
				count["user with email"]++
			}
			switch len(u.Keys) {
			case 0:
				count["user without keys"]++
			case 2:
				count["user with two keys"]++
			}
			for _, k := range u.Keys {
				age := *k.AgeDays
				switch {
				case k.Status == statusInactive && age > 90:
					count["inactive old key"]++
				case age < 30:
					count["fresh key"]++
				case age > 85 && age <= 90:
					count["key just under 90 days"]++
				case age > 90 && age < 100:
					count["key just over 90 days"]++
				case age > 365:
					count["key over a year old"]++
				}
				if k.LastUsedDaysAgo == nil {
					count["never-used key"]++
				}
			}
		}
	}
	if count["account without audit role"] != 1 {
		t.Errorf("%d accounts without the audit role, want exactly 1", count["account without audit role"])
	}
	if want := []FixtureRole{{Name: DefaultAuditRoleName}, {Name: EnforceRoleName},
		{Name: stackSetExecutionRole}, {Name: stackSetAdministrationRole}}; !slices.Equal(f.Accounts[0].Roles, want) {
		t.Errorf("the management account has roles %v, want %v", f.Accounts[0].Roles, want)
	}
	for _, what := range []string{"account with root key", "user with email", "user without keys", "user with two keys",
		"inactive old key", "fresh key", "key just under 90 days", "key just over 90 days", "key over a year old", "never-used key"} {
		if count[what] == 0 {
			t.Errorf("generated org has no %s", what)
		}
	}
	if count["user with email"] < 4000*6/10 {
		t.Errorf("%d of 4000 users have an email tag, want most", count["user with email"])
	}
	if len(ous) < 4 {
		t.Errorf("generated org has %d OUs, want a few", len(ous))
	}
	t.Logf("mix: %v", count)
}

// TestGenerateLarge checks that the benchmark organization, 1,000 accounts x 100 users, is
// compact in memory. How fast it is made is measured by BenchmarkGenerate, not asserted here:
// wall-clock limits fail on busy machines.
func TestGenerateLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("large organization")
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f := Generate(GenerateOptions{Accounts: 1000, Users: 100, Seed: 1})
	s, err := New(Options{Fixture: f})
	if err != nil {
		t.Fatal(err)
	}
	f = nil
	runtime.GC()
	runtime.ReadMemStats(&after)
	heap := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("live heap of the sandbox: %d MB", heap>>20)
	if heap > 120<<20 {
		t.Errorf("sandbox of 1000 x 100 holds %d MB, want well under 120 MB", heap>>20)
	}
	runtime.KeepAlive(s)
}

// BenchmarkGenerate measures Generate and Generate+New of 1,000 accounts x 100 users, reporting
// the live heap of the sandbox built (heap-B) besides ns/op.
func BenchmarkGenerate(b *testing.B) {
	b.Run("Generate", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			runtime.KeepAlive(Generate(GenerateOptions{Accounts: 1000, Users: 100, Seed: 1}))
		}
	})
	b.Run("GenerateAndNew", func(b *testing.B) {
		b.ReportAllocs()
		var heap int64
		for b.Loop() {
			var before, after runtime.MemStats
			b.StopTimer()
			runtime.GC()
			runtime.ReadMemStats(&before)
			b.StartTimer()
			s, err := New(Options{Fixture: Generate(GenerateOptions{Accounts: 1000, Users: 100, Seed: 1})})
			if err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			runtime.GC()
			runtime.ReadMemStats(&after)
			heap = int64(after.HeapAlloc) - int64(before.HeapAlloc)
			runtime.KeepAlive(s)
			b.StartTimer()
		}
		b.ReportMetric(float64(heap), "heap-B")
	})
}

func TestGeneratedServer(t *testing.T) {
	f := Generate(GenerateOptions{Accounts: 5, Users: 10, Seed: 9})
	ts := newTestSandbox(t, Options{Fixture: f})
	ctx := context.Background()
	var missing string
	for _, a := range f.Accounts {
		if a.Roles != nil && len(a.Roles) == 0 {
			missing = a.ID
		}
	}
	client := sts.NewFromConfig(ts.mgmtConfig())
	for _, id := range ts.AccountIDs()[1:] {
		_, err := client.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: ptr("arn:aws:iam::" + id + ":role/KeyageAuditRole"), RoleSessionName: ptr("keyage-gen")})
		if (err != nil) != (id == missing) {
			t.Errorf("AssumeRole into %s: %v (missing role: %v)", id, err, id == missing)
		}
	}
	out, err := ts.iam(t, ts.ManagementAccountID()).ListUsers(ctx, &iam.ListUsersInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Users) != 10 {
		t.Errorf("management account has %d users, want 10", len(out.Users))
	}
}
