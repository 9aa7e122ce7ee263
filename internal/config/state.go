package config

// State configures the state database keyage run and serve write.
type State struct {
	Retention Retention `yaml:"retention"`
}

// Retention says how long the state keeps history, in days (90, 90d,
// 12w); 0 keeps forever. keyage run and serve prune after recording each
// scan; keyage state prune does it on demand.
type Retention struct {
	// History: compliance changes, scans, finished executions, failed
	// messages. Default 400 days.
	History Days `yaml:"history"`
	// Audit: the enforcement audit trail. Default 400 days.
	Audit Days `yaml:"audit"`
	// Outbox: sent messages. Default 30 days.
	Outbox Days `yaml:"outbox"`
	// ScanAccounts: scans' per-account rows (an account's scan history).
	// Default 30 days.
	ScanAccounts Days `yaml:"scanAccounts"`
}

// Default retention, in days.
const (
	DefaultHistoryDays = 400
	DefaultOutboxDays  = 30
)

func (s *State) setDefaults(c *checker) {
	r := &s.Retention
	c = c.in("retention")
	for _, f := range []struct {
		key string
		v   *Days
		def Days
	}{
		{"history", &r.History, DefaultHistoryDays},
		{"audit", &r.Audit, DefaultHistoryDays},
		{"outbox", &r.Outbox, DefaultOutboxDays},
		{"scanAccounts", &r.ScanAccounts, DefaultOutboxDays},
	} {
		defaultTo(c, f.key, f.v, f.def)
	}
}

func (s *State) validate(c *checker) {
	r := s.Retention
	c = c.in("retention")
	for key, v := range map[string]Days{"history": r.History, "audit": r.Audit, "outbox": r.Outbox, "scanAccounts": r.ScanAccounts} {
		if v < 0 {
			c.errorf(key, "%d days: must be 0 (keep forever) or more", v)
		}
	}
}
