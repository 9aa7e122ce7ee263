package cli

import (
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/keyage/keyage/internal/deploy"
)

// deployStatusDocument is keyage deploy status -o json. A part that is not
// deployed is null, with its name in stackName or stackSetName.
type deployStatusDocument struct {
	StackName    string        `json:"stackName"`
	Stack        *stackJSON    `json:"stack"`
	StackSetName string        `json:"stackSetName"`
	StackSet     *stackSetJSON `json:"stackSet"`
}

type stackJSON struct {
	Name             string            `json:"name"`
	ID               string            `json:"id"`
	Status           string            `json:"status"`
	Reason           string            `json:"reason,omitempty"`
	Created          time.Time         `json:"created,omitzero"`
	Updated          time.Time         `json:"updated,omitzero"`
	Parameters       map[string]string `json:"parameters"`
	Outputs          map[string]string `json:"outputs"`
	Failures         []failureJSON     `json:"failures"`
	Drift            string            `json:"drift"`
	DriftedResources int               `json:"driftedResources"`
}

type failureJSON struct {
	LogicalID string `json:"logicalId"`
	Type      string `json:"type"`
	Status    string `json:"status"`
	Reason    string `json:"reason"`
}

type stackSetJSON struct {
	Name                 string            `json:"name"`
	ID                   string            `json:"id"`
	Status               string            `json:"status"`
	PermissionModel      string            `json:"permissionModel"`
	Parameters           map[string]string `json:"parameters"`
	Instances            []instanceJSON    `json:"instances"`
	Drift                string            `json:"drift"`
	DriftedInstances     int               `json:"driftedInstances"`
	InSyncInstances      int               `json:"inSyncInstances"`
	DriftFailedInstances int               `json:"driftFailedInstances"`
}

type instanceJSON struct {
	Account        string `json:"account"`
	Region         string `json:"region"`
	OU             string `json:"ou,omitempty"`
	Status         string `json:"status"`
	DetailedStatus string `json:"detailedStatus,omitempty"`
	Reason         string `json:"reason,omitempty"`
	StackID        string `json:"stackId,omitempty"`
	Drift          string `json:"drift,omitempty"`
}

func writeDeployStatusJSON(w io.Writer, stack, set string, st *deploy.StackStatus, ss *deploy.StackSetStatus) error {
	d := deployStatusDocument{StackName: stack, StackSetName: set}
	if st != nil {
		d.Stack = &stackJSON{Name: st.Name, ID: st.ID, Status: st.Status, Reason: st.Reason, Created: st.Created, Updated: st.Updated,
			Parameters: st.Parameters, Outputs: st.Outputs, Failures: []failureJSON{}, Drift: st.Drift, DriftedResources: st.DriftedResources}
		for _, f := range st.Failures {
			d.Stack.Failures = append(d.Stack.Failures, failureJSON{LogicalID: f.LogicalID, Type: f.Type, Status: f.Status, Reason: f.Reason})
		}
	}
	if ss != nil {
		d.StackSet = &stackSetJSON{Name: ss.Name, ID: ss.ID, Status: ss.Status, PermissionModel: ss.PermissionModel, Parameters: ss.Parameters,
			Instances: []instanceJSON{}, Drift: ss.Drift, DriftedInstances: ss.DriftedInstances, InSyncInstances: ss.InSyncInstances,
			DriftFailedInstances: ss.DriftFailedInstances}
		for _, in := range ss.Instances {
			d.StackSet.Instances = append(d.StackSet.Instances, instanceJSON{Account: in.Account, Region: in.Region, OU: in.OU,
				Status: in.Status, DetailedStatus: in.DetailedStatus, Reason: in.Reason, StackID: in.StackID, Drift: in.Drift})
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(d)
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
