package sandbox

import (
	"bytes"
	"encoding/base64"
	"encoding/csv"
	"fmt"
	"net/http"
	"time"
)

// Credential reports behave like AWS's: GenerateCredentialReport snapshots the account when it
// starts a report, a report is reused until it is four hours old, and GetCredentialReport serves
// the snapshot. A key rotated after the snapshot is therefore not in the report.

const reportTTL = 4 * time.Hour

// reportHeader is the real column layout of an IAM credential report.
var reportHeader = []string{
	"user", "arn", "user_creation_time", "password_enabled", "password_last_used", "password_last_changed",
	"password_next_rotation", "mfa_active",
	"access_key_1_active", "access_key_1_last_rotated", "access_key_1_last_used_date", "access_key_1_last_used_region", "access_key_1_last_used_service",
	"access_key_2_active", "access_key_2_last_rotated", "access_key_2_last_used_date", "access_key_2_last_used_region", "access_key_2_last_used_service",
	"cert_1_active", "cert_1_last_rotated", "cert_2_active", "cert_2_last_rotated",
}

type credentialReport struct {
	generated time.Time
	ready     time.Time
	csv       []byte
}

func reportTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05+00:00") }

// buildReportLocked renders the account's credential report; the caller holds a.mu.
func (a *account) buildReportLocked() []byte {
	var buf bytes.Buffer
	buf.Grow(256 * (len(a.users) + 2))
	w := csv.NewWriter(&buf)
	_ = w.Write(reportHeader)
	row := make([]string, 0, len(reportHeader))
	row = append(row, "<root_account>", "arn:aws:iam::"+a.id+":root", reportTime(a.created),
		"not_supported", "no_information", "not_supported", "not_supported", "false")
	row = appendKeyColumns(row, a.rootUser.keys)
	_ = w.Write(append(row, "false", "N/A", "false", "N/A"))
	for _, u := range a.users {
		row = append(row[:0], u.name, u.arn(a.id), reportTime(u.created), "false", "N/A", "N/A", "N/A", "false")
		row = appendKeyColumns(row, u.keys)
		_ = w.Write(append(row, "false", "N/A", "false", "N/A"))
	}
	w.Flush()
	return buf.Bytes()
}

func appendKeyColumns(row []string, keys []accessKey) []string {
	for i := 0; i < 2; i++ {
		if i >= len(keys) {
			row = append(row, "false", "N/A", "N/A", "N/A", "N/A")
			continue
		}
		k := keys[i]
		row = append(row, fmt.Sprint(k.status == statusActive), reportTime(k.created))
		if k.lastUsed.IsZero() {
			row = append(row, "N/A", "N/A", "N/A")
		} else {
			row = append(row, reportTime(k.lastUsed), k.lastRegion, k.lastService)
		}
	}
	return row
}

func (s *Server) iamGenerateCredentialReport(c *call) (any, error) {
	a := c.acct()
	a.mu.Lock()
	r := a.report
	state, desc := "COMPLETE", ""
	switch {
	case r == nil || c.now.Sub(r.generated) >= reportTTL:
		a.report = &credentialReport{generated: c.now.Truncate(time.Second), ready: c.now.Add(s.opts.ReportDelay), csv: a.buildReportLocked()}
		state, desc = "STARTED", "No report exists. Starting a new report generation task"
	case c.now.Before(r.ready):
		state, desc = "INPROGRESS", "Report generation task is ongoing"
	}
	a.mu.Unlock()
	return xmlResult(func(x *xmlWriter) {
		x.elem("State", state)
		if desc != "" {
			x.elem("Description", desc)
		}
	}), nil
}

func (s *Server) iamGetCredentialReport(c *call) (any, error) {
	a := c.acct()
	a.mu.RLock()
	r := a.report
	a.mu.RUnlock()
	switch {
	case r == nil:
		return nil, newError(http.StatusGone, "ReportNotPresent", "The request was rejected because the credential report does not exist. To generate a credential report, use GenerateCredentialReport.")
	case c.now.Before(r.ready):
		return nil, newError(http.StatusNotFound, "ReportInProgress", "The request was rejected because the credential report is still being generated.")
	case c.now.Sub(r.generated) >= reportTTL:
		return nil, newError(http.StatusGone, "ReportExpired", "The request was rejected because the most recent credential report has expired. To generate a new credential report, use GenerateCredentialReport.")
	}
	// r.csv is never modified after the report is stored.
	return xmlResult(func(x *xmlWriter) {
		x.open("Content")
		enc := base64.NewEncoder(base64.StdEncoding, &x.buf)
		_, _ = enc.Write(r.csv)
		_ = enc.Close()
		x.close("Content")
		x.elem("ReportFormat", "text/csv")
		x.timeElem("GeneratedTime", r.generated)
	}), nil
}

// SetCredentialReport replaces an account's credential report with raw CSV (which need not be
// valid: tests use it for corrupt reports). The report counts as generated now and is complete.
func (s *Server) SetCredentialReport(accountID string, csv []byte) error {
	a, ok := s.accounts[accountID]
	if !ok {
		return fmt.Errorf("set credential report: no account %s in the sandbox", accountID)
	}
	now := s.now().UTC()
	a.mu.Lock()
	a.report = &credentialReport{generated: now.Truncate(time.Second), ready: now, csv: bytes.Clone(csv)}
	a.mu.Unlock()
	return nil
}
