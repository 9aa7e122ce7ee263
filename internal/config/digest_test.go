package config

import (
	"testing"
	"time"
)

func TestDigestScheduleNext(t *testing.T) {
	utc := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tt := range []struct {
		name     string
		schedule string
		now      string // RFC 3339, UTC
		want     string // RFC 3339, UTC
	}{
		{"Friday afternoon waits for Monday", "Mon-Fri 09:00 Europe/Berlin", "2026-05-29T08:00:00Z", "2026-06-01T07:00:00Z"},
		{"a minute before the hour", "Mon-Fri 09:00 Europe/Berlin", "2026-06-01T06:59:00Z", "2026-06-01T07:00:00Z"},
		{"exactly at the hour sends now", "Mon-Fri 09:00 Europe/Berlin", "2026-06-01T07:00:00Z", "2026-06-01T07:00:00Z"},
		{"a second after waits a day", "Mon-Fri 09:00 Europe/Berlin", "2026-06-01T07:00:01Z", "2026-06-02T07:00:00Z"},
		{"over the spring change: 09:00 CEST is 07:00 UTC", "Mon-Fri 09:00 Europe/Berlin", "2026-03-27T09:00:00Z", "2026-03-30T07:00:00Z"},
		{"over the autumn change: 09:00 CET is 08:00 UTC", "Mon-Fri 09:00 Europe/Berlin", "2026-10-23T08:00:00Z", "2026-10-26T08:00:00Z"},
		{"a time the spring change skips moves forward", "Sun 02:30 Europe/Berlin", "2026-03-28T12:00:00Z", "2026-03-29T01:30:00Z"},
		{"a time the autumn change repeats is the first", "Sun 02:30 Europe/Berlin", "2026-10-24T12:00:00Z", "2026-10-25T00:30:00Z"},
		{"New York spring change", "Mon-Fri 09:00 America/New_York", "2026-03-06T15:00:00Z", "2026-03-09T13:00:00Z"},
		{"second time of the day", "Mon,Wed,Fri 08:30,16:00 America/New_York", "2026-06-03T13:00:00Z", "2026-06-03T20:00:00Z"},
		{"first time of the next listed day", "Mon,Wed,Fri 16:00,08:30 America/New_York", "2026-06-03T21:00:00Z", "2026-06-05T12:30:00Z"},
		{"a range that wraps the week", "Fri-Mon 09:00", "2026-06-02T10:00:00Z", "2026-06-05T09:00:00Z"},
		{"every day in UTC", "09:00", "2026-06-01T09:00:01Z", "2026-06-02T09:00:00Z"},
		{"half-hour zone, day changes in UTC", "Mon 05:00 Asia/Kolkata", "2026-05-31T12:00:00Z", "2026-05-31T23:30:00Z"},
		{"the same weekday next week", "Wed 09:00", "2026-06-03T10:00:00Z", "2026-06-10T09:00:00Z"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d, err := ParseDigestSchedule(tt.schedule)
			if err != nil {
				t.Fatalf("ParseDigestSchedule(%q): %v", tt.schedule, err)
			}
			got := d.Next(utc(tt.now))
			if want := utc(tt.want); !got.Equal(want) {
				t.Errorf("ParseDigestSchedule(%q).Next(%s) = %s, want %s", tt.schedule, tt.now, got.UTC().Format(time.RFC3339), tt.want)
			}
		})
	}
}

func TestParseDigestScheduleErrors(t *testing.T) {
	for _, tt := range []struct {
		name, schedule, want string
	}{
		{"empty", "  ", `empty schedule (use, for example, "Mon-Fri 09:00 Europe/Berlin")`},
		{"days only", "Mon-Fri", `"Mon-Fri": no time of day (HH:MM)`},
		{"bad day", "Mon-Fry 09:00", `"Fry": not a day (use Mon, Tue, Wed, Thu, Fri, Sat or Sun)`},
		{"hour out of range", "24:00", `"24:00": not a time of day (HH:MM, 00:00 to 23:59)`},
		{"Local zone", "09:00 Local", `"09:00 Local": name the time zone (Europe/Berlin), not Local`},
		{"trailing words", "09:00 UTC please", `"09:00 UTC please": unexpected "please" after the time zone`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseDigestSchedule(tt.schedule)
			if err == nil || err.Error() != tt.want {
				t.Errorf("ParseDigestSchedule(%q) error = %v, want %s", tt.schedule, err, tt.want)
			}
		})
	}
}

// Between the two 02:30s of an autumn change, the second one is next.
func TestDigestScheduleNextBetweenRepeats(t *testing.T) {
	d, err := ParseDigestSchedule("Sun 02:30 Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 10, 25, 1, 0, 0, 0, time.UTC) // 02:00 CET, after 02:30 CEST
	if got, want := d.Next(now), time.Date(2026, 10, 25, 1, 30, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("Next(%s) = %s, want %s", now, got.UTC(), want)
	}
}
