package cli

import (
	"encoding/json"
	"io"
	"strconv"
	"strings"

	"github.com/keyage/keyage/internal/deploy"
)

// writeDeployStatusJSON is keyage deploy status -o json: the stack and the
// StackSet as internal/deploy reports them, with CloudFormation's field
// names (Name, Status, Instances, ...); a part that is not deployed is
// null, with its name in StackName or StackSetName.
func writeDeployStatusJSON(w io.Writer, stack, set string, st *deploy.StackStatus, ss *deploy.StackSetStatus) error {
	if st != nil && st.Failures == nil { // [] rather than null, for jq
		c := *st
		c.Failures, st = []deploy.ResourceFailure{}, &c
	}
	if ss != nil && ss.Instances == nil {
		c := *ss
		c.Instances, ss = []deploy.Instance{}, &c
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		StackName    string
		Stack        *deploy.StackStatus
		StackSetName string
		StackSet     *deploy.StackSetStatus
	}{stack, st, set, ss})
}

// deployStatusRows is keyage deploy status -o csv: one row for the master
// stack, one for the StackSet and one per instance; a part that is not
// deployed has the status NOT_DEPLOYED.
func deployStatusRows(stack, set string, st *deploy.StackStatus, ss *deploy.StackSetStatus) [][]string {
	rows := [][]string{{"kind", "name", "account", "region", "ou", "status", "detailed_status", "drift", "reason"}}
	if st == nil {
		rows = append(rows, []string{"stack", stack, "", "", "", "NOT_DEPLOYED", "", "", ""})
	} else {
		reasons := []string{}
		if st.Reason != "" {
			reasons = append(reasons, st.Reason)
		}
		for _, f := range st.Failures {
			reasons = append(reasons, f.String())
		}
		reason := strings.Join(reasons, "; ")
		drift := st.Drift
		if st.DriftedResources > 0 {
			drift += " (" + strconv.Itoa(st.DriftedResources) + " resources)"
		}
		rows = append(rows, []string{"stack", st.Name, "", "", "", st.Status, "", drift, reason})
	}
	if ss == nil {
		return append(rows, []string{"stackset", set, "", "", "", "NOT_DEPLOYED", "", "", ""})
	}
	rows = append(rows, []string{"stackset", ss.Name, "", "", "", ss.Status, ss.PermissionModel, ss.Drift, ""})
	for _, in := range ss.Instances {
		rows = append(rows, []string{"instance", ss.Name, in.Account, in.Region, in.OU, in.Status, in.DetailedStatus, in.Drift, in.Reason})
	}
	return rows
}
