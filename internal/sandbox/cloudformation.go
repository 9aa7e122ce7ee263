package sandbox

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/keyage/keyage/internal/sandbox/cfn"
)

// The template engine's value helpers, under the names the service glue has always used.
var (
	scalarString = cfn.ScalarString
	asList       = cfn.AsList
	joinScalars  = cfn.JoinScalars
	propsEqual   = cfn.PropsEqual
)

// CloudFormation over awsQuery, version 2010-05-15: stacks, change sets and StackSets
// (cloudformation_stackset.go) in the caller's account and region. Operations progress
// asynchronously like AWS's: a stack is CREATE_IN_PROGRESS, then each resource is created in
// dependency order, one step per CloudFormationDelay, with its events, then the stack is
// CREATE_COMPLETE. Resources of the types the sandbox serves (SNS topics, topic policies and
// subscriptions, SQS queues and queue policies, IAM roles and role policies) are really created
// in the stack's account (cloudformation_resources.go); other types are recorded with a physical
// id. A resource that fails rolls the stack back like AWS: CREATE_FAILED on the resource,
// ROLLBACK_IN_PROGRESS, the created resources deleted, ROLLBACK_COMPLETE.

const cfnXMLNS = "http://cloudformation.amazonaws.com/doc/2010-05-15/"

// cfnStateOp is a hidden entry of the service's operation table through which the Server
// finds its CloudFormation state; it is not an AWS action and answers as an unknown one.
const cfnStateOp = "\x00cloudformation-state"

// DefaultCloudFormationDelay is how long each step of a stack operation takes (one resource
// created, updated or deleted), unless SetCloudFormationDelay says otherwise.
const DefaultCloudFormationDelay = 20 * time.Millisecond

// cloudFormation is the CloudFormation state of a Server, under one lock. Resource provisioning
// takes the other services' locks while holding it (never the reverse).
type cloudFormation struct {
	s      *Server
	mu     sync.Mutex
	delay  time.Duration
	notify chan struct{} // closed and replaced at each change (see changed)

	stacks    []*cfnStack             // every stack, deleted ones included, in creation order
	stackSets map[string]*cfnStackSet // live StackSets by account/region/name
	allSets   []*cfnStackSet
	roles     map[string]map[string]*cfnRole // IAM roles created by stacks: account -> name
	seq       int
	// unavailable are the resource types a region does not offer: region -> type. Set by New.
	unavailable map[string]map[string]bool
}

type cfnStack struct {
	id, name, acct, region string
	status, reason         string
	created, updated       time.Time
	deleted                time.Time
	description            string
	body                   string
	tmpl                   *cfn.Template
	params                 map[string]string
	capabilities           []string
	tags                   map[string]string
	resources              map[string]*cfnRes
	created_               []string // logical ids in creation order
	outputs                []cfn.OutputValue
	events                 []cfnEvent // oldest first
	changeSets             []*cfnChangeSet
	endpoint               string // for queue URLs
	drift                  string // NOT_CHECKED, IN_SYNC, DRIFTED
	driftChecked           time.Time
	driftCount             int
	driftID                string
}

type cfnRes struct {
	logical, typ, physical string
	status, reason         string
	props                  map[string]any
	attrs                  map[string]string
	updated                time.Time
	deletion               string
}

type cfnEvent struct {
	id, logical, physical, typ, status, reason, props string
	t                                                 time.Time
}

type cfnChangeSet struct {
	id, name, typ          string // typ CREATE or UPDATE
	status, exec, reason   string
	description            string
	created                time.Time
	body                   string
	tmpl                   *cfn.Template
	params                 map[string]string
	capabilities           []string
	changes                []cfnChange
	stack                  *cfnStack
	tags                   map[string]string
	noChanges              bool
	ready                  bool // CREATE_COMPLETE (or FAILED) from then on
	executed               bool
	executeFailed, deleted bool
}

type cfnChange struct{ action, logical, physical, typ, replacement string }

func (s *Server) cloudFormationService() *service {
	cf := &cloudFormation{s: s, delay: DefaultCloudFormationDelay, notify: make(chan struct{}), stackSets: map[string]*cfnStackSet{},
		roles: map[string]map[string]*cfnRole{}}
	svc := &service{
		name:     "cloudformation",
		version:  "2010-05-15",
		proto:    queryProtocol{xmlns: cfnXMLNS},
		throttle: newError(http.StatusBadRequest, "Throttling", "Rate exceeded"),
		failure:  newError(http.StatusInternalServerError, "InternalFailure", "An internal error has occurred"),
	}
	svc.unknownOp = queryUnknownOp(svc.version)
	svc.ops = map[string]operation{
		"CreateStack":                       cf.createStack,
		"UpdateStack":                       cf.updateStack,
		"DeleteStack":                       cf.deleteStack,
		"DescribeStacks":                    cf.describeStacks,
		"ListStacks":                        cf.listStacks,
		"DescribeStackEvents":               cf.describeStackEvents,
		"DescribeStackResources":            cf.describeStackResources,
		"GetTemplate":                       cf.getTemplate,
		"CreateChangeSet":                   cf.createChangeSet,
		"DescribeChangeSet":                 cf.describeChangeSet,
		"ExecuteChangeSet":                  cf.executeChangeSet,
		"DeleteChangeSet":                   cf.deleteChangeSet,
		"DetectStackDrift":                  cf.detectStackDrift,
		"DescribeStackDriftDetectionStatus": cf.describeStackDriftDetectionStatus,
		"CreateStackSet":                    cf.createStackSet,
		"UpdateStackSet":                    cf.updateStackSet,
		"DescribeStackSet":                  cf.describeStackSet,
		"DeleteStackSet":                    cf.deleteStackSet,
		"CreateStackInstances":              cf.createStackInstances,
		"DeleteStackInstances":              cf.deleteStackInstances,
		"ListStackInstances":                cf.listStackInstances,
		"DescribeStackInstance":             cf.describeStackInstance,
		"DescribeStackSetOperation":         cf.describeStackSetOperation,
		"ListStackSetOperations":            cf.listStackSetOperations,
		"ListStackSetOperationResults":      cf.listStackSetOperationResults,
		"DetectStackSetDrift":               cf.detectStackSetDrift,
		"DescribeType":                      cf.describeType,
		cfnStateOp: func(c *call) (any, error) {
			if c.s == nil {
				return cf, nil
			}
			return nil, svc.unknownOp(c.op)
		},
	}
	return svc
}

// cfn returns the Server's CloudFormation state.
func (s *Server) cfn() *cloudFormation {
	svc := s.bySigning["cloudformation"]
	if svc == nil {
		return nil
	}
	v, _ := svc.ops[cfnStateOp](&call{})
	cf, _ := v.(*cloudFormation)
	return cf
}

// SetCloudFormationDelay sets how long each step of a stack operation takes (default
// DefaultCloudFormationDelay; 0 makes operations complete as fast as they can, still
// asynchronously).
func (s *Server) SetCloudFormationDelay(d time.Duration) {
	if cf := s.cfn(); cf != nil {
		cf.mu.Lock()
		cf.delay = d
		cf.mu.Unlock()
	}
}

// CloudFormationChanged returns a channel closed at the next change a CloudFormation
// operation makes in the background (an event, a stack status, a change set ready, a StackSet
// operation ended). Take it before reading the state, then wait on it: no change is missed.
func (s *Server) CloudFormationChanged() <-chan struct{} {
	if cf := s.cfn(); cf != nil {
		return cf.watch()
	}
	return nil
}

// emptyResult is the empty <ActionResult> element the SDKs require of operations whose
// output has no members.
var emptyResult = xmlResult(func(*xmlWriter) {})

func cfnValidation(msg string) *apiError {
	return newError(http.StatusBadRequest, "ValidationError", msg)
}

func cfnNoStack(name string) *apiError {
	return cfnValidation("Stack with id " + name + " does not exist")
}

// queryList reads an awsQuery list: prefix.member.N.
func queryList(form url.Values, prefix string) []string {
	var out []string
	for i := 1; ; i++ {
		v, ok := form[prefix+".member."+strconv.Itoa(i)]
		if !ok {
			return out
		}
		out = append(out, v[0])
	}
}

// queryParams reads Parameters.member.N.{ParameterKey,ParameterValue,UsePreviousValue}.
func queryParams(form url.Values, prefix string) []cfn.Param {
	var out []cfn.Param
	for i := 1; ; i++ {
		p := prefix + ".member." + strconv.Itoa(i) + "."
		k, ok := form[p+"ParameterKey"]
		if !ok {
			return out
		}
		out = append(out, cfn.Param{Key: k[0], Value: form.Get(p + "ParameterValue"), UsePrevious: form.Get(p+"UsePreviousValue") == "true"})
	}
}

func queryTags(form url.Values) map[string]string {
	out := map[string]string{}
	for i := 1; ; i++ {
		p := "Tags.member." + strconv.Itoa(i) + "."
		k, ok := form[p+"Key"]
		if !ok {
			return out
		}
		out[k[0]] = form.Get(p + "Value")
	}
}

// busy reports whether a stack operation is under way.
func (st *cfnStack) busy() bool {
	return strings.HasSuffix(st.status, "_IN_PROGRESS") && st.status != "REVIEW_IN_PROGRESS"
}

func (st *cfnStack) live() bool { return st.status != "DELETE_COMPLETE" }

// findStack finds a live stack by name, or any stack by id, in the caller's account and
// region. The caller holds cf.mu.
func (cf *cloudFormation) findStack(acct, region, nameOrID string) *cfnStack {
	for i := len(cf.stacks) - 1; i >= 0; i-- {
		st := cf.stacks[i]
		if st.acct != acct || st.region != region {
			continue
		}
		if st.id == nameOrID || (st.name == nameOrID && st.live()) {
			return st
		}
	}
	return nil
}

func (cf *cloudFormation) nextID(parts ...string) string {
	cf.seq++
	return uuidOf(append(parts, strconv.Itoa(cf.seq))...)
}

// physicalName makes the name AWS gives a resource without one: stack-Logical-RANDOM, at most
// max characters.
func (cf *cloudFormation) physicalName(st *cfnStack, logical string, max int) string {
	suffix := cf.s.ids.id("", 12, st.id, logical, strconv.Itoa(cf.seq))
	cf.seq++
	stack, lg := st.name, logical
	for len(stack)+len(lg)+len(suffix)+2 > max && (len(stack) > 1 || len(lg) > 1) {
		if len(stack) >= len(lg) {
			stack = stack[:len(stack)-1]
		} else {
			lg = lg[:len(lg)-1]
		}
	}
	return stack + "-" + lg + "-" + suffix
}

// event records a stack event; the caller holds cf.mu.
func (cf *cloudFormation) event(st *cfnStack, logical, physical, typ, status, reason string, props map[string]any) {
	e := cfnEvent{id: cf.nextID("event", st.id), logical: logical, physical: physical, typ: typ, status: status,
		reason: reason, t: cf.s.now().UTC()}
	if props != nil {
		b, _ := json.Marshal(props)
		e.props = string(b)
	}
	if logical == st.name {
		e.id = logical + "-" + status + "-" + e.t.Format("2006-01-02T15:04:05.000Z")
	}
	st.events = append(st.events, e)
	cf.changed()
}

// setStatus sets the stack's status and records its event; the caller holds cf.mu.
func (cf *cloudFormation) setStatus(st *cfnStack, status, reason string) {
	st.status, st.reason = status, reason
	cf.event(st, st.name, st.id, "AWS::CloudFormation::Stack", status, reason, nil)
}

// prepared is a validated template with its parameters, ready to deploy.
type prepared struct {
	body   string
	tmpl   *cfn.Template
	params map[string]string
	caps   []string
}

// prepare validates a template body and parameters for a stack (nil for a new one), as AWS does
// before accepting a CreateStack, UpdateStack or CreateChangeSet.
func (cf *cloudFormation) prepare(c *call, st *cfnStack) (*prepared, error) {
	body := c.form.Get("TemplateBody")
	if c.form.Get("TemplateURL") != "" {
		return nil, cfnValidation("The sandbox does not fetch TemplateURL: send TemplateBody")
	}
	if c.form.Get("UsePreviousTemplate") == "true" {
		if st == nil {
			return nil, cfnValidation("UsePreviousTemplate can only be used with an existing stack")
		}
		body = st.body
	}
	p, err := prepareTemplate(body, queryParams(c.form, "Parameters"), queryList(c.form, "Capabilities"), st)
	if err != nil {
		return nil, err
	}
	if err := cf.checkRegion(p.tmpl, c.region); err != nil {
		return nil, err
	}
	return p, nil
}

func prepareTemplate(body string, params []cfn.Param, caps []string, st *cfnStack) (*prepared, error) {
	tmpl, err := cfn.Parse(body)
	if err != nil {
		return nil, templateAPIError(err)
	}
	var previous map[string]string
	if st != nil {
		previous = st.params
	}
	values, err := tmpl.ResolveParams(params, previous)
	if err != nil {
		return nil, templateAPIError(err)
	}
	if need := tmpl.RequiresIAM(); need != "" {
		has := false
		for _, c := range caps {
			has = has || c == need || (need == "CAPABILITY_IAM" && c == "CAPABILITY_NAMED_IAM")
		}
		if !has {
			return nil, newError(http.StatusBadRequest, "InsufficientCapabilitiesException", "Requires capabilities : ["+need+"]")
		}
	}
	// Conditions that cannot be evaluated are a template error, found now as AWS does.
	ev := &cfn.Evaluator{Template: tmpl, Params: values, Pseudo: map[string]string{"AWS::Region": "us-east-1"}}
	if err := ev.EvalConditions(); err != nil {
		return nil, templateAPIError(err)
	}
	return &prepared{body: body, tmpl: tmpl, params: values, caps: caps}, nil
}

// templateAPIError answers a template engine's error as the ValidationError of the calling API.
func templateAPIError(err error) error {
	var ve *cfn.ValidationError
	if errors.As(err, &ve) {
		return cfnValidation(ve.Message)
	}
	return err
}

func (cf *cloudFormation) newStack(c *call, acct, region, name string) *cfnStack {
	st := cf.newStackRaw(acct, region, name, c.endpoint())
	st.tags = queryTags(c.form)
	return st
}

func validStackName(name string) bool {
	if name == "" || len(name) > 128 || !(name[0] >= 'a' && name[0] <= 'z' || name[0] >= 'A' && name[0] <= 'Z') {
		return false
	}
	for i := 0; i < len(name); i++ {
		b := name[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '-') {
			return false
		}
	}
	return true
}

func (cf *cloudFormation) createStack(c *call) (any, error) {
	name := c.form.Get("StackName")
	if !validStackName(name) {
		return nil, cfnValidation("1 validation error detected: Value '" + name + "' at 'stackName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z][-a-zA-Z0-9]*")
	}
	p, err := cf.prepare(c, nil)
	if err != nil {
		return nil, err
	}
	cf.mu.Lock()
	defer cf.mu.Unlock()
	if cf.findStack(c.acct().id, c.region, name) != nil {
		return nil, newError(http.StatusBadRequest, "AlreadyExistsException", "Stack ["+name+"] already exists")
	}
	st := cf.newStack(c, c.acct().id, c.region, name)
	st.description = p.tmpl.Description
	cf.setStatus(st, "CREATE_IN_PROGRESS", "User Initiated")
	go cf.run(st, "CREATE", p, nil)
	return xmlResult(func(x *xmlWriter) { x.elem("StackId", st.id) }), nil
}

func (cf *cloudFormation) updateStack(c *call) (any, error) {
	name := c.form.Get("StackName")
	cf.mu.Lock()
	st := cf.findStack(c.acct().id, c.region, name)
	cf.mu.Unlock()
	if st == nil || !st.live() {
		return nil, cfnNoStack(name)
	}
	p, err := cf.prepare(c, st)
	if err != nil {
		return nil, err
	}
	cf.mu.Lock()
	defer cf.mu.Unlock()
	if err := st.updatable(); err != nil {
		return nil, err
	}
	if changes := cf.changes(st, p); len(changes) == 0 {
		return nil, cfnValidation("No updates are to be performed.")
	}
	st.endpoint = c.endpoint()
	cf.setStatus(st, "UPDATE_IN_PROGRESS", "User Initiated")
	go cf.run(st, "UPDATE", p, nil)
	return xmlResult(func(x *xmlWriter) { x.elem("StackId", st.id) }), nil
}

// updatable reports why a stack cannot be updated now; the caller holds cf.mu.
func (st *cfnStack) updatable() error {
	switch {
	case st.busy(), st.status == "ROLLBACK_COMPLETE", st.status == "ROLLBACK_FAILED", st.status == "CREATE_FAILED",
		st.status == "DELETE_FAILED", st.status == "REVIEW_IN_PROGRESS":
		return cfnValidation("Stack:" + st.id + " is in " + st.status + " state and can not be updated.")
	}
	return nil
}

func (cf *cloudFormation) deleteStack(c *call) (any, error) {
	name := c.form.Get("StackName")
	cf.mu.Lock()
	defer cf.mu.Unlock()
	st := cf.findStack(c.acct().id, c.region, name)
	if st == nil || !st.live() || st.status == "DELETE_IN_PROGRESS" {
		return nil, nil // deleting a stack that does not exist (any more) succeeds, as AWS
	}
	if st.busy() {
		return nil, cfnValidation("Stack [" + st.name + "] cannot be deleted while in status " + st.status)
	}
	cf.startDelete(st)
	return nil, nil
}

// startDelete begins deleting a stack; the caller holds cf.mu.
func (cf *cloudFormation) startDelete(st *cfnStack) {
	if st.status == "REVIEW_IN_PROGRESS" {
		st.status, st.deleted = "DELETE_COMPLETE", cf.s.now().UTC()
		cf.event(st, st.name, st.id, "AWS::CloudFormation::Stack", "DELETE_COMPLETE", "", nil)
		return
	}
	cf.setStatus(st, "DELETE_IN_PROGRESS", "User Initiated")
	go cf.run(st, "DELETE", nil, nil)
}

func writeStackParams(x *xmlWriter, st *cfnStack, params map[string]string) {
	x.open("Parameters")
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := params[k]
		if st != nil && st.tmpl != nil && st.tmpl.Params[k] != nil && st.tmpl.Params[k].NoEcho {
			v = "****"
		}
		x.open("member")
		x.elem("ParameterKey", k)
		x.elem("ParameterValue", v)
		x.close("member")
	}
	x.close("Parameters")
}

func writeStack(x *xmlWriter, st *cfnStack) {
	x.open("member")
	x.elem("StackId", st.id)
	x.elem("StackName", st.name)
	if st.description != "" {
		x.elem("Description", st.description)
	}
	writeStackParams(x, st, st.params)
	x.timeElem("CreationTime", st.created)
	if !st.updated.IsZero() {
		x.timeElem("LastUpdatedTime", st.updated)
	}
	if !st.deleted.IsZero() {
		x.timeElem("DeletionTime", st.deleted)
	}
	x.elem("StackStatus", st.status)
	if st.reason != "" {
		x.elem("StackStatusReason", st.reason)
	}
	x.boolElem("DisableRollback", false)
	x.open("NotificationARNs")
	x.close("NotificationARNs")
	x.open("Capabilities")
	for _, c := range st.capabilities {
		x.elem("member", c)
	}
	x.close("Capabilities")
	if strings.HasSuffix(st.status, "_COMPLETE") && len(st.outputs) > 0 {
		x.open("Outputs")
		for _, o := range st.outputs {
			x.open("member")
			x.elem("OutputKey", o.Key)
			x.elem("OutputValue", o.Value)
			if o.Description != "" {
				x.elem("Description", o.Description)
			}
			x.close("member")
		}
		x.close("Outputs")
	}
	x.open("Tags")
	for _, k := range sortedKeys(st.tags) {
		x.open("member")
		x.elem("Key", k)
		x.elem("Value", st.tags[k])
		x.close("member")
	}
	x.close("Tags")
	x.open("DriftInformation")
	x.elem("StackDriftStatus", st.drift)
	if !st.driftChecked.IsZero() {
		x.timeElem("LastCheckTimestamp", st.driftChecked)
	}
	x.close("DriftInformation")
	x.close("member")
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (cf *cloudFormation) describeStacks(c *call) (any, error) {
	name := c.form.Get("StackName")
	cf.mu.Lock()
	defer cf.mu.Unlock()
	var list []*cfnStack
	if name != "" {
		st := cf.findStack(c.acct().id, c.region, name)
		if st == nil || (st.name == name && !st.live()) {
			return nil, cfnNoStack(name)
		}
		list = []*cfnStack{st}
	} else {
		for _, st := range cf.stacks {
			if st.acct == c.acct().id && st.region == c.region && st.live() {
				list = append(list, st)
			}
		}
	}
	// Render under the lock: the stacks change while operations run.
	x := &xmlWriter{}
	x.open("Stacks")
	for _, st := range list {
		writeStack(x, st)
	}
	x.close("Stacks")
	out := x.buf.String()
	return xmlResult(func(w *xmlWriter) { w.raw(out) }), nil
}

func (cf *cloudFormation) listStacks(c *call) (any, error) {
	filter := map[string]bool{}
	for _, f := range queryList(c.form, "StackStatusFilter") {
		filter[f] = true
	}
	cf.mu.Lock()
	defer cf.mu.Unlock()
	x := &xmlWriter{}
	x.open("StackSummaries")
	for i := len(cf.stacks) - 1; i >= 0; i-- {
		st := cf.stacks[i]
		if st.acct != c.acct().id || st.region != c.region || (len(filter) > 0 && !filter[st.status]) {
			continue
		}
		x.open("member")
		x.elem("StackId", st.id)
		x.elem("StackName", st.name)
		if st.description != "" {
			x.elem("TemplateDescription", st.description)
		}
		x.timeElem("CreationTime", st.created)
		if !st.updated.IsZero() {
			x.timeElem("LastUpdatedTime", st.updated)
		}
		if !st.deleted.IsZero() {
			x.timeElem("DeletionTime", st.deleted)
		}
		x.elem("StackStatus", st.status)
		if st.reason != "" {
			x.elem("StackStatusReason", st.reason)
		}
		x.close("member")
	}
	x.close("StackSummaries")
	out := x.buf.String()
	return xmlResult(func(w *xmlWriter) { w.raw(out) }), nil
}

func (cf *cloudFormation) describeStackEvents(c *call) (any, error) {
	name := c.form.Get("StackName")
	cf.mu.Lock()
	defer cf.mu.Unlock()
	st := cf.findStack(c.acct().id, c.region, name)
	if st == nil {
		return nil, cfnNoStack(name)
	}
	// Newest first, 100 per page, as AWS.
	start := 0
	if tok := c.form.Get("NextToken"); tok != "" {
		n, err := strconv.Atoi(tok)
		if err != nil || n < 0 {
			return nil, cfnValidation("Invalid NextToken")
		}
		start = n
	}
	x := &xmlWriter{}
	x.open("StackEvents")
	n := len(st.events)
	end := min(n, start+100)
	for i := start; i < end; i++ {
		e := st.events[n-1-i]
		x.open("member")
		x.elem("StackId", st.id)
		x.elem("EventId", e.id)
		x.elem("StackName", st.name)
		x.elem("LogicalResourceId", e.logical)
		if e.physical != "" {
			x.elem("PhysicalResourceId", e.physical)
		}
		x.elem("ResourceType", e.typ)
		x.timeElem("Timestamp", e.t)
		x.elem("ResourceStatus", e.status)
		if e.reason != "" {
			x.elem("ResourceStatusReason", e.reason)
		}
		if e.props != "" {
			x.elem("ResourceProperties", e.props)
		}
		x.close("member")
	}
	x.close("StackEvents")
	if end < n {
		x.elem("NextToken", strconv.Itoa(end))
	}
	out := x.buf.String()
	return xmlResult(func(w *xmlWriter) { w.raw(out) }), nil
}

func (cf *cloudFormation) describeStackResources(c *call) (any, error) {
	name := c.form.Get("StackName")
	cf.mu.Lock()
	defer cf.mu.Unlock()
	st := cf.findStack(c.acct().id, c.region, name)
	if st == nil {
		return nil, cfnNoStack(name)
	}
	x := &xmlWriter{}
	x.open("StackResources")
	for _, lg := range st.created_ {
		r := st.resources[lg]
		if r == nil {
			continue
		}
		x.open("member")
		x.elem("StackName", st.name)
		x.elem("StackId", st.id)
		x.elem("LogicalResourceId", r.logical)
		x.elem("PhysicalResourceId", r.physical)
		x.elem("ResourceType", r.typ)
		x.timeElem("Timestamp", r.updated)
		x.elem("ResourceStatus", r.status)
		if r.reason != "" {
			x.elem("ResourceStatusReason", r.reason)
		}
		x.close("member")
	}
	x.close("StackResources")
	out := x.buf.String()
	return xmlResult(func(w *xmlWriter) { w.raw(out) }), nil
}

func (cf *cloudFormation) getTemplate(c *call) (any, error) {
	name := c.form.Get("StackName")
	cf.mu.Lock()
	defer cf.mu.Unlock()
	st := cf.findStack(c.acct().id, c.region, name)
	if st == nil {
		return nil, cfnNoStack(name)
	}
	body := st.body
	return xmlResult(func(x *xmlWriter) {
		x.elem("TemplateBody", body)
		x.open("StagesAvailable")
		x.elem("member", "Original")
		x.elem("member", "Processed")
		x.close("StagesAvailable")
	}), nil
}

// --- change sets ---

func (cf *cloudFormation) createChangeSet(c *call) (any, error) {
	stackName, csName := c.form.Get("StackName"), c.form.Get("ChangeSetName")
	typ := c.form.Get("ChangeSetType")
	if typ == "" {
		typ = "UPDATE"
	}
	switch {
	case !validStackName(csName):
		return nil, cfnValidation("1 validation error detected: Value '" + csName + "' at 'changeSetName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z][-a-zA-Z0-9]*")
	case typ != "CREATE" && typ != "UPDATE":
		return nil, cfnValidation("ChangeSetType " + typ + ": the sandbox supports CREATE and UPDATE")
	case !validStackName(stackName):
		return nil, cfnValidation("1 validation error detected: Value '" + stackName + "' at 'stackName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z][-a-zA-Z0-9]*")
	}
	acct := c.acct().id
	cf.mu.Lock()
	st := cf.findStack(acct, c.region, stackName)
	cf.mu.Unlock()
	var p *prepared
	var err error
	if typ == "UPDATE" && st != nil && st.live() {
		p, err = cf.prepare(c, st)
	} else {
		p, err = cf.prepare(c, nil)
	}
	if err != nil {
		return nil, err
	}
	cf.mu.Lock()
	defer cf.mu.Unlock()
	st = cf.findStack(acct, c.region, stackName)
	switch {
	case typ == "CREATE" && st != nil && st.status != "REVIEW_IN_PROGRESS":
		return nil, cfnValidation("Stack [" + stackName + "] already exists and cannot be created again with the changeSet [" + csName + "].")
	case typ == "UPDATE" && (st == nil || st.status == "REVIEW_IN_PROGRESS"):
		return nil, cfnValidation("Stack [" + stackName + "] does not exist")
	case typ == "UPDATE":
		if err := st.updatable(); err != nil {
			return nil, err
		}
	}
	if st == nil {
		st = cf.newStack(c, acct, c.region, stackName)
		st.description = p.tmpl.Description
		cf.setStatus(st, "REVIEW_IN_PROGRESS", "User Initiated")
	}
	for _, old := range st.changeSets {
		if old.name == csName && !old.deleted {
			return nil, newError(http.StatusBadRequest, "AlreadyExistsException", "ChangeSet ["+csName+"] already exists")
		}
	}
	cs := &cfnChangeSet{name: csName, typ: typ, created: c.now, body: p.body, tmpl: p.tmpl, params: p.params,
		capabilities: p.caps, stack: st, description: c.form.Get("Description"), tags: queryTags(c.form)}
	cs.id = "arn:aws:cloudformation:" + c.region + ":" + acct + ":changeSet/" + csName + "/" + cf.nextID("changeset", st.id, csName)
	cs.changes = cf.changes(st, p)
	cs.noChanges = len(cs.changes) == 0 && typ == "UPDATE"
	// The change set is computed at once but reported CREATE_IN_PROGRESS for one step, as AWS
	// takes a few seconds.
	if d := cf.delay; d > 0 {
		go func() {
			<-cf.s.after(d)
			cf.mu.Lock()
			defer cf.mu.Unlock()
			cs.ready = true
			cf.changed()
		}()
	} else {
		cs.ready = true
	}
	st.changeSets = append(st.changeSets, cs)
	return xmlResult(func(x *xmlWriter) {
		x.elem("Id", cs.id)
		x.elem("StackId", st.id)
	}), nil
}

// refreshChangeSet moves a change set to CREATE_COMPLETE (or FAILED) once ready; the caller
// holds cf.mu.
func (cs *cfnChangeSet) refresh() {
	if cs.status != "" {
		return
	}
	if !cs.ready {
		return
	}
	if cs.noChanges {
		cs.status, cs.exec = "FAILED", "UNAVAILABLE"
		cs.reason = "The submitted information didn't contain changes. Submit different information to create a change set."
		return
	}
	cs.status, cs.exec = "CREATE_COMPLETE", "AVAILABLE"
}

func (cs *cfnChangeSet) state() (status, exec string) {
	cs.refresh()
	switch {
	case cs.status == "":
		return "CREATE_IN_PROGRESS", "UNAVAILABLE"
	case cs.executeFailed:
		return cs.status, "EXECUTE_FAILED"
	case cs.executed && cs.stack.busy():
		return cs.status, "EXECUTE_IN_PROGRESS"
	case cs.executed:
		return cs.status, "EXECUTE_COMPLETE"
	}
	return cs.status, cs.exec
}

// findChangeSet finds a change set by ARN, or by name within StackName; the caller holds cf.mu.
func (cf *cloudFormation) findChangeSet(c *call) (*cfnChangeSet, error) {
	name, stackName := c.form.Get("ChangeSetName"), c.form.Get("StackName")
	notFound := newError(http.StatusNotFound, "ChangeSetNotFound", "ChangeSet ["+name+"] does not exist")
	if strings.HasPrefix(name, "arn:") {
		for _, st := range cf.stacks {
			if st.acct != c.acct().id {
				continue
			}
			for _, cs := range st.changeSets {
				if cs.id == name && !cs.deleted {
					return cs, nil
				}
			}
		}
		return nil, notFound
	}
	if stackName == "" {
		return nil, cfnValidation("StackName must be specified if ChangeSetName is not specified as an ARN.")
	}
	st := cf.findStack(c.acct().id, c.region, stackName)
	if st == nil {
		return nil, notFound
	}
	for _, cs := range st.changeSets {
		if cs.name == name && !cs.deleted {
			return cs, nil
		}
	}
	return nil, notFound
}

func (cf *cloudFormation) describeChangeSet(c *call) (any, error) {
	cf.mu.Lock()
	defer cf.mu.Unlock()
	cs, err := cf.findChangeSet(c)
	if err != nil {
		return nil, err
	}
	status, exec := cs.state()
	x := &xmlWriter{}
	x.elem("ChangeSetName", cs.name)
	x.elem("ChangeSetId", cs.id)
	x.elem("StackId", cs.stack.id)
	x.elem("StackName", cs.stack.name)
	if cs.description != "" {
		x.elem("Description", cs.description)
	}
	writeStackParams(x, cs.stack, cs.params)
	x.timeElem("CreationTime", cs.created)
	x.elem("ExecutionStatus", exec)
	x.elem("Status", status)
	if cs.reason != "" {
		x.elem("StatusReason", cs.reason)
	}
	x.open("Capabilities")
	for _, c := range cs.capabilities {
		x.elem("member", c)
	}
	x.close("Capabilities")
	x.open("Changes")
	if status != "CREATE_IN_PROGRESS" {
		for _, ch := range cs.changes {
			x.open("member")
			x.elem("Type", "Resource")
			x.open("ResourceChange")
			x.elem("Action", ch.action)
			x.elem("LogicalResourceId", ch.logical)
			if ch.physical != "" {
				x.elem("PhysicalResourceId", ch.physical)
			}
			x.elem("ResourceType", ch.typ)
			if ch.replacement != "" {
				x.elem("Replacement", ch.replacement)
			}
			x.close("ResourceChange")
			x.close("member")
		}
	}
	x.close("Changes")
	out := x.buf.String()
	return xmlResult(func(w *xmlWriter) { w.raw(out) }), nil
}

func (cf *cloudFormation) executeChangeSet(c *call) (any, error) {
	cf.mu.Lock()
	defer cf.mu.Unlock()
	cs, err := cf.findChangeSet(c)
	if err != nil {
		return nil, err
	}
	status, exec := cs.state()
	if status != "CREATE_COMPLETE" || exec != "AVAILABLE" {
		return nil, newError(http.StatusBadRequest, "InvalidChangeSetStatus",
			"ChangeSet ["+cs.id+"] cannot be executed in its current status of ["+status+"]")
	}
	st := cs.stack
	if st.busy() {
		return nil, newError(http.StatusBadRequest, "InvalidChangeSetStatus",
			"ChangeSet ["+cs.id+"] cannot be executed while the stack is "+st.status)
	}
	cs.executed = true
	// AWS deletes the stack's other change sets: they no longer apply.
	for _, other := range st.changeSets {
		if other != cs {
			other.deleted = true
		}
	}
	st.endpoint = c.endpoint()
	p := &prepared{body: cs.body, tmpl: cs.tmpl, params: cs.params, caps: cs.capabilities}
	if st.status == "REVIEW_IN_PROGRESS" {
		cf.setStatus(st, "CREATE_IN_PROGRESS", "User Initiated")
		go cf.run(st, "CREATE", p, cs)
	} else {
		cf.setStatus(st, "UPDATE_IN_PROGRESS", "User Initiated")
		go cf.run(st, "UPDATE", p, cs)
	}
	return emptyResult, nil
}

func (cf *cloudFormation) deleteChangeSet(c *call) (any, error) {
	cf.mu.Lock()
	defer cf.mu.Unlock()
	cs, err := cf.findChangeSet(c)
	if err != nil {
		return nil, err
	}
	if cs.executed && cs.stack.busy() {
		return nil, newError(http.StatusBadRequest, "InvalidChangeSetStatus", "ChangeSet ["+cs.id+"] cannot be deleted while it is executed")
	}
	cs.deleted = true
	return emptyResult, nil
}

// changes computes what deploying p to st would do; the caller holds cf.mu.
func (cf *cloudFormation) changes(st *cfnStack, p *prepared) []cfnChange {
	ev := cf.evaluator(st, p.tmpl, p.params)
	ev.Ref = func(lg string) (string, bool) {
		if r := st.resources[lg]; r != nil {
			return cf.refOf(r), true
		}
		return "{{new:" + lg + "}}", true
	}
	ev.GetAtt = func(lg, attr string) (string, error) {
		if r := st.resources[lg]; r != nil {
			return r.attrs[attr], nil
		}
		return "{{new:" + lg + "." + attr + "}}", nil
	}
	var out []cfnChange
	wanted := map[string]bool{}
	if err := ev.EvalConditions(); err != nil {
		return []cfnChange{{action: "Modify", logical: st.name, typ: "AWS::CloudFormation::Stack"}}
	}
	order, _ := p.tmpl.Order()
	for _, lg := range order {
		d := p.tmpl.Resources[lg]
		if d.Condition != "" && !ev.Conditions[d.Condition] {
			continue
		}
		wanted[lg] = true
		old := st.resources[lg]
		if old == nil {
			out = append(out, cfnChange{action: "Add", logical: lg, typ: d.Type})
			continue
		}
		v, err := ev.Eval(d.Props)
		props, _ := v.(map[string]any)
		if err != nil || old.typ != d.Type || !propsEqual(old.props, props) {
			out = append(out, cfnChange{action: "Modify", logical: lg, physical: old.physical, typ: d.Type, replacement: "Conditional"})
		}
	}
	for _, lg := range st.created_ {
		if r := st.resources[lg]; r != nil && !wanted[lg] {
			out = append(out, cfnChange{action: "Remove", logical: lg, physical: r.physical, typ: r.typ})
		}
	}
	return out
}

// --- drift ---

func (cf *cloudFormation) detectStackDrift(c *call) (any, error) {
	name := c.form.Get("StackName")
	cf.mu.Lock()
	defer cf.mu.Unlock()
	st := cf.findStack(c.acct().id, c.region, name)
	if st == nil || !st.live() {
		return nil, cfnNoStack(name)
	}
	if st.busy() {
		return nil, cfnValidation("Drift detection cannot be performed on stack " + st.id + " in " + st.status + " status")
	}
	cf.detectDrift(st)
	id := st.driftID
	return xmlResult(func(x *xmlWriter) { x.elem("StackDriftDetectionId", id) }), nil
}

// detectDrift compares the stack's resources with what exists; the caller holds cf.mu.
func (cf *cloudFormation) detectDrift(st *cfnStack) {
	st.driftCount = 0
	a := cf.s.accounts[st.acct]
	for _, lg := range st.created_ {
		r := st.resources[lg]
		if r == nil {
			continue
		}
		if p := providers[r.typ]; p.exists != nil && !p.exists(cf, a, st, r) {
			st.driftCount++
		}
	}
	st.drift = "IN_SYNC"
	if st.driftCount > 0 {
		st.drift = "DRIFTED"
	}
	st.driftChecked = cf.s.now().UTC()
	st.driftID = cf.nextID("drift", st.id)
}

func (cf *cloudFormation) describeStackDriftDetectionStatus(c *call) (any, error) {
	id := c.form.Get("StackDriftDetectionId")
	cf.mu.Lock()
	defer cf.mu.Unlock()
	for _, st := range cf.stacks {
		if st.acct == c.acct().id && st.driftID == id && id != "" {
			drift, n, t := st.drift, st.driftCount, st.driftChecked
			stackID := st.id
			return xmlResult(func(x *xmlWriter) {
				x.elem("StackId", stackID)
				x.elem("StackDriftDetectionId", id)
				x.elem("StackDriftStatus", drift)
				x.elem("DetectionStatus", "DETECTION_COMPLETE")
				x.elem("DriftedStackResourceCount", strconv.Itoa(n))
				x.timeElem("Timestamp", t)
			}), nil
		}
	}
	return nil, cfnValidation("Drift detection with id " + id + " does not exist")
}
