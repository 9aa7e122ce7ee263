package server

import (
	"encoding/csv"
	"io"
	"strconv"
	"time"

	"github.com/keyage/keyage/internal/output"
)

// keyCSVHeader are the columns of /noncompliant.csv.
var keyCSVHeader = []string{"account_id", "account_name", "user_name", "resource_id", "access_key_id", "status", "stage", "age_days",
	"create_date", "last_used_date", "last_used_service", "owner", "remediation_status", "last_notified", "next_reminder",
	"ou", "deadline", "days_left", "remediation"}

func writeKeyCSV(w io.Writer, rows []keyRow) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(keyCSVHeader); err != nil {
		return err
	}
	for _, r := range rows {
		rec := []string{r.AccountID, r.AccountName, r.UserName, r.ResourceID, r.AccessKeyID, r.Status, r.Stage, strconv.Itoa(r.AgeDays),
			csvTime(r.CreateDate), csvTime(r.LastUsed), r.LastUsedService, r.Owner, r.Remediation, csvTime(r.LastNotified), csvTime(r.NextReminder),
			r.OU, csvTime(r.Deadline), "", r.RemediationText}
		if r.DaysLeft != nil {
			rec[17] = strconv.Itoa(*r.DaysLeft)
		}
		if err := cw.Write(output.SafeCSVRecord(rec)); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func csvTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
