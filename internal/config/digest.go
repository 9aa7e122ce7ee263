package config

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // schedules name IANA zones; the binary must not depend on the host's zoneinfo
)

// DigestSchedule is when a route's run summaries may be sent: on some days
// of the week, at some times of day, in one time zone. Its text form is
// "[DAYS] TIMES [ZONE]":
//
//	Mon-Fri 09:00 Europe/Berlin
//	Mon,Wed,Fri 08:30,16:00 America/New_York
//	09:00                      (every day, UTC)
//
// DAYS is a comma-separated list of days (Mon, Tue, ... Sun) and ranges
// (Mon-Fri, Fri-Mon wraps); TIMES a comma-separated list of 24-hour HH:MM;
// ZONE an IANA time zone name (default UTC). A summary planned between two
// send times waits in the outbox until the next one.
type DigestSchedule struct {
	days  [7]bool // by time.Weekday
	times []int   // minutes after midnight, sorted, distinct
	loc   *time.Location
	text  string
}

var weekdays = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// ParseDigestSchedule reads a schedule in the form DigestSchedule describes.
func ParseDigestSchedule(s string) (*DigestSchedule, error) {
	fields := strings.Fields(s)
	if len(fields) == 0 {
		return nil, fmt.Errorf("empty schedule (use, for example, \"Mon-Fri 09:00 Europe/Berlin\")")
	}
	d := &DigestSchedule{loc: time.UTC, text: strings.Join(fields, " ")}
	if !startsWithDigit(fields[0]) {
		if err := d.parseDays(fields[0]); err != nil {
			return nil, err
		}
		fields = fields[1:]
	} else {
		d.days = [7]bool{true, true, true, true, true, true, true}
	}
	if len(fields) == 0 {
		return nil, fmt.Errorf("%q: no time of day (HH:MM)", s)
	}
	if err := d.parseTimes(fields[0]); err != nil {
		return nil, err
	}
	fields = fields[1:]
	switch len(fields) {
	case 0:
	case 1:
		if fields[0] == "Local" {
			return nil, fmt.Errorf("%q: name the time zone (Europe/Berlin), not Local", s)
		}
		loc, err := time.LoadLocation(fields[0])
		if err != nil {
			return nil, fmt.Errorf("%q: unknown time zone %q (use an IANA name such as Europe/Berlin)", s, fields[0])
		}
		d.loc = loc
	default:
		return nil, fmt.Errorf("%q: unexpected %q after the time zone", s, strings.Join(fields[1:], " "))
	}
	return d, nil
}

func startsWithDigit(s string) bool { return s != "" && s[0] >= '0' && s[0] <= '9' }

func (d *DigestSchedule) parseDays(s string) error {
	day := func(name string) (time.Weekday, error) {
		w, ok := weekdays[strings.ToLower(name)]
		if !ok {
			return 0, fmt.Errorf("%q: not a day (use Mon, Tue, Wed, Thu, Fri, Sat or Sun)", name)
		}
		return w, nil
	}
	for _, part := range strings.Split(s, ",") {
		from, to, isRange := strings.Cut(part, "-")
		a, err := day(from)
		if err != nil {
			return err
		}
		b := a
		if isRange {
			if b, err = day(to); err != nil {
				return err
			}
		}
		for w := a; ; w = (w + 1) % 7 {
			d.days[w] = true
			if w == b {
				break
			}
		}
	}
	return nil
}

func (d *DigestSchedule) parseTimes(s string) error {
	for _, part := range strings.Split(s, ",") {
		h, m, ok := strings.Cut(part, ":")
		hh, err1 := strconv.Atoi(h)
		mm, err2 := strconv.Atoi(m)
		if !ok || err1 != nil || err2 != nil || len(m) != 2 || hh < 0 || hh > 23 || mm < 0 || mm > 59 {
			return fmt.Errorf("%q: not a time of day (HH:MM, 00:00 to 23:59)", part)
		}
		if t := hh*60 + mm; !slices.Contains(d.times, t) {
			d.times = append(d.times, t)
		}
	}
	slices.Sort(d.times)
	return nil
}

// String returns the schedule as written, with single spaces.
func (d *DigestSchedule) String() string { return d.text }

// Next returns the first send time at or after now. A time that does not
// exist on a day (skipped by a daylight-saving change) moves forward by the
// change, as time.Date does; one that exists twice is the first.
func (d *DigestSchedule) Next(now time.Time) time.Time {
	local := now.In(d.loc)
	y, mo, day := local.Date()
	for i := 0; i <= 7; i++ {
		date := time.Date(y, mo, day+i, 12, 0, 0, 0, d.loc)
		if !d.days[date.Weekday()] {
			continue
		}
		for _, t := range d.times {
			at := time.Date(y, mo, day+i, t/60, t%60, 0, 0, d.loc)
			if first := firstOccurrence(at); !first.Before(now) {
				return first
			}
			if !at.Before(now) {
				return at
			}
		}
	}
	panic("config: DigestSchedule.Next: no day in a week") // parse guarantees at least one day and time
}

// firstOccurrence returns the earlier instant with at's wall clock when a
// daylight-saving change repeats it (time.Date picks either), else at.
func firstOccurrence(at time.Time) time.Time {
	_, off := at.Zone()
	_, before := at.Add(-3 * time.Hour).Zone()
	if before <= off {
		return at
	}
	e := at.Add(-time.Duration(before-off) * time.Second)
	if e.Day() == at.Day() && e.Hour() == at.Hour() && e.Minute() == at.Minute() {
		return e
	}
	return at
}
