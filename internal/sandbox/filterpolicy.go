package sandbox

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// SNS subscription filter policies on message attributes (FilterPolicyScope MessageAttributes):
// every key of the policy must match (AND); a key matches when any of its values does (OR).
// Values: a string (exact match of a String or String.Array attribute), a number (a Number
// attribute equal to it), or an object: {"prefix": "x"}, {"suffix": "x"},
// {"equals-ignore-case": "x"}, {"anything-but": value, list or {"prefix": "x"}},
// {"numeric": [">=", 90, "<", 100]}, {"exists": true|false}.

type filterPolicy map[string][]filterCond

type filterCond struct {
	kind   string // "exact", "number", "prefix", "suffix", "ignore-case", "anything-but", "numeric", "exists"
	str    string
	num    float64
	but    []filterCond // anything-but: the values excluded
	ranges []numericTerm
	exists bool
}

type numericTerm struct {
	op  string
	val float64
}

func parseFilterPolicy(doc string) (filterPolicy, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(doc), &raw); err != nil {
		return nil, fmt.Errorf("FilterPolicy: failed to parse JSON: %v", err)
	}
	fp := make(filterPolicy, len(raw))
	for key, v := range raw {
		var values []any
		if err := json.Unmarshal(v, &values); err != nil {
			return nil, fmt.Errorf("FilterPolicy: \"%s\" must be an object or an array", key)
		}
		for _, x := range values {
			c, err := parseFilterValue(key, x)
			if err != nil {
				return nil, err
			}
			fp[key] = append(fp[key], c)
		}
	}
	return fp, nil
}

func parseFilterValue(key string, x any) (filterCond, error) {
	switch x := x.(type) {
	case string:
		return filterCond{kind: "exact", str: x}, nil
	case float64:
		return filterCond{kind: "number", num: x}, nil
	case map[string]any:
		if len(x) != 1 {
			return filterCond{}, fmt.Errorf("FilterPolicy: %s: an operator object takes exactly one operator", key)
		}
		for op, arg := range x {
			switch op {
			case "prefix", "suffix", "equals-ignore-case":
				s, ok := arg.(string)
				if !ok {
					return filterCond{}, fmt.Errorf("FilterPolicy: %s: %s match pattern must be a string", key, op)
				}
				kind := op
				if op == "equals-ignore-case" {
					kind = "ignore-case"
				}
				return filterCond{kind: kind, str: s}, nil
			case "exists":
				b, ok := arg.(bool)
				if !ok {
					return filterCond{}, fmt.Errorf("FilterPolicy: %s: exists match pattern must be either true or false", key)
				}
				return filterCond{kind: "exists", exists: b}, nil
			case "anything-but":
				c := filterCond{kind: "anything-but"}
				items, isList := arg.([]any)
				if !isList {
					items = []any{arg}
				}
				for _, it := range items {
					sub, err := parseFilterValue(key, it)
					if err != nil || (sub.kind != "exact" && sub.kind != "number" && sub.kind != "prefix") {
						return filterCond{}, fmt.Errorf("FilterPolicy: %s: anything-but takes strings, numbers or a prefix", key)
					}
					c.but = append(c.but, sub)
				}
				return c, nil
			case "numeric":
				list, ok := arg.([]any)
				if !ok || len(list) == 0 || len(list)%2 != 0 || len(list) > 4 {
					return filterCond{}, fmt.Errorf("FilterPolicy: %s: numeric match takes one or two operator/value pairs", key)
				}
				c := filterCond{kind: "numeric"}
				for i := 0; i < len(list); i += 2 {
					o, _ := list[i].(string)
					v, okv := list[i+1].(float64)
					switch o {
					case "=", "<", "<=", ">", ">=":
					default:
						return filterCond{}, fmt.Errorf("FilterPolicy: %s: unrecognized numeric range operator: %v", key, list[i])
					}
					if !okv {
						return filterCond{}, fmt.Errorf("FilterPolicy: %s: value of %s must be numeric", key, o)
					}
					c.ranges = append(c.ranges, numericTerm{o, v})
				}
				return c, nil
			default:
				return filterCond{}, fmt.Errorf("FilterPolicy: %s: unrecognized match type %s", key, op)
			}
		}
	}
	return filterCond{}, fmt.Errorf("FilterPolicy: %s: match value must be a string, a number or an object", key)
}

// matches reports whether a message with these attributes passes the policy.
func (fp filterPolicy) matches(attrs map[string]MessageAttribute) bool {
	keys := make([]string, 0, len(fp))
	for k := range fp {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		a, present := attrs[k]
		ok := false
		for _, c := range fp[k] {
			if c.matches(a, present) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// values returns the string values of an attribute (the elements of a String.Array).
func (a MessageAttribute) values() []string {
	if a.DataType == "String.Array" {
		var items []any
		if json.Unmarshal([]byte(a.StringValue), &items) == nil {
			out := make([]string, 0, len(items))
			for _, it := range items {
				if s, ok := it.(string); ok {
					out = append(out, s)
				} else {
					out = append(out, fmt.Sprint(it))
				}
			}
			return out
		}
	}
	return []string{a.StringValue}
}

func (a MessageAttribute) isNumber() bool { return strings.HasPrefix(a.DataType, "Number") }

func (c filterCond) matches(a MessageAttribute, present bool) bool {
	if c.kind == "exists" {
		return present == c.exists
	}
	if !present || strings.HasPrefix(a.DataType, "Binary") {
		return false
	}
	if c.kind == "number" || c.kind == "numeric" {
		if !a.isNumber() {
			return false
		}
		v, err := strconv.ParseFloat(a.StringValue, 64)
		if err != nil {
			return false
		}
		if c.kind == "number" {
			return v == c.num
		}
		for _, t := range c.ranges {
			var ok bool
			switch t.op {
			case "=":
				ok = v == t.val
			case "<":
				ok = v < t.val
			case "<=":
				ok = v <= t.val
			case ">":
				ok = v > t.val
			case ">=":
				ok = v >= t.val
			}
			if !ok {
				return false
			}
		}
		return true
	}
	if c.kind == "anything-but" {
		for _, b := range c.but {
			if b.matches(a, true) {
				return false
			}
		}
		return true
	}
	if a.isNumber() {
		return false
	}
	for _, v := range a.values() {
		switch c.kind {
		case "exact":
			if v == c.str {
				return true
			}
		case "prefix":
			if strings.HasPrefix(v, c.str) {
				return true
			}
		case "suffix":
			if strings.HasSuffix(v, c.str) {
				return true
			}
		case "ignore-case":
			if strings.EqualFold(v, c.str) {
				return true
			}
		}
	}
	return false
}
