package sandbox

import (
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/keyage/keyage/internal/sandbox/cfn"
)

// The CloudFormation registry as far as preflight checks need it: DescribeType of a resource
// type, and the resource types a region does not offer (the fixture's
// regions.<name>.unavailableResourceTypes). Every other AWS::Service::Resource type is found; a
// template using a type its region lacks is refused as AWS refuses it, with "Unrecognized
// resource types", and the instance of a StackSet in that region fails with that reason.

var (
	regionPattern       = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d$`)
	resourceTypePattern = regexp.MustCompile(`^AWS::[A-Za-z0-9]+::[A-Za-z0-9]+$`)
)

func sortedRegionNames(m map[string]FixtureRegion) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// unavailableTypes indexes a fixture's regions: region -> resource type.
func unavailableTypes(regions map[string]FixtureRegion) map[string]map[string]bool {
	out := map[string]map[string]bool{}
	for region, r := range regions {
		for _, typ := range r.UnavailableResourceTypes {
			if out[region] == nil {
				out[region] = map[string]bool{}
			}
			out[region][typ] = true
		}
	}
	return out
}

// offered reports whether region offers a resource type. cf.unavailable is fixed by New.
func (cf *cloudFormation) offered(region, typ string) bool { return !cf.unavailable[region][typ] }

// checkRegion refuses a template that uses resource types its region does not offer.
func (cf *cloudFormation) checkRegion(t *cfn.Template, region string) error {
	var missing []string
	for _, r := range t.Resources {
		if !cf.offered(region, r.Type) && !slices.Contains(missing, r.Type) {
			missing = append(missing, r.Type)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	sort.Strings(missing)
	return cfnValidation("Template format error: Unrecognized resource types: [" + strings.Join(missing, ", ") + "]")
}

func typeNotFound(name string) *apiError {
	return newError(http.StatusNotFound, "TypeNotFoundException", "The type '"+name+"' cannot be found.")
}

func (cf *cloudFormation) describeType(c *call) (any, error) {
	typ, name, arn := c.form.Get("Type"), c.form.Get("TypeName"), c.form.Get("Arn")
	if name == "" && arn == "" {
		return nil, cfnValidation("Either TypeName and Type or Arn must be specified")
	}
	if name == "" {
		// arn:aws:cloudformation:<region>::type/resource/AWS-Service-Resource
		i := strings.LastIndex(arn, "/")
		name, typ = strings.ReplaceAll(arn[i+1:], "-", "::"), "RESOURCE"
	}
	if typ == "" {
		typ = "RESOURCE"
	}
	if typ != "RESOURCE" || !resourceTypePattern.MatchString(name) || !cf.offered(c.region, name) {
		return nil, typeNotFound(name)
	}
	typeARN := "arn:aws:cloudformation:" + c.region + "::type/resource/" + strings.ReplaceAll(name, "::", "-")
	return xmlResult(func(x *xmlWriter) {
		x.elem("Arn", typeARN)
		x.elem("Type", "RESOURCE")
		x.elem("TypeName", name)
		x.elem("DefaultVersionId", "00000001")
		x.boolElem("IsDefaultVersion", true)
		x.elem("Description", name+" (the sandbox answers every resource type its region offers)")
		x.elem("Schema", `{"typeName":"`+name+`"}`)
		x.elem("ProvisioningType", "FULLY_MUTABLE")
		x.elem("DeprecatedStatus", "LIVE")
		x.elem("Visibility", "PUBLIC")
	}), nil
}
