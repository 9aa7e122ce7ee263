package sandbox

import (
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/keyage/keyage/internal/sandbox/cfn"
)

// StackSets: a template deployed as one stack per (account, region) instance, each a real stack
// (StackSet-<name>-<id>) in the target account, created, updated and deleted by operations that
// run asynchronously like AWS's. Self-managed StackSets need the administration role in the
// StackSet's account and the execution role in every target account (fixture roles, or roles
// created by stacks); without them the instance FAILS with AWS's reason. Service-managed
// StackSets deploy to the accounts of organizational units (never to the management account)
// and need no roles.

type cfnStackSet struct {
	name, id, arn, acct, region string
	status                      string // ACTIVE or DELETED
	description                 string
	body                        string
	tmpl                        *cfn.Template
	params                      []cfn.Param
	caps                        []string
	model                       string // SELF_MANAGED or SERVICE_MANAGED
	adminRole, execRole         string
	autoDeploy, retainOnRemoval bool
	tags                        map[string]string
	instances                   []*cfnInstance
	ops                         []*cfnOperation
	endpoint                    string
	drift                       *cfnSetDrift
}

type cfnInstance struct {
	account, region, ou string
	status, detailed    string // CURRENT/OUTDATED/INOPERABLE; PENDING/RUNNING/SUCCEEDED/FAILED/CANCELLED
	reason              string
	stack               *cfnStack
	overrides           []cfn.Param
	lastOp              string
	drift               string
	driftChecked        time.Time
}

type cfnOperation struct {
	id, action, status, reason string
	created, ended             time.Time
	prefs                      cfnPrefs
	retain                     bool
	adminRole, execRole        string
	results                    []*cfnOpResult
}

type cfnOpResult struct{ account, region, ou, status, reason string }

type cfnPrefs struct {
	maxCount, maxPct, tolCount, tolPct *int
	concurrency                        string
	// mode is ConcurrencyMode: STRICT_FAILURE_TOLERANCE (default) caps the instances deployed
	// at once at the failure tolerance + 1, whatever MaxConcurrent* says;
	// SOFT_FAILURE_TOLERANCE deploys MaxConcurrent* at once.
	mode        string
	regionOrder []string
}

type cfnSetDrift struct {
	status, detection                          string
	total, drifted, inSync, inProgress, failed int
	checked                                    time.Time
}

func stackSetNotFound(name string) *apiError {
	return newError(http.StatusNotFound, "StackSetNotFoundException", "StackSet "+name+" not found")
}

func opInProgress() *apiError {
	return newError(http.StatusConflict, "OperationInProgressException", "Another Operation on StackSet is in progress")
}

// findStackSet finds a live StackSet of the caller by name or id; the caller holds cf.mu.
func (cf *cloudFormation) findStackSet(c *call, name string) (*cfnStackSet, error) {
	if ss := cf.stackSets[c.acct().id+"/"+c.region+"/"+name]; ss != nil {
		return ss, nil
	}
	for _, ss := range cf.allSets {
		if ss.acct == c.acct().id && ss.region == c.region && ss.id == name && ss.status == "ACTIVE" {
			return ss, nil
		}
	}
	return nil, stackSetNotFound(name)
}

func (ss *cfnStackSet) running() bool {
	for _, op := range ss.ops {
		if op.status == "RUNNING" || op.status == "QUEUED" || op.status == "STOPPING" {
			return true
		}
	}
	return false
}

func queryInt(form url.Values, key string) *int {
	v := form.Get(key)
	if v == "" {
		return nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return nil
	}
	return &n
}

func queryPrefs(form url.Values) (cfnPrefs, error) {
	p := cfnPrefs{
		maxCount: queryInt(form, "OperationPreferences.MaxConcurrentCount"),
		maxPct:   queryInt(form, "OperationPreferences.MaxConcurrentPercentage"),
		tolCount: queryInt(form, "OperationPreferences.FailureToleranceCount"),
		tolPct:   queryInt(form, "OperationPreferences.FailureTolerancePercentage"),

		concurrency: form.Get("OperationPreferences.RegionConcurrencyType"),
		mode:        form.Get("OperationPreferences.ConcurrencyMode"),
		regionOrder: queryList(form, "OperationPreferences.RegionOrder"),
	}
	switch {
	case p.mode != "" && p.mode != "STRICT_FAILURE_TOLERANCE" && p.mode != "SOFT_FAILURE_TOLERANCE":
		return p, cfnValidation("ConcurrencyMode " + p.mode + ": want STRICT_FAILURE_TOLERANCE or SOFT_FAILURE_TOLERANCE")
	case p.maxCount != nil && p.maxPct != nil:
		return p, cfnValidation("MaxConcurrentCount and MaxConcurrentPercentage are mutually exclusive")
	case p.tolCount != nil && p.tolPct != nil:
		return p, cfnValidation("FailureToleranceCount and FailureTolerancePercentage are mutually exclusive")
	case p.maxPct != nil && (*p.maxPct < 1 || *p.maxPct > 100):
		return p, cfnValidation("MaxConcurrentPercentage must be between 1 and 100")
	case p.tolPct != nil && (*p.tolPct < 0 || *p.tolPct > 100):
		return p, cfnValidation("FailureTolerancePercentage must be between 0 and 100")
	case p.maxCount != nil && *p.maxCount < 1:
		return p, cfnValidation("MaxConcurrentCount must be at least 1")
	case p.tolCount != nil && *p.tolCount < 0:
		return p, cfnValidation("FailureToleranceCount must not be negative")
	case p.mode != "SOFT_FAILURE_TOLERANCE" && p.maxCount != nil && p.tolCount != nil && *p.maxCount > *p.tolCount+1:
		return p, cfnValidation("MaxConcurrentCount must be at most FailureToleranceCount + 1")
	}
	return p, nil
}

// batch and tolerance size an operation over n instances as AWS does: percentages round down,
// at least one instance at a time; in the default STRICT_FAILURE_TOLERANCE mode no more than
// the failure tolerance + 1 at a time.
func (p cfnPrefs) batch(n int) int {
	b := 1
	switch {
	case p.maxCount != nil:
		b = max(1, *p.maxCount)
	case p.maxPct != nil:
		b = max(1, n**p.maxPct/100)
	}
	if p.mode != "SOFT_FAILURE_TOLERANCE" {
		b = min(b, p.tolerance(n)+1)
	}
	return b
}

func (p cfnPrefs) tolerance(n int) int {
	switch {
	case p.tolCount != nil:
		return *p.tolCount
	case p.tolPct != nil:
		return n * *p.tolPct / 100
	}
	return 0
}

func (cf *cloudFormation) createStackSet(c *call) (any, error) {
	name := c.form.Get("StackSetName")
	if !validStackName(name) {
		return nil, cfnValidation("1 validation error detected: Value '" + name + "' at 'stackSetName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z][-a-zA-Z0-9]*")
	}
	if c.form.Get("TemplateURL") != "" {
		return nil, cfnValidation("The sandbox does not fetch TemplateURL: send TemplateBody")
	}
	params := queryParams(c.form, "Parameters")
	caps := queryList(c.form, "Capabilities")
	p, err := prepareTemplate(c.form.Get("TemplateBody"), params, caps, nil)
	if err != nil {
		return nil, err
	}
	acct := c.acct().id
	ss := &cfnStackSet{
		name: name, acct: acct, region: c.region, status: "ACTIVE", description: c.form.Get("Description"),
		body: p.body, tmpl: p.tmpl, params: params, caps: caps, model: c.form.Get("PermissionModel"),
		adminRole: c.form.Get("AdministrationRoleARN"), execRole: c.form.Get("ExecutionRoleName"),
		autoDeploy: c.form.Get("AutoDeployment.Enabled") == "true", retainOnRemoval: c.form.Get("AutoDeployment.RetainStacksOnAccountRemoval") == "true",
		tags: queryTags(c.form), endpoint: c.endpoint(),
	}
	if ss.model == "" {
		ss.model = "SELF_MANAGED"
	}
	switch ss.model {
	case "SELF_MANAGED":
		if ss.adminRole == "" {
			ss.adminRole = "arn:aws:iam::" + acct + ":role/AWSCloudFormationStackSetAdministrationRole"
		}
		if ss.execRole == "" {
			ss.execRole = "AWSCloudFormationStackSetExecutionRole"
		}
	case "SERVICE_MANAGED":
		if acct != c.s.mgmtID && !(c.form.Get("CallAs") == "DELEGATED_ADMIN" && c.acct().delegated) {
			return nil, cfnValidation("You must be the management account of the organization, or a delegated administrator, to create a StackSet with service-managed permissions.")
		}
		if !c.s.org.stackSetsAccess {
			return nil, cfnValidation("You must enable organizations access to operate a service managed stack set")
		}
		if c.form.Get("AutoDeployment.Enabled") == "" {
			return nil, cfnValidation("AutoDeployment must be specified for a StackSet with SERVICE_MANAGED permissions")
		}
		ss.adminRole, ss.execRole = "", ""
	default:
		return nil, cfnValidation("PermissionModel " + ss.model + ": want SELF_MANAGED or SERVICE_MANAGED")
	}
	cf.mu.Lock()
	defer cf.mu.Unlock()
	key := acct + "/" + c.region + "/" + name
	if cf.stackSets[key] != nil {
		return nil, newError(http.StatusConflict, "NameAlreadyExistsException", "StackSet "+name+" already exists")
	}
	uid := cf.nextID("stackset", acct, c.region, name)
	ss.id = name + ":" + uid
	ss.arn = "arn:aws:cloudformation:" + c.region + ":" + acct + ":stackset/" + ss.id
	cf.stackSets[key] = ss
	cf.allSets = append(cf.allSets, ss)
	return xmlResult(func(x *xmlWriter) { x.elem("StackSetId", ss.id) }), nil
}

func (cf *cloudFormation) updateStackSet(c *call) (any, error) {
	name := c.form.Get("StackSetName")
	prefs, err := queryPrefs(c.form)
	if err != nil {
		return nil, err
	}
	cf.mu.Lock()
	ss, err := cf.findStackSet(c, name)
	if err != nil {
		cf.mu.Unlock()
		return nil, err
	}
	body := c.form.Get("TemplateBody")
	if c.form.Get("UsePreviousTemplate") == "true" || (body == "" && c.form.Get("TemplateURL") == "") {
		body = ss.body
	}
	prevParams := map[string]string{}
	for _, p := range ss.params {
		prevParams[p.Key] = p.Value
	}
	cf.mu.Unlock()
	params := queryParams(c.form, "Parameters")
	for i, p := range params {
		if p.UsePrevious {
			params[i] = cfn.Param{Key: p.Key, Value: prevParams[p.Key]}
		}
	}
	caps := queryList(c.form, "Capabilities")
	p, err := prepareTemplate(body, params, caps, nil)
	if err != nil {
		return nil, err
	}
	cf.mu.Lock()
	defer cf.mu.Unlock()
	if ss.running() {
		return nil, opInProgress()
	}
	targets, err := cf.selectInstances(c, ss, false)
	if err != nil {
		return nil, err
	}
	ss.body, ss.tmpl, ss.params, ss.caps = p.body, p.tmpl, params, caps
	if d := c.form.Get("Description"); d != "" {
		ss.description = d
	}
	if v := c.form.Get("AdministrationRoleARN"); v != "" && ss.model == "SELF_MANAGED" {
		ss.adminRole = v
	}
	if v := c.form.Get("ExecutionRoleName"); v != "" && ss.model == "SELF_MANAGED" {
		ss.execRole = v
	}
	if v := c.form.Get("AutoDeployment.Enabled"); v != "" {
		ss.autoDeploy = v == "true"
	}
	ss.endpoint = c.endpoint()
	op := cf.startOperation(c, ss, "UPDATE", prefs, targets, false)
	return xmlResult(func(x *xmlWriter) { x.elem("OperationId", op.id) }), nil
}

// selectInstances returns the instances an UpdateStackSet or DeleteStackInstances names
// (Accounts or DeploymentTargets, and Regions); with none named and all true, every instance.
func (cf *cloudFormation) selectInstances(c *call, ss *cfnStackSet, explicit bool) ([]*cfnInstance, error) {
	accounts, regions, _, err := cf.targets(c, ss)
	if err != nil {
		return nil, err
	}
	if !explicit && len(accounts) == 0 && len(regions) == 0 {
		return append([]*cfnInstance(nil), ss.instances...), nil
	}
	inAccounts := map[string]bool{}
	for _, a := range accounts {
		inAccounts[a] = true
	}
	inRegions := map[string]bool{}
	for _, r := range regions {
		inRegions[r] = true
	}
	var out []*cfnInstance
	for _, in := range ss.instances {
		if (len(accounts) == 0 || inAccounts[in.account]) && (len(regions) == 0 || inRegions[in.region]) {
			out = append(out, in)
		}
	}
	return out, nil
}

// targets reads Accounts / DeploymentTargets and Regions, resolving organizational units to
// their active accounts (the management account excluded, as AWS does).
func (cf *cloudFormation) targets(c *call, ss *cfnStackSet) (accounts, regions []string, ouOf map[string]string, err error) {
	accounts = queryList(c.form, "Accounts")
	accounts = append(accounts, queryList(c.form, "DeploymentTargets.Accounts")...)
	ous := queryList(c.form, "DeploymentTargets.OrganizationalUnitIds")
	regions = queryList(c.form, "Regions")
	ouOf = map[string]string{}
	if ss.model == "SERVICE_MANAGED" && len(accounts) > 0 && len(ous) == 0 {
		return nil, nil, nil, cfnValidation("StackSets with SERVICE_MANAGED permission model can only have OrganizationalUnit as target")
	}
	if ss.model == "SELF_MANAGED" && len(ous) > 0 {
		return nil, nil, nil, cfnValidation("StackSets with SELF_MANAGED permission model can only have accounts as target")
	}
	for _, a := range accounts {
		if !accountIDPattern.MatchString(a) {
			return nil, nil, nil, cfnValidation("Account " + a + " is not a valid account id")
		}
	}
	var bad []string
	for _, id := range ous {
		u := cf.s.org.units[id]
		if u == nil {
			bad = append(bad, id)
			continue
		}
		var walk func(u *orgUnit)
		walk = func(u *orgUnit) {
			for _, a := range u.accounts {
				if a.id != cf.s.mgmtID && a.status == "ACTIVE" {
					if _, dup := ouOf[a.id]; !dup {
						accounts = append(accounts, a.id)
					}
					ouOf[a.id] = id
				}
			}
			for _, ch := range u.children {
				walk(ch)
			}
		}
		walk(u)
	}
	if len(bad) > 0 {
		return nil, nil, nil, cfnValidation("OrganizationalUnitIds [" + strings.Join(bad, ", ") + "] do not exist in the organization")
	}
	return accounts, regions, ouOf, nil
}

func (cf *cloudFormation) describeStackSet(c *call) (any, error) {
	cf.mu.Lock()
	defer cf.mu.Unlock()
	ss, err := cf.findStackSet(c, c.form.Get("StackSetName"))
	if err != nil {
		return nil, err
	}
	x := &xmlWriter{}
	x.open("StackSet")
	x.elem("StackSetName", ss.name)
	x.elem("StackSetId", ss.id)
	x.elem("StackSetARN", ss.arn)
	if ss.description != "" {
		x.elem("Description", ss.description)
	}
	x.elem("Status", ss.status)
	x.elem("TemplateBody", ss.body)
	values, _ := ss.tmpl.ResolveParams(ss.params, nil)
	writeStackParams(x, nil, values)
	x.open("Capabilities")
	for _, c := range ss.caps {
		x.elem("member", c)
	}
	x.close("Capabilities")
	x.open("Tags")
	for _, k := range sortedKeys(ss.tags) {
		x.open("member")
		x.elem("Key", k)
		x.elem("Value", ss.tags[k])
		x.close("member")
	}
	x.close("Tags")
	x.elem("PermissionModel", ss.model)
	if ss.model == "SELF_MANAGED" {
		x.elem("AdministrationRoleARN", ss.adminRole)
		x.elem("ExecutionRoleName", ss.execRole)
	} else {
		x.open("AutoDeployment")
		x.boolElem("Enabled", ss.autoDeploy)
		x.boolElem("RetainStacksOnAccountRemoval", ss.retainOnRemoval)
		x.close("AutoDeployment")
		ous := map[string]bool{}
		for _, in := range ss.instances {
			if in.ou != "" {
				ous[in.ou] = true
			}
		}
		x.open("OrganizationalUnitIds")
		for _, k := range sortedKeys(boolKeys(ous)) {
			x.elem("member", k)
		}
		x.close("OrganizationalUnitIds")
	}
	regions := map[string]bool{}
	for _, in := range ss.instances {
		regions[in.region] = true
	}
	x.open("Regions")
	for _, r := range sortedKeys(boolKeys(regions)) {
		x.elem("member", r)
	}
	x.close("Regions")
	if d := ss.drift; d != nil {
		x.open("StackSetDriftDetectionDetails")
		x.elem("DriftStatus", d.status)
		x.elem("DriftDetectionStatus", d.detection)
		x.timeElem("LastDriftCheckTimestamp", d.checked)
		x.elem("TotalStackInstancesCount", strconv.Itoa(d.total))
		x.elem("DriftedStackInstancesCount", strconv.Itoa(d.drifted))
		x.elem("InSyncStackInstancesCount", strconv.Itoa(d.inSync))
		x.elem("InProgressStackInstancesCount", strconv.Itoa(d.inProgress))
		x.elem("FailedStackInstancesCount", strconv.Itoa(d.failed))
		x.close("StackSetDriftDetectionDetails")
	}
	x.close("StackSet")
	out := x.buf.String()
	return xmlResult(func(w *xmlWriter) { w.raw(out) }), nil
}

func boolKeys(m map[string]bool) map[string]string {
	out := make(map[string]string, len(m))
	for k := range m {
		out[k] = ""
	}
	return out
}

func (cf *cloudFormation) deleteStackSet(c *call) (any, error) {
	name := c.form.Get("StackSetName")
	cf.mu.Lock()
	defer cf.mu.Unlock()
	ss, err := cf.findStackSet(c, name)
	if err != nil {
		return nil, err
	}
	switch {
	case ss.running():
		return nil, opInProgress()
	case len(ss.instances) > 0:
		return nil, newError(http.StatusConflict, "StackSetNotEmptyException", "StackSet is not empty")
	}
	ss.status = "DELETED"
	delete(cf.stackSets, ss.acct+"/"+ss.region+"/"+ss.name)
	return emptyResult, nil
}

func (cf *cloudFormation) createStackInstances(c *call) (any, error) {
	prefs, err := queryPrefs(c.form)
	if err != nil {
		return nil, err
	}
	cf.mu.Lock()
	defer cf.mu.Unlock()
	ss, err := cf.findStackSet(c, c.form.Get("StackSetName"))
	if err != nil {
		return nil, err
	}
	accounts, regions, ouOf, err := cf.targets(c, ss)
	if err != nil {
		return nil, err
	}
	if len(regions) == 0 {
		return nil, cfnValidation("Regions should not be empty")
	}
	if len(accounts) == 0 {
		if len(queryList(c.form, "DeploymentTargets.OrganizationalUnitIds")) > 0 {
			return nil, cfnValidation("No accounts found in the given OrganizationalUnitIds")
		}
		return nil, cfnValidation("Accounts or DeploymentTargets should be specified")
	}
	if ss.running() {
		return nil, opInProgress()
	}
	overrides := queryParams(c.form, "ParameterOverrides")
	for _, p := range overrides {
		if ss.tmpl.Params[p.Key] == nil {
			return nil, cfnValidation("Parameters: [" + p.Key + "] do not exist in the template")
		}
	}
	var targets []*cfnInstance
	for _, r := range regions {
		for _, a := range accounts {
			in := ss.instance(a, r)
			if in == nil {
				in = &cfnInstance{account: a, region: r, ou: ouOf[a], status: "OUTDATED", detailed: "PENDING", drift: "NOT_CHECKED"}
				ss.instances = append(ss.instances, in)
			}
			if len(overrides) > 0 {
				in.overrides = overrides
			}
			targets = append(targets, in)
		}
	}
	sort.SliceStable(ss.instances, func(i, j int) bool {
		a, b := ss.instances[i], ss.instances[j]
		return a.region < b.region || a.region == b.region && a.account < b.account
	})
	op := cf.startOperation(c, ss, "CREATE", prefs, targets, false)
	return xmlResult(func(x *xmlWriter) { x.elem("OperationId", op.id) }), nil
}

func (ss *cfnStackSet) instance(account, region string) *cfnInstance {
	for _, in := range ss.instances {
		if in.account == account && in.region == region {
			return in
		}
	}
	return nil
}

func (cf *cloudFormation) deleteStackInstances(c *call) (any, error) {
	prefs, err := queryPrefs(c.form)
	if err != nil {
		return nil, err
	}
	if c.form.Get("RetainStacks") == "" {
		return nil, cfnValidation("1 validation error detected: Value null at 'retainStacks' failed to satisfy constraint: Member must not be null")
	}
	retain := c.form.Get("RetainStacks") == "true"
	cf.mu.Lock()
	defer cf.mu.Unlock()
	ss, err := cf.findStackSet(c, c.form.Get("StackSetName"))
	if err != nil {
		return nil, err
	}
	if len(queryList(c.form, "Regions")) == 0 {
		return nil, cfnValidation("Regions should not be empty")
	}
	if ss.running() {
		return nil, opInProgress()
	}
	targets, err := cf.selectInstances(c, ss, true)
	if err != nil {
		return nil, err
	}
	op := cf.startOperation(c, ss, "DELETE", prefs, targets, retain)
	return xmlResult(func(x *xmlWriter) { x.elem("OperationId", op.id) }), nil
}

// startOperation records an operation over targets and runs it; the caller holds cf.mu.
func (cf *cloudFormation) startOperation(c *call, ss *cfnStackSet, action string, prefs cfnPrefs, targets []*cfnInstance, retain bool) *cfnOperation {
	op := &cfnOperation{id: c.form.Get("OperationId"), action: action, status: "RUNNING", created: c.now, prefs: prefs,
		retain: retain, adminRole: ss.adminRole, execRole: ss.execRole}
	if op.id == "" {
		op.id = cf.nextID("operation", ss.id)
	}
	order := map[string]int{}
	for i, r := range prefs.regionOrder {
		order[r] = i + 1
	}
	sort.SliceStable(targets, func(i, j int) bool {
		a, b := targets[i], targets[j]
		oa, ob := order[a.region], order[b.region]
		if oa == 0 {
			oa = len(order) + 1
		}
		if ob == 0 {
			ob = len(order) + 1
		}
		if oa != ob {
			return oa < ob
		}
		return a.region < b.region || a.region == b.region && a.account < b.account
	})
	for _, in := range targets {
		op.results = append(op.results, &cfnOpResult{account: in.account, region: in.region, ou: in.ou, status: "PENDING"})
		in.lastOp = op.id
		if action != "DETECT_DRIFT" {
			in.status, in.detailed, in.reason = "OUTDATED", "PENDING", ""
		}
	}
	ss.ops = append(ss.ops, op)
	go cf.runOperation(ss, op, targets)
	return op
}

func (cf *cloudFormation) runOperation(ss *cfnStackSet, op *cfnOperation, targets []*cfnInstance) {
	defer cf.changedLocking()
	n := len(targets)
	batch, tolerance := op.prefs.batch(n), op.prefs.tolerance(n)
	failures := 0
	for start := 0; start < n; start += batch {
		if failures > tolerance {
			cf.mu.Lock()
			for i := start; i < n; i++ {
				op.results[i].status, op.results[i].reason = "CANCELLED", "Cancelled since failure tolerance has exceeded"
				if op.action != "DETECT_DRIFT" {
					targets[i].detailed, targets[i].reason = "CANCELLED", "Cancelled since failure tolerance has exceeded"
				}
			}
			cf.mu.Unlock()
			break
		}
		end := min(n, start+batch)
		var wg sync.WaitGroup
		var mu sync.Mutex
		for i := start; i < end; i++ {
			wg.Go(func() {
				if !cf.runInstance(ss, op, targets[i], op.results[i]) {
					mu.Lock()
					failures++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
	}
	cf.mu.Lock()
	defer cf.mu.Unlock()
	op.ended = cf.s.now().UTC()
	op.status = "SUCCEEDED"
	if failures > tolerance {
		op.status = "FAILED"
		op.reason = "The Operation " + op.id + " has failed to complete: " + strconv.Itoa(failures) + " of " + strconv.Itoa(n) + " stack instances failed, which exceeds the failure tolerance of " + strconv.Itoa(tolerance)
	}
	if op.action == "DELETE" {
		kept := ss.instances[:0]
		for _, in := range ss.instances {
			if !(in.lastOp == op.id && in.detailed == "SUCCEEDED") {
				kept = append(kept, in)
			}
		}
		ss.instances = kept
	}
	if op.action == "DETECT_DRIFT" {
		d := &cfnSetDrift{detection: "DETECTION_COMPLETE", checked: op.ended}
		for _, in := range ss.instances {
			d.total++
			switch in.drift {
			case "DRIFTED":
				d.drifted++
			case "IN_SYNC":
				d.inSync++
			default:
				d.failed++
			}
		}
		d.status = "IN_SYNC"
		if d.drifted > 0 {
			d.status = "DRIFTED"
		}
		if d.failed > 0 {
			d.detection = "DETECTION_COMPLETED_WITH_FAILURES"
		}
		ss.drift = d
	}
}

// roleExistsIn reports whether a role exists in an account: a fixture role or one a stack made.
func (cf *cloudFormation) roleExistsIn(acct, name string) bool {
	a := cf.s.accounts[acct]
	return a != nil && a.status == "ACTIVE" && (a.findRole(name) != nil || cf.role(acct, name) != nil)
}

// runInstance runs one instance of an operation, reporting success.
func (cf *cloudFormation) runInstance(ss *cfnStackSet, op *cfnOperation, in *cfnInstance, res *cfnOpResult) bool {
	cf.mu.Lock()
	res.status = "RUNNING"
	if op.action != "DETECT_DRIFT" {
		in.detailed = "RUNNING"
	}
	finish := func(ok bool, reason string) bool {
		res.reason = reason
		switch {
		case op.action == "DETECT_DRIFT":
			res.status = map[bool]string{true: "SUCCEEDED", false: "FAILED"}[ok]
		case ok:
			res.status, in.status, in.detailed, in.reason = "SUCCEEDED", "CURRENT", "SUCCEEDED", ""
		default:
			res.status, in.status, in.detailed, in.reason = "FAILED", "OUTDATED", "FAILED", reason
			if op.action == "DELETE" {
				in.status = "INOPERABLE"
			}
		}
		return ok
	}
	st := in.stack
	if op.action == "DELETE" && (op.retain || st == nil || !st.live()) {
		// Nothing to delete in the target account.
		in.stack = nil
		defer cf.mu.Unlock()
		return finish(true, "")
	}
	if ss.model == "SELF_MANAGED" {
		adminAcct, _, adminName, ok := parseRoleARN(op.adminRole)
		if !ok || adminAcct != ss.acct || !cf.roleExistsIn(adminAcct, adminName) {
			if adminName == "" {
				adminName = op.adminRole
			}
			defer cf.mu.Unlock()
			return finish(false, "Account "+ss.acct+" should have '"+adminName+"' role with trust relationship to CloudFormation service.")
		}
		if !cf.roleExistsIn(in.account, op.execRole) {
			defer cf.mu.Unlock()
			return finish(false, "Account "+in.account+" should have '"+op.execRole+"' role with trust relationship to Role '"+adminName+"'.")
		}
	} else if a := cf.s.accounts[in.account]; a == nil || a.status != "ACTIVE" {
		defer cf.mu.Unlock()
		return finish(false, "Account "+in.account+" is not an active account of the organization")
	}
	switch op.action {
	case "DETECT_DRIFT":
		if st == nil || !st.live() {
			in.drift = "NOT_CHECKED"
			defer cf.mu.Unlock()
			return finish(false, "No stack for the stack instance")
		}
		cf.detectDrift(st)
		in.drift, in.driftChecked = st.drift, st.driftChecked
		defer cf.mu.Unlock()
		return finish(true, "")
	case "DELETE":
		cf.setStatus(st, "DELETE_IN_PROGRESS", "User Initiated")
		cf.mu.Unlock()
		ok := cf.runDelete(st)
		cf.mu.Lock()
		defer cf.mu.Unlock()
		if !ok {
			return finish(false, failureReason(st))
		}
		in.stack = nil
		return finish(true, "")
	}

	// CREATE or UPDATE: the instance's stack gets the StackSet's template and parameters, with
	// the instance's overrides.
	params := append(append([]cfn.Param(nil), ss.params...), in.overrides...)
	dedup := map[string]int{}
	var merged []cfn.Param
	for _, p := range params {
		if i, ok := dedup[p.Key]; ok {
			merged[i] = p
			continue
		}
		dedup[p.Key] = len(merged)
		merged = append(merged, p)
	}
	p, err := prepareTemplate(ss.body, merged, ss.caps, nil)
	if err == nil {
		err = cf.checkRegion(p.tmpl, in.region)
	}
	if err != nil {
		defer cf.mu.Unlock()
		return finish(false, err.(*apiError).Message)
	}
	if st != nil && st.live() && (st.status == "ROLLBACK_COMPLETE" || st.status == "ROLLBACK_FAILED") {
		// A stack whose creation failed cannot be updated: it is deleted and created again.
		cf.setStatus(st, "DELETE_IN_PROGRESS", "User Initiated")
		cf.mu.Unlock()
		cf.runDelete(st)
		cf.mu.Lock()
		st = nil
	}
	if st == nil || !st.live() {
		st = cf.newStackRaw(in.account, in.region, "StackSet-"+ss.name+"-"+cf.nextID("instance", ss.id, in.account, in.region), ss.endpoint)
		st.description = p.tmpl.Description
		in.stack = st
		cf.setStatus(st, "CREATE_IN_PROGRESS", "User Initiated")
		cf.mu.Unlock()
		ok := cf.runCreate(st, p)
		cf.mu.Lock()
		defer cf.mu.Unlock()
		if !ok {
			return finish(false, failureReason(st))
		}
		return finish(true, "")
	}
	if st.busy() {
		defer cf.mu.Unlock()
		return finish(false, "Stack "+st.id+" is in "+st.status+" state and can not be updated.")
	}
	if len(cf.changes(st, p)) == 0 {
		defer cf.mu.Unlock()
		return finish(true, "")
	}
	st.endpoint = ss.endpoint
	cf.setStatus(st, "UPDATE_IN_PROGRESS", "User Initiated")
	cf.mu.Unlock()
	ok := cf.runUpdate(st, p)
	cf.mu.Lock()
	defer cf.mu.Unlock()
	if !ok {
		return finish(false, failureReason(st))
	}
	return finish(true, "")
}

// failureReason is how a StackSet reports the failure of an instance's stack: the first
// resource that failed in its last operation.
func failureReason(st *cfnStack) string {
	start := 0
	for i := len(st.events) - 1; i >= 0; i-- {
		e := st.events[i]
		if e.logical == st.name && e.reason == "User Initiated" {
			start = i
			break
		}
	}
	for _, e := range st.events[start:] {
		if strings.HasSuffix(e.status, "_FAILED") && e.reason != "" {
			return "ResourceLogicalId:" + e.logical + ", ResourceType:" + e.typ + ", ResourceStatusReason:" + e.reason + "."
		}
	}
	return "Stack " + st.id + " is in " + st.status + " state"
}

func (cf *cloudFormation) newStackRaw(acct, region, name, endpoint string) *cfnStack {
	st := &cfnStack{name: name, acct: acct, region: region, created: cf.s.now().UTC(), resources: map[string]*cfnRes{},
		endpoint: endpoint, drift: "NOT_CHECKED", tags: map[string]string{}}
	st.id = "arn:aws:cloudformation:" + region + ":" + acct + ":stack/" + name + "/" + cf.nextID("stack", acct, region, name)
	cf.stacks = append(cf.stacks, st)
	return st
}

func writeInstance(x *xmlWriter, ss *cfnStackSet, in *cfnInstance, full bool) {
	x.elem("StackSetId", ss.id)
	x.elem("Region", in.region)
	x.elem("Account", in.account)
	if in.stack != nil {
		x.elem("StackId", in.stack.id)
	}
	x.elem("Status", in.status)
	if in.reason != "" {
		x.elem("StatusReason", in.reason)
	}
	x.open("StackInstanceStatus")
	x.elem("DetailedStatus", in.detailed)
	x.close("StackInstanceStatus")
	if in.ou != "" {
		x.elem("OrganizationalUnitId", in.ou)
	}
	x.elem("DriftStatus", in.drift)
	if !in.driftChecked.IsZero() {
		x.timeElem("LastDriftCheckTimestamp", in.driftChecked)
	}
	if in.lastOp != "" {
		x.elem("LastOperationId", in.lastOp)
	}
	if full {
		x.open("ParameterOverrides")
		for _, p := range in.overrides {
			x.open("member")
			x.elem("ParameterKey", p.Key)
			x.elem("ParameterValue", p.Value)
			x.close("member")
		}
		x.close("ParameterOverrides")
	}
}

func (cf *cloudFormation) listStackInstances(c *call) (any, error) {
	account, region := c.form.Get("StackInstanceAccount"), c.form.Get("StackInstanceRegion")
	filters := map[string]string{}
	for i := 1; ; i++ {
		p := "Filters.member." + strconv.Itoa(i) + "."
		n, ok := c.form[p+"Name"]
		if !ok {
			break
		}
		filters[n[0]] = c.form.Get(p + "Values")
	}
	cf.mu.Lock()
	defer cf.mu.Unlock()
	ss, err := cf.findStackSet(c, c.form.Get("StackSetName"))
	if err != nil {
		return nil, err
	}
	x := &xmlWriter{}
	x.open("Summaries")
	for _, in := range ss.instances {
		if (account != "" && in.account != account) || (region != "" && in.region != region) ||
			(filters["DETAILED_STATUS"] != "" && filters["DETAILED_STATUS"] != in.detailed) ||
			(filters["LAST_OPERATION_ID"] != "" && filters["LAST_OPERATION_ID"] != in.lastOp) ||
			(filters["DRIFT_STATUS"] != "" && filters["DRIFT_STATUS"] != in.drift) {
			continue
		}
		x.open("member")
		writeInstance(x, ss, in, false)
		x.close("member")
	}
	x.close("Summaries")
	out := x.buf.String()
	return xmlResult(func(w *xmlWriter) { w.raw(out) }), nil
}

func (cf *cloudFormation) describeStackInstance(c *call) (any, error) {
	account, region := c.form.Get("StackInstanceAccount"), c.form.Get("StackInstanceRegion")
	cf.mu.Lock()
	defer cf.mu.Unlock()
	ss, err := cf.findStackSet(c, c.form.Get("StackSetName"))
	if err != nil {
		return nil, err
	}
	in := ss.instance(account, region)
	if in == nil {
		return nil, newError(http.StatusNotFound, "StackInstanceNotFoundException",
			"Stack instance for account "+account+" and region "+region+" not found in StackSet "+ss.name)
	}
	x := &xmlWriter{}
	x.open("StackInstance")
	writeInstance(x, ss, in, true)
	x.close("StackInstance")
	out := x.buf.String()
	return xmlResult(func(w *xmlWriter) { w.raw(out) }), nil
}

func (ss *cfnStackSet) operation(id string) (*cfnOperation, error) {
	for _, op := range ss.ops {
		if op.id == id {
			return op, nil
		}
	}
	return nil, newError(http.StatusNotFound, "OperationNotFoundException", "Operation "+id+" not found in StackSet "+ss.name)
}

func writePrefs(x *xmlWriter, p cfnPrefs) {
	x.open("OperationPreferences")
	put := func(name string, v *int) {
		if v != nil {
			x.elem(name, strconv.Itoa(*v))
		}
	}
	put("MaxConcurrentCount", p.maxCount)
	put("MaxConcurrentPercentage", p.maxPct)
	put("FailureToleranceCount", p.tolCount)
	put("FailureTolerancePercentage", p.tolPct)
	if p.concurrency != "" {
		x.elem("RegionConcurrencyType", p.concurrency)
	}
	if p.mode != "" {
		x.elem("ConcurrencyMode", p.mode)
	}
	x.open("RegionOrder")
	for _, r := range p.regionOrder {
		x.elem("member", r)
	}
	x.close("RegionOrder")
	x.close("OperationPreferences")
}

func (cf *cloudFormation) describeStackSetOperation(c *call) (any, error) {
	cf.mu.Lock()
	defer cf.mu.Unlock()
	ss, err := cf.findStackSet(c, c.form.Get("StackSetName"))
	if err != nil {
		return nil, err
	}
	op, err := ss.operation(c.form.Get("OperationId"))
	if err != nil {
		return nil, err
	}
	failed := 0
	for _, r := range op.results {
		if r.status == "FAILED" {
			failed++
		}
	}
	x := &xmlWriter{}
	x.open("StackSetOperation")
	x.elem("OperationId", op.id)
	x.elem("StackSetId", ss.id)
	x.elem("Action", op.action)
	x.elem("Status", op.status)
	if op.reason != "" {
		x.elem("StatusReason", op.reason)
	}
	writePrefs(x, op.prefs)
	if op.action == "DELETE" {
		x.boolElem("RetainStacks", op.retain)
	}
	if op.adminRole != "" {
		x.elem("AdministrationRoleARN", op.adminRole)
		x.elem("ExecutionRoleName", op.execRole)
	}
	x.timeElem("CreationTimestamp", op.created)
	if !op.ended.IsZero() {
		x.timeElem("EndTimestamp", op.ended)
	}
	x.open("StatusDetails")
	x.elem("FailedStackInstancesCount", strconv.Itoa(failed))
	x.close("StatusDetails")
	x.close("StackSetOperation")
	out := x.buf.String()
	return xmlResult(func(w *xmlWriter) { w.raw(out) }), nil
}

func (cf *cloudFormation) listStackSetOperations(c *call) (any, error) {
	cf.mu.Lock()
	defer cf.mu.Unlock()
	ss, err := cf.findStackSet(c, c.form.Get("StackSetName"))
	if err != nil {
		return nil, err
	}
	x := &xmlWriter{}
	x.open("Summaries")
	for i := len(ss.ops) - 1; i >= 0; i-- {
		op := ss.ops[i]
		x.open("member")
		x.elem("OperationId", op.id)
		x.elem("Action", op.action)
		x.elem("Status", op.status)
		if op.reason != "" {
			x.elem("StatusReason", op.reason)
		}
		x.timeElem("CreationTimestamp", op.created)
		if !op.ended.IsZero() {
			x.timeElem("EndTimestamp", op.ended)
		}
		x.close("member")
	}
	x.close("Summaries")
	out := x.buf.String()
	return xmlResult(func(w *xmlWriter) { w.raw(out) }), nil
}

func (cf *cloudFormation) listStackSetOperationResults(c *call) (any, error) {
	cf.mu.Lock()
	defer cf.mu.Unlock()
	ss, err := cf.findStackSet(c, c.form.Get("StackSetName"))
	if err != nil {
		return nil, err
	}
	op, err := ss.operation(c.form.Get("OperationId"))
	if err != nil {
		return nil, err
	}
	// 100 per page unless MaxResults (1 to 100) says fewer, as AWS.
	limit := 100
	if m := queryInt(c.form, "MaxResults"); m != nil {
		if *m < 1 || *m > 100 {
			return nil, cfnValidation("1 validation error detected: Value at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 100")
		}
		limit = *m
	}
	start := 0
	if tok := c.form.Get("NextToken"); tok != "" {
		n, err := strconv.Atoi(tok)
		if err != nil || n < 0 || n > len(op.results) {
			return nil, cfnValidation("Invalid NextToken")
		}
		start = n
	}
	end := min(len(op.results), start+limit)
	x := &xmlWriter{}
	x.open("Summaries")
	for _, r := range op.results[start:end] {
		x.open("member")
		x.elem("Account", r.account)
		x.elem("Region", r.region)
		x.elem("Status", r.status)
		if r.reason != "" {
			x.elem("StatusReason", r.reason)
		}
		if r.ou != "" {
			x.elem("OrganizationalUnitId", r.ou)
		}
		x.open("AccountGateResult")
		x.elem("Status", "SKIPPED")
		x.elem("StatusReason", "Function not found: arn:aws:lambda:::function:AWSCloudFormationStackSetAccountGate")
		x.close("AccountGateResult")
		x.close("member")
	}
	x.close("Summaries")
	if end < len(op.results) {
		x.elem("NextToken", strconv.Itoa(end))
	}
	out := x.buf.String()
	return xmlResult(func(w *xmlWriter) { w.raw(out) }), nil
}

func (cf *cloudFormation) detectStackSetDrift(c *call) (any, error) {
	prefs, err := queryPrefs(c.form)
	if err != nil {
		return nil, err
	}
	cf.mu.Lock()
	defer cf.mu.Unlock()
	ss, err := cf.findStackSet(c, c.form.Get("StackSetName"))
	if err != nil {
		return nil, err
	}
	if ss.running() {
		return nil, opInProgress()
	}
	ss.drift = &cfnSetDrift{status: "NOT_CHECKED", detection: "IN_PROGRESS", total: len(ss.instances), inProgress: len(ss.instances)}
	op := cf.startOperation(c, ss, "DETECT_DRIFT", prefs, append([]*cfnInstance(nil), ss.instances...), false)
	return xmlResult(func(x *xmlWriter) { x.elem("OperationId", op.id) }), nil
}
