// Package output writes a scan result as an aligned table, JSON, CSV, ASFF
// (AWS Security Hub's finding format) or OCSF events.
package output

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/keyage/keyage/internal/lifecycle"
	"github.com/keyage/keyage/internal/rule"
	"github.com/keyage/keyage/internal/scan"
)

// Format is an output format.
type Format string

// The formats.
const (
	Table Format = "table"
	JSON  Format = "json"
	CSV   Format = "csv"
	// ASFF is a JSON array of AWS Security Finding Format findings.
	ASFF Format = "asff"
	// OCSF is OCSF Compliance Finding events, one JSON object per line.
	OCSF Format = "ocsf"
)

// ParseFormat validates an -o value.
func ParseFormat(s string) (Format, error) {
	switch Format(s) {
	case Table, JSON, CSV, ASFF, OCSF:
		return Format(s), nil
	}
	return "", fmt.Errorf("unknown output format %q (want table, json, csv, asff or ocsf)", s)
}

// Options tunes the table and the finding formats.
type Options struct {
	// All lists every key in the table, not only warning and expired ones.
	All bool
	// Region is the Security Hub region of ASFF product ARNs and OCSF
	// events; "" is us-east-1.
	Region string
	// Partition of ASFF product ARNs; "" takes each user's.
	Partition string
	// Version is keyage's version, in OCSF metadata.product.version.
	Version string
}

// Write renders r in format f.
func Write(w io.Writer, f Format, r *scan.Result, o Options) error {
	switch f {
	case JSON:
		return writeJSON(w, r)
	case CSV:
		return writeCSV(w, r)
	case ASFF:
		return writeASFF(w, r, o)
	case OCSF:
		return writeOCSF(w, r, o)
	default:
		return writeTable(w, r, o)
	}
}

// CSVHeader is the first line of -o csv: one row per key, and one row with
// empty key columns for a user without keys or an account without users.
var CSVHeader = []string{
	"accountId", "accountName", "userName", "userId", "arn", "compliance",
	"accessKeyId", "keyStatus", "createDate", "ageDays", "stage",
	"lastUsedDate", "lastUsedService", "lastUsedRegion", "annotation",
}

func writeCSV(w io.Writer, r *scan.Result) error {
	names := accountNames(r)
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	return writeCSVRows(cw, r.Evaluations, names)
}

// writeCSVRows writes the rows of evs and flushes.
func writeCSVRows(cw *csv.Writer, evs []rule.Evaluation, names map[string]string) error {
	for _, ev := range evs {
		base := []string{ev.AccountID, names[ev.AccountID], ev.UserName, ev.ResourceID, ev.ARN, string(ev.Compliance)}
		if len(ev.Keys) == 0 {
			row := append(base, make([]string, 8)...)
			if err := cw.Write(SafeCSVRecord(append(row, ev.Annotation))); err != nil {
				return fmt.Errorf("write csv: %w", err)
			}
			continue
		}
		for _, k := range ev.Keys {
			row := append(append([]string(nil), base...),
				k.AccessKeyID, k.Status, k.CreateDate.UTC().Format(time.RFC3339), strconv.Itoa(k.AgeDays), string(k.Stage),
				formatTime(k.LastUsedDate), k.LastUsedService, k.LastUsedRegion, ev.Annotation)
			if err := cw.Write(SafeCSVRecord(row)); err != nil {
				return fmt.Errorf("write csv: %w", err)
			}
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	return nil
}

// tableHeader is the first line of the table.
var tableHeader = []string{"ACCOUNT", "USER", "KEY", "AGE", "LAST USED", "STAGE"}

// tableRows are the table's rows for evs: the keys in warning, expired or
// exempt, or every key with o.All.
func tableRows(evs []rule.Evaluation, names map[string]string, now time.Time, o Options) [][]string {
	var rows [][]string
	for _, ev := range evs {
		for _, k := range ev.Keys {
			if !o.All && lifecycle.Stage(k.Stage) != lifecycle.Expired && lifecycle.Stage(k.Stage) != lifecycle.Warning && lifecycle.Stage(k.Stage) != lifecycle.Exempt {
				continue
			}
			key := k.AccessKeyID
			if key == "" {
				key = fmt.Sprintf("(key %d)", k.Slot)
			}
			rows = append(rows, []string{accountLabel(ev.AccountID, names[ev.AccountID]),
				ev.UserName, key, fmt.Sprintf("%dd", k.AgeDays), lastUsed(k.Key, now), stageText(k)})
		}
	}
	return rows
}

func writeTable(w io.Writer, r *scan.Result, o Options) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	rows := append([][]string{tableHeader}, tableRows(r.Evaluations, accountNames(r), r.EvaluatedAt, o)...)
	for _, row := range rows {
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	return writeTableEnd(w, r, o, len(rows)-1)
}

// writeTableEnd writes what follows the table's rows: a line when there
// were none, the root keys, the accounts not scanned and the summary.
func writeTableEnd(w io.Writer, r *scan.Result, o Options, rows int) error {
	if rows == 0 {
		if o.All {
			fmt.Fprintln(w, "(no access keys)")
		} else {
			fmt.Fprintln(w, "(no keys past the warning age or the limit)")
		}
	}
	var failed, root []scan.AccountResult
	for _, a := range r.Accounts {
		if a.Status != scan.StatusOK {
			failed = append(failed, a)
		}
		for _, k := range a.RootKeys {
			if k.Status != rule.StatusInactive {
				root = append(root, a)
				break
			}
		}
	}
	if len(root) > 0 {
		fmt.Fprintln(w, "\nRoot user access keys (the rule ignores them; delete them):")
		for _, a := range root {
			var parts []string
			for _, k := range a.RootKeys {
				if k.AgeDays != nil {
					parts = append(parts, fmt.Sprintf("%s %dd", k.Status, *k.AgeDays))
				} else {
					parts = append(parts, k.Status)
				}
			}
			fmt.Fprintf(w, "  %s: %s\n", accountLabel(a.AccountID, a.Name), strings.Join(parts, ", "))
		}
	}
	if len(failed) > 0 {
		fmt.Fprintln(w, "\nAccounts not scanned:")
		for _, a := range failed {
			fmt.Fprintf(w, "  %s: %s\n", accountLabel(a.AccountID, a.Name), a.Error)
		}
	}
	fmt.Fprintln(w)
	if _, err := fmt.Fprintln(w, SummaryLine(r)); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	return nil
}

// Count is n and unit, in the plural unless n is 1: "1 key", "2 keys".
// unit is a noun phrase whose plural adds "s" to its last word.
func Count(n int, unit string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, unit)
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// SummaryLine is the one-line summary under the table.
func SummaryLine(r *scan.Result) string {
	s := r.Summary
	acc := Count(s.Accounts, "account")
	if s.AccountsFailed > 0 {
		acc += fmt.Sprintf(" (%d failed)", s.AccountsFailed)
	}
	line := fmt.Sprintf("%s, %s: %d non-compliant, %d compliant", acc, Count(s.Users, "user"), s.NonCompliant, s.Compliant)
	if s.NotApplicable > 0 {
		line += fmt.Sprintf(", %d not applicable", s.NotApplicable)
	}
	line += fmt.Sprintf("; keys: %d expired, %d warning, %d ok, %d inactive",
		s.Keys[string(lifecycle.Expired)], s.Keys[string(lifecycle.Warning)], s.Keys[string(lifecycle.OK)], s.Keys[string(lifecycle.Inactive)])
	if n := s.Keys[string(lifecycle.Exempt)]; n > 0 {
		line += fmt.Sprintf(", %d exempt", n)
	}
	if s.ActiveRootKeys > 0 {
		line += "; " + Count(s.ActiveRootKeys, "active root key")
	}
	return line + fmt.Sprintf(" (limit %d days).", r.Parameters.MaxAccessKeyAge)
}

// stageText is a key's stage in the table; an exempt key says until when
// and why: "exempt until 2027-03-31 (vendor integration)".
func stageText(k rule.KeyResult) string {
	if lifecycle.Stage(k.Stage) != lifecycle.Exempt || k.Lifecycle == nil || k.Lifecycle.Exemption == nil {
		return k.Stage
	}
	ex := k.Lifecycle.Exemption
	s := "exempt until " + ex.Until.UTC().Format(time.DateOnly)
	if ex.Reason != "" {
		s += " (" + ex.Reason + ")"
	}
	return s
}

func accountNames(r *scan.Result) map[string]string {
	m := make(map[string]string, len(r.Accounts))
	for _, a := range r.Accounts {
		m[a.AccountID] = a.Name
	}
	return m
}

func accountLabel(id, name string) string {
	if name == "" {
		return id
	}
	return id + " (" + name + ")"
}

func lastUsed(k rule.Key, now time.Time) string {
	if k.LastUsedDate.IsZero() {
		return "never"
	}
	s := fmt.Sprintf("%dd ago", rule.AgeDays(k.LastUsedDate, now))
	if k.LastUsedService != "" {
		s += " (" + k.LastUsedService + ")"
	}
	return s
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
