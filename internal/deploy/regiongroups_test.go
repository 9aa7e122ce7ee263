package deploy

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRegionGroups(t *testing.T) {
	for _, tt := range []struct {
		name     string
		byRegion map[string][]string
		want     []regionGroup
	}{
		{"none", map[string][]string{}, []regionGroup{}},
		{"regions wanting the same targets share a call", map[string][]string{
			"us-west-2": {"222222222222", "111111111111"},
			"us-east-1": {"111111111111", "222222222222"},
		}, []regionGroup{{targets: []string{"111111111111", "222222222222"}, regions: []string{"us-east-1", "us-west-2"}}}},
		{"different targets, sorted by targets", map[string][]string{
			"eu-west-1": {"333333333333"},
			"us-east-1": {"111111111111"},
			"us-west-2": {"111111111111", "333333333333"},
		}, []regionGroup{
			{targets: []string{"111111111111"}, regions: []string{"us-east-1"}},
			{targets: []string{"111111111111", "333333333333"}, regions: []string{"us-west-2"}},
			{targets: []string{"333333333333"}, regions: []string{"eu-west-1"}},
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := regionGroups(tt.byRegion)
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(regionGroup{})); diff != "" {
				t.Errorf("regionGroups(%v) (-want +got):\n%s", tt.byRegion, diff)
			}
		})
	}
}
