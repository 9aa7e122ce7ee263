package sandbox

import (
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strings"
)

// Resources CloudFormation really creates in the stack's account, with the services' own state:
// SNS topics, topic policies and subscriptions, SQS queues and queue policies, IAM roles and
// their inline policies. Every other type is recorded with a physical id (recordedCreate).
//
// IAM roles made by stacks are kept in the CloudFormation state (cloudFormation.roles), not in
// the account's role table, which is fixed when the Server is built and read without a lock by
// sts:AssumeRole: a role a stack creates exists for CloudFormation (names collide, policies are
// attached, drift is detected) but cannot be assumed.

// cfnProvider creates, updates, deletes and checks one resource type; every function is called
// with cf.mu held. A nil update means the resource is replaced on any change.
type cfnProvider struct {
	create func(cf *cloudFormation, a *account, st *cfnStack, r *cfnRes) error
	update func(cf *cloudFormation, a *account, st *cfnStack, r *cfnRes, props map[string]any) error
	delete func(cf *cloudFormation, a *account, st *cfnStack, r *cfnRes) error
	exists func(cf *cloudFormation, a *account, st *cfnStack, r *cfnRes) bool
}

var providers = map[string]cfnProvider{
	"AWS::Config::ConfigRule": {create: configRuleCreate, update: configRuleUpdate, delete: configRuleDelete, exists: configRuleExists},
	"AWS::SSM::Document":      {create: ssmDocumentCreate, delete: ssmDocumentDelete},
	"AWS::KMS::Key":           {create: kmsKeyCreate, update: kmsKeyUpdate, delete: kmsKeyDelete},

	"AWS::SNS::Topic":        {create: topicCreate, update: topicUpdate, delete: topicDelete, exists: topicExists},
	"AWS::SNS::TopicPolicy":  {create: topicPolicyCreate, update: topicPolicyUpdate, delete: topicPolicyDelete, exists: topicPolicyExists},
	"AWS::SNS::Subscription": {create: subscriptionCreate, delete: subscriptionDelete, exists: subscriptionExists},
	"AWS::SQS::Queue":        {create: queueCreate, update: queueUpdate, delete: queueDelete, exists: queueExists},
	"AWS::SQS::QueuePolicy":  {create: queuePolicyCreate, update: queuePolicyUpdate, delete: queuePolicyDelete},
	"AWS::IAM::Role":         {create: roleCreate, update: roleUpdate, delete: roleDelete, exists: roleExists},
	"AWS::IAM::RolePolicy":   {create: rolePolicyCreate, update: rolePolicyUpdate, delete: rolePolicyDelete},
}

// cfnRole is an IAM role created by a stack.
type cfnRole struct {
	name, path, id, arn string
	trust               string
	policies            map[string]string // inline policies by name
	managed             []string
}

// handlerError is how CloudFormation reports a failure of a resource handler.
func handlerError(code, format string, args ...any) error {
	return fmt.Errorf("Resource handler returned message: \"%s\" (HandlerErrorCode: %s)", fmt.Sprintf(format, args...), code)
}

func alreadyExists(typ, id string) error {
	return handlerError("AlreadyExists", "Resource of type '%s' with identifier '%s' already exists.", typ, id)
}

func propString(props map[string]any, key string) string { return scalarString(props[key]) }

// policyJSON renders a PolicyDocument property (an object, or a JSON string) as JSON.
func policyJSON(v any) (string, error) {
	if s, ok := v.(string); ok {
		return s, nil
	}
	if v == nil {
		return "", fmt.Errorf("PolicyDocument is required")
	}
	b, err := json.Marshal(v)
	return string(b), err
}

// recordedCreate gives a resource of a type the sandbox does not serve its physical id: the
// name property when the template sets one, else a generated name, as AWS would.
func recordedCreate(cf *cloudFormation, st *cfnStack, r *cfnRes) {
	for _, k := range []string{"Name", "ConfigRuleName", "DocumentName", "FunctionName", "BucketName"} {
		if v := propString(r.props, k); v != "" {
			r.physical = v
			break
		}
	}
	if r.physical == "" {
		r.physical = cf.physicalName(st, r.logical, 128)
	}
	svc := strings.ToLower(strings.Split(r.typ, "::")[1])
	r.attrs["Arn"] = "arn:aws:" + svc + ":" + st.region + ":" + st.acct + ":" + strings.ToLower(strings.Split(r.typ, "::")[2]) + "/" + r.physical
	if r.typ == "AWS::Config::ConfigRule" {
		id := "config-rule-" + strings.ToLower(cf.s.ids.id("", 6, st.id, r.logical))
		r.attrs["ConfigRuleId"] = id
		r.attrs["Arn"] = "arn:aws:config:" + st.region + ":" + st.acct + ":config-rule/" + id
		r.attrs["Compliance.Type"] = "INSUFFICIENT_DATA"
	}
}

// --- SNS ---

func topicCreate(cf *cloudFormation, a *account, st *cfnStack, r *cfnRes) error {
	name := propString(r.props, "TopicName")
	if name == "" {
		name = cf.physicalName(st, r.logical, 256)
	}
	if strings.HasSuffix(name, ".fifo") || propString(r.props, "FifoTopic") == "true" {
		return handlerError("InvalidRequest", "Invalid parameter: the sandbox does not support FIFO topics")
	}
	if !validTopicName(name) {
		return handlerError("InvalidRequest", "Invalid parameter: Topic Name")
	}
	arn := "arn:aws:sns:" + st.region + ":" + a.id + ":" + name
	a.sns.mu.Lock()
	defer a.sns.mu.Unlock()
	if a.sns.topics[arn] != nil {
		return alreadyExists(r.typ, arn)
	}
	t := a.createTopicLocked(st.region, name)
	if err := topicAttributes(t, r.props); err != nil {
		delete(a.sns.topics, arn)
		return err
	}
	r.physical = arn
	r.attrs = map[string]string{"Ref": arn, "TopicArn": arn, "TopicName": name}
	return nil
}

// topicAttributes applies a topic's properties; the caller holds the SNS lock.
func topicAttributes(t *topic, props map[string]any) error {
	if err := setTopicAttribute(t, "DisplayName", propString(props, "DisplayName")); err != nil {
		return handlerError("InvalidRequest", "%v", err)
	}
	if v := propString(props, "KmsMasterKeyId"); v != "" {
		_ = setTopicAttribute(t, "KmsMasterKeyId", v)
	}
	return nil
}

func topicUpdate(cf *cloudFormation, a *account, st *cfnStack, r *cfnRes, props map[string]any) error {
	if propString(props, "TopicName") != propString(r.props, "TopicName") {
		n := &cfnRes{logical: r.logical, typ: r.typ, props: props, attrs: map[string]string{}}
		if err := topicCreate(cf, a, st, n); err != nil {
			return err
		}
		_ = topicDelete(cf, a, st, r)
		r.physical, r.attrs = n.physical, n.attrs
		return nil
	}
	a.sns.mu.Lock()
	defer a.sns.mu.Unlock()
	t := a.sns.topics[r.physical]
	if t == nil {
		return handlerError("NotFound", "Topic %s does not exist", r.physical)
	}
	return topicAttributes(t, props)
}

func topicDelete(_ *cloudFormation, a *account, _ *cfnStack, r *cfnRes) error {
	a.sns.mu.Lock()
	delete(a.sns.topics, r.physical)
	a.sns.mu.Unlock()
	return nil
}

func topicExists(_ *cloudFormation, a *account, _ *cfnStack, r *cfnRes) bool {
	a.sns.mu.Lock()
	defer a.sns.mu.Unlock()
	return a.sns.topics[r.physical] != nil
}

// stackTopic finds a topic of the stack's account by ARN and locks its SNS state.
func stackTopic(cf *cloudFormation, st *cfnStack, arn string) (*topic, *account, error) {
	_, acct, _, ok := parseTopicARN(arn)
	if !ok {
		return nil, nil, handlerError("InvalidRequest", "Invalid parameter: TopicArn %q", arn)
	}
	if acct != st.acct {
		return nil, nil, handlerError("AccessDenied", "User: arn:aws:sts::%s:assumed-role/cloudformation is not authorized to access %s", st.acct, arn)
	}
	t, a, err := cf.s.lockTopic(arn)
	if err != nil {
		return nil, nil, handlerError("NotFound", "Topic does not exist: %s", arn)
	}
	return t, a, nil
}

func topicPolicyCreate(cf *cloudFormation, a *account, st *cfnStack, r *cfnRes) error {
	if err := applyTopicPolicy(cf, st, r.props, nil); err != nil {
		return err
	}
	r.physical = cf.physicalName(st, r.logical, 128)
	r.attrs = map[string]string{"Id": r.physical}
	return nil
}

// applyTopicPolicy sets the policy on the topics of props, resetting it on the topics of old
// that props no longer lists.
func applyTopicPolicy(cf *cloudFormation, st *cfnStack, props, old map[string]any) error {
	doc, err := policyJSON(props["PolicyDocument"])
	if err != nil {
		return handlerError("InvalidRequest", "Invalid parameter: Policy Error: %v", err)
	}
	if _, err := parsePolicy(doc); err != nil {
		return handlerError("InvalidRequest", "Invalid parameter: Policy Error: %v", err)
	}
	topics := asList(props["Topics"])
	if len(topics) == 0 {
		return handlerError("InvalidRequest", "Topics is required")
	}
	for _, arn := range topics {
		t, a, err := stackTopic(cf, st, scalarString(arn))
		if err != nil {
			return err
		}
		err = setTopicAttribute(t, "Policy", doc)
		a.sns.mu.Unlock()
		if err != nil {
			return handlerError("InvalidRequest", "%v", err)
		}
	}
	keep := map[string]bool{}
	for _, arn := range topics {
		keep[scalarString(arn)] = true
	}
	for _, arn := range asList(old["Topics"]) {
		if !keep[scalarString(arn)] {
			resetTopicPolicy(cf, scalarString(arn))
		}
	}
	return nil
}

func resetTopicPolicy(cf *cloudFormation, arn string) {
	if t, a, err := cf.s.lockTopic(arn); err == nil {
		_ = setTopicAttribute(t, "Policy", "")
		a.sns.mu.Unlock()
	}
}

func topicPolicyUpdate(cf *cloudFormation, _ *account, st *cfnStack, r *cfnRes, props map[string]any) error {
	return applyTopicPolicy(cf, st, props, r.props)
}

func topicPolicyDelete(cf *cloudFormation, _ *account, _ *cfnStack, r *cfnRes) error {
	for _, arn := range asList(r.props["Topics"]) {
		resetTopicPolicy(cf, scalarString(arn))
	}
	return nil
}

func topicPolicyExists(cf *cloudFormation, _ *account, _ *cfnStack, r *cfnRes) bool {
	doc, _ := policyJSON(r.props["PolicyDocument"])
	for _, arn := range asList(r.props["Topics"]) {
		t, a, err := cf.s.lockTopic(scalarString(arn))
		if err != nil {
			return false
		}
		same := t.policy == doc
		a.sns.mu.Unlock()
		if !same {
			return false
		}
	}
	return true
}

func subscriptionCreate(cf *cloudFormation, _ *account, st *cfnStack, r *cfnRes) error {
	protocol, endpoint, topicArn := propString(r.props, "Protocol"), propString(r.props, "Endpoint"), propString(r.props, "TopicArn")
	if protocol == "" || topicArn == "" {
		return handlerError("InvalidRequest", "Invalid parameter: Protocol and TopicArn are required")
	}
	t, a, err := stackTopic(cf, st, topicArn)
	if err != nil {
		return err
	}
	defer a.sns.mu.Unlock()
	sub := &subscription{topicArn: t.arn, endpoint: endpoint, owner: st.acct}
	sub.arn = t.arn + ":" + cf.s.uuid("subscription", t.arn, endpoint, r.logical)
	r.physical = sub.arn
	r.attrs = map[string]string{"Ref": sub.arn, "Arn": sub.arn}
	if protocol != "sqs" {
		// Email, HTTP and the others are recorded: the sandbox delivers to its queues only.
		return nil
	}
	if _, _, _, ok := parseQueueARN(endpoint); !ok {
		return handlerError("InvalidRequest", "Invalid parameter: SQS endpoint ARN")
	}
	if v := propString(r.props, "RawMessageDelivery"); v != "" {
		if err := setSubscriptionAttribute(sub, "RawMessageDelivery", v); err != nil {
			return handlerError("InvalidRequest", "%v", err)
		}
	}
	if fp, ok := r.props["FilterPolicy"]; ok {
		doc, _ := policyJSON(fp)
		if err := setSubscriptionAttribute(sub, "FilterPolicy", doc); err != nil {
			return handlerError("InvalidRequest", "%v", err)
		}
	}
	t.subs = append(t.subs, sub)
	return nil
}

func subscriptionDelete(cf *cloudFormation, _ *account, _ *cfnStack, r *cfnRes) error {
	t, a, err := cf.s.lockTopic(propString(r.props, "TopicArn"))
	if err != nil {
		return nil // the topic is gone, and its subscriptions with it
	}
	defer a.sns.mu.Unlock()
	for i, sub := range t.subs {
		if sub.arn == r.physical {
			t.subs = append(t.subs[:i:i], t.subs[i+1:]...)
			break
		}
	}
	return nil
}

func subscriptionExists(cf *cloudFormation, _ *account, _ *cfnStack, r *cfnRes) bool {
	t, a, err := cf.s.lockTopic(propString(r.props, "TopicArn"))
	if err != nil {
		return false
	}
	defer a.sns.mu.Unlock()
	if propString(r.props, "Protocol") != "sqs" {
		return true
	}
	for _, sub := range t.subs {
		if sub.arn == r.physical {
			return true
		}
	}
	return false
}

// --- SQS ---

// queueAttrProps are the queue properties that are SQS attributes of the same name.
var queueAttrProps = []string{"VisibilityTimeout", "DelaySeconds", "ReceiveMessageWaitTimeSeconds", "MessageRetentionPeriod",
	"MaximumMessageSize", "SqsManagedSseEnabled", "KmsMasterKeyId", "KmsDataKeyReusePeriodSeconds", "RedrivePolicy",
	"RedriveAllowPolicy", "FifoQueue", "ContentBasedDeduplication"}

func queueAttrs(props map[string]any) (map[string]string, error) {
	attrs := map[string]string{}
	for _, k := range queueAttrProps {
		v, ok := props[k]
		if !ok {
			continue
		}
		switch v.(type) {
		case map[string]any, []any:
			b, _ := json.Marshal(v)
			attrs[k] = string(b)
		default:
			attrs[k] = scalarString(v)
		}
	}
	if _, err := checkQueueAttrs(attrs); err != nil {
		return nil, handlerError("InvalidRequest", "%v", err.(*apiError).Message)
	}
	return attrs, nil
}

func queueCreate(cf *cloudFormation, a *account, st *cfnStack, r *cfnRes) error {
	name := propString(r.props, "QueueName")
	if name == "" {
		name = cf.physicalName(st, r.logical, 80)
	}
	if !validQueueName(name) {
		return handlerError("InvalidRequest", "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length")
	}
	attrs, err := queueAttrs(r.props)
	if err != nil {
		return err
	}
	a.sqs.mu.Lock()
	defer a.sqs.mu.Unlock()
	if a.sqs.queues[name] != nil {
		return alreadyExists(r.typ, name)
	}
	q := a.createQueueLocked(st.region, name, cf.s.now().UTC(), attrs, nil)
	u := st.endpoint + "/" + a.id + "/" + name
	r.physical = u
	r.attrs = map[string]string{"Ref": u, "QueueUrl": u, "Arn": q.arn, "QueueName": name}
	return nil
}

func queueUpdate(cf *cloudFormation, a *account, st *cfnStack, r *cfnRes, props map[string]any) error {
	if propString(props, "QueueName") != propString(r.props, "QueueName") {
		n := &cfnRes{logical: r.logical, typ: r.typ, props: props, attrs: map[string]string{}}
		if err := queueCreate(cf, a, st, n); err != nil {
			return err
		}
		_ = queueDelete(cf, a, st, r)
		r.physical, r.attrs = n.physical, n.attrs
		return nil
	}
	attrs, err := queueAttrs(props)
	if err != nil {
		return err
	}
	a.sqs.mu.Lock()
	defer a.sqs.mu.Unlock()
	q := a.sqs.queues[r.attrs["QueueName"]]
	if q == nil {
		return handlerError("NotFound", "The specified queue does not exist.")
	}
	for k, v := range attrs {
		q.attrs[k] = v
	}
	q.modified = cf.s.now().UTC()
	return nil
}

func queueDelete(_ *cloudFormation, a *account, _ *cfnStack, r *cfnRes) error {
	a.sqs.mu.Lock()
	defer a.sqs.mu.Unlock()
	if q := a.sqs.queues[r.attrs["QueueName"]]; q != nil {
		delete(a.sqs.queues, q.name)
		q.signal()
	}
	return nil
}

func queueExists(_ *cloudFormation, a *account, _ *cfnStack, r *cfnRes) bool {
	a.sqs.mu.Lock()
	defer a.sqs.mu.Unlock()
	return a.sqs.queues[r.attrs["QueueName"]] != nil
}

// stackQueue finds a queue of the stack's account by URL and locks its SQS state.
func stackQueue(cf *cloudFormation, st *cfnStack, rawURL string) (*queue, *account, error) {
	u, err := url.Parse(rawURL)
	parts := []string{}
	if err == nil {
		parts = strings.Split(strings.Trim(u.Path, "/"), "/")
	}
	if len(parts) != 2 {
		return nil, nil, handlerError("InvalidRequest", "Invalid queue URL %q", rawURL)
	}
	if parts[0] != st.acct {
		return nil, nil, handlerError("AccessDenied", "Access to the queue %s is denied", rawURL)
	}
	a := cf.s.accounts[parts[0]]
	a.sqs.mu.Lock()
	q := a.sqs.queues[parts[1]]
	if q == nil {
		a.sqs.mu.Unlock()
		return nil, nil, handlerError("NotFound", "The specified queue does not exist: %s", rawURL)
	}
	return q, a, nil
}

func applyQueuePolicy(cf *cloudFormation, st *cfnStack, props map[string]any) error {
	doc, err := policyJSON(props["PolicyDocument"])
	if err != nil {
		return handlerError("InvalidRequest", "Invalid value for the parameter Policy: %v", err)
	}
	pol, err := parsePolicy(doc)
	if err != nil {
		return handlerError("InvalidRequest", "Invalid value for the parameter Policy: %v", err)
	}
	for _, u := range asList(props["Queues"]) {
		q, a, err := stackQueue(cf, st, scalarString(u))
		if err != nil {
			return err
		}
		q.policy = pol
		q.attrs["Policy"] = doc
		a.sqs.mu.Unlock()
	}
	return nil
}

func queuePolicyCreate(cf *cloudFormation, _ *account, st *cfnStack, r *cfnRes) error {
	if err := applyQueuePolicy(cf, st, r.props); err != nil {
		return err
	}
	r.physical = cf.physicalName(st, r.logical, 128)
	r.attrs = map[string]string{"Id": r.physical}
	return nil
}

func queuePolicyUpdate(cf *cloudFormation, a *account, st *cfnStack, r *cfnRes, props map[string]any) error {
	_ = queuePolicyDelete(cf, a, st, r)
	return applyQueuePolicy(cf, st, props)
}

func queuePolicyDelete(cf *cloudFormation, _ *account, st *cfnStack, r *cfnRes) error {
	for _, u := range asList(r.props["Queues"]) {
		if q, a, err := stackQueue(cf, st, scalarString(u)); err == nil {
			q.policy = nil
			delete(q.attrs, "Policy")
			a.sqs.mu.Unlock()
		}
	}
	return nil
}

// --- IAM ---

func (cf *cloudFormation) role(acct, name string) *cfnRole {
	return cf.roles[acct][strings.ToLower(name)]
}

func roleCreate(cf *cloudFormation, a *account, st *cfnStack, r *cfnRes) error {
	name := propString(r.props, "RoleName")
	if name == "" {
		name = cf.physicalName(st, r.logical, 64)
	}
	if !validIAMName(name, 64) {
		return handlerError("InvalidRequest", "1 validation error detected: Value '%s' at 'roleName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+", name)
	}
	if a.findRole(name) != nil || cf.role(a.id, name) != nil {
		return handlerError("AlreadyExists", "Role with name %s already exists.", name)
	}
	role, err := roleFromProps(name, a.id, r.props)
	if err != nil {
		return err
	}
	role.id = cf.s.ids.id("AROA", 17, a.id, "role", name)
	if cf.roles[a.id] == nil {
		cf.roles[a.id] = map[string]*cfnRole{}
	}
	cf.roles[a.id][strings.ToLower(name)] = role
	r.physical = name
	r.attrs = map[string]string{"Ref": name, "Arn": role.arn, "RoleId": role.id}
	return nil
}

func roleFromProps(name, acct string, props map[string]any) (*cfnRole, error) {
	path := propString(props, "Path")
	if path == "" {
		path = "/"
	}
	trust, err := policyJSON(props["AssumeRolePolicyDocument"])
	if err != nil {
		return nil, fmt.Errorf("Properties validation failed for resource with message: #: required key [AssumeRolePolicyDocument] not found")
	}
	if _, err := parsePolicy(trust); err != nil {
		return nil, handlerError("InvalidRequest", "Invalid principal in policy: %v", err)
	}
	role := &cfnRole{name: name, path: path, arn: "arn:aws:iam::" + acct + ":role" + path + name, trust: trust, policies: map[string]string{}}
	for _, p := range asList(props["Policies"]) {
		pm, _ := p.(map[string]any)
		doc, err := policyJSON(pm["PolicyDocument"])
		if err != nil || propString(pm, "PolicyName") == "" {
			return nil, handlerError("InvalidRequest", "every inline policy needs a PolicyName and a PolicyDocument")
		}
		role.policies[propString(pm, "PolicyName")] = doc
	}
	for _, m := range asList(props["ManagedPolicyArns"]) {
		role.managed = append(role.managed, scalarString(m))
	}
	return role, nil
}

func roleUpdate(cf *cloudFormation, a *account, st *cfnStack, r *cfnRes, props map[string]any) error {
	if propString(props, "RoleName") != propString(r.props, "RoleName") || propString(props, "Path") != propString(r.props, "Path") {
		n := &cfnRes{logical: r.logical, typ: r.typ, props: props, attrs: map[string]string{}}
		if err := roleCreate(cf, a, st, n); err != nil {
			return err
		}
		_ = roleDelete(cf, a, st, r)
		r.physical, r.attrs = n.physical, n.attrs
		return nil
	}
	old := cf.role(a.id, r.physical)
	if old == nil {
		return handlerError("NotFound", "The role with name %s cannot be found.", r.physical)
	}
	role, err := roleFromProps(r.physical, a.id, props)
	if err != nil {
		return err
	}
	old.trust, old.managed = role.trust, role.managed
	// Policies attached by AWS::IAM::RolePolicy resources stay.
	for name := range propPolicyNames(r.props) {
		delete(old.policies, name)
	}
	for name, doc := range role.policies {
		old.policies[name] = doc
	}
	return nil
}

func propPolicyNames(props map[string]any) map[string]bool {
	out := map[string]bool{}
	for _, p := range asList(props["Policies"]) {
		pm, _ := p.(map[string]any)
		out[propString(pm, "PolicyName")] = true
	}
	return out
}

func roleDelete(cf *cloudFormation, a *account, _ *cfnStack, r *cfnRes) error {
	delete(cf.roles[a.id], strings.ToLower(r.physical))
	return nil
}

func roleExists(cf *cloudFormation, a *account, _ *cfnStack, r *cfnRes) bool {
	return cf.role(a.id, r.physical) != nil
}

func rolePolicyCreate(cf *cloudFormation, a *account, st *cfnStack, r *cfnRes) error {
	if err := attachRolePolicy(cf, a, r.props); err != nil {
		return err
	}
	r.physical = cf.physicalName(st, r.logical, 128)
	r.attrs = map[string]string{"Id": r.physical}
	return nil
}

func attachRolePolicy(cf *cloudFormation, a *account, props map[string]any) error {
	roleName, policyName := propString(props, "RoleName"), propString(props, "PolicyName")
	doc, err := policyJSON(props["PolicyDocument"])
	if err != nil || policyName == "" || roleName == "" {
		return fmt.Errorf("Properties validation failed: RoleName, PolicyName and PolicyDocument are required")
	}
	role := cf.role(a.id, roleName)
	if role == nil {
		if a.findRole(roleName) != nil {
			return nil // a role of the fixture: the sandbox does not model its policies
		}
		return handlerError("NotFound", "The role with name %s cannot be found.", roleName)
	}
	role.policies[policyName] = doc
	return nil
}

func rolePolicyUpdate(cf *cloudFormation, a *account, st *cfnStack, r *cfnRes, props map[string]any) error {
	_ = rolePolicyDelete(cf, a, st, r)
	return attachRolePolicy(cf, a, props)
}

func rolePolicyDelete(cf *cloudFormation, a *account, _ *cfnStack, r *cfnRes) error {
	if role := cf.role(a.id, propString(r.props, "RoleName")); role != nil {
		delete(role.policies, propString(r.props, "PolicyName"))
	}
	return nil
}

// CloudFormationRole is an IAM role created by a CloudFormation stack.
type CloudFormationRole struct {
	Name, Arn string
	// TrustPolicy is the AssumeRolePolicyDocument, as JSON.
	TrustPolicy string
	// Policies are the inline policies by name, as JSON.
	Policies map[string]string
}

// CloudFormationRoles returns the roles stacks created in an account, by name.
func (s *Server) CloudFormationRoles(accountID string) []CloudFormationRole {
	cf := s.cfn()
	cf.mu.Lock()
	defer cf.mu.Unlock()
	var out []CloudFormationRole
	for _, r := range cf.roles[accountID] {
		p := make(map[string]string, len(r.policies))
		for k, v := range r.policies {
			p[k] = v
		}
		out = append(out, CloudFormationRole{Name: r.name, Arn: r.arn, TrustPolicy: r.trust, Policies: p})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// stackRole is a role created by a CloudFormation stack in acct, as STS
// sees it: AssumeRole evaluates its trust policy (sts.go, trusts), and an
// sts:ExternalId condition in it is required.
func (s *Server) stackRole(acct, name string) *role {
	cf := s.cfn()
	if cf == nil {
		return nil
	}
	cf.mu.Lock()
	defer cf.mu.Unlock()
	cr := cf.role(acct, name)
	if cr == nil {
		return nil
	}
	r := &role{name: cr.name, id: cr.id, trust: cr.trust, policies: stackRolePolicies(cr.policies, cr.managed)}
	var trust struct {
		Statement []struct {
			Condition map[string]map[string]any
		}
	}
	if json.Unmarshal([]byte(cr.trust), &trust) == nil {
		for _, st := range trust.Statement {
			if v, ok := st.Condition["StringEquals"]["sts:ExternalId"].(string); ok {
				r.externalID = v
			}
		}
	}
	return r
}
