package output

import "strings"

// SafeCSV defuses a spreadsheet formula in one CSV cell: user, account and
// tag values come from the scanned accounts and are attacker-controlled, and
// a cell starting with = + - @, a tab or a carriage return runs as a formula
// when the file is opened in a spreadsheet. Such a cell gets a leading
// apostrophe (OWASP's advice), which spreadsheets show as text.
func SafeCSV(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}

// SafeCSVRecord applies SafeCSV to every cell of rec, in place, and returns
// it.
func SafeCSVRecord(rec []string) []string {
	for i, v := range rec {
		rec[i] = SafeCSV(v)
	}
	return rec
}
