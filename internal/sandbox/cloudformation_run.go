package sandbox

import (
	"errors"
	"fmt"
	"strings"

	"github.com/keyage/keyage/internal/sandbox/cfn"
)

// The stack engine: create, update and delete, one resource per step, with AWS's events and
// rollbacks. run is started in a goroutine by the API (the stack already in its first
// _IN_PROGRESS status) and called directly by StackSet operations, which wait for it.

func (cf *cloudFormation) run(st *cfnStack, kind string, p *prepared, cs *cfnChangeSet) {
	defer cf.changedLocking()
	var ok bool
	switch kind {
	case "CREATE":
		ok = cf.runCreate(st, p)
	case "UPDATE":
		ok = cf.runUpdate(st, p)
	case "DELETE":
		ok = cf.runDelete(st)
	}
	if cs != nil && !ok {
		cf.mu.Lock()
		cs.executeFailed = true
		cf.mu.Unlock()
	}
}

// pause is one step of an operation.
func (cf *cloudFormation) pause() {
	cf.mu.Lock()
	d := cf.delay
	cf.mu.Unlock()
	if d > 0 {
		<-cf.s.after(d)
	}
}

// changed tells the watchers that an operation running in the background changed the state;
// the caller holds cf.mu.
func (cf *cloudFormation) changed() {
	close(cf.notify)
	cf.notify = make(chan struct{})
}

func (cf *cloudFormation) changedLocking() {
	cf.mu.Lock()
	defer cf.mu.Unlock()
	cf.changed()
}

// watch returns a channel closed at the next change an operation makes in the background (an
// event, a status, a change set ready, an operation ended): tests wait on it, not on time.
func (cf *cloudFormation) watch() <-chan struct{} {
	cf.mu.Lock()
	defer cf.mu.Unlock()
	return cf.notify
}

// evaluator evaluates a template for st, resources resolving to what st has provisioned.
func (cf *cloudFormation) evaluator(st *cfnStack, t *cfn.Template, params map[string]string) *cfn.Evaluator {
	return &cfn.Evaluator{
		Template: t, Params: params,
		Pseudo: map[string]string{"AWS::AccountId": st.acct, "AWS::Region": st.region, "AWS::StackName": st.name,
			"AWS::StackId": st.id, "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com"},
		Ref: func(lg string) (string, bool) {
			r := st.resources[lg]
			if r == nil {
				return "", false
			}
			return cf.refOf(r), true
		},
		GetAtt: func(lg, attr string) (string, error) {
			r := st.resources[lg]
			if r == nil {
				return "", fmt.Errorf("Template error: resource %s is not available for Fn::GetAtt", lg)
			}
			if v, ok := r.attrs[attr]; ok {
				return v, nil
			}
			if _, served := providers[r.typ]; !served {
				// A recorded resource answers any attribute: its ARN-like id.
				return r.physical, nil
			}
			return "", fmt.Errorf("Template error: resource %s does not support attribute type %s in Fn::GetAtt", lg, attr)
		},
	}
}

func (cf *cloudFormation) refOf(r *cfnRes) string {
	if v, ok := r.attrs["Ref"]; ok {
		return v
	}
	return r.physical
}

// injectedFailure is the sandbox's way to make a resource fail: a property
// KeyageSandboxFail: "reason".
func injectedFailure(props map[string]any) error {
	if v, ok := props["KeyageSandboxFail"]; ok {
		return errors.New(scalarString(v))
	}
	return nil
}

// createResource provisions one resource; the caller holds cf.mu.
func (cf *cloudFormation) createResource(st *cfnStack, ev *cfn.Evaluator, d *cfn.Resource) (*cfnRes, error) {
	props, err := ev.Props(d)
	if err != nil {
		return nil, err
	}
	if err := injectedFailure(props); err != nil {
		return nil, err
	}
	r := &cfnRes{logical: d.Logical, typ: d.Type, props: props, attrs: map[string]string{}, deletion: d.DeletionPolicy}
	a := cf.s.accounts[st.acct]
	if p, ok := providers[d.Type]; ok {
		if err := p.create(cf, a, st, r); err != nil {
			return nil, err
		}
	} else {
		recordedCreate(cf, st, r)
	}
	r.status, r.updated = "CREATE_COMPLETE", cf.s.now().UTC()
	st.resources[d.Logical] = r
	st.created_ = append(st.created_, d.Logical)
	return r, nil
}

// updateResource applies new properties to a resource; the caller holds cf.mu.
func (cf *cloudFormation) updateResource(st *cfnStack, r *cfnRes, props map[string]any) error {
	if err := injectedFailure(props); err != nil {
		return err
	}
	a := cf.s.accounts[st.acct]
	p, ok := providers[r.typ]
	if !ok {
		r.props = props
		return nil
	}
	if p.update != nil {
		if err := p.update(cf, a, st, r, props); err != nil {
			return err
		}
		r.props = props
		return nil
	}
	// Replacement: the new resource first, then the old one goes.
	n := &cfnRes{logical: r.logical, typ: r.typ, props: props, attrs: map[string]string{}, deletion: r.deletion}
	if err := p.create(cf, a, st, n); err != nil {
		return err
	}
	_ = p.delete(cf, a, st, r)
	r.physical, r.attrs, r.props = n.physical, n.attrs, n.props
	return nil
}

// deleteResource removes one resource; the caller holds cf.mu.
func (cf *cloudFormation) deleteResource(st *cfnStack, r *cfnRes) error {
	if p, ok := providers[r.typ]; ok {
		return p.delete(cf, cf.s.accounts[st.acct], st, r)
	}
	return nil
}

func (st *cfnStack) forget(lg string) {
	delete(st.resources, lg)
	for i, x := range st.created_ {
		if x == lg {
			st.created_ = append(st.created_[:i:i], st.created_[i+1:]...)
			break
		}
	}
}

// deleteResources deletes the given resources in order, returning those that failed.
func (cf *cloudFormation) deleteResources(st *cfnStack, logicals []string) (failed []string) {
	for _, lg := range logicals {
		cf.mu.Lock()
		r := st.resources[lg]
		if r == nil {
			cf.mu.Unlock()
			continue
		}
		if r.deletion == "Retain" {
			cf.event(st, lg, r.physical, r.typ, "DELETE_SKIPPED", "", nil)
			st.forget(lg)
			cf.mu.Unlock()
			continue
		}
		cf.event(st, lg, r.physical, r.typ, "DELETE_IN_PROGRESS", "", nil)
		cf.mu.Unlock()
		cf.pause()
		cf.mu.Lock()
		if err := cf.deleteResource(st, r); err != nil {
			r.status, r.reason = "DELETE_FAILED", err.Error()
			cf.event(st, lg, r.physical, r.typ, "DELETE_FAILED", err.Error(), nil)
			failed = append(failed, lg)
		} else {
			cf.event(st, lg, r.physical, r.typ, "DELETE_COMPLETE", "", nil)
			st.forget(lg)
		}
		cf.mu.Unlock()
	}
	return failed
}

func reversed(l []string) []string {
	out := make([]string, len(l))
	for i, x := range l {
		out[len(l)-1-i] = x
	}
	return out
}

func (cf *cloudFormation) runCreate(st *cfnStack, p *prepared) bool {
	cf.mu.Lock()
	st.body, st.tmpl, st.params, st.capabilities, st.description = p.body, p.tmpl, p.params, p.caps, p.tmpl.Description
	ev := cf.evaluator(st, p.tmpl, p.params)
	condErr := ev.EvalConditions()
	order, _ := p.tmpl.Order()
	cf.mu.Unlock()

	var failed []string
	if condErr != nil {
		cf.mu.Lock()
		cf.event(st, st.name, st.id, "AWS::CloudFormation::Stack", "CREATE_FAILED", condErr.Error(), nil)
		failed = append(failed, st.name)
		cf.mu.Unlock()
	}
	for _, lg := range order {
		if len(failed) > 0 {
			break
		}
		d := p.tmpl.Resources[lg]
		cf.mu.Lock()
		if d.Condition != "" && !ev.Conditions[d.Condition] {
			cf.mu.Unlock()
			continue
		}
		cf.event(st, lg, "", d.Type, "CREATE_IN_PROGRESS", "", nil)
		cf.mu.Unlock()
		cf.pause()
		cf.mu.Lock()
		r, err := cf.createResource(st, ev, d)
		if err != nil {
			cf.event(st, lg, "", d.Type, "CREATE_FAILED", err.Error(), nil)
			failed = append(failed, lg)
		} else {
			cf.event(st, lg, r.physical, r.typ, "CREATE_IN_PROGRESS", "Resource creation Initiated", nil)
			cf.event(st, lg, r.physical, r.typ, "CREATE_COMPLETE", "", nil)
		}
		cf.mu.Unlock()
	}
	if len(failed) == 0 {
		cf.mu.Lock()
		st.outputs = ev.Outputs()
		cf.setStatus(st, "CREATE_COMPLETE", "")
		cf.mu.Unlock()
		return true
	}
	cf.mu.Lock()
	cf.setStatus(st, "ROLLBACK_IN_PROGRESS", "The following resource(s) failed to create: ["+strings.Join(failed, ", ")+"]. Rollback requested by user.")
	toDelete := reversed(st.created_)
	cf.mu.Unlock()
	left := cf.deleteResources(st, toDelete)
	cf.mu.Lock()
	if len(left) > 0 {
		cf.setStatus(st, "ROLLBACK_FAILED", "The following resource(s) failed to delete: ["+strings.Join(left, ", ")+"]. ")
	} else {
		cf.setStatus(st, "ROLLBACK_COMPLETE", "")
	}
	cf.mu.Unlock()
	return false
}

func (cf *cloudFormation) runUpdate(st *cfnStack, p *prepared) bool {
	type saved struct {
		physical string
		props    map[string]any
		attrs    map[string]string
	}
	cf.mu.Lock()
	ev := cf.evaluator(st, p.tmpl, p.params)
	condErr := ev.EvalConditions()
	order, _ := p.tmpl.Order()
	cf.mu.Unlock()

	var (
		updated, added []string
		old            = map[string]saved{}
		wanted         = map[string]bool{}
		failed         []string
		failedVerb     = "update"
	)
	if condErr != nil {
		cf.mu.Lock()
		cf.event(st, st.name, st.id, "AWS::CloudFormation::Stack", "UPDATE_FAILED", condErr.Error(), nil)
		failed = append(failed, st.name)
		cf.mu.Unlock()
	}
	for _, lg := range order {
		if len(failed) > 0 {
			break
		}
		d := p.tmpl.Resources[lg]
		cf.mu.Lock()
		if d.Condition != "" && !ev.Conditions[d.Condition] {
			cf.mu.Unlock()
			continue
		}
		wanted[lg] = true
		r := st.resources[lg]
		if r == nil {
			cf.event(st, lg, "", d.Type, "CREATE_IN_PROGRESS", "", nil)
			cf.mu.Unlock()
			cf.pause()
			cf.mu.Lock()
			nr, err := cf.createResource(st, ev, d)
			if err != nil {
				cf.event(st, lg, "", d.Type, "CREATE_FAILED", err.Error(), nil)
				failed, failedVerb = append(failed, lg), "create"
			} else {
				cf.event(st, lg, nr.physical, nr.typ, "CREATE_COMPLETE", "", nil)
				added = append(added, lg)
			}
			cf.mu.Unlock()
			continue
		}
		props, err := ev.Props(d)
		if err == nil && r.typ == d.Type && propsEqual(r.props, props) {
			cf.mu.Unlock()
			continue
		}
		cf.event(st, lg, r.physical, r.typ, "UPDATE_IN_PROGRESS", "", nil)
		cf.mu.Unlock()
		cf.pause()
		cf.mu.Lock()
		if err == nil && r.typ != d.Type {
			err = fmt.Errorf("Update of resource type is not permitted. The new template modifies resource type of the following resources: [%s]", lg)
		}
		before := saved{physical: r.physical, props: r.props, attrs: r.attrs}
		if err == nil {
			err = cf.updateResource(st, r, props)
		}
		if err != nil {
			cf.event(st, lg, r.physical, r.typ, "UPDATE_FAILED", err.Error(), nil)
			failed = append(failed, lg)
		} else {
			old[lg] = before
			updated = append(updated, lg)
			r.updated = cf.s.now().UTC()
			cf.event(st, lg, r.physical, r.typ, "UPDATE_COMPLETE", "", nil)
		}
		cf.mu.Unlock()
	}

	if len(failed) == 0 {
		cf.mu.Lock()
		cf.setStatus(st, "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", "")
		var removed []string
		for _, lg := range reversed(st.created_) {
			if !wanted[lg] {
				removed = append(removed, lg)
			}
		}
		st.body, st.tmpl, st.params, st.capabilities, st.description = p.body, p.tmpl, p.params, p.caps, p.tmpl.Description
		cf.mu.Unlock()
		cf.deleteResources(st, removed)
		cf.mu.Lock()
		st.outputs = ev.Outputs()
		st.updated = cf.s.now().UTC()
		cf.setStatus(st, "UPDATE_COMPLETE", "")
		cf.mu.Unlock()
		return true
	}

	cf.mu.Lock()
	cf.setStatus(st, "UPDATE_ROLLBACK_IN_PROGRESS", "The following resource(s) failed to "+failedVerb+": ["+strings.Join(failed, ", ")+"]. ")
	cf.mu.Unlock()
	for _, lg := range reversed(updated) {
		cf.mu.Lock()
		r := st.resources[lg]
		cf.event(st, lg, r.physical, r.typ, "UPDATE_IN_PROGRESS", "", nil)
		cf.mu.Unlock()
		cf.pause()
		cf.mu.Lock()
		b := old[lg]
		if err := cf.updateResource(st, r, b.props); err != nil {
			cf.event(st, lg, r.physical, r.typ, "UPDATE_FAILED", err.Error(), nil)
		} else {
			cf.event(st, lg, r.physical, r.typ, "UPDATE_COMPLETE", "", nil)
		}
		cf.mu.Unlock()
	}
	cf.mu.Lock()
	cf.setStatus(st, "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS", "")
	cf.mu.Unlock()
	cf.deleteResources(st, reversed(added))
	cf.mu.Lock()
	cf.setStatus(st, "UPDATE_ROLLBACK_COMPLETE", "")
	cf.mu.Unlock()
	return false
}

func (cf *cloudFormation) runDelete(st *cfnStack) bool {
	cf.mu.Lock()
	toDelete := reversed(st.created_)
	cf.mu.Unlock()
	left := cf.deleteResources(st, toDelete)
	cf.mu.Lock()
	defer cf.mu.Unlock()
	if len(left) > 0 {
		cf.setStatus(st, "DELETE_FAILED", "The following resource(s) failed to delete: ["+strings.Join(left, ", ")+"]. ")
		return false
	}
	st.outputs = nil
	st.deleted = cf.s.now().UTC()
	cf.setStatus(st, "DELETE_COMPLETE", "")
	return true
}
