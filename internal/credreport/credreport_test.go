package credreport

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParse(t *testing.T) {
	none := Key{}
	for _, tt := range []struct {
		name string
		file string
		want *Report
	}{
		{
			name: "realistic report",
			file: "report.csv",
			want: &Report{
				Root: &Row{
					Line: 2, Root: true, User: "<root_account>", ARN: "arn:aws:iam::123456789012:root",
					UserCreationTime: ts("2019-03-04T08:12:55Z"),
					Keys: [2]Key{{
						Present: true, Active: true, LastRotated: ts("2025-04-27T09:00:00Z"),
						LastUsed: ts("2026-05-29T13:45:00Z"), LastUsedRegion: "us-east-1", LastUsedService: "iam",
					}, none},
				},
				Users: []Row{
					{
						Line: 3, User: "alice", ARN: "arn:aws:iam::123456789012:user/engineering/alice",
						UserCreationTime: ts("2024-01-15T10:20:30Z"),
						Keys: [2]Key{{
							Present: true, Active: true, LastRotated: ts("2026-01-05T10:00:00Z"),
							LastUsed: ts("2026-05-31T22:10:00Z"), LastUsedRegion: "eu-west-1", LastUsedService: "s3",
						}, {
							Present: true, Active: true, LastRotated: ts("2025-02-01T00:00:00Z"),
							LastUsed: ts("2026-04-30T12:00:00Z"), LastUsedRegion: "us-east-1", LastUsedService: "sts",
						}},
					},
					{
						Line: 4, User: "bob", ARN: "arn:aws:iam::123456789012:user/bob",
						UserCreationTime: ts("2025-06-01T12:00:00Z"),
						Keys:             [2]Key{{Present: true, Active: true, LastRotated: ts("2026-05-20T08:30:00Z")}, none},
					},
					{
						Line: 5, User: "carol", ARN: "arn:aws:iam::123456789012:user/ops/carol",
						UserCreationTime: ts("2023-09-09T09:09:09Z"),
						Keys: [2]Key{{
							Present: true, Active: false, LastRotated: ts("2024-02-10T11:11:11Z"),
							LastUsed: ts("2024-03-01T00:00:00Z"), LastUsedRegion: "us-west-2", LastUsedService: "ec2",
						}, none},
					},
					{
						Line: 6, User: "dave", ARN: "arn:aws:iam::123456789012:user/dave",
						UserCreationTime: ts("2022-12-31T23:59:59Z"),
					},
				},
			},
		},
		{
			name: "Z timestamps, CRLF, reordered and extra columns, no root row",
			file: "reordered.csv",
			want: &Report{Users: []Row{
				{
					Line: 2, User: "erin", ARN: "arn:aws:iam::123456789012:user/erin",
					UserCreationTime: ts("2024-11-11T11:11:11Z"),
					Keys: [2]Key{{
						Present: true, Active: true, LastRotated: ts("2025-01-05T10:00:00.123Z"),
						LastUsed: ts("2026-05-30T01:02:03Z"), LastUsedRegion: "ap-southeast-2", LastUsedService: "lambda",
					}, {Present: true, Active: true, LastRotated: ts("2026-01-05T10:00:00Z")}},
				},
				{
					Line: 3, User: "frank", ARN: "arn:aws-us-gov:iam::123456789012:user/frank",
					UserCreationTime: ts("2014-12-01T00:00:00Z"),
					Keys:             [2]Key{{Present: true, Active: true, LastRotated: ts("2015-01-01T00:00:00Z")}, none},
				},
			}},
		},
		{
			name: "header only",
			file: "header-only.csv",
			want: &Report{},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(readFixture(t, tt.file))
			if err != nil {
				t.Fatalf("Parse(%s) error: %v", tt.file, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Parse(%s) mismatch (-want +got):\n%s", tt.file, diff)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	header := strings.Join(RequiredColumns(), ",")
	for _, tt := range []struct {
		name string
		data string // used when file is empty
		file string
		want string
	}{
		{name: "empty body", file: "empty.csv", want: "credential report: empty report"},
		{name: "whitespace body", data: " \n\n", want: "credential report: empty report"},
		{name: "bad month", file: "bad-time.csv",
			want: `credential report line 3, column access_key_1_last_rotated: parse time "2026-13-01T10:00:00+00:00": month out of range`},
		{name: "not a timestamp", data: header + "\nbob,arn:aws:iam::1:user/bob,yesterday,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A\n",
			want: `credential report line 2, column user_creation_time: parse time "yesterday": not an ISO 8601 timestamp like 2026-01-05T10:00:00+00:00`},
		{name: "truncated row", file: "truncated.csv",
			want: "credential report line 4: truncated or malformed row: 18 fields, the header has 22"},
		{name: "missing column", file: "missing-column.csv",
			want: `credential report line 1: header: missing column "access_key_1_last_rotated"`},
		{name: "bad boolean", file: "bad-bool.csv",
			want: `credential report line 4, column access_key_1_active: "yes": want true or false`},
		{name: "still base64", file: "base64.csv",
			want: `(is the content still base64-encoded?)`},
		{name: "json body", file: "json.csv",
			want: `credential report line 1: malformed CSV: bare " in non-quoted-field`},
		{name: "plain text body", data: "Access denied\n",
			want: `credential report line 1: header: missing column "user", "arn", "user_creation_time"`},
		{name: "unterminated quote", data: header + "\n\"bob,arn:aws:iam::1:user/bob\n",
			want: `credential report line 2: malformed CSV: extraneous or missing " in quoted-field`},
		{name: "duplicate column", data: "user," + header + "\n",
			want: `credential report line 1: header: duplicate column "user"`},
		{name: "active key without rotation time", data: header + "\nbob,arn:aws:iam::1:user/bob,N/A,true,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A\n",
			want: `credential report line 2, column access_key_1_active: "true" but access_key_1_last_rotated is N/A`},
		{name: "last used without key", data: header + "\nbob,arn:aws:iam::1:user/bob,N/A,false,N/A,2026-01-01T00:00:00Z,N/A,N/A,false,N/A,N/A,N/A,N/A\n",
			want: `credential report line 2, column access_key_1_last_used_date: "2026-01-01T00:00:00Z" but access_key_1_last_rotated is N/A`},
		{name: "empty user", data: header + "\n,arn:aws:iam::1:user/bob,N/A,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A\n",
			want: `credential report line 2, column user: empty user name`},
		{name: "bad arn", data: header + "\nbob,bob,N/A,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A\n",
			want: `credential report line 2, column arn: "bob": not an ARN`},
		{name: "two root rows", data: header + "\n" +
			"<root_account>,arn:aws:iam::1:root,N/A,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A\n" +
			"<root_account>,arn:aws:iam::1:root,N/A,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A\n",
			want: `credential report line 3, column user: a second root account row`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			data := []byte(tt.data)
			if tt.file != "" {
				data = readFixture(t, tt.file)
			}
			rep, err := Parse(data)
			if err == nil {
				t.Fatalf("Parse() = %+v, want error %q", rep, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse() error = %q, want %q", err, tt.want)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Errorf("Parse() error %T is not a *credreport.Error", err)
			}
		})
	}
}

func TestReaderStreams(t *testing.T) {
	r, err := NewReader(bytes.NewReader(readFixture(t, "report.csv")))
	if err != nil {
		t.Fatal(err)
	}
	var users []string
	for {
		row, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		users = append(users, row.User)
	}
	want := []string{"<root_account>", "alice", "bob", "carol", "dave"}
	if diff := cmp.Diff(want, users); diff != "" {
		t.Errorf("Read() users mismatch (-want +got):\n%s", diff)
	}
}

// checkInvariants verifies what every successfully parsed report promises.
func checkInvariants(t *testing.T, rep *Report) {
	t.Helper()
	rows := rep.Users
	if rep.Root != nil {
		if !rep.Root.Root {
			t.Errorf("Root row %q has Root=false", rep.Root.User)
		}
		rows = append(append([]Row(nil), rows...), *rep.Root)
	}
	for i, row := range rows {
		if i < len(rep.Users) && row.Root {
			t.Errorf("user %q (line %d) is a root row but is among Users", row.User, row.Line)
		}
		if row.User == "" || !strings.HasPrefix(row.ARN, "arn:") || row.Line < 2 {
			t.Errorf("row %+v: empty user, bad ARN or bad line", row)
		}
		if !isUTC(row.UserCreationTime) {
			t.Errorf("user %q: creation time %v not in UTC", row.User, row.UserCreationTime)
		}
		for n, k := range row.Keys {
			if !k.Present && k != (Key{}) {
				t.Errorf("user %q key %d: not present but %+v", row.User, n+1, k)
			}
			if k.Present && k.LastRotated.IsZero() {
				t.Errorf("user %q key %d: present with a zero LastRotated", row.User, n+1)
			}
			if !isUTC(k.LastRotated) || !isUTC(k.LastUsed) {
				t.Errorf("user %q key %d: times not in UTC: %+v", row.User, n+1, k)
			}
			for _, s := range []string{k.LastUsedRegion, k.LastUsedService} {
				if isNone(s) && s != "" {
					t.Errorf("user %q key %d: marker %q leaked into a field", row.User, n+1, s)
				}
			}
		}
	}
}

func isUTC(t time.Time) bool { return t.IsZero() || t.Location() == time.UTC }

func FuzzParse(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.csv"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("user,arn\n"))
	f.Add([]byte("\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rep, err := Parse(data)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Parse() error %T (%v) is not a *credreport.Error", err, err)
			}
			if !strings.HasPrefix(err.Error(), "credential report") {
				t.Fatalf("Parse() error %q does not say where", err)
			}
			return
		}
		checkInvariants(t, rep)
	})
}
