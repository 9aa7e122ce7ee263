package config

// Remediation holds the settings of remediation executions, as AWS Config's
// RemediationConfiguration names them, plus a per-step time limit.
type Remediation struct {
	// Automatic runs remediation for every NON_COMPLIANT user found; false
	// leaves it to `keyage remediate`. Nil (not set) means true; after
	// defaults it is never nil. Read it with IsAutomatic.
	Automatic *bool `yaml:"automatic"`
	// MaximumAutomaticAttempts bounds the attempts of one execution: 1 to
	// 25, default 5.
	MaximumAutomaticAttempts int `yaml:"maximumAutomaticAttempts"`
	// RetryAttemptSeconds is the time over which the attempts are spread,
	// as in AWS Config (5 attempts in 60 seconds by default): the pauses
	// grow exponentially with jitter. 1 to 2678000, default 60.
	RetryAttemptSeconds int `yaml:"retryAttemptSeconds"`
	// TimeoutSeconds bounds one step of an execution: 1 to 3600, default 30.
	TimeoutSeconds int `yaml:"timeoutSeconds"`
}

// Defaults of the remediation section.
const (
	DefaultAutomatic                = true
	DefaultMaximumAutomaticAttempts = 5
	DefaultRetryAttemptSeconds      = 60
	DefaultTimeoutSeconds           = 30
)

// IsAutomatic reports whether remediation runs automatically (the default).
func (r Remediation) IsAutomatic() bool { return r.Automatic == nil || *r.Automatic }

func (r *Remediation) setDefaults(c *checker) {
	if r.Automatic == nil {
		v := DefaultAutomatic
		r.Automatic = &v
	}
	defaultTo(c, "maximumAutomaticAttempts", &r.MaximumAutomaticAttempts, DefaultMaximumAutomaticAttempts)
	defaultTo(c, "retryAttemptSeconds", &r.RetryAttemptSeconds, DefaultRetryAttemptSeconds)
	defaultTo(c, "timeoutSeconds", &r.TimeoutSeconds, DefaultTimeoutSeconds)
}

func (r *Remediation) validate(c *checker) {
	for _, f := range []struct {
		key      string
		v        int
		min, max int
	}{
		{"maximumAutomaticAttempts", r.MaximumAutomaticAttempts, 1, 25},
		{"retryAttemptSeconds", r.RetryAttemptSeconds, 1, 2678000},
		{"timeoutSeconds", r.TimeoutSeconds, 1, 3600},
	} {
		if f.v < f.min || f.v > f.max {
			c.errorf(f.key, "%d: must be between %d and %d", f.v, f.min, f.max)
		}
	}
}
