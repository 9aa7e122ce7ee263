package sandbox

import (
	"encoding/json"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// SQS over awsQuery, as AWS CLI versions before 2.13 (Debian's 2.9 among them) and older SDKs
// speak it: a form with Action=SendMessage&Version=2012-11-05, lists and maps flattened
// (AttributeName.1, Attribute.1.Name / Attribute.1.Value, MessageAttribute.1.Value.DataType),
// answered in XML with the members of the JSON result under flattened element names
// (<QueueUrl> per queue of ListQueues, <Message> per message, <Attribute><Name/><Value/></Attribute>
// per attribute) and errors with the query code (AWS.SimpleQueueService.NonExistentQueue). The
// operations stay written once, against the JSON input and output: a query request's form is
// turned into the JSON body the operation decodes, and its result into XML.

const sqsQueryVersion = "2012-11-05"

var sqsQueryProtocol = queryProtocol{xmlns: "http://queue.amazonaws.com/doc/" + sqsQueryVersion + "/"}

// sqsQueryLists are the flattened list parameters: query name -> JSON member.
var sqsQueryLists = map[string]string{
	"AttributeName":              "AttributeNames",
	"MessageAttributeName":       "MessageAttributeNames",
	"MessageSystemAttributeName": "MessageSystemAttributeNames",
}

// sqsQueryMaps are the flattened map parameters: query name -> JSON member. Entries are
// <name>.N.Name (Key for tags) and <name>.N.Value, the value a string or, for message
// attributes, <name>.N.Value.DataType, .StringValue, .BinaryValue.
var sqsQueryMaps = map[string]string{
	"Attribute":              "Attributes",
	"MessageAttribute":       "MessageAttributes",
	"MessageSystemAttribute": "MessageSystemAttributes",
	"Tag":                    "tags",
}

// sqsQueryInts are the integer parameters, numbers in JSON.
var sqsQueryInts = map[string]bool{
	"DelaySeconds": true, "MaxNumberOfMessages": true, "MaxResults": true,
	"VisibilityTimeout": true, "WaitTimeSeconds": true,
}

// sqsQueryInput wraps an operation so that an awsQuery request reaches it as the JSON body the
// awsJson protocol would have sent.
func sqsQueryInput(op operation) operation {
	return func(c *call) (any, error) {
		if c.form != nil {
			body, err := sqsQueryToJSON(c.form)
			if err != nil {
				return nil, err
			}
			c.body = body
		}
		return op(c)
	}
}

// sqsQueryToJSON converts the parameters of an SQS awsQuery request to its awsJson body.
func sqsQueryToJSON(form url.Values) ([]byte, error) {
	in := map[string]any{}
	lists := map[string]map[int]string{}
	maps := map[string]map[int]map[string]string{}
	for key, vs := range form {
		v := vs[0]
		name, rest, nested := strings.Cut(key, ".")
		switch {
		case !nested && (name == "Action" || name == "Version" || strings.HasPrefix(name, "X-Amz-")):
		case !nested && sqsQueryInts[name]:
			n, err := strconv.Atoi(v)
			if err != nil {
				return nil, sqsInvalidValue("Value " + v + " for parameter " + name + " is invalid. Reason: must be an integer.")
			}
			in[name] = n
		case !nested:
			in[name] = v
		case sqsQueryLists[name] != "":
			i, err := strconv.Atoi(rest)
			if err != nil || i < 1 {
				return nil, sqsInvalidValue("Parameter " + key + " is not a valid list member.")
			}
			if lists[name] == nil {
				lists[name] = map[int]string{}
			}
			lists[name][i] = v
		case sqsQueryMaps[name] != "":
			idx, field, ok := strings.Cut(rest, ".")
			i, err := strconv.Atoi(idx)
			if !ok || err != nil || i < 1 {
				return nil, sqsInvalidValue("Parameter " + key + " is not a valid map entry.")
			}
			if maps[name] == nil {
				maps[name] = map[int]map[string]string{}
			}
			if maps[name][i] == nil {
				maps[name][i] = map[string]string{}
			}
			maps[name][i][field] = v
		default:
			return nil, sqsInvalidValue("Parameter " + key + " is not valid for this action.")
		}
	}
	for name, members := range lists {
		out := make([]string, 0, len(members))
		for _, i := range sortedIndexes(members) {
			out = append(out, members[i])
		}
		in[sqsQueryLists[name]] = out
	}
	for name, entries := range maps {
		out := map[string]any{}
		for _, e := range entries {
			k := e["Name"]
			if name == "Tag" {
				k = e["Key"]
			}
			if k == "" {
				return nil, sqsMissing(name + ".N.Name")
			}
			if v, ok := e["Value"]; ok {
				out[k] = v
				continue
			}
			value := map[string]string{}
			for f, v := range e {
				if sub, ok := strings.CutPrefix(f, "Value."); ok {
					value[sub] = v
				}
			}
			out[k] = value
		}
		in[sqsQueryMaps[name]] = out
	}
	return json.Marshal(in)
}

func sortedIndexes[V any](m map[int]V) []int {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	return keys
}

// sqsQueryFlattened names the element of each member of a JSON list or map in awsQuery's XML.
var sqsQueryFlattened = map[string]string{
	"QueueUrls":         "QueueUrl",
	"Messages":          "Message",
	"Attributes":        "Attribute",
	"MessageAttributes": "MessageAttribute",
}

// sqsQueryResult renders an operation's JSON result as the members of its awsQuery <Result>.
func sqsQueryResult(result any) xmlResult {
	if result == nil {
		return nil
	}
	b, err := json.Marshal(result)
	if err != nil {
		return nil
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return nil
	}
	// An empty result is an empty <ActionResult/>, which clients expect (ListQueues without queues).
	return func(x *xmlWriter) { writeQueryMembers(x, m) }
}

// writeQueryMembers writes the members of a JSON object, in name order.
func writeQueryMembers(x *xmlWriter, m map[string]any) {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		writeQueryValue(x, k, m[k])
	}
}

func writeQueryValue(x *xmlWriter, name string, v any) {
	switch v := v.(type) {
	case []any:
		member := sqsQueryFlattened[name]
		if member == "" {
			member = name
		}
		for _, e := range v {
			writeQueryValue(x, member, e)
		}
	case map[string]any:
		entry, isMap := sqsQueryFlattened[name]
		if !isMap {
			x.open(name)
			writeQueryMembers(x, v)
			x.close(name)
			return
		}
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			x.open(entry)
			x.elem("Name", k)
			writeQueryValue(x, "Value", v[k])
			x.close(entry)
		}
	case string:
		x.elem(name, v)
	case float64:
		x.elem(name, strconv.FormatFloat(v, 'f', -1, 64))
	case bool:
		x.boolElem(name, v)
	case nil:
	}
}

// sqsQueryError is e as awsQuery reports it: the code is the one the JSON protocol sends in
// X-Amzn-Query-Error (AWS.SimpleQueueService.NonExistentQueue; InvalidAction for unknown
// actions).
func sqsQueryError(e *apiError) *apiError {
	if e.QueryCode == "" {
		return e
	}
	code, _, _ := strings.Cut(e.QueryCode, ";")
	q := *e
	q.Code = code
	return &q
}
