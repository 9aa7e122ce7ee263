package sandbox

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// CloudFormation templates: YAML (with the short-form intrinsic tags !Ref, !Sub, !GetAtt, ...)
// or JSON, parsed into generic values; parameters resolved against their declarations; the
// intrinsic functions evaluated when a resource is provisioned. Template format errors are found
// before anything is created and are reported with AWS's messages (a ValidationError of the
// calling API, as AWS does); what only a resource can find fails that resource.

// cfnTemplate is a parsed template.
type cfnTemplate struct {
	description string
	params      map[string]*cfnParamDecl
	paramOrder  []string
	mappings    map[string]any
	conditions  map[string]any
	resources   map[string]*cfnResourceDecl
	outputs     map[string]*cfnOutputDecl
}

type cfnParamDecl struct {
	name, typ, description string
	def                    *string
	allowedValues          []string
	allowedPattern         string
	minValue, maxValue     *float64
	minLength, maxLength   *int
	noEcho                 bool
}

type cfnResourceDecl struct {
	logical, typ string
	condition    string
	dependsOn    []string
	props        map[string]any
	deletion     string // DeletionPolicy
}

type cfnOutputDecl struct {
	name, condition string
	value           any
	description     string
}

// intrinsic tags of the YAML short form and their long names.
var shortForms = map[string]string{
	"!Ref": "Ref", "!Condition": "Condition",
	"!Sub": "Fn::Sub", "!GetAtt": "Fn::GetAtt", "!Join": "Fn::Join", "!Split": "Fn::Split",
	"!Select": "Fn::Select", "!If": "Fn::If", "!Equals": "Fn::Equals", "!Not": "Fn::Not",
	"!And": "Fn::And", "!Or": "Fn::Or", "!FindInMap": "Fn::FindInMap", "!Base64": "Fn::Base64",
	"!GetAZs": "Fn::GetAZs", "!ImportValue": "Fn::ImportValue", "!Cidr": "Fn::Cidr",
}

func templateError(format string, args ...any) *apiError {
	return cfnValidation("Template format error: " + fmt.Sprintf(format, args...))
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

// parseTemplate parses and checks a template body.
func parseTemplate(body string) (*cfnTemplate, error) {
	if strings.TrimSpace(body) == "" {
		return nil, cfnValidation("Either Template URL or Template Body must be specified.")
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
		return nil, cfnValidation("The sandbox does not process template transforms (Transform)")
	}
	t := &cfnTemplate{params: map[string]*cfnParamDecl{}, conditions: map[string]any{},
		resources: map[string]*cfnResourceDecl{}, outputs: map[string]*cfnOutputDecl{}}
	t.description, _ = doc["Description"].(string)
	if m, ok := doc["Mappings"].(map[string]any); ok {
		t.mappings = m
	}
	if m, ok := doc["Conditions"].(map[string]any); ok {
		t.conditions = m
	}
	params, _ := doc["Parameters"].(map[string]any)
	for name, v := range params {
		pm, ok := v.(map[string]any)
		if !ok {
			return nil, templateError("Parameter %s must be an object", name)
		}
		p := &cfnParamDecl{name: name}
		p.typ, _ = pm["Type"].(string)
		if p.typ == "" {
			return nil, templateError("Every Parameters object must contain a Type member.")
		}
		p.description, _ = pm["Description"].(string)
		if d, ok := pm["Default"]; ok {
			s := scalarString(d)
			p.def = &s
		}
		for _, a := range asList(pm["AllowedValues"]) {
			p.allowedValues = append(p.allowedValues, scalarString(a))
		}
		p.allowedPattern, _ = pm["AllowedPattern"].(string)
		p.minValue, p.maxValue = floatPtr(pm["MinValue"]), floatPtr(pm["MaxValue"])
		p.minLength, p.maxLength = intPtr(pm["MinLength"]), intPtr(pm["MaxLength"])
		p.noEcho = scalarString(pm["NoEcho"]) == "true"
		t.params[name] = p
		t.paramOrder = append(t.paramOrder, name)
	}
	sort.Strings(t.paramOrder)

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
		r := &cfnResourceDecl{logical: name}
		r.typ, _ = rm["Type"].(string)
		if r.typ == "" {
			return nil, templateError("[/Resources/%s] Every Resources object must contain a Type member.", name)
		}
		if !strings.HasPrefix(r.typ, "AWS::") && !strings.HasPrefix(r.typ, "Custom::") && r.typ != "AWS::CloudFormation::CustomResource" {
			unrecognized = append(unrecognized, r.typ)
		}
		r.condition, _ = rm["Condition"].(string)
		switch d := rm["DependsOn"].(type) {
		case string:
			r.dependsOn = []string{d}
		case []any:
			for _, x := range d {
				r.dependsOn = append(r.dependsOn, scalarString(x))
			}
		}
		r.props, _ = rm["Properties"].(map[string]any)
		if r.props == nil {
			r.props = map[string]any{}
		}
		r.deletion, _ = rm["DeletionPolicy"].(string)
		t.resources[name] = r
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
		o := &cfnOutputDecl{name: name, value: om["Value"]}
		o.condition, _ = om["Condition"].(string)
		o.description, _ = om["Description"].(string)
		if o.value == nil {
			return nil, templateError("Every Outputs member must contain a Value object")
		}
		t.outputs[name] = o
	}
	return t, t.check()
}

// check finds unresolved references before anything is created, as AWS does.
func (t *cfnTemplate) check() error {
	var missing []string
	seen := map[string]bool{}
	ref := func(name string) {
		if t.params[name] == nil && t.resources[name] == nil && !isPseudo(name) && !seen[name] {
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
					l := asList(ga)
					if len(l) == 2 {
						res := scalarString(l[0])
						if t.resources[res] == nil && getAttErr == nil {
							getAttErr = cfnValidation("Template error: instance of Fn::GetAtt references undefined resource " + res)
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
						if hasAttr && t.resources[res] != nil {
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
					l := asList(ifv)
					if len(l) == 3 {
						if c := scalarString(l[0]); t.conditions[c] == nil && condErr == nil {
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
	names := make([]string, 0, len(t.resources))
	for n := range t.resources {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		r := t.resources[n]
		walk(r.props)
		for _, d := range r.dependsOn {
			if t.resources[d] == nil && !seen[d] {
				seen[d] = true
				missing = append(missing, d)
			}
		}
		if r.condition != "" && t.conditions[r.condition] == nil {
			return templateError("Unresolved dependencies [%s]. Cannot reference resources in the Conditions block of the template", r.condition)
		}
	}
	for _, c := range t.conditions {
		walk(c)
	}
	for _, o := range t.outputs {
		walk(o.value)
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
	if _, err := t.order(); err != nil {
		return err
	}
	return nil
}

// deps returns the resources r refers to (Ref, Fn::GetAtt, Fn::Sub, DependsOn).
func (t *cfnTemplate) deps(r *cfnResourceDecl) []string {
	set := map[string]bool{}
	for _, d := range r.dependsOn {
		set[d] = true
	}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if r, ok := x["Ref"].(string); ok && t.resources[r] != nil {
				set[r] = true
			}
			if ga, ok := x["Fn::GetAtt"]; ok {
				if l := asList(ga); len(l) == 2 && t.resources[scalarString(l[0])] != nil {
					set[scalarString(l[0])] = true
				}
			}
			if sub, ok := x["Fn::Sub"]; ok {
				str, _ := subParts(sub)
				for _, name := range subRefs(str) {
					res, _, _ := strings.Cut(name, ".")
					if t.resources[res] != nil {
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
	walk(r.props)
	out := make([]string, 0, len(set))
	for d := range set {
		out = append(out, d)
	}
	sort.Strings(out)
	return out
}

// order sorts the resources so that every resource comes after those it depends on (by name
// among independent ones, so that runs are reproducible).
func (t *cfnTemplate) order() ([]string, error) {
	names := make([]string, 0, len(t.resources))
	for n := range t.resources {
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
		for _, d := range t.deps(t.resources[n]) {
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

// requiresIAM returns the capability the template needs: CAPABILITY_NAMED_IAM when an IAM
// resource has a custom name, CAPABILITY_IAM for other IAM resources, "" otherwise.
func (t *cfnTemplate) requiresIAM() string {
	need := ""
	for _, r := range t.resources {
		if !strings.HasPrefix(r.typ, "AWS::IAM::") {
			continue
		}
		switch r.typ {
		case "AWS::IAM::Role":
			if _, named := r.props["RoleName"]; named {
				return "CAPABILITY_NAMED_IAM"
			}
		case "AWS::IAM::User", "AWS::IAM::Group", "AWS::IAM::ManagedPolicy", "AWS::IAM::InstanceProfile":
			for _, k := range []string{"UserName", "GroupName", "ManagedPolicyName", "InstanceProfileName"} {
				if _, named := r.props[k]; named {
					return "CAPABILITY_NAMED_IAM"
				}
			}
		}
		need = "CAPABILITY_IAM"
	}
	return need
}

// resolveParams checks the given parameter values against the declarations and fills in
// defaults. previous holds the values of the stack being updated (UsePreviousValue).
func (t *cfnTemplate) resolveParams(given []cfnParam, previous map[string]string) (map[string]string, error) {
	out := map[string]string{}
	var extra []string
	for _, p := range given {
		if t.params[p.key] == nil {
			extra = append(extra, p.key)
			continue
		}
		if p.usePrevious {
			v, ok := previous[p.key]
			if !ok {
				return nil, cfnValidation("Invalid input for parameter key " + p.key + ". Cannot specify usePreviousValue as true for a parameter key not in the previous template")
			}
			out[p.key] = v
			continue
		}
		out[p.key] = p.value
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		return nil, cfnValidation("Parameters: [" + strings.Join(extra, ", ") + "] do not exist in the template")
	}
	var missing []string
	for _, name := range t.paramOrder {
		d := t.params[name]
		if _, ok := out[name]; !ok {
			if d.def == nil {
				missing = append(missing, name)
				continue
			}
			out[name] = *d.def
		}
	}
	if len(missing) > 0 {
		return nil, cfnValidation("Parameters: [" + strings.Join(missing, ", ") + "] must have values")
	}
	for _, name := range t.paramOrder {
		if err := t.params[name].check(out[name]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (d *cfnParamDecl) check(v string) error {
	if len(d.allowedValues) > 0 {
		ok := false
		for _, a := range d.allowedValues {
			ok = ok || a == v
		}
		if !ok {
			return cfnValidation("Parameter '" + d.name + "' must be one of AllowedValues")
		}
	}
	if d.allowedPattern != "" && !strings.HasPrefix(d.typ, "List<") && d.typ != "CommaDelimitedList" {
		re, err := regexp.Compile("^(?:" + d.allowedPattern + ")$")
		if err == nil && !re.MatchString(v) {
			return cfnValidation("Parameter '" + d.name + "' must match pattern " + d.allowedPattern)
		}
	}
	if d.minLength != nil && len(v) < *d.minLength {
		return cfnValidation(fmt.Sprintf("Parameter '%s' must contain at least %d characters", d.name, *d.minLength))
	}
	if d.maxLength != nil && len(v) > *d.maxLength {
		return cfnValidation(fmt.Sprintf("Parameter '%s' must contain at most %d characters", d.name, *d.maxLength))
	}
	if d.typ == "Number" {
		n, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return cfnValidation("Parameter '" + d.name + "' must be a number")
		}
		if d.minValue != nil && n < *d.minValue {
			return cfnValidation(fmt.Sprintf("Parameter '%s' must be a number not less than %v", d.name, *d.minValue))
		}
		if d.maxValue != nil && n > *d.maxValue {
			return cfnValidation(fmt.Sprintf("Parameter '%s' must be a number not greater than %v", d.name, *d.maxValue))
		}
	}
	return nil
}

// value returns the parameter's value as Ref sees it: a list for list types.
func (d *cfnParamDecl) value(v string) any {
	if d.typ == "CommaDelimitedList" || strings.HasPrefix(d.typ, "List<") {
		parts := strings.Split(v, ",")
		l := make([]any, len(parts))
		for i, p := range parts {
			l[i] = strings.TrimSpace(p)
		}
		return l
	}
	return v
}

func isPseudo(name string) bool {
	switch name {
	case "AWS::AccountId", "AWS::Region", "AWS::StackName", "AWS::StackId", "AWS::Partition",
		"AWS::URLSuffix", "AWS::NoValue", "AWS::NotificationARNs":
		return true
	}
	return false
}

// noValue is AWS::NoValue: the property or list element holding it is removed.
type noValueT struct{}

var noValue = noValueT{}

// evaluator evaluates intrinsic functions for one stack.
type evaluator struct {
	t          *cfnTemplate
	params     map[string]string
	pseudo     map[string]string
	conditions map[string]bool
	// ref and getAtt answer for resources already provisioned (ok false: not yet).
	ref    func(logical string) (string, bool)
	getAtt func(logical, attr string) (string, error)
}

// evalConditions evaluates every condition of the template.
func (e *evaluator) evalConditions() error {
	e.conditions = map[string]bool{}
	var eval func(name string, depth int) (bool, error)
	eval = func(name string, depth int) (bool, error) {
		if b, ok := e.conditions[name]; ok {
			return b, nil
		}
		if depth > 50 {
			return false, templateError("Circular dependency between conditions")
		}
		def, ok := e.t.conditions[name]
		if !ok {
			return false, templateError("Unresolved condition dependency %s", name)
		}
		b, err := e.condition(def, func(n string) (bool, error) { return eval(n, depth+1) })
		if err != nil {
			return false, err
		}
		e.conditions[name] = b
		return b, nil
	}
	for name := range e.t.conditions {
		if _, err := eval(name, 0); err != nil {
			return err
		}
	}
	return nil
}

func (e *evaluator) condition(v any, named func(string) (bool, error)) (bool, error) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return false, templateError("Conditions can only be boolean operations on parameters and other conditions")
	}
	for fn, arg := range m {
		args := asList(arg)
		switch fn {
		case "Condition":
			return named(scalarString(arg))
		case "Fn::Equals":
			if len(args) != 2 {
				return false, templateError("Fn::Equals requires a list of two values")
			}
			a, err := e.eval(args[0])
			if err != nil {
				return false, err
			}
			b, err := e.eval(args[1])
			if err != nil {
				return false, err
			}
			return scalarString(a) == scalarString(b), nil
		case "Fn::Not", "Fn::And", "Fn::Or":
			var vals []bool
			for _, a := range args {
				b, err := e.condition(a, named)
				if err != nil {
					return false, err
				}
				vals = append(vals, b)
			}
			switch fn {
			case "Fn::Not":
				if len(vals) != 1 {
					return false, templateError("Fn::Not requires a list of one condition")
				}
				return !vals[0], nil
			case "Fn::And":
				for _, b := range vals {
					if !b {
						return false, nil
					}
				}
				return true, nil
			default:
				for _, b := range vals {
					if b {
						return true, nil
					}
				}
				return false, nil
			}
		}
	}
	return false, templateError("Conditions can only be boolean operations on parameters and other conditions")
}

// eval evaluates the intrinsic functions in v.
func (e *evaluator) eval(v any) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 1 {
			for fn, arg := range x {
				if fn == "Ref" || strings.HasPrefix(fn, "Fn::") {
					return e.fn(fn, arg)
				}
			}
		}
		out := make(map[string]any, len(x))
		for k, v := range x {
			r, err := e.eval(v)
			if err != nil {
				return nil, err
			}
			if r != noValue {
				out[k] = r
			}
		}
		return out, nil
	case []any:
		out := make([]any, 0, len(x))
		for _, v := range x {
			r, err := e.eval(v)
			if err != nil {
				return nil, err
			}
			if r != noValue {
				out = append(out, r)
			}
		}
		return out, nil
	}
	return v, nil
}

func (e *evaluator) refValue(name string) (any, error) {
	if name == "AWS::NoValue" {
		return noValue, nil
	}
	if v, ok := e.pseudo[name]; ok {
		return v, nil
	}
	if name == "AWS::NotificationARNs" {
		return []any{}, nil
	}
	if d := e.t.params[name]; d != nil {
		return d.value(e.params[name]), nil
	}
	if e.t.resources[name] != nil {
		if v, ok := e.ref(name); ok {
			return v, nil
		}
		return nil, fmt.Errorf("resource %s is not available", name)
	}
	return nil, templateError("Unresolved resource dependencies [%s] in the Resources block of the template", name)
}

func (e *evaluator) fn(fn string, arg any) (any, error) {
	switch fn {
	case "Ref":
		return e.refValue(scalarString(arg))
	case "Fn::GetAtt":
		l := asList(arg)
		if len(l) != 2 {
			return nil, templateError("Template error: every Fn::GetAtt object requires two non-empty parameters")
		}
		attr, err := e.eval(l[1])
		if err != nil {
			return nil, err
		}
		return e.getAtt(scalarString(l[0]), scalarString(attr))
	case "Fn::Sub":
		str, vars := subParts(arg)
		local := map[string]string{}
		for k, v := range vars {
			r, err := e.eval(v)
			if err != nil {
				return nil, err
			}
			local[k] = scalarString(r)
		}
		var firstErr error
		out := subPattern.ReplaceAllStringFunc(str, func(m string) string {
			name := m[2 : len(m)-1]
			if strings.HasPrefix(name, "!") {
				return "${" + name[1:] + "}"
			}
			if v, ok := local[name]; ok {
				return v
			}
			if res, attr, ok := strings.Cut(name, "."); ok && e.t.resources[res] != nil {
				v, err := e.getAtt(res, attr)
				if err != nil && firstErr == nil {
					firstErr = err
				}
				return v
			}
			v, err := e.refValue(name)
			if err != nil && firstErr == nil {
				firstErr = err
			}
			if l, ok := v.([]any); ok {
				return joinScalars(",", l)
			}
			return scalarString(v)
		})
		return out, firstErr
	case "Fn::Join":
		l := asList(arg)
		if len(l) != 2 {
			return nil, templateError("Template error: every Fn::Join object requires two parameters, (1) a string delimiter and (2) a list of strings to be joined")
		}
		items, err := e.eval(l[1])
		if err != nil {
			return nil, err
		}
		return joinScalars(scalarString(l[0]), asList(items)), nil
	case "Fn::Split":
		l := asList(arg)
		if len(l) != 2 {
			return nil, templateError("Template error: every Fn::Split object requires two parameters")
		}
		s, err := e.eval(l[1])
		if err != nil {
			return nil, err
		}
		parts := strings.Split(scalarString(s), scalarString(l[0]))
		out := make([]any, len(parts))
		for i, p := range parts {
			out[i] = p
		}
		return out, nil
	case "Fn::Select":
		l := asList(arg)
		if len(l) != 2 {
			return nil, templateError("Template error: Fn::Select requires a list argument with two elements")
		}
		idx, err := e.eval(l[0])
		if err != nil {
			return nil, err
		}
		list, err := e.eval(l[1])
		if err != nil {
			return nil, err
		}
		i, err := strconv.Atoi(scalarString(idx))
		items := asList(list)
		if err != nil || i < 0 || i >= len(items) {
			return nil, templateError("Template error: Fn::Select cannot select nonexistent value at index %s", scalarString(idx))
		}
		return items[i], nil
	case "Fn::If":
		l := asList(arg)
		if len(l) != 3 {
			return nil, templateError("Template error: Fn::If requires a list argument with three elements")
		}
		b, ok := e.conditions[scalarString(l[0])]
		if !ok {
			return nil, templateError("Unresolved condition dependency %s in Fn::If", scalarString(l[0]))
		}
		if b {
			return e.eval(l[1])
		}
		return e.eval(l[2])
	case "Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or":
		return e.condition(map[string]any{fn: arg}, func(n string) (bool, error) { return e.conditions[n], nil })
	case "Fn::Base64":
		s, err := e.eval(arg)
		if err != nil {
			return nil, err
		}
		return base64.StdEncoding.EncodeToString([]byte(scalarString(s))), nil
	case "Fn::FindInMap":
		l := asList(arg)
		if len(l) != 3 {
			return nil, templateError("Template error: every Fn::FindInMap object requires three parameters")
		}
		var keys [3]string
		for i := range l {
			r, err := e.eval(l[i])
			if err != nil {
				return nil, err
			}
			keys[i] = scalarString(r)
		}
		m1, _ := e.t.mappings[keys[0]].(map[string]any)
		m2, _ := m1[keys[1]].(map[string]any)
		v, ok := m2[keys[2]]
		if !ok {
			return nil, templateError("Template error: Unable to get mapping for %s::%s::%s", keys[0], keys[1], keys[2])
		}
		return v, nil
	case "Fn::GetAZs":
		r := e.pseudo["AWS::Region"]
		return []any{r + "a", r + "b", r + "c"}, nil
	}
	return nil, templateError("Template error: the sandbox does not support the intrinsic function %s", fn)
}

var subPattern = regexp.MustCompile(`\$\{[^}]+\}`)

// subParts splits an Fn::Sub argument into its string and variable map.
func subParts(arg any) (string, map[string]any) {
	if l, ok := arg.([]any); ok && len(l) == 2 {
		vars, _ := l[1].(map[string]any)
		return scalarString(l[0]), vars
	}
	return scalarString(arg), nil
}

// subRefs returns the names in ${...} of an Fn::Sub string, except ${!Literal}.
func subRefs(s string) []string {
	var out []string
	for _, m := range subPattern.FindAllString(s, -1) {
		name := m[2 : len(m)-1]
		if !strings.HasPrefix(name, "!") {
			out = append(out, name)
		}
	}
	return out
}

func joinScalars(sep string, l []any) string {
	parts := make([]string, len(l))
	for i, v := range l {
		parts[i] = scalarString(v)
	}
	return strings.Join(parts, sep)
}

// scalarString renders a scalar as CloudFormation passes it on: strings as they are, numbers and
// booleans in their text form, anything else as JSON.
func scalarString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case int:
		return strconv.Itoa(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func asList(v any) []any {
	switch x := v.(type) {
	case []any:
		return x
	case nil:
		return nil
	}
	return []any{v}
}

func floatPtr(v any) *float64 {
	if v == nil {
		return nil
	}
	f, err := strconv.ParseFloat(scalarString(v), 64)
	if err != nil {
		return nil
	}
	return &f
}

func intPtr(v any) *int {
	if v == nil {
		return nil
	}
	n, err := strconv.Atoi(scalarString(v))
	if err != nil {
		return nil
	}
	return &n
}

// propsEqual compares resolved properties.
func propsEqual(a, b map[string]any) bool { return reflect.DeepEqual(a, b) }
