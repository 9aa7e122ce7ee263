package cfn

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

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

// Evaluator evaluates conditions and intrinsic functions for one stack.
type Evaluator struct {
	Template *Template
	Params   map[string]string // resolved parameter values (Template.ResolveParams)
	Pseudo   map[string]string // pseudo parameters: AWS::Region, AWS::AccountId, ...
	// Conditions holds the value of every condition once EvalConditions has run.
	Conditions map[string]bool
	// Ref and GetAtt answer for resources already provisioned (ok false: not yet).
	Ref    func(logical string) (string, bool)
	GetAtt func(logical, attr string) (string, error)
}

// EvalConditions evaluates every condition of the template into Conditions.
func (e *Evaluator) EvalConditions() error {
	e.Conditions = map[string]bool{}
	var eval func(name string, depth int) (bool, error)
	eval = func(name string, depth int) (bool, error) {
		if b, ok := e.Conditions[name]; ok {
			return b, nil
		}
		if depth > 50 {
			return false, templateError("Circular dependency between conditions")
		}
		def, ok := e.Template.Conditions[name]
		if !ok {
			return false, templateError("Unresolved condition dependency %s", name)
		}
		b, err := e.condition(def, func(n string) (bool, error) { return eval(n, depth+1) })
		if err != nil {
			return false, err
		}
		e.Conditions[name] = b
		return b, nil
	}
	for name := range e.Template.Conditions {
		if _, err := eval(name, 0); err != nil {
			return err
		}
	}
	return nil
}

func (e *Evaluator) condition(v any, named func(string) (bool, error)) (bool, error) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return false, templateError("Conditions can only be boolean operations on parameters and other conditions")
	}
	for fn, arg := range m {
		args := AsList(arg)
		switch fn {
		case "Condition":
			return named(ScalarString(arg))
		case "Fn::Equals":
			if len(args) != 2 {
				return false, templateError("Fn::Equals requires a list of two values")
			}
			a, err := e.Eval(args[0])
			if err != nil {
				return false, err
			}
			b, err := e.Eval(args[1])
			if err != nil {
				return false, err
			}
			return ScalarString(a) == ScalarString(b), nil
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

// Eval evaluates the intrinsic functions in v; a property or list element that evaluates to
// AWS::NoValue is removed.
func (e *Evaluator) Eval(v any) (any, error) {
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
			r, err := e.Eval(v)
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
			r, err := e.Eval(v)
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

// Props evaluates a resource's properties.
func (e *Evaluator) Props(r *Resource) (map[string]any, error) {
	v, err := e.Eval(r.Props)
	if err != nil {
		return nil, err
	}
	props, _ := v.(map[string]any)
	if props == nil {
		props = map[string]any{}
	}
	return props, nil
}

// OutputValue is an evaluated output of a stack.
type OutputValue struct{ Key, Value, Description string }

// Outputs evaluates the template's outputs whose condition holds, sorted by name; an output
// that cannot be evaluated is left out. Lists are joined with commas.
func (e *Evaluator) Outputs() []OutputValue {
	names := make([]string, 0, len(e.Template.Outputs))
	for n := range e.Template.Outputs {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []OutputValue
	for _, n := range names {
		o := e.Template.Outputs[n]
		if o.Condition != "" && !e.Conditions[o.Condition] {
			continue
		}
		v, err := e.Eval(o.Value)
		if err != nil {
			continue
		}
		s := ScalarString(v)
		if l, ok := v.([]any); ok {
			s = JoinScalars(",", l)
		}
		out = append(out, OutputValue{Key: n, Value: s, Description: o.Description})
	}
	return out
}

func (e *Evaluator) refValue(name string) (any, error) {
	if name == "AWS::NoValue" {
		return noValue, nil
	}
	if v, ok := e.Pseudo[name]; ok {
		return v, nil
	}
	if name == "AWS::NotificationARNs" {
		return []any{}, nil
	}
	if d := e.Template.Params[name]; d != nil {
		return d.value(e.Params[name]), nil
	}
	if e.Template.Resources[name] != nil {
		if v, ok := e.Ref(name); ok {
			return v, nil
		}
		return nil, fmt.Errorf("resource %s is not available", name)
	}
	return nil, templateError("Unresolved resource dependencies [%s] in the Resources block of the template", name)
}

func (e *Evaluator) fn(fn string, arg any) (any, error) {
	switch fn {
	case "Ref":
		return e.refValue(ScalarString(arg))
	case "Fn::GetAtt":
		l := AsList(arg)
		if len(l) != 2 {
			return nil, templateError("Template error: every Fn::GetAtt object requires two non-empty parameters")
		}
		attr, err := e.Eval(l[1])
		if err != nil {
			return nil, err
		}
		return e.GetAtt(ScalarString(l[0]), ScalarString(attr))
	case "Fn::Sub":
		str, vars := subParts(arg)
		local := map[string]string{}
		for k, v := range vars {
			r, err := e.Eval(v)
			if err != nil {
				return nil, err
			}
			local[k] = ScalarString(r)
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
			if res, attr, ok := strings.Cut(name, "."); ok && e.Template.Resources[res] != nil {
				v, err := e.GetAtt(res, attr)
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
				return JoinScalars(",", l)
			}
			return ScalarString(v)
		})
		return out, firstErr
	case "Fn::Join":
		l := AsList(arg)
		if len(l) != 2 {
			return nil, templateError("Template error: every Fn::Join object requires two parameters, (1) a string delimiter and (2) a list of strings to be joined")
		}
		items, err := e.Eval(l[1])
		if err != nil {
			return nil, err
		}
		return JoinScalars(ScalarString(l[0]), AsList(items)), nil
	case "Fn::Split":
		l := AsList(arg)
		if len(l) != 2 {
			return nil, templateError("Template error: every Fn::Split object requires two parameters")
		}
		s, err := e.Eval(l[1])
		if err != nil {
			return nil, err
		}
		parts := strings.Split(ScalarString(s), ScalarString(l[0]))
		out := make([]any, len(parts))
		for i, p := range parts {
			out[i] = p
		}
		return out, nil
	case "Fn::Select":
		l := AsList(arg)
		if len(l) != 2 {
			return nil, templateError("Template error: Fn::Select requires a list argument with two elements")
		}
		idx, err := e.Eval(l[0])
		if err != nil {
			return nil, err
		}
		list, err := e.Eval(l[1])
		if err != nil {
			return nil, err
		}
		i, err := strconv.Atoi(ScalarString(idx))
		items := AsList(list)
		if err != nil || i < 0 || i >= len(items) {
			return nil, templateError("Template error: Fn::Select cannot select nonexistent value at index %s", ScalarString(idx))
		}
		return items[i], nil
	case "Fn::If":
		l := AsList(arg)
		if len(l) != 3 {
			return nil, templateError("Template error: Fn::If requires a list argument with three elements")
		}
		b, ok := e.Conditions[ScalarString(l[0])]
		if !ok {
			return nil, templateError("Unresolved condition dependency %s in Fn::If", ScalarString(l[0]))
		}
		if b {
			return e.Eval(l[1])
		}
		return e.Eval(l[2])
	case "Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or":
		return e.condition(map[string]any{fn: arg}, func(n string) (bool, error) { return e.Conditions[n], nil })
	case "Fn::Base64":
		s, err := e.Eval(arg)
		if err != nil {
			return nil, err
		}
		return base64.StdEncoding.EncodeToString([]byte(ScalarString(s))), nil
	case "Fn::FindInMap":
		l := AsList(arg)
		if len(l) != 3 {
			return nil, templateError("Template error: every Fn::FindInMap object requires three parameters")
		}
		var keys [3]string
		for i := range l {
			r, err := e.Eval(l[i])
			if err != nil {
				return nil, err
			}
			keys[i] = ScalarString(r)
		}
		m1, _ := e.Template.Mappings[keys[0]].(map[string]any)
		m2, _ := m1[keys[1]].(map[string]any)
		v, ok := m2[keys[2]]
		if !ok {
			return nil, templateError("Template error: Unable to get mapping for %s::%s::%s", keys[0], keys[1], keys[2])
		}
		return v, nil
	case "Fn::GetAZs":
		r := e.Pseudo["AWS::Region"]
		return []any{r + "a", r + "b", r + "c"}, nil
	}
	return nil, templateError("Template error: the sandbox does not support the intrinsic function %s", fn)
}

var subPattern = regexp.MustCompile(`\$\{[^}]+\}`)

// subParts splits an Fn::Sub argument into its string and variable map.
func subParts(arg any) (string, map[string]any) {
	if l, ok := arg.([]any); ok && len(l) == 2 {
		vars, _ := l[1].(map[string]any)
		return ScalarString(l[0]), vars
	}
	return ScalarString(arg), nil
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

// JoinScalars joins the scalars of l, rendered by ScalarString, with sep.
func JoinScalars(sep string, l []any) string {
	parts := make([]string, len(l))
	for i, v := range l {
		parts[i] = ScalarString(v)
	}
	return strings.Join(parts, sep)
}

// ScalarString renders a scalar as CloudFormation passes it on: strings as they are, numbers and
// booleans in their text form, anything else as JSON.
func ScalarString(v any) string {
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

// AsList returns v as a list: a list as it is, nil as none, anything else as one element.
func AsList(v any) []any {
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
	f, err := strconv.ParseFloat(ScalarString(v), 64)
	if err != nil {
		return nil
	}
	return &f
}

func intPtr(v any) *int {
	if v == nil {
		return nil
	}
	n, err := strconv.Atoi(ScalarString(v))
	if err != nil {
		return nil
	}
	return &n
}

// PropsEqual compares resolved properties.
func PropsEqual(a, b map[string]any) bool { return reflect.DeepEqual(a, b) }
