package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyage/keyage/internal/output"
	"github.com/keyage/keyage/internal/store"
)

type executionsOptions struct {
	statePath string
	status    string
	output    string
}

func newExecutionsCmd(ios *IO) *cobra.Command {
	o := &executionsOptions{}
	cmd := &cobra.Command{
		Use:   "executions",
		Short: "List remediation executions, like describe-remediation-execution-status",
		Args:  cobra.NoArgs,
		Example: `  keyage executions --status FAILED
  keyage executions -o json`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runExecutions(cmd.Context(), ios, o)
		},
	}
	f := cmd.Flags()
	addStateFlag(f, &o.statePath)
	f.StringVar(&o.status, "status", "", "only executions in this state: QUEUED, IN_PROGRESS, SUCCEEDED or FAILED")
	addOutputFlags(f, &o.output, nil, output.Table, output.JSON, output.CSV)
	return cmd
}

type executionJSON struct {
	ResourceKey struct {
		ResourceType string `json:"resourceType"`
		ResourceID   string `json:"resourceId"`
	} `json:"resourceKey"`
	AccountID       string       `json:"accountId"`
	UserName        string       `json:"userName"`
	ConfigRuleName  string       `json:"configRuleName"`
	State           string       `json:"state"`
	Attempts        int          `json:"attempts"`
	StepDetails     []store.Step `json:"stepDetails"`
	LastError       string       `json:"lastError,omitempty"`
	InvocationTime  time.Time    `json:"invocationTime"`
	LastUpdatedTime time.Time    `json:"lastUpdatedTime"`
}

func runExecutions(ctx context.Context, ios *IO, o *executionsOptions) error {
	switch strings.ToUpper(o.status) {
	case "", store.ExecutionQueued, store.ExecutionInProgress, store.ExecutionSucceeded, store.ExecutionFailed:
	default:
		return usageError(fmt.Errorf("--status %q: want QUEUED, IN_PROGRESS, SUCCEEDED or FAILED", o.status))
	}
	var execs []store.Execution
	err := withState(ctx, o.statePath, func(st *store.Store) (err error) {
		execs, err = st.Executions(ctx, o.status)
		return err
	})
	if err != nil {
		return err
	}
	if o.output == "json" {
		out := make([]executionJSON, len(execs))
		for i, e := range execs {
			out[i].ResourceKey.ResourceType, out[i].ResourceKey.ResourceID = "AWS::IAM::User", e.ResourceID
			out[i].AccountID, out[i].UserName, out[i].ConfigRuleName, out[i].State = e.AccountID, e.UserName, e.Rule, e.State
			out[i].Attempts, out[i].StepDetails, out[i].LastError = e.Attempts, e.Steps, e.LastError
			out[i].InvocationTime, out[i].LastUpdatedTime = e.CreatedAt, e.UpdatedAt
		}
		enc := json.NewEncoder(ios.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"RemediationExecutionStatuses": out})
	}
	if o.output == "csv" {
		rows := [][]string{{"account_id", "user_name", "resource_id", "config_rule_name", "state", "attempts", "invocation_time", "last_updated_time", "last_error"}}
		for _, e := range execs {
			rows = append(rows, []string{e.AccountID, e.UserName, e.ResourceID, e.Rule, e.State, strconv.Itoa(e.Attempts),
				e.CreatedAt.UTC().Format(time.RFC3339), e.UpdatedAt.UTC().Format(time.RFC3339), e.LastError})
		}
		return writeCSV(ios.Out, rows)
	}
	tw := tabwriter.NewWriter(ios.Out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ACCOUNT\tUSER\tRESOURCE ID\tSTATE\tATTEMPTS\tUPDATED\tDETAIL")
	for _, e := range execs {
		detail := e.LastError
		if detail == "" {
			for _, s := range e.Steps {
				if s.Name == store.PublishStep {
					detail = s.Detail
				}
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", e.AccountID, e.UserName, e.ResourceID, e.State, e.Attempts, e.UpdatedAt.Format(time.RFC3339), detail)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(execs) == 0 {
		fmt.Fprintln(ios.Out, "(no executions)")
	}
	return nil
}
