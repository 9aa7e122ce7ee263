package cfn

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Template is a parsed template. Its values are generic (maps, lists, strings, booleans), the
// short-form intrinsic tags turned into their long form.
type Template struct {
	Description string
	Params      map[string]*ParamDecl
	ParamOrder  []string // parameter names, sorted
	Mappings    map[string]any
	Conditions  map[string]any
	Resources   map[string]*Resource
	Outputs     map[string]*Output
}

// ParamDecl is a parameter's declaration.
type ParamDecl struct {
	Name, Type, Description string
	Default                 *string
	NoEcho                  bool
	allowedValues           []string
	allowedPattern          string
	minValue, maxValue      *float64
	minLength, maxLength    *int
}

// Resource is a resource's declaration, its properties not evaluated.
type Resource struct {
	Logical, Type  string
	Condition      string
	DependsOn      []string
	Props          map[string]any
	DeletionPolicy string
}

// Output is an output's declaration, its value not evaluated.
type Output struct {
	Name, Condition string
	Value           any
	Description     string
}

// Param is a parameter value given to a stack operation.
type Param struct {
	Key, Value  string
	UsePrevious bool // UsePreviousValue: the value the stack has
}

// intrinsic tags of the YAML short form and their long names.
var shortForms = map[string]string{
	"!Ref": "Ref", "!Condition": "Condition",
	"!Sub": "Fn::Sub", "!GetAtt": "Fn::GetAtt", "!Join": "Fn::Join", "!Split": "Fn::Split",
	"!Select": "Fn::Select", "!If": "Fn::If", "!Equals": "Fn::Equals", "!Not": "Fn::Not",
	"!And": "Fn::And", "!Or": "Fn::Or", "!FindInMap": "Fn::FindInMap", "!Base64": "Fn::Base64",
	"!GetAZs": "Fn::GetAZs", "!ImportValue": "Fn::ImportValue", "!Cidr": "Fn::Cidr",
}

func templateError(format string, args ...any) *ValidationError {
	return validation("Template format error: " + fmt.Sprintf(format, args...))
}

// nodeValue turns a YAML node into generic values, short-form tags into their long form.
func nodeValue(n *yaml.Node) (any, error) {
	var v any
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return nodeValue(n.Content[0])
	case yaml.AliasNode:
		return nodeValue(n.Alias)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			val, err := nodeValue(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m[n.Content[i].Value] = val
		}
		v = m
	case yaml.SequenceNode:
		l := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			val, err := nodeValue(c)
			if err != nil {
				return nil, err
			}
			l = append(l, val)
		}
		v = l
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			v = nil
		case "!!bool":
			b, _ := strconv.ParseBool(n.Value)
			v = b
		case "!!int", "!!float":
			v = n.Value // CloudFormation passes numbers to resources as written
		default:
			v = n.Value
		}
	}
	if long, ok := shortForms[n.Tag]; ok {
		if n.Tag == "!GetAtt" {
			if s, ok := v.(string); ok {
				res, attr, _ := strings.Cut(s, ".")
				v = []any{res, attr}
			}
		}
		return map[string]any{long: v}, nil
	}
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		return nil, fmt.Errorf("unknown tag %s at line %d", n.Tag, n.Line)
	}
	return v, nil
}

// Parse parses and checks a template body.
func Parse(body string) (*Template, error) {
	if strings.TrimSpace(body) == "" {
		return nil, validation("Either Template URL or Template Body must be specified.")
	}
	var root yaml.Node
	if err := yaml.Unmarshal([]byte(body), &root); err != nil {
		return nil, templateError("YAML not well-formed. (%v)", err)
	}
	raw, err := nodeValue(&root)
	if err != nil {
		return nil, templateError("%v", err)
	}
	doc, ok := raw.(map[string]any)
	if !ok {
		return nil, templateError("template is not a JSON or YAML object")
	}
	known := map[string]bool{"AWSTemplateFormatVersion": true, "Description": true, "Metadata": true, "Parameters": true,
		"Rules": true, "Mappings": true, "Conditions": true, "Transform": true, "Resources": true, "Outputs": true}
	var unknown []string
	for k := range doc {
		if !known[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, templateError("Invalid template property or properties [%s]", strings.Join(unknown, ", "))
	}
	if _, ok := doc["Transform"]; ok {
		return nil, validation("The sandbox does not process template transforms (Transform)")
	}
	t := &Template{Params: map[string]*ParamDecl{}, Conditions: map[string]any{},
		Resources: map[string]*Resource{}, Outputs: map[string]*Output{}}
	t.Description, _ = doc["Description"].(string)
	if m, ok := doc["Mappings"].(map[string]any); ok {
		t.Mappings = m
	}
	if m, ok := doc["Conditions"].(map[string]any); ok {
		t.Conditions = m
	}
	params, _ := doc["Parameters"].(map[string]any)
	for name, v := range params {
		pm, ok := v.(map[string]any)
		if !ok {
			return nil, templateError("Parameter %s must be an object", name)
		}
		p := &ParamDecl{Name: name}
		p.Type, _ = pm["Type"].(string)
		if p.Type == "" {
			return nil, templateError("Every Parameters object must contain a Type member.")
		}
		p.Description, _ = pm["Description"].(string)
		if d, ok := pm["Default"]; ok {
			s := ScalarString(d)
			p.Default = &s
		}
		for _, a := range AsList(pm["AllowedValues"]) {
			p.allowedValues = append(p.allowedValues, ScalarString(a))
		}
		p.allowedPattern, _ = pm["AllowedPattern"].(string)
		p.minValue, p.maxValue = floatPtr(pm["MinValue"]), floatPtr(pm["MaxValue"])
		p.minLength, p.maxLength = intPtr(pm["MinLength"]), intPtr(pm["MaxLength"])
		p.NoEcho = ScalarString(pm["NoEcho"]) == "true"
		t.Params[name] = p
		t.ParamOrder = append(t.ParamOrder, name)
	}
	sort.Strings(t.ParamOrder)

	resources, _ := doc["Resources"].(map[string]any)
	if len(resources) == 0 {
		return nil, templateError("At least one Resources member must be defined.")
	}
	var unrecognized []string
	for name, v := range resources {
		rm, ok := v.(map[string]any)
		if !ok {
			return nil, templateError("[/Resources/%s] resource definition is malformed", name)
		}
		r := &Resource{Logical: name}
		r.Type, _ = rm["Type"].(string)
		if r.Type == "" {
			return nil, templateError("[/Resources/%s] Every Resources object must contain a Type member.", name)
		}
		if !strings.HasPrefix(r.Type, "AWS::") && !strings.HasPrefix(r.Type, "Custom::") && r.Type != "AWS::CloudFormation::CustomResource" {
			unrecognized = append(unrecognized, r.Type)
		}
		r.Condition, _ = rm["Condition"].(string)
		switch d := rm["DependsOn"].(type) {
		case string:
			r.DependsOn = []string{d}
		case []any:
			for _, x := range d {
				r.DependsOn = append(r.DependsOn, ScalarString(x))
			}
		}
		r.Props, _ = rm["Properties"].(map[string]any)
		if r.Props == nil {
			r.Props = map[string]any{}
		}
		r.DeletionPolicy, _ = rm["DeletionPolicy"].(string)
		t.Resources[name] = r
	}
	if len(unrecognized) > 0 {
		sort.Strings(unrecognized)
		return nil, templateError("Unrecognized resource types: [%s]", strings.Join(unrecognized, ", "))
	}
	outputs, _ := doc["Outputs"].(map[string]any)
	for name, v := range outputs {
		om, ok := v.(map[string]any)
		if !ok {
			return nil, templateError("[/Outputs/%s] output definition is malformed", name)
		}
		o := &Output{Name: name, Value: om["Value"]}
		o.Condition, _ = om["Condition"].(string)
		o.Description, _ = om["Description"].(string)
		if o.Value == nil {
			return nil, templateError("Every Outputs member must contain a Value object")
		}
		t.Outputs[name] = o
	}
	return t, t.check()
}

// check finds unresolved references before anything is created, as AWS does.
func (t *Template) check() error {
	var missing []string
	seen := map[string]bool{}
	ref := func(name string) {
		if t.Params[name] == nil && t.Resources[name] == nil && !isPseudo(name) && !seen[name] {
			seen[name] = true
			missing = append(missing, name)
		}
	}
	var getAttErr, condErr error
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if len(x) == 1 {
				if r, ok := x["Ref"].(string); ok {
					ref(r)
					return
				}
				if ga, ok := x["Fn::GetAtt"]; ok {
					l := AsList(ga)
					if len(l) == 2 {
						res := ScalarString(l[0])
						if t.Resources[res] == nil && getAttErr == nil {
							getAttErr = validation("Template error: instance of Fn::GetAtt references undefined resource " + res)
						}
					}
					return
				}
				if sub, ok := x["Fn::Sub"]; ok {
					str, vars := subParts(sub)
					for _, name := range subRefs(str) {
						if _, local := vars[name]; local {
							continue
						}
						res, attr, hasAttr := strings.Cut(name, ".")
						if hasAttr && t.Resources[res] != nil {
							_ = attr
							continue
						}
						ref(name)
					}
					for _, v := range vars {
						walk(v)
					}
					return
				}
				if ifv, ok := x["Fn::If"]; ok {
					l := AsList(ifv)
					if len(l) == 3 {
						if c := ScalarString(l[0]); t.Conditions[c] == nil && condErr == nil {
							condErr = templateError("Unresolved condition dependency %s in Fn::If", c)
						}
					}
				}
			}
			for _, v := range x {
				walk(v)
			}
		case []any:
			for _, v := range x {
				walk(v)
			}
		}
	}
	names := make([]string, 0, len(t.Resources))
	for n := range t.Resources {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		r := t.Resources[n]
		walk(r.Props)
		for _, d := range r.DependsOn {
			if t.Resources[d] == nil && !seen[d] {
				seen[d] = true
				missing = append(missing, d)
			}
		}
		if r.Condition != "" && t.Conditions[r.Condition] == nil {
			return templateError("Unresolved dependencies [%s]. Cannot reference resources in the Conditions block of the template", r.Condition)
		}
	}
	for _, c := range t.Conditions {
		walk(c)
	}
	for _, o := range t.Outputs {
		walk(o.Value)
	}
	if len(missing) > 0 {
		return templateError("Unresolved resource dependencies [%s] in the Resources block of the template", strings.Join(missing, ", "))
	}
	if getAttErr != nil {
		return getAttErr
	}
	if condErr != nil {
		return condErr
	}
	if _, err := t.Order(); err != nil {
		return err
	}
	return nil
}

// deps returns the resources r refers to (Ref, Fn::GetAtt, Fn::Sub, DependsOn).
func (t *Template) deps(r *Resource) []string {
	set := map[string]bool{}
	for _, d := range r.DependsOn {
		set[d] = true
	}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if r, ok := x["Ref"].(string); ok && t.Resources[r] != nil {
				set[r] = true
			}
			if ga, ok := x["Fn::GetAtt"]; ok {
				if l := AsList(ga); len(l) == 2 && t.Resources[ScalarString(l[0])] != nil {
					set[ScalarString(l[0])] = true
				}
			}
			if sub, ok := x["Fn::Sub"]; ok {
				str, _ := subParts(sub)
				for _, name := range subRefs(str) {
					res, _, _ := strings.Cut(name, ".")
					if t.Resources[res] != nil {
						set[res] = true
					}
				}
			}
			for _, v := range x {
				walk(v)
			}
		case []any:
			for _, v := range x {
				walk(v)
			}
		}
	}
	walk(r.Props)
	out := make([]string, 0, len(set))
	for d := range set {
		out = append(out, d)
	}
	sort.Strings(out)
	return out
}

// Order sorts the resources so that every resource comes after those it depends on (by name
// among independent ones, so that runs are reproducible).
func (t *Template) Order() ([]string, error) {
	names := make([]string, 0, len(t.Resources))
	for n := range t.Resources {
		names = append(names, n)
	}
	sort.Strings(names)
	state := map[string]int{} // 1 visiting, 2 done
	var out []string
	var visit func(n string, path []string) error
	visit = func(n string, path []string) error {
		switch state[n] {
		case 1:
			return templateError("Circular dependency between resources: [%s]", strings.Join(append(path, n), ", "))
		case 2:
			return nil
		}
		state[n] = 1
		for _, d := range t.deps(t.Resources[n]) {
			if err := visit(d, append(path, n)); err != nil {
				return err
			}
		}
		state[n] = 2
		out = append(out, n)
		return nil
	}
	for _, n := range names {
		if err := visit(n, nil); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// RequiresIAM returns the capability the template needs: CAPABILITY_NAMED_IAM when an IAM
// resource has a custom name, CAPABILITY_IAM for other IAM resources, "" otherwise.
func (t *Template) RequiresIAM() string {
	need := ""
	for _, r := range t.Resources {
		if !strings.HasPrefix(r.Type, "AWS::IAM::") {
			continue
		}
		switch r.Type {
		case "AWS::IAM::Role":
			if _, named := r.Props["RoleName"]; named {
				return "CAPABILITY_NAMED_IAM"
			}
		case "AWS::IAM::User", "AWS::IAM::Group", "AWS::IAM::ManagedPolicy", "AWS::IAM::InstanceProfile":
			for _, k := range []string{"UserName", "GroupName", "ManagedPolicyName", "InstanceProfileName"} {
				if _, named := r.Props[k]; named {
					return "CAPABILITY_NAMED_IAM"
				}
			}
		}
		need = "CAPABILITY_IAM"
	}
	return need
}

// ResolveParams checks the given parameter values against the declarations and fills in
// defaults. previous holds the values of the stack being updated (UsePreviousValue).
func (t *Template) ResolveParams(given []Param, previous map[string]string) (map[string]string, error) {
	out := map[string]string{}
	var extra []string
	for _, p := range given {
		if t.Params[p.Key] == nil {
			extra = append(extra, p.Key)
			continue
		}
		if p.UsePrevious {
			v, ok := previous[p.Key]
			if !ok {
				return nil, validation("Invalid input for parameter key " + p.Key + ". Cannot specify usePreviousValue as true for a parameter key not in the previous template")
			}
			out[p.Key] = v
			continue
		}
		out[p.Key] = p.Value
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		return nil, validation("Parameters: [" + strings.Join(extra, ", ") + "] do not exist in the template")
	}
	var missing []string
	for _, name := range t.ParamOrder {
		d := t.Params[name]
		if _, ok := out[name]; !ok {
			if d.Default == nil {
				missing = append(missing, name)
				continue
			}
			out[name] = *d.Default
		}
	}
	if len(missing) > 0 {
		return nil, validation("Parameters: [" + strings.Join(missing, ", ") + "] must have values")
	}
	for _, name := range t.ParamOrder {
		if err := t.Params[name].check(out[name]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (d *ParamDecl) check(v string) error {
	if len(d.allowedValues) > 0 {
		ok := false
		for _, a := range d.allowedValues {
			ok = ok || a == v
		}
		if !ok {
			return validation("Parameter '" + d.Name + "' must be one of AllowedValues")
		}
	}
	if d.allowedPattern != "" && !strings.HasPrefix(d.Type, "List<") && d.Type != "CommaDelimitedList" {
		re, err := regexp.Compile("^(?:" + d.allowedPattern + ")$")
		if err == nil && !re.MatchString(v) {
			return validation("Parameter '" + d.Name + "' must match pattern " + d.allowedPattern)
		}
	}
	if d.minLength != nil && len(v) < *d.minLength {
		return validation(fmt.Sprintf("Parameter '%s' must contain at least %d characters", d.Name, *d.minLength))
	}
	if d.maxLength != nil && len(v) > *d.maxLength {
		return validation(fmt.Sprintf("Parameter '%s' must contain at most %d characters", d.Name, *d.maxLength))
	}
	if d.Type == "Number" {
		n, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return validation("Parameter '" + d.Name + "' must be a number")
		}
		if d.minValue != nil && n < *d.minValue {
			return validation(fmt.Sprintf("Parameter '%s' must be a number not less than %v", d.Name, *d.minValue))
		}
		if d.maxValue != nil && n > *d.maxValue {
			return validation(fmt.Sprintf("Parameter '%s' must be a number not greater than %v", d.Name, *d.maxValue))
		}
	}
	return nil
}

// value returns the parameter's value as Ref sees it: a list for list types.
func (d *ParamDecl) value(v string) any {
	if d.Type == "CommaDelimitedList" || strings.HasPrefix(d.Type, "List<") {
		parts := strings.Split(v, ",")
		l := make([]any, len(parts))
		for i, p := range parts {
			l[i] = strings.TrimSpace(p)
		}
		return l
	}
	return v
}
