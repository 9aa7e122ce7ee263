package store

// Time to remediate, from the compliance history: how long users stayed
// NON_COMPLIANT (an active access key past the limit) before they were
// fixed. A user leaves NON_COMPLIANT when its expired key is rotated,
// deactivated or deleted, or when the user is deleted; the spell starts at
// the first evaluation that found it NON_COMPLIANT.

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// Remediation summarises the non-compliance spells that ended in a window.
type Remediation struct {
	// Window is how far back from now the spells ended.
	Window time.Duration `json:"-"`
	// Count is the number of spells that ended in the window.
	Count int `json:"count"`
	// Mean and P90 are the mean and the 90th percentile (nearest rank) of
	// their lengths; zero when Count is 0.
	Mean time.Duration `json:"-"`
	P90  time.Duration `json:"-"`
	// Durations are the spells' lengths, shortest first.
	Durations []time.Duration `json:"-"`
}

// summarizeRemediation sorts ds and computes the mean and the 90th
// percentile by nearest rank (the smallest value with at least 90% of the
// values at or below it).
func summarizeRemediation(window time.Duration, ds []time.Duration) Remediation {
	r := Remediation{Window: window, Count: len(ds), Durations: slices.Sorted(slices.Values(ds))}
	if len(ds) == 0 {
		return r
	}
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	r.Mean = sum / time.Duration(len(ds))
	rank := (9*len(ds) + 9) / 10 // ceil(0.9 n)
	r.P90 = r.Durations[rank-1]
	return r
}

// TimeToRemediate reads the spells of non-compliance that ended in
// (now-window, now]: each transition out of NON_COMPLIANT, measured from the
// latest transition into NON_COMPLIANT of the same user before it. A spell
// whose start the retention pruned is left out. (The OR term repeats the
// partial index's condition so that SQLite uses it.)
func (s *Store) TimeToRemediate(ctx context.Context, now time.Time, window time.Duration) (Remediation, error) {
	ds, err := queryRows(ctx, s.db, `SELECT h.at - (SELECT MAX(p.at) FROM evaluation_history p
				WHERE p.account_id = h.account_id AND p.resource_id = h.resource_id AND p.to_compliance = 'NON_COMPLIANT' AND p.at <= h.at)
			FROM evaluation_history h
			WHERE h.from_compliance = 'NON_COMPLIANT' AND h.at > ? AND h.at <= ?
				AND (h.from_compliance = 'NON_COMPLIANT' OR h.to_compliance = 'NON_COMPLIANT')`, func(r rowScanner) (time.Duration, error) {
		var ms *int64
		if err := r.Scan(&ms); err != nil || ms == nil {
			return -1, err
		}
		return time.Duration(*ms) * time.Millisecond, nil
	}, ms64(now.Add(-window)), ms64(now))
	if err != nil {
		return Remediation{}, fmt.Errorf("read time to remediate over %v: %w", window, err)
	}
	ds = slices.DeleteFunc(ds, func(d time.Duration) bool { return d < 0 })
	return summarizeRemediation(window, ds), nil
}
