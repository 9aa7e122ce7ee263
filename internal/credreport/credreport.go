// Package credreport parses the IAM credential report: the CSV that
// iam:GetCredentialReport returns (after base64 decoding), one row per IAM
// user plus the <root_account> row. Columns are located by header name, so
// columns AWS adds later are ignored; values are checked strictly and every
// error names the line, the column and the offending value.
package credreport

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// RootUser is the user column of the root account's row.
const RootUser = "<root_account>"

// Report is a parsed credential report.
type Report struct {
	// Users are the IAM users, in report order. The root row is not among them.
	Users []Row
	// Root is the <root_account> row, nil when the report has none.
	Root *Row
}

// Row is one line of the report.
type Row struct {
	// Line is the row's line number in the CSV (the header is line 1).
	Line int
	// Root reports whether this is the <root_account> row.
	Root bool
	User string
	ARN  string
	// UserCreationTime is zero when the report says N/A.
	UserCreationTime time.Time
	// Keys are the access_key_1_* and access_key_2_* columns.
	Keys [2]Key
}

// Key is one access key slot of a row. The report has no AccessKeyId: a slot
// is identified by its number (Keys[0] is access_key_1).
type Key struct {
	// Present reports whether the slot holds a key (last_rotated is not N/A).
	// When false every other field is its zero value.
	Present bool
	Active  bool
	// LastRotated is the key's creation time, in UTC.
	LastRotated time.Time
	// LastUsed is zero when the key was never used or the report does not know.
	LastUsed        time.Time
	LastUsedRegion  string // "" when N/A
	LastUsedService string // "" when N/A
}

// Columns the parser needs; any other column is ignored.
const (
	colUser             = "user"
	colARN              = "arn"
	colUserCreationTime = "user_creation_time"
)

// keyColumns returns the column names of access key slot n (1 or 2).
func keyColumns(n int) (active, lastRotated, lastUsedDate, lastUsedRegion, lastUsedService string) {
	p := fmt.Sprintf("access_key_%d_", n)
	return p + "active", p + "last_rotated", p + "last_used_date", p + "last_used_region", p + "last_used_service"
}

// RequiredColumns lists the header columns Parse needs, in report order.
func RequiredColumns() []string {
	cols := []string{colUser, colARN, colUserCreationTime}
	for n := 1; n <= 2; n++ {
		a, r, d, g, s := keyColumns(n)
		cols = append(cols, a, r, d, g, s)
	}
	return cols
}

// Error is a problem at one place in a credential report.
type Error struct {
	// Line is the CSV line (1 is the header); 0 when the problem is not on a line.
	Line int
	// Column is the header name of the offending column, "" when the problem
	// concerns the whole line.
	Column string
	Err    error
}

func (e *Error) Error() string {
	switch {
	case e.Line == 0:
		return fmt.Sprintf("credential report: %v", e.Err)
	case e.Column == "":
		return fmt.Sprintf("credential report line %d: %v", e.Line, e.Err)
	default:
		return fmt.Sprintf("credential report line %d, column %s: %v", e.Line, e.Column, e.Err)
	}
}

func (e *Error) Unwrap() error { return e.Err }

// ErrEmpty is returned (wrapped in an *Error) for a report with no content.
var ErrEmpty = errors.New("empty report")

// Reader reads a credential report row by row, so a large report need not be
// held in memory twice.
type Reader struct {
	csv     *csv.Reader
	idx     columnIndex
	width   int
	sawRoot bool
	// words interns the region and service names: a field of a CSV record
	// shares the record's memory, so keeping one would keep the whole line.
	words map[string]string
}

// columnIndex holds the field index of each needed column.
type columnIndex struct {
	user, arn, created int
	keys               [2]keyIndex
}

type keyIndex struct {
	active, lastRotated, lastUsedDate, lastUsedRegion, lastUsedService int
	// column names, for errors
	names [5]string
}

// NewReader reads and checks the header of the report in r.
func NewReader(r io.Reader) (*Reader, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	cr.FieldsPerRecord = -1 // checked here, with a better message
	header, err := cr.Read()
	if err == io.EOF {
		return nil, &Error{Err: ErrEmpty}
	}
	if err != nil {
		return nil, csvError(err)
	}
	if len(header) == 1 && strings.TrimSpace(header[0]) == "" {
		return nil, &Error{Line: 1, Err: errors.New("empty header line")}
	}
	idx, err := indexHeader(header)
	if err != nil {
		return nil, &Error{Line: 1, Err: err}
	}
	return &Reader{csv: cr, idx: idx, width: len(header)}, nil
}

func indexHeader(header []string) (columnIndex, error) {
	pos := make(map[string]int, len(header))
	for i, h := range header {
		h = strings.TrimSpace(h)
		if i == 0 {
			h = strings.TrimPrefix(h, "\ufeff") // a UTF-8 byte order mark
		}
		if _, dup := pos[h]; dup {
			return columnIndex{}, fmt.Errorf("header: duplicate column %q", h)
		}
		pos[h] = i
	}
	var missing []string
	col := func(name string) int {
		i, ok := pos[name]
		if !ok {
			missing = append(missing, name)
		}
		return i
	}
	idx := columnIndex{user: col(colUser), arn: col(colARN), created: col(colUserCreationTime)}
	for n := range 2 {
		a, r, d, g, s := keyColumns(n + 1)
		idx.keys[n] = keyIndex{
			active: col(a), lastRotated: col(r), lastUsedDate: col(d), lastUsedRegion: col(g), lastUsedService: col(s),
			names: [5]string{a, r, d, g, s},
		}
	}
	if len(missing) > 0 {
		hint := ""
		if len(header) == 1 && looksBase64(header[0]) {
			hint = " (is the content still base64-encoded?)"
		}
		return columnIndex{}, fmt.Errorf("header: missing column %s%s", strings.Join(quoteAll(missing), ", "), hint)
	}
	return idx, nil
}

func quoteAll(ss []string) []string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return q
}

func looksBase64(s string) bool {
	if len(s) < 16 {
		return false
	}
	for _, c := range s {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=') {
			return false
		}
	}
	return true
}

// csvError turns an encoding/csv error into an *Error with the line.
func csvError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		line := pe.StartLine
		if line == 0 {
			line = pe.Line
		}
		return &Error{Line: line, Err: fmt.Errorf("malformed CSV: %w", pe.Err)}
	}
	return &Error{Err: fmt.Errorf("read: %w", err)}
}

// Read returns the next row, or io.EOF after the last one.
func (r *Reader) Read() (*Row, error) {
	for {
		rec, err := r.csv.Read()
		if err != nil {
			if err == io.EOF {
				return nil, io.EOF
			}
			return nil, csvError(err)
		}
		line, _ := r.csv.FieldPos(0)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // a blank line with only spaces
		}
		if len(rec) != r.width {
			return nil, &Error{Line: line, Err: fmt.Errorf("truncated or malformed row: %d fields, the header has %d", len(rec), r.width)}
		}
		row, err := r.parseRow(rec, line)
		if err != nil {
			return nil, err
		}
		return row, nil
	}
}

func (r *Reader) parseRow(rec []string, line int) (*Row, error) {
	fail := func(col string, err error) error { return &Error{Line: line, Column: col, Err: err} }
	row := &Row{Line: line, User: strings.Clone(rec[r.idx.user]), ARN: strings.Clone(rec[r.idx.arn])}
	if row.User == "" {
		return nil, fail(colUser, errors.New("empty user name"))
	}
	if !strings.HasPrefix(row.ARN, "arn:") {
		return nil, fail(colARN, fmt.Errorf("%q: not an ARN", row.ARN))
	}
	row.Root = row.User == RootUser || isRootARN(row.ARN)
	if row.Root {
		if r.sawRoot {
			return nil, fail(colUser, errors.New("a second root account row"))
		}
		r.sawRoot = true
	}
	var err error
	if row.UserCreationTime, err = parseOptionalTime(rec[r.idx.created]); err != nil {
		return nil, fail(colUserCreationTime, err)
	}
	for n, ki := range r.idx.keys {
		k, col, err := parseKey(rec, ki)
		if err != nil {
			return nil, fail(col, err)
		}
		k.LastUsedRegion, k.LastUsedService = r.intern(k.LastUsedRegion), r.intern(k.LastUsedService)
		row.Keys[n] = k
	}
	return row, nil
}

// intern returns v in memory of its own, shared by every equal value.
func (r *Reader) intern(v string) string {
	if v == "" {
		return ""
	}
	if w, ok := r.words[v]; ok {
		return w
	}
	if r.words == nil {
		r.words = make(map[string]string)
	}
	w := strings.Clone(v)
	r.words[w] = w
	return w
}

// isRootARN reports whether arn is arn:<partition>:iam::<account>:root.
func isRootARN(arn string) bool {
	parts := strings.SplitN(arn, ":", 6)
	return len(parts) == 6 && parts[2] == "iam" && parts[5] == "root"
}

func parseKey(rec []string, ki keyIndex) (Key, string, error) {
	var k Key
	activeCol, rotatedCol, usedCol, regionCol, serviceCol := ki.names[0], ki.names[1], ki.names[2], ki.names[3], ki.names[4]
	active, err := parseBool(rec[ki.active])
	if err != nil {
		return k, activeCol, err
	}
	rotated := rec[ki.lastRotated]
	if rotated == "N/A" {
		// No key in this slot: everything else must say so too.
		if active {
			return k, activeCol, fmt.Errorf("%q but %s is N/A", rec[ki.active], rotatedCol)
		}
		for _, c := range []struct {
			i    int
			name string
		}{{ki.lastUsedDate, usedCol}, {ki.lastUsedRegion, regionCol}, {ki.lastUsedService, serviceCol}} {
			if !isNone(rec[c.i]) {
				return k, c.name, fmt.Errorf("%q but %s is N/A", rec[c.i], rotatedCol)
			}
		}
		return k, "", nil
	}
	k.Present, k.Active = true, active
	if k.LastRotated, err = parseTime(rotated); err != nil {
		return k, rotatedCol, err
	}
	if k.LastUsed, err = parseOptionalTime(rec[ki.lastUsedDate]); err != nil {
		return k, usedCol, err
	}
	k.LastUsedRegion = optional(rec[ki.lastUsedRegion])
	k.LastUsedService = optional(rec[ki.lastUsedService])
	return k, "", nil
}

// isNone reports whether v is one of the report's "no value" markers.
func isNone(v string) bool {
	switch v {
	case "N/A", "no_information", "not_supported", "":
		return true
	}
	return false
}

func optional(v string) string {
	if isNone(v) {
		return ""
	}
	return v
}

func parseBool(v string) (bool, error) {
	switch v {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, fmt.Errorf("%q: want true or false", v)
}

func parseOptionalTime(v string) (time.Time, error) {
	if isNone(v) {
		return time.Time{}, nil
	}
	return parseTime(v)
}

// parseTime parses the report's ISO 8601 timestamps, 2026-01-05T10:00:00+00:00
// or with Z, optionally with fractional seconds, and returns them in UTC.
func parseTime(v string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		detail := "not an ISO 8601 timestamp like 2026-01-05T10:00:00+00:00"
		var pe *time.ParseError
		if errors.As(err, &pe) && pe.Message != "" {
			detail = strings.TrimPrefix(pe.Message, ": ")
		}
		return time.Time{}, fmt.Errorf("parse time %q: %s", v, detail)
	}
	return t.UTC(), nil
}

// Parse parses a whole credential report.
func Parse(data []byte) (*Report, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, &Error{Err: ErrEmpty}
	}
	r, err := NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	rep := &Report{}
	for {
		row, err := r.Read()
		if err == io.EOF {
			return rep, nil
		}
		if err != nil {
			return nil, err
		}
		if row.Root {
			rep.Root = row
			continue
		}
		rep.Users = append(rep.Users, *row)
	}
}
