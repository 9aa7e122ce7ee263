package config

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Duration is a time.Duration written as Go writes durations (90s, 5m,
// 1h30m) plus days (d, 24h) and weeks (w, 7d): 90d, 2w, 1d12h.
type Duration time.Duration

const (
	day  = 24 * time.Hour
	week = 7 * day
)

const durationHint = "invalid duration (use e.g. 90s, 5m, 2h, 90d, 2w)"

var durationPartRE = regexp.MustCompile(`^([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h|d|w)`)

// ParseDuration parses a duration such as 90s, 5m, 2h, 90d, 2w or 1d12h.
// "0" is zero. The error quotes s and shows the accepted forms.
func ParseDuration(s string) (Duration, error) {
	bad := fmt.Errorf("%q: %s", s, durationHint)
	rest := strings.TrimSpace(s)
	sign := ""
	if rest != "" && (rest[0] == '-' || rest[0] == '+') {
		sign, rest = rest[:1], rest[1:]
	}
	if rest == "0" {
		return 0, nil
	}
	if rest == "" {
		return 0, bad
	}
	// Rewrite days and weeks as hours, then let time.ParseDuration do the
	// arithmetic and the overflow checks.
	var b strings.Builder
	b.WriteString(sign)
	for rest != "" {
		m := durationPartRE.FindStringSubmatch(rest)
		if m == nil || m[1] == "" || m[1] == "." {
			return 0, bad
		}
		rest = rest[len(m[0]):]
		switch m[2] {
		case "d", "w":
			n, err := strconv.ParseFloat(m[1], 64)
			if err != nil {
				return 0, bad
			}
			if m[2] == "w" {
				n *= 7
			}
			b.WriteString(strconv.FormatFloat(n*24, 'f', -1, 64))
			b.WriteString("h")
		default:
			b.WriteString(m[0])
		}
	}
	d, err := time.ParseDuration(b.String())
	if err != nil {
		return 0, bad
	}
	return Duration(d), nil
}

// String formats d in the shortest form ParseDuration reads back: 2w, 90d,
// 1d12h, 5m, 90s, 1.5s.
func (d Duration) String() string {
	if d == 0 {
		return "0s"
	}
	t := time.Duration(d)
	sign := ""
	if t < 0 {
		if t == time.Duration(-1<<63) {
			return t.String() // cannot be negated
		}
		sign, t = "-", -t
	}
	var b strings.Builder
	b.WriteString(sign)
	if t%week == 0 {
		fmt.Fprintf(&b, "%dw", t/week)
		return b.String()
	}
	if days := t / day; days > 0 {
		fmt.Fprintf(&b, "%dd", days)
		t -= days * day
	}
	if t > 0 {
		s := t.String()
		// 2h0m0s -> 2h, 5m0s -> 5m, 1h30m0s -> 1h30m.
		if strings.HasSuffix(s, "m0s") {
			s = strings.TrimSuffix(s, "0s")
		}
		if strings.HasSuffix(s, "h0m") {
			s = strings.TrimSuffix(s, "0m")
		}
		b.WriteString(s)
	}
	return b.String()
}

// Duration returns d as a time.Duration.
func (d Duration) Duration() time.Duration { return time.Duration(d) }

// Days returns d in days, with the fraction.
func (d Duration) Days() float64 { return float64(d) / float64(day) }

// UnmarshalYAML reads a duration from a YAML string such as 5m or 90d.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("expected a duration such as 5m or 90d, got %s", describe(n))
	}
	v, err := ParseDuration(n.Value)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalYAML writes d as String does.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// MarshalText writes d as String does, for JSON and flags.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads d as ParseDuration does.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// Days is a whole number of days, as AWS Config's maxAccessKeyAge is. In YAML
// it is an integer (90) or a duration of whole days (90d, 12w).
type Days int

// Duration returns the number of days as a time.Duration.
func (n Days) Duration() time.Duration { return time.Duration(n) * day }

// UnmarshalYAML reads an integer or a whole-day duration.
func (n *Days) UnmarshalYAML(node *yaml.Node) error {
	if node.Kind == yaml.ScalarNode && node.Tag == "!!int" {
		var i int64
		if err := node.Decode(&i); err != nil || int64(int(i)) != i {
			return fmt.Errorf("expected a number of days, got %s", describe(node))
		}
		*n = Days(i)
		return nil
	}
	if node.Kind == yaml.ScalarNode && node.Tag == "!!str" {
		d, err := ParseDuration(node.Value)
		if err == nil && d%Duration(day) == 0 {
			*n = Days(d / Duration(day))
			return nil
		}
	}
	return fmt.Errorf("expected a number of days such as 90 or 90d, got %s", describe(node))
}
