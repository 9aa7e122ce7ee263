package sandbox

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// SNS over awsQuery, version 2010-03-31. Topics live in the account and region of their ARN;
// the topic policy decides what other accounts may do (Publish above all), as in AWS. The only
// subscription protocol is sqs: Publish delivers to the subscribed queues at once, in the SNS
// envelope or raw, after the subscription's filter policy.

const snsXMLNS = "http://sns.amazonaws.com/doc/2010-03-31/"

// snsState is an account's topics, under their own lock.
type snsState struct {
	mu     sync.Mutex
	topics map[string]*topic // by ARN
}

type topic struct {
	arn, name, region string
	displayName       string
	attrs             map[string]string // other settable attributes (DeliveryPolicy, ...)
	policy            string            // "" is AWS's default policy
	parsed            *policyDoc
	subs              []*subscription
}

type subscription struct {
	arn, topicArn, endpoint string
	owner                   string // the subscribing account
	raw                     bool
	filterJSON              string
	filter                  filterPolicy
}

func (s *Server) snsService() *service {
	svc := &service{
		name:     "sns",
		version:  "2010-03-31",
		proto:    queryProtocol{xmlns: snsXMLNS},
		throttle: newError(http.StatusBadRequest, "Throttling", "Rate exceeded"),
		failure:  newError(http.StatusInternalServerError, "InternalError", "Internal Error"),
	}
	svc.unknownOp = queryUnknownOp(svc.version)
	svc.ops = map[string]operation{
		"CreateTopic":               s.snsCreateTopic,
		"DeleteTopic":               s.snsDeleteTopic,
		"ListTopics":                s.snsListTopics,
		"GetTopicAttributes":        s.snsGetTopicAttributes,
		"SetTopicAttributes":        s.snsSetTopicAttributes,
		"Subscribe":                 s.snsSubscribe,
		"Unsubscribe":               s.snsUnsubscribe,
		"ListSubscriptionsByTopic":  s.snsListSubscriptionsByTopic,
		"GetSubscriptionAttributes": s.snsGetSubscriptionAttributes,
		"SetSubscriptionAttributes": s.snsSetSubscriptionAttributes,
		"Publish":                   s.snsPublish,
	}
	return svc
}

func snsInvalid(format string, args ...any) *apiError {
	return newError(http.StatusBadRequest, "InvalidParameter", "Invalid parameter: "+fmt.Sprintf(format, args...))
}

func snsNotFound(what string) *apiError {
	return newError(http.StatusNotFound, "NotFound", what+" does not exist")
}

// queryMap reads an awsQuery map: prefix.entry.N.key / prefix.entry.N.value.
func queryMap(form url.Values, prefix, keyName, valueName string) map[string]string {
	out := map[string]string{}
	for i := 1; ; i++ {
		e := prefix + ".entry." + strconv.Itoa(i) + "."
		k, ok := form[e+keyName]
		if !ok {
			return out
		}
		out[k[0]] = form.Get(e + valueName)
	}
}

// parseTopicARN splits arn:aws:sns:<region>:<account>:<name>.
func parseTopicARN(arn string) (region, acct, name string, ok bool) {
	parts := strings.Split(arn, ":")
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "sns" || !accountIDPattern.MatchString(parts[4]) || !validTopicName(parts[5]) {
		return "", "", "", false
	}
	return parts[3], parts[4], parts[5], true
}

// validTopicName: 1 to 256 of [A-Za-z0-9_-], optionally .fifo (which the sandbox refuses).
func validTopicName(n string) bool {
	if len(n) == 0 || len(n) > 256 {
		return false
	}
	for i := 0; i < len(n); i++ {
		b := n[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '_' || b == '-') {
			return false
		}
	}
	return true
}

// lookupTopic finds the topic of arn and locks its account's SNS state; the caller unlocks.
func (s *Server) lockTopic(arn string) (*topic, *account, error) {
	if arn == "" {
		return nil, nil, snsInvalid("TopicArn")
	}
	region, acctID, _, ok := parseTopicARN(arn)
	if !ok {
		return nil, nil, snsInvalid("TopicArn")
	}
	a := s.accounts[acctID]
	if a == nil || region == "" {
		return nil, nil, snsNotFound("Topic")
	}
	a.sns.mu.Lock()
	t := a.sns.topics[arn]
	if t == nil {
		a.sns.mu.Unlock()
		return nil, nil, snsNotFound("Topic")
	}
	return t, a, nil
}

// authorizeTopic applies the topic policy to the caller for action (SNS:Publish): the owner
// may unless a statement denies it; another account may only when a statement allows it.
func (s *Server) authorizeTopic(c *call, t *topic, owner *account, action string) error {
	pol := t.parsed
	if pol == nil {
		pol, _ = parsePolicy(defaultTopicPolicy(t.arn, owner.id))
	}
	d := pol.evaluate(s.policyRequest(c.p, action, t.arn))
	switch {
	case d == policyDeny:
		return newError(http.StatusForbidden, "AuthorizationError", "User: "+c.p.arn()+" is not authorized to perform: "+
			action+" on resource: "+t.arn+" with an explicit deny in a resource-based policy")
	case d == policyAllow, c.acct() == owner && !c.idNoAllow:
		return nil
	}
	return newError(http.StatusForbidden, "AuthorizationError", "User: "+c.p.arn()+" is not authorized to perform: "+
		action+" on resource: "+t.arn+" because no resource-based policy allows the "+action+" action")
}

// defaultTopicPolicy is the policy AWS gives a new topic: everything for its own account.
func defaultTopicPolicy(arn, owner string) string {
	return `{"Version":"2008-10-17","Id":"__default_policy_ID","Statement":[{"Sid":"__default_statement_ID","Effect":"Allow",` +
		`"Principal":{"AWS":"*"},"Action":["SNS:GetTopicAttributes","SNS:SetTopicAttributes","SNS:AddPermission",` +
		`"SNS:RemovePermission","SNS:DeleteTopic","SNS:Subscribe","SNS:ListSubscriptionsByTopic","SNS:Publish"],` +
		`"Resource":"` + arn + `","Condition":{"StringEquals":{"AWS:SourceOwner":"` + owner + `"}}}]}`
}

// setTopicAttribute sets one attribute; the caller holds the account's SNS lock.
func setTopicAttribute(t *topic, name, value string) error {
	switch name {
	case "Policy":
		if value == "" {
			t.policy, t.parsed = "", nil
			return nil
		}
		p, err := parsePolicy(value)
		if err != nil {
			return snsInvalid("Policy Error: %v", err)
		}
		t.policy, t.parsed = value, p
	case "DisplayName":
		if len(value) > 100 {
			return snsInvalid("DisplayName")
		}
		t.displayName = value
	case "DeliveryPolicy", "KmsMasterKeyId", "TracingConfig", "SignatureVersion", "ArchivePolicy",
		"HTTPSuccessFeedbackRoleArn", "HTTPFailureFeedbackRoleArn", "HTTPSuccessFeedbackSampleRate",
		"SQSSuccessFeedbackRoleArn", "SQSFailureFeedbackRoleArn", "SQSSuccessFeedbackSampleRate",
		"LambdaSuccessFeedbackRoleArn", "LambdaFailureFeedbackRoleArn", "LambdaSuccessFeedbackSampleRate":
		if t.attrs == nil {
			t.attrs = map[string]string{}
		}
		t.attrs[name] = value
	default:
		return snsInvalid("AttributeName")
	}
	return nil
}

// createTopic creates (or returns) the topic name in a's region; the caller holds a.sns.mu.
func (a *account) createTopicLocked(region, name string) *topic {
	arn := "arn:aws:sns:" + region + ":" + a.id + ":" + name
	if t := a.sns.topics[arn]; t != nil {
		return t
	}
	if a.sns.topics == nil {
		a.sns.topics = map[string]*topic{}
	}
	t := &topic{arn: arn, name: name, region: region}
	a.sns.topics[arn] = t
	return t
}

func (s *Server) snsCreateTopic(c *call) (any, error) {
	name := c.form.Get("Name")
	if strings.HasSuffix(name, ".fifo") {
		return nil, snsInvalid("The sandbox does not support FIFO topics")
	}
	if !validTopicName(name) {
		return nil, snsInvalid("Topic Name")
	}
	attrs := queryMap(c.form, "Attributes", "key", "value")
	a := c.acct()
	a.sns.mu.Lock()
	defer a.sns.mu.Unlock()
	arn := "arn:aws:sns:" + c.region + ":" + a.id + ":" + name
	t := &topic{arn: arn, name: name, region: c.region}
	for k, v := range attrs {
		if err := setTopicAttribute(t, k, v); err != nil {
			return nil, err
		}
	}
	// AWS returns the existing topic's ARN, unless the request sets an attribute to another value.
	if old := a.sns.topics[arn]; old != nil {
		for k, v := range attrs {
			differs := old.attrs[k] != v
			switch k {
			case "Policy":
				differs = old.policy != v
			case "DisplayName":
				differs = old.displayName != v
			}
			if differs {
				return nil, snsInvalid("Attributes Reason: Topic already exists with different attributes")
			}
		}
	} else {
		a.createTopicLocked(c.region, name)
		a.sns.topics[arn] = t
	}
	return xmlResult(func(x *xmlWriter) { x.elem("TopicArn", arn) }), nil
}

func (s *Server) snsDeleteTopic(c *call) (any, error) {
	arn := c.form.Get("TopicArn")
	t, a, err := s.lockTopic(arn)
	if err != nil {
		if e, ok := err.(*apiError); ok && e.Code == "NotFound" {
			return nil, nil // deleting a topic that does not exist is not an error
		}
		return nil, err
	}
	defer a.sns.mu.Unlock()
	if err := s.authorizeTopic(c, t, a, "SNS:DeleteTopic"); err != nil {
		return nil, err
	}
	delete(a.sns.topics, arn)
	return nil, nil
}

// snsToken pages through a sorted list of ARNs.
func snsPage(c *call, arns []string, kind string) (page []string, next string, err error) {
	sort.Strings(arns)
	start := 0
	if tok := c.form.Get("NextToken"); tok != "" {
		last, derr := decodeMarker(kind, tok)
		if derr != nil {
			return nil, "", snsInvalid("NextToken")
		}
		start = sort.SearchStrings(arns, last)
		if start < len(arns) && arns[start] == last {
			start++
		}
	}
	end := min(len(arns), start+100)
	if end < len(arns) {
		next = encodeMarker(kind, arns[end-1])
	}
	return arns[start:end], next, nil
}

func (s *Server) snsListTopics(c *call) (any, error) {
	a := c.acct()
	a.sns.mu.Lock()
	var arns []string
	for arn, t := range a.sns.topics {
		if t.region == c.region {
			arns = append(arns, arn)
		}
	}
	a.sns.mu.Unlock()
	page, next, err := snsPage(c, arns, "topics")
	if err != nil {
		return nil, err
	}
	return xmlResult(func(x *xmlWriter) {
		x.open("Topics")
		for _, arn := range page {
			x.open("member")
			x.elem("TopicArn", arn)
			x.close("member")
		}
		x.close("Topics")
		if next != "" {
			x.elem("NextToken", next)
		}
	}), nil
}

func writeEntries(x *xmlWriter, name string, m map[string]string) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	x.open(name)
	for _, k := range keys {
		x.open("entry")
		x.elem("key", k)
		x.elem("value", m[k])
		x.close("entry")
	}
	x.close(name)
}

func (s *Server) snsGetTopicAttributes(c *call) (any, error) {
	t, a, err := s.lockTopic(c.form.Get("TopicArn"))
	if err != nil {
		return nil, err
	}
	defer a.sns.mu.Unlock()
	if err := s.authorizeTopic(c, t, a, "SNS:GetTopicAttributes"); err != nil {
		return nil, err
	}
	m := map[string]string{
		"TopicArn":                t.arn,
		"Owner":                   a.id,
		"DisplayName":             t.displayName,
		"Policy":                  t.policy,
		"SubscriptionsConfirmed":  strconv.Itoa(len(t.subs)),
		"SubscriptionsPending":    "0",
		"SubscriptionsDeleted":    "0",
		"EffectiveDeliveryPolicy": `{"http":{"defaultHealthyRetryPolicy":{"minDelayTarget":20,"maxDelayTarget":20,"numRetries":3,"numMaxDelayRetries":0,"numNoDelayRetries":0,"numMinDelayRetries":0,"backoffFunction":"linear"},"disableSubscriptionOverrides":false,"defaultRequestPolicy":{"headerContentType":"text/plain; charset=UTF-8"}}}`,
		"SignatureVersion":        "1",
	}
	if t.policy == "" {
		m["Policy"] = defaultTopicPolicy(t.arn, a.id)
	}
	for k, v := range t.attrs {
		m[k] = v
	}
	return xmlResult(func(x *xmlWriter) { writeEntries(x, "Attributes", m) }), nil
}

func (s *Server) snsSetTopicAttributes(c *call) (any, error) {
	name := c.form.Get("AttributeName")
	if name == "" {
		return nil, snsInvalid("AttributeName")
	}
	t, a, err := s.lockTopic(c.form.Get("TopicArn"))
	if err != nil {
		return nil, err
	}
	defer a.sns.mu.Unlock()
	if err := s.authorizeTopic(c, t, a, "SNS:SetTopicAttributes"); err != nil {
		return nil, err
	}
	return nil, setTopicAttribute(t, name, c.form.Get("AttributeValue"))
}

// parseQueueARN splits arn:aws:sqs:<region>:<account>:<name>.
func parseQueueARN(arn string) (region, acct, name string, ok bool) {
	parts := strings.Split(arn, ":")
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "sqs" || parts[3] == "" || !accountIDPattern.MatchString(parts[4]) || !validQueueName(parts[5]) {
		return "", "", "", false
	}
	return parts[3], parts[4], parts[5], true
}

// setSubscriptionAttribute sets one attribute; the caller holds the topic account's lock.
func setSubscriptionAttribute(sub *subscription, name, value string) error {
	switch name {
	case "RawMessageDelivery":
		b, err := strconv.ParseBool(value)
		if err != nil {
			return snsInvalid("Attributes Reason: RawMessageDelivery: Invalid value [%s]. Must be true or false.", value)
		}
		sub.raw = b
	case "FilterPolicy":
		if value == "" {
			sub.filter, sub.filterJSON = nil, ""
			return nil
		}
		fp, err := parseFilterPolicy(value)
		if err != nil {
			return snsInvalid("%v", err)
		}
		sub.filter, sub.filterJSON = fp, value
	case "FilterPolicyScope":
		if value != "MessageAttributes" {
			return snsInvalid("Attributes Reason: FilterPolicyScope: the sandbox supports MessageAttributes only")
		}
	case "RedrivePolicy", "DeliveryPolicy", "SubscriptionRoleArn":
	default:
		return snsInvalid("Attributes Reason: Unknown attribute %s", name)
	}
	return nil
}

func (s *Server) snsSubscribe(c *call) (any, error) {
	protocol, endpoint := c.form.Get("Protocol"), c.form.Get("Endpoint")
	if protocol == "" {
		return nil, snsInvalid("Protocol")
	}
	if protocol != "sqs" {
		return nil, snsInvalid("Invalid protocol type: %s (the sandbox delivers to sqs only)", protocol)
	}
	if _, _, _, ok := parseQueueARN(endpoint); !ok {
		return nil, snsInvalid("SQS endpoint ARN")
	}
	sub := &subscription{endpoint: endpoint, owner: c.acct().id}
	attrs := queryMap(c.form, "Attributes", "key", "value")
	for k, v := range attrs {
		if err := setSubscriptionAttribute(sub, k, v); err != nil {
			return nil, err
		}
	}
	t, a, err := s.lockTopic(c.form.Get("TopicArn"))
	if err != nil {
		return nil, err
	}
	defer a.sns.mu.Unlock()
	if err := s.authorizeTopic(c, t, a, "SNS:Subscribe"); err != nil {
		return nil, err
	}
	for _, old := range t.subs {
		if old.endpoint == endpoint {
			if old.raw != sub.raw || old.filterJSON != sub.filterJSON {
				return nil, snsInvalid("Attributes Reason: Subscription already exists with different attributes")
			}
			return subscribeResult(old.arn), nil
		}
	}
	sub.topicArn = t.arn
	sub.arn = t.arn + ":" + s.uuid("subscription", t.arn, endpoint)
	t.subs = append(t.subs, sub)
	return subscribeResult(sub.arn), nil
}

func subscribeResult(arn string) xmlResult {
	return func(x *xmlWriter) { x.elem("SubscriptionArn", arn) }
}

// uuid returns a UUID-shaped id unique within the process.
func (s *Server) uuid(parts ...string) string {
	return uuidOf(append(parts, strconv.FormatUint(s.reqSeq.Add(1), 10))...)
}

// uuidOf derives a UUID-shaped id from parts.
func uuidOf(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	x := hex.EncodeToString(h[:16])
	return x[0:8] + "-" + x[8:12] + "-4" + x[13:16] + "-a" + x[17:20] + "-" + x[20:32]
}

// lockSubscription finds a subscription by ARN and locks its topic's account.
func (s *Server) lockSubscription(arn string) (*subscription, *topic, *account, error) {
	i := strings.LastIndexByte(arn, ':')
	if i < 0 {
		return nil, nil, nil, snsInvalid("SubscriptionArn")
	}
	t, a, err := s.lockTopic(arn[:i])
	if err != nil {
		if e, ok := err.(*apiError); ok && e.Code == "InvalidParameter" {
			return nil, nil, nil, snsInvalid("SubscriptionArn")
		}
		return nil, nil, nil, snsNotFound("Subscription")
	}
	for _, sub := range t.subs {
		if sub.arn == arn {
			return sub, t, a, nil
		}
	}
	a.sns.mu.Unlock()
	return nil, nil, nil, snsNotFound("Subscription")
}

// authorizeSubscription lets the subscriber and the topic owner manage a subscription.
func (s *Server) authorizeSubscription(c *call, sub *subscription, t *topic, a *account, action string) error {
	if c.acct().id == sub.owner {
		return nil
	}
	return s.authorizeTopic(c, t, a, action)
}

func (s *Server) snsUnsubscribe(c *call) (any, error) {
	sub, t, a, err := s.lockSubscription(c.form.Get("SubscriptionArn"))
	if err != nil {
		return nil, err
	}
	defer a.sns.mu.Unlock()
	if err := s.authorizeSubscription(c, sub, t, a, "SNS:Unsubscribe"); err != nil {
		return nil, err
	}
	for i, x := range t.subs {
		if x == sub {
			t.subs = append(t.subs[:i:i], t.subs[i+1:]...)
			break
		}
	}
	return nil, nil
}

func (s *Server) snsGetSubscriptionAttributes(c *call) (any, error) {
	sub, t, a, err := s.lockSubscription(c.form.Get("SubscriptionArn"))
	if err != nil {
		return nil, err
	}
	defer a.sns.mu.Unlock()
	if err := s.authorizeSubscription(c, sub, t, a, "SNS:GetSubscriptionAttributes"); err != nil {
		return nil, err
	}
	m := map[string]string{
		"SubscriptionArn":              sub.arn,
		"TopicArn":                     sub.topicArn,
		"Owner":                        sub.owner,
		"Protocol":                     "sqs",
		"Endpoint":                     sub.endpoint,
		"RawMessageDelivery":           strconv.FormatBool(sub.raw),
		"ConfirmationWasAuthenticated": "true",
		"PendingConfirmation":          "false",
	}
	if sub.filterJSON != "" {
		m["FilterPolicy"] = sub.filterJSON
		m["FilterPolicyScope"] = "MessageAttributes"
	}
	return xmlResult(func(x *xmlWriter) { writeEntries(x, "Attributes", m) }), nil
}

func (s *Server) snsSetSubscriptionAttributes(c *call) (any, error) {
	sub, t, a, err := s.lockSubscription(c.form.Get("SubscriptionArn"))
	if err != nil {
		return nil, err
	}
	defer a.sns.mu.Unlock()
	if err := s.authorizeSubscription(c, sub, t, a, "SNS:SetSubscriptionAttributes"); err != nil {
		return nil, err
	}
	return nil, setSubscriptionAttribute(sub, c.form.Get("AttributeName"), c.form.Get("AttributeValue"))
}

func (s *Server) snsListSubscriptionsByTopic(c *call) (any, error) {
	t, a, err := s.lockTopic(c.form.Get("TopicArn"))
	if err != nil {
		return nil, err
	}
	if err := s.authorizeTopic(c, t, a, "SNS:ListSubscriptionsByTopic"); err != nil {
		a.sns.mu.Unlock()
		return nil, err
	}
	byARN := map[string]subscription{}
	arns := make([]string, 0, len(t.subs))
	for _, sub := range t.subs {
		byARN[sub.arn] = *sub
		arns = append(arns, sub.arn)
	}
	a.sns.mu.Unlock()
	page, next, err := snsPage(c, arns, "subscriptions")
	if err != nil {
		return nil, err
	}
	return xmlResult(func(x *xmlWriter) {
		x.open("Subscriptions")
		for _, arn := range page {
			sub := byARN[arn]
			x.open("member")
			x.elem("SubscriptionArn", sub.arn)
			x.elem("Owner", sub.owner)
			x.elem("Protocol", "sqs")
			x.elem("Endpoint", sub.endpoint)
			x.elem("TopicArn", sub.topicArn)
			x.close("member")
		}
		x.close("Subscriptions")
		if next != "" {
			x.elem("NextToken", next)
		}
	}), nil
}

// parseMessageAttributes reads prefix.entry.N.Name / .Value.DataType / .Value.StringValue /
// .Value.BinaryValue and validates them like SNS.
func parseMessageAttributes(form url.Values, prefix string) (map[string]MessageAttribute, error) {
	var out map[string]MessageAttribute
	for i := 1; ; i++ {
		e := prefix + ".entry." + strconv.Itoa(i) + "."
		names, ok := form[e+"Name"]
		if !ok {
			return out, nil
		}
		name := names[0]
		a := MessageAttribute{DataType: form.Get(e + "Value.DataType"), StringValue: form.Get(e + "Value.StringValue")}
		if v := form.Get(e + "Value.BinaryValue"); v != "" {
			b, err := base64.StdEncoding.DecodeString(v)
			if err != nil {
				return nil, snsInvalid("MessageAttributes: the binary value of %s is not base64", name)
			}
			a.BinaryValue = b
		}
		if err := validateAttribute(name, a); err != nil {
			return nil, snsInvalid("%s", err.Error())
		}
		if out == nil {
			out = map[string]MessageAttribute{}
		}
		out[name] = a
	}
}

// validateAttribute checks an SNS or SQS message attribute, with AWS's messages.
func validateAttribute(name string, a MessageAttribute) error {
	base, _, _ := strings.Cut(a.DataType, ".")
	switch {
	case name == "" || len(name) > 256:
		return fmt.Errorf("The message attribute name '%s' is invalid.", name)
	case a.DataType == "":
		return fmt.Errorf("The message attribute '%s' must contain non-empty message attribute type.", name)
	case base != "String" && base != "Number" && base != "Binary":
		return fmt.Errorf("The message attribute '%s' has an invalid message attribute type, the set of supported type prefixes is Binary, Number, and String.", name)
	case base == "Binary" && len(a.BinaryValue) == 0:
		return fmt.Errorf("The message attribute '%s' must contain non-empty message attribute value for message attribute type '%s'.", name, a.DataType)
	case base != "Binary" && a.StringValue == "":
		return fmt.Errorf("The message attribute '%s' must contain non-empty message attribute value for message attribute type '%s'.", name, a.DataType)
	case base == "Number":
		if _, err := strconv.ParseFloat(a.StringValue, 64); err != nil {
			return fmt.Errorf("The message attribute '%s' with type 'Number' must use a numeric value.", name)
		}
	case a.DataType == "String.Array":
		var v []any
		if json.Unmarshal([]byte(a.StringValue), &v) != nil {
			return fmt.Errorf("The message attribute '%s' with type 'String.Array' must use a JSON array.", name)
		}
	}
	return nil
}

func (s *Server) snsPublish(c *call) (any, error) {
	arn := c.form.Get("TopicArn")
	if arn == "" {
		arn = c.form.Get("TargetArn")
	}
	if arn == "" {
		if c.form.Get("PhoneNumber") != "" {
			return nil, snsInvalid("PhoneNumber: the sandbox does not send SMS")
		}
		return nil, snsInvalid("TopicArn or TargetArn Reason: no value for required parameter")
	}
	msg, subject := c.form.Get("Message"), c.form.Get("Subject")
	switch {
	case msg == "":
		return nil, snsInvalid("Empty message")
	case len(msg) > 256*1024:
		return nil, snsInvalid("Message too long")
	case !utf8.ValidString(msg):
		return nil, snsInvalid("Message must be valid UTF-8")
	case len(subject) > 100 || strings.ContainsAny(subject, "\r\n"):
		return nil, snsInvalid("Subject")
	}
	sqsMsg := msg
	if c.form.Get("MessageStructure") == "json" {
		var per map[string]any
		if err := json.Unmarshal([]byte(msg), &per); err != nil {
			return nil, snsInvalid("Message Structure - JSON message body failed to parse")
		}
		def, ok := per["default"].(string)
		if !ok {
			return nil, snsInvalid("Message Structure - No default entry in JSON message body")
		}
		sqsMsg = def
		if v, ok := per["sqs"].(string); ok {
			sqsMsg = v
		}
	}
	attrs, err := parseMessageAttributes(c.form, "MessageAttributes")
	if err != nil {
		return nil, err
	}

	if region, _, _, ok := parseTopicARN(arn); ok && region != c.region {
		// SNS serves the topics of the request's region only, as AWS does.
		return nil, snsInvalid("TopicArn")
	}
	t, a, err := s.lockTopic(arn)
	if err != nil {
		return nil, err
	}
	if err := s.authorizeTopic(c, t, a, "SNS:Publish"); err != nil {
		a.sns.mu.Unlock()
		return nil, err
	}
	subs := make([]subscription, len(t.subs))
	for i, sub := range t.subs {
		subs[i] = *sub
	}
	keyID := t.attrs["KmsMasterKeyId"]
	a.sns.mu.Unlock()
	if keyID != "" {
		if err := s.authorizeTopicKey(c, keyID, a.id, c.region); err != nil {
			return nil, err
		}
	}

	id := s.uuid("message", arn)
	rec := PublishedMessage{MessageID: id, TopicArn: arn, Account: c.acct().id, Caller: c.p.arn(), Subject: subject,
		Message: msg, MessageAttributes: attrs, Time: c.now, DeliveredTo: []string{}}
	for _, sub := range subs {
		if sub.filter != nil && !sub.filter.matches(attrs) {
			continue
		}
		body, qattrs := sqsMsg, map[string]MessageAttribute(nil)
		if sub.raw {
			qattrs = attrs
		} else {
			body = snsEnvelope(c, id, arn, sub.arn, subject, sqsMsg, attrs)
		}
		if s.snsMayEncryptFor(sub.endpoint) && s.deliverToQueue(sub.endpoint, body, qattrs, c.now, "AIDAIT2UOQQY3AUEKVGXU") {
			rec.DeliveredTo = append(rec.DeliveredTo, sub.endpoint)
		}
	}
	s.recordPublished(rec)
	return xmlResult(func(x *xmlWriter) { x.elem("MessageId", id) }), nil
}

// endpoint is the scheme and host the request came to, for URLs the sandbox hands out.
func (c *call) endpoint() string {
	scheme := "http"
	if c.req != nil && c.req.TLS != nil {
		scheme = "https"
	}
	host := "localhost"
	if c.req != nil && c.req.Host != "" {
		host = c.req.Host
	}
	return scheme + "://" + host
}

// snsEnvelope is the JSON document SNS delivers to a queue without raw delivery, laid out like
// AWS's. The signature is a placeholder: the sandbox signs nothing.
func snsEnvelope(c *call, id, topicArn, subArn, subject, msg string, attrs map[string]MessageAttribute) string {
	var b bytes.Buffer
	field := func(k, v string, last bool) {
		b.WriteString(`  "` + k + `" : `)
		b.WriteString(jsonString(v))
		if !last {
			b.WriteString(",")
		}
		b.WriteString("\n")
	}
	b.WriteString("{\n")
	field("Type", "Notification", false)
	field("MessageId", id, false)
	field("TopicArn", topicArn, false)
	if subject != "" {
		field("Subject", subject, false)
	}
	field("Message", msg, false)
	field("Timestamp", c.now.UTC().Format("2006-01-02T15:04:05.000Z"), false)
	field("SignatureVersion", "1", false)
	// 256 bytes, the size of SNS's RSA signatures, derived from the message id.
	sig := make([]byte, 0, 256)
	for i := 0; len(sig) < 256; i++ {
		h := sha256.Sum256([]byte(id + "\x00" + strconv.Itoa(i)))
		sig = append(sig, h[:]...)
	}
	field("Signature", base64.StdEncoding.EncodeToString(sig), false)
	field("SigningCertURL", c.endpoint()+"/_sandbox/sns/SimpleNotificationService-sandbox.pem", false)
	field("UnsubscribeURL", c.endpoint()+"/?Action=Unsubscribe&SubscriptionArn="+subArn, len(attrs) == 0)
	if len(attrs) > 0 {
		names := make([]string, 0, len(attrs))
		for n := range attrs {
			names = append(names, n)
		}
		sort.Strings(names)
		b.WriteString(`  "MessageAttributes" : {` + "\n")
		for i, n := range names {
			a := attrs[n]
			typ, val := a.DataType, a.StringValue
			if strings.HasPrefix(typ, "Binary") {
				val = base64.StdEncoding.EncodeToString(a.BinaryValue)
			}
			b.WriteString("    " + jsonString(n) + ` : {"Type":` + jsonString(typ) + `,"Value":` + jsonString(val) + "}")
			if i < len(names)-1 {
				b.WriteString(",")
			}
			b.WriteString("\n")
		}
		b.WriteString("  }\n")
	}
	b.WriteString("}")
	return b.String()
}

// jsonString encodes s as a JSON string without escaping <, > and & (as AWS writes them).
func jsonString(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}
