package sandbox

import (
	"math/rand/v2"
	"strconv"
)

// GenerateOptions size a generated organization.
type GenerateOptions struct {
	// Accounts is the number of accounts, the management account included; below 1 means 3.
	Accounts int
	// Users is the number of IAM users in every account; below 0 means 0.
	Users int
	// Seed selects the organization; the same options always give the same fixture.
	Seed int64
	// AuditRoleName defaults to KeyageAuditRole.
	AuditRoleName string
}

var (
	genFirst = []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy",
		"mallory", "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "yasmin",
		"amir", "bea", "chen", "dmitri", "elif", "femi", "gita", "hana", "ines", "jonas",
		"kofi", "lena", "mateo", "nora", "omar", "priya", "quinn", "rosa", "sven", "tariq"}
	genLast = []string{"nguyen", "smith", "garcia", "kim", "mueller", "rossi", "tanaka", "okafor", "silva", "novak",
		"haddad", "kowalski", "dubois", "larsen", "patel", "ivanova", "cohen", "murphy", "santos", "yilmaz",
		"berg", "costa", "fischer", "green", "hughes", "jensen", "khan", "lopez", "moreau", "nakamura",
		"olsen", "perez", "quist", "reyes", "schmidt", "torres", "umar", "vargas", "weber", "zhang"}
	genTeams = []string{"payments", "identity", "analytics", "search", "platform", "data", "mobile", "web",
		"ml", "billing", "checkout", "catalog", "messaging", "media", "growth", "support"}
	genEnvs      = []string{"prod", "staging", "dev", "sandbox", "prod", "dev"}
	genEnvOU     = map[string]string{"prod": "Workloads/Prod", "staging": "Workloads/Staging", "dev": "Workloads/Dev", "sandbox": "Sandbox"}
	genPaths     = []string{"/", "/engineering/", "/engineering/", "/ops/", "/data/"}
	genPurposes  = []string{"deploy", "ci", "backup", "etl", "monitoring", "terraform", "legacy-app", "reporting"}
	genServices  = []string{"s3", "s3", "ec2", "sts", "iam", "lambda", "dynamodb", "sqs"}
	genRegions   = []string{"us-east-1", "us-east-1", "us-west-2", "eu-west-1", "eu-central-1"}
	genFixedAcct = []struct{ name, ou string }{{"security-audit", "Security"}, {"log-archive", "Security"}, {"network", "Infrastructure"}, {"shared-services", "Infrastructure"}}
)

// Generate returns a realistic, deterministic organization: a management account at the root,
// security and infrastructure accounts, and workload accounts in Workloads/{Prod,Staging,Dev} and
// Sandbox OUs. Users are a mix of people (most with an email tag) and service users; their keys
// are fresh, just under and just over 90 days, very old, inactive and old, two per user, or
// absent, and some were never used. A few accounts have an active root key, and exactly one
// account (not the management account) lacks the audit role. The others have the audit role,
// KeyageEnforceRole and the self-managed StackSet prerequisites AWS documents
// (AWSCloudFormationStackSetExecutionRole; the management account also
// AWSCloudFormationStackSetAdministrationRole), so `keyage deploy targets` passes its preflight.
func Generate(o GenerateOptions) *Fixture {
	if o.Accounts < 1 {
		o.Accounts = 3
	}
	if o.Users < 0 {
		o.Users = 0
	}
	rng := rand.New(rand.NewPCG(uint64(o.Seed), uint64(o.Seed)^0x6b6579616765))
	f := &Fixture{AuditRoleName: o.AuditRoleName, Accounts: make([]FixtureAccount, o.Accounts)}

	ids := make(map[int64]bool, o.Accounts)
	for i := range f.Accounts {
		id := 100000000000 + rng.Int64N(900000000000)
		for ids[id] {
			id = 100000000000 + rng.Int64N(900000000000)
		}
		ids[id] = true
		f.Accounts[i].ID = strconv.FormatInt(id, 10)
	}
	f.ManagementAccountID = f.Accounts[0].ID
	auditRole := o.AuditRoleName
	if auditRole == "" {
		auditRole = DefaultAuditRoleName
	}
	missingRole := -1
	if o.Accounts > 1 {
		missingRole = 1 + rng.IntN(o.Accounts-1)
	}
	names := make(map[string]int, o.Accounts)
	for i := range f.Accounts {
		a := &f.Accounts[i]
		switch {
		case i == 0:
			a.Name = "management"
		case i <= len(genFixedAcct) && o.Accounts > 8:
			a.Name, a.OU = genFixedAcct[i-1].name, genFixedAcct[i-1].ou
		default:
			env := genEnvs[rng.IntN(len(genEnvs))]
			a.Name = genTeams[rng.IntN(len(genTeams))] + "-" + env
			a.OU = genEnvOU[env]
		}
		if n := names[a.Name]; n > 0 {
			names[a.Name] = n + 1
			a.Name += "-" + strconv.Itoa(n+1)
		} else {
			names[a.Name] = 1
		}
		if i == missingRole {
			a.Roles = []FixtureRole{}
		} else {
			a.Roles = []FixtureRole{{Name: auditRole}, {Name: EnforceRoleName}, {Name: stackSetExecutionRole}}
			if i == 0 {
				a.Roles = append(a.Roles, FixtureRole{Name: stackSetAdministrationRole})
			}
		}
		// About one account in 25 has an active root key (and one, at least, in any org of three
		// accounts or more).
		if (i > 0 && rng.IntN(25) == 0) || (o.Accounts >= 3 && i == o.Accounts-1) {
			a.RootKeys = []FixtureKey{{AgeDays: ptr(200 + 700*rng.Float64()), Status: statusActive}}
		}
		a.Users = generateUsers(rng, o.Users)
	}
	return f
}

func ptr[T any](v T) *T { return &v }

// generateUsers makes n users with unique names; floats live in one slab per account.
func generateUsers(rng *rand.Rand, n int) []FixtureUser {
	users := make([]FixtureUser, n)
	slab := make([]float64, 0, 4*n)
	num := func(v float64) *float64 {
		slab = append(slab, float64(int64(v*1000))/1000) // millidays keep YAML dumps short
		return &slab[len(slab)-1]
	}
	offF, offL := rng.IntN(len(genFirst)), rng.IntN(len(genLast))
	team := genTeams[rng.IntN(len(genTeams))]
	for i := range users {
		u := &users[i]
		if rng.Float64() < 0.12 {
			u.Name = "svc-" + genPurposes[rng.IntN(len(genPurposes))] + "-" + strconv.Itoa(i)
			u.Path = "/service/"
			if rng.Float64() < 0.6 {
				u.Tags = map[string]string{"email": team + "-team@example.com", "team": team}
			}
		} else {
			first := genFirst[(i+offF)%len(genFirst)]
			last := genLast[(i/len(genFirst)+offL)%len(genLast)]
			u.Name = first + "." + last
			if i >= len(genFirst)*len(genLast) {
				u.Name += strconv.Itoa(i)
			}
			u.Path = genPaths[rng.IntN(len(genPaths))]
			if rng.Float64() < 0.88 {
				u.Tags = map[string]string{"email": u.Name + "@example.com"}
			}
		}
		key := func(age float64, status string) FixtureKey {
			k := FixtureKey{AgeDays: num(age), Status: status}
			if rng.Float64() >= 0.15 { // 15% of keys were never used
				ago := rng.Float64() * min(age, 30)
				if status == statusInactive {
					ago = age * (0.5 + 0.5*rng.Float64())
				}
				k.LastUsedDaysAgo = num(ago)
				k.LastUsedService = genServices[rng.IntN(len(genServices))]
				k.LastUsedRegion = genRegions[rng.IntN(len(genRegions))]
			}
			return k
		}
		uniform := func(lo, hi float64) float64 { return lo + (hi-lo)*rng.Float64() }
		switch r := rng.Float64(); {
		case r < 0.10: // no keys
		case r < 0.35:
			u.Keys = []FixtureKey{key(uniform(0.5, 60), statusActive)}
		case r < 0.45: // just under the 90-day limit
			u.Keys = []FixtureKey{key(uniform(85, 89.9), statusActive)}
		case r < 0.55: // just over it
			u.Keys = []FixtureKey{key(uniform(90.1, 100), statusActive)}
		case r < 0.63: // very old
			u.Keys = []FixtureKey{key(uniform(200, 1500), statusActive)}
		case r < 0.71: // inactive and old
			u.Keys = []FixtureKey{key(uniform(120, 800), statusInactive)}
		case r < 0.86: // two keys: an old one (mid-rotation or forgotten) and a fresh one
			status := statusActive
			if rng.IntN(2) == 0 {
				status = statusInactive
			}
			u.Keys = []FixtureKey{key(uniform(60, 400), status), key(uniform(0.5, 45), statusActive)}
		default:
			u.Keys = []FixtureKey{key(uniform(30, 85), statusActive)}
		}
	}
	return users
}
