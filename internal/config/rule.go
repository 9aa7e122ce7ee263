package config

// Rule holds the parameters of the access-keys-rotated rule.
type Rule struct {
	// MaxAccessKeyAge is the limit in days: an active key strictly older
	// makes its user NON_COMPLIANT. 1 to 3650, default 90.
	MaxAccessKeyAge Days `yaml:"maxAccessKeyAge"`
	// WarnAge, when positive, marks active keys older than it (and within
	// the limit) as stage warning. 0 turns the warning stage off.
	WarnAge Days `yaml:"warnAge"`
}

// DefaultMaxAccessKeyAge is AWS Config's default for access-keys-rotated.
const DefaultMaxAccessKeyAge Days = 90

func (r *Rule) setDefaults(c *checker) {
	defaultTo(c, "maxAccessKeyAge", &r.MaxAccessKeyAge, DefaultMaxAccessKeyAge)
}

func (r *Rule) validate(c *checker) {
	if r.MaxAccessKeyAge < 1 || r.MaxAccessKeyAge > 3650 {
		c.errorf("maxAccessKeyAge", "%d: must be between 1 and 3650 days", r.MaxAccessKeyAge)
	}
	switch {
	case r.WarnAge < 0:
		c.errorf("warnAge", "%d: must not be negative (0 turns warnings off)", r.WarnAge)
	case r.WarnAge > 0 && r.WarnAge >= r.MaxAccessKeyAge:
		c.errorf("warnAge", "%d: must be below maxAccessKeyAge (%d)", r.WarnAge, r.MaxAccessKeyAge)
	}
}
