package sandbox

import (
	"context"
	"regexp"
	"sort"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/organizations/types"
)

func TestListAccountsPagination(t *testing.T) {
	ts := newTestSandbox(t, Options{Fixture: Generate(GenerateOptions{Accounts: 45, Users: 1, Seed: 7})})
	ctx := context.Background()
	for _, tt := range []struct {
		name       string
		maxResults int32
		wantPages  int
	}{
		{"default page size 20", 0, 3},
		{"MaxResults 1", 1, 45},
		{"MaxResults 20", 20, 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := &organizations.ListAccountsInput{}
			if tt.maxResults > 0 {
				in.MaxResults = aws.Int32(tt.maxResults)
			}
			var ids []string
			pages := 0
			for p := organizations.NewListAccountsPaginator(ts.org(), in); p.HasMorePages(); {
				out, err := p.NextPage(ctx)
				if err != nil {
					t.Fatal(err)
				}
				pages++
				for _, a := range out.Accounts {
					ids = append(ids, *a.Id)
					if a.Status != types.AccountStatusActive || a.State != types.AccountStateActive || a.JoinedTimestamp == nil {
						t.Errorf("account %s: Status %s State %s Joined %v, want ACTIVE ACTIVE and a time", *a.Id, a.Status, a.State, a.JoinedTimestamp)
					}
				}
			}
			if pages != tt.wantPages {
				t.Errorf("ListAccounts(MaxResults %d) took %d pages, want %d", tt.maxResults, pages, tt.wantPages)
			}
			diff(t, "account ids", ids, ts.AccountIDs())
		})
	}
	_, err := ts.org().ListAccounts(ctx, &organizations.ListAccountsInput{MaxResults: aws.Int32(21)})
	if code, _ := apiErr(t, err); code != "InvalidInputException" {
		t.Errorf("ListAccounts(MaxResults 21): %s, want InvalidInputException", code)
	}
}

func TestOrganizationStructure(t *testing.T) {
	ts := newTestSandbox(t, Options{})
	ctx := context.Background()
	client := ts.org()

	org, err := client.DescribeOrganization(ctx, &organizations.DescribeOrganizationInput{})
	if err != nil {
		t.Fatal(err)
	}
	if *org.Organization.MasterAccountId != "111111111111" || !regexp.MustCompile(`^o-[a-z0-9]{10}$`).MatchString(*org.Organization.Id) {
		t.Errorf("DescribeOrganization = %s %s, want o-... and 111111111111", *org.Organization.Id, *org.Organization.MasterAccountId)
	}
	roots, err := client.ListRoots(ctx, &organizations.ListRootsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(roots.Roots) != 1 || !regexp.MustCompile(`^r-[a-z0-9]{4}$`).MatchString(*roots.Roots[0].Id) {
		t.Fatalf("ListRoots = %+v, want one r-xxxx", roots.Roots)
	}
	rootID := *roots.Roots[0].Id

	// tree walks the organization with ListChildren and ListOrganizationalUnitsForParent,
	// returning "OU path: account ids".
	tree := map[string][]string{}
	var walk func(parent, path string)
	walk = func(parent, path string) {
		accts, err := client.ListChildren(ctx, &organizations.ListChildrenInput{ParentId: aws.String(parent), ChildType: types.ChildTypeAccount})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range accts.Children {
			tree[path] = append(tree[path], *c.Id)
		}
		forParent, err := client.ListAccountsForParent(ctx, &organizations.ListAccountsForParentInput{ParentId: aws.String(parent)})
		if err != nil {
			t.Fatal(err)
		}
		if len(forParent.Accounts) != len(accts.Children) {
			t.Errorf("%s: ListAccountsForParent = %d accounts, ListChildren = %d", path, len(forParent.Accounts), len(accts.Children))
		}
		ous, err := client.ListOrganizationalUnitsForParent(ctx, &organizations.ListOrganizationalUnitsForParentInput{ParentId: aws.String(parent)})
		if err != nil {
			t.Fatal(err)
		}
		children, err := client.ListChildren(ctx, &organizations.ListChildrenInput{ParentId: aws.String(parent), ChildType: types.ChildTypeOrganizationalUnit})
		if err != nil {
			t.Fatal(err)
		}
		if len(children.Children) != len(ous.OrganizationalUnits) {
			t.Errorf("%s: %d OU children, %d OUs", path, len(children.Children), len(ous.OrganizationalUnits))
		}
		for _, ou := range ous.OrganizationalUnits {
			if !regexp.MustCompile(`^ou-` + rootID[2:] + `-[a-z0-9]{8}$`).MatchString(*ou.Id) {
				t.Errorf("OU id %s, want ou-%s-xxxxxxxx", *ou.Id, rootID[2:])
			}
			walk(*ou.Id, path+"/"+*ou.Name)
		}
	}
	walk(rootID, "")
	for _, ids := range tree {
		sort.Strings(ids)
	}
	diff(t, "organization tree", tree, map[string][]string{
		"":                {"111111111111"},
		"/Workloads/Prod": {"222222222222", "444444444444"},
		"/Workloads/Dev":  {"333333333333"},
		"/Sandbox":        {"555555555555"},
	})

	_, err = client.ListChildren(ctx, &organizations.ListChildrenInput{ParentId: aws.String("ou-zzzz-zzzzzzzz"), ChildType: types.ChildTypeAccount})
	if code, _ := apiErr(t, err); code != "ParentNotFoundException" {
		t.Errorf("ListChildren(unknown parent): %s, want ParentNotFoundException", code)
	}

	accts, err := client.ListAccounts(ctx, &organizations.ListAccountsInput{})
	if err != nil {
		t.Fatal(err)
	}
	status := map[string]types.AccountStatus{}
	for _, a := range accts.Accounts {
		status[*a.Id] = a.Status
	}
	if status["555555555555"] != types.AccountStatusSuspended || status["222222222222"] != types.AccountStatusActive {
		t.Errorf("account status = %v, want 555555555555 SUSPENDED and the others ACTIVE", status)
	}
}
