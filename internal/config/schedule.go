package config

import (
	"fmt"
	"time"
)

// Schedule says how often keyage serve scans, with AWS Config's values for
// MaximumExecutionFrequency or a duration.
type Schedule struct {
	// MaximumExecutionFrequency is One_Hour, Three_Hours, Six_Hours,
	// Twelve_Hours, TwentyFour_Hours (the default) or a duration (30m, 2h).
	MaximumExecutionFrequency string `yaml:"maximumExecutionFrequency"`
}

// DefaultExecutionFrequency is AWS Config's default for periodic rules.
const DefaultExecutionFrequency = "TwentyFour_Hours"

// ExecutionFrequencies maps AWS Config's frequency names to durations.
var ExecutionFrequencies = map[string]time.Duration{
	"One_Hour":         time.Hour,
	"Three_Hours":      3 * time.Hour,
	"Six_Hours":        6 * time.Hour,
	"Twelve_Hours":     12 * time.Hour,
	"TwentyFour_Hours": 24 * time.Hour,
}

// MinScanInterval is the shortest schedule allowed.
const MinScanInterval = time.Minute

// Interval parses MaximumExecutionFrequency.
func (s Schedule) Interval() (time.Duration, error) {
	if d, ok := ExecutionFrequencies[s.MaximumExecutionFrequency]; ok {
		return d, nil
	}
	d, err := ParseDuration(s.MaximumExecutionFrequency)
	if err != nil {
		return 0, fmt.Errorf("%q: not One_Hour, Three_Hours, Six_Hours, Twelve_Hours, TwentyFour_Hours or a duration", s.MaximumExecutionFrequency)
	}
	if d.Duration() < MinScanInterval {
		return 0, fmt.Errorf("%q: shorter than %v", s.MaximumExecutionFrequency, MinScanInterval)
	}
	return d.Duration(), nil
}

func (s *Schedule) setDefaults(c *checker) {
	defaultTo(c, "maximumExecutionFrequency", &s.MaximumExecutionFrequency, DefaultExecutionFrequency)
}

func (s *Schedule) validate(c *checker) {
	if _, err := s.Interval(); err != nil {
		c.errorf("maximumExecutionFrequency", "%v", err)
	}
}
