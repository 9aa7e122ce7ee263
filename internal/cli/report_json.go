package cli

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyage/keyage/internal/cycle"
	"github.com/keyage/keyage/internal/output"
	"github.com/keyage/keyage/internal/scan"
)

// runJSONVersion is the schemaVersion of keyage run -o json and keyage
// enforce -o json (docs/run-json.md).
const runJSONVersion = 1

// runDocument is keyage run -o json: the run's result as one document.
type runDocument struct {
	SchemaVersion int       `json:"schemaVersion"`
	Started       time.Time `json:"started"`
	Finished      time.Time `json:"finished"`
	DryRun        bool      `json:"dryRun"`
	// Automatic is remediation.automatic: without it nothing is applied.
	Automatic   bool             `json:"automatic"`
	Interrupted bool             `json:"interrupted"`
	Scan        scanDocument     `json:"scan"`
	Executions  []runExecution   `json:"executions"`
	Messages    messageCounts    `json:"messages"`
	Enforce     *enforceDocument `json:"enforce,omitempty"`
}

// scanDocument is the scan part of runDocument.
type scanDocument struct {
	Summary        scan.Summary    `json:"summary"`
	FailedAccounts []failedAccount `json:"failedAccounts"`
}

type failedAccount struct {
	AccountID string `json:"accountId"`
	Status    string `json:"status"`
	Error     string `json:"error"`
}

// runExecution is one remediation execution: a NON_COMPLIANT user.
type runExecution struct {
	AccountID  string `json:"accountId"`
	ResourceID string `json:"resourceId"`
	UserName   string `json:"userName"`
}

// messageCounts counts the run's notifications.
type messageCounts struct {
	Planned int `json:"planned"`
	// Requeued are failed notifications of earlier runs queued again
	// (--retry-failed).
	Requeued int `json:"requeued"`
	Sent     int `json:"sent"`
	Failed   int `json:"failed"`
	Retried  int `json:"retried"`
	// Pending are planned and requeued notifications neither sent nor
	// failed: they stay in the outbox for the next run.
	Pending int `json:"pending"`
	// AlreadyNotified are findings notified within their repeat interval
	// and unchanged: not sent again.
	AlreadyNotified int `json:"alreadyNotified"`
}

// enforceDocument is keyage enforce -o json, and the enforce part of
// runDocument.
type enforceDocument struct {
	SchemaVersion int             `json:"schemaVersion,omitempty"`
	Applied       bool            `json:"applied"`
	Stopped       string          `json:"stopped,omitempty"`
	Counts        enforceCounts   `json:"counts"`
	Actions       []enforceAction `json:"actions"`
	// Notices counts the owner notices planned.
	Notices int `json:"notices"`
}

type enforceCounts struct {
	Applied   int `json:"applied"`
	Planned   int `json:"planned"`
	Refused   int `json:"refused"`
	Escalated int `json:"escalated"`
	Failed    int `json:"failed"`
	Scheduled int `json:"scheduled"`
}

type enforceAction struct {
	AccountID   string     `json:"accountId"`
	UserName    string     `json:"userName"`
	ResourceID  string     `json:"resourceId"`
	AccessKeyID string     `json:"accessKeyId"`
	Action      string     `json:"action"`
	Stage       string     `json:"stage"`
	AgeDays     int        `json:"ageDays"`
	Outcome     string     `json:"outcome"`
	Reason      string     `json:"reason,omitempty"`
	Detail      string     `json:"detail,omitempty"`
	Deadline    *time.Time `json:"deadline,omitempty"`
	Before      string     `json:"before,omitempty"`
	After       string     `json:"after,omitempty"`
}

// newRunDocument builds keyage run -o json's document from the cycle's
// report; writeRunDocument adds the executions (runRun collects them from
// the cycle's plans as they are applied).
func newRunDocument(rep *cycle.Report, dryRun bool) *runDocument {
	res := rep.Result
	d := &runDocument{
		SchemaVersion: runJSONVersion, Started: rep.Started.UTC(), Finished: rep.Finished.UTC(),
		DryRun: dryRun, Automatic: rep.Automatic, Interrupted: rep.Interrupted,
		Scan:       scanDocument{Summary: res.Summary, FailedAccounts: []failedAccount{}},
		Executions: []runExecution{},
	}
	for _, a := range res.Accounts {
		if a.Status != scan.StatusOK {
			d.Scan.FailedAccounts = append(d.Scan.FailedAccounts, failedAccount{AccountID: a.AccountID, Status: a.Status, Error: a.Error})
		}
	}
	if p := rep.Plan; p != nil {
		c := p.Counts()
		d.Messages.Planned, d.Messages.AlreadyNotified = c.Messages, c.Suppressed
	}
	s := rep.Dispatch
	d.Messages.Requeued, d.Messages.Sent, d.Messages.Failed, d.Messages.Retried = rep.Requeued, s.Sent, s.Failed, s.Retried
	if rep.Automatic && !dryRun {
		d.Messages.Pending = max(0, d.Messages.Planned+d.Messages.Requeued-s.Sent-s.Failed)
	}
	if rep.Enforce != nil {
		d.Enforce = newEnforceDocument(rep.Enforce, 0)
	}
	return d
}

// newEnforceDocument builds keyage enforce -o json's document; version 0
// leaves schemaVersion out (inside a run document).
func newEnforceDocument(rep *cycle.EnforceReport, version int) *enforceDocument {
	d := &enforceDocument{SchemaVersion: version, Applied: rep.Applied, Actions: []enforceAction{}}
	if rep.NoticesPlanned {
		d.Notices = rep.Notices
	}
	if er := rep.Report; er != nil {
		d.Stopped = er.Stopped
		d.Counts = enforceCounts{Applied: er.Applied, Planned: er.DryRun, Refused: er.Refused, Escalated: er.Escalated, Failed: er.Failed, Scheduled: er.Scheduled}
		for _, a := range er.Actions {
			ja := enforceAction{AccountID: a.AccountID, UserName: a.UserName, ResourceID: a.ResourceID, AccessKeyID: a.AccessKeyID,
				Action: string(a.Action), Stage: string(a.Stage), AgeDays: a.AgeDays, Outcome: a.Outcome, Reason: a.Reason, Detail: a.Detail,
				Before: a.Before, After: a.After}
			if !a.Deadline.IsZero() {
				t := a.Deadline.UTC()
				ja.Deadline = &t
			}
			d.Actions = append(d.Actions, ja)
		}
	}
	return d
}

// writeJSON writes v as one indented JSON document.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write JSON: %w", err)
	}
	return nil
}

// offerOutput narrows the -o flag that addScanFlags registered to the
// formats cmd prints, and hides --all where no table lists keys.
func offerOutput(cmd *cobra.Command, keepAll bool, formats ...output.Format) {
	names := make([]string, len(formats))
	for i, fm := range formats {
		names[i] = string(fm)
	}
	fl := cmd.Flags().Lookup("output")
	v := fl.Value.(*choiceValue)
	v.choices = names
	fl.Usage = "output format: " + orList(names)
	if !keepAll {
		_ = cmd.Flags().MarkHidden("all")
	}
}

// offerNoOutput withdraws -o and --all from a command that prints no data
// (serve, remediate): hidden, and a usage error when given.
func offerNoOutput(cmd *cobra.Command) {
	fl := cmd.Flags().Lookup("output")
	fl.Value.(*choiceValue).choices = nil
	_ = cmd.Flags().MarkHidden("output")
	_ = cmd.Flags().MarkHidden("all")
}

// writeCSV writes rows, the header first, as CSV.
func writeCSV(w io.Writer, rows [][]string) error {
	cw := csv.NewWriter(w)
	if err := cw.WriteAll(rows); err != nil {
		return fmt.Errorf("write CSV: %w", err)
	}
	return nil
}
