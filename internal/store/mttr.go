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

// RemediationStats summarises the non-compliance spells that ended in a window.
type RemediationStats struct {
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
func summarizeRemediation(window time.Duration, ds []time.Duration) RemediationStats {
	r := RemediationStats{Window: window, Count: len(ds), Durations: slices.Sorted(slices.Values(ds))}
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

// TimeToRemediate summarises the spells of non-compliance that ended in
// the window up to now (Remediations).
func (s *Store) TimeToRemediate(ctx context.Context, now time.Time, window time.Duration) (RemediationStats, error) {
	rs, err := s.Remediations(ctx, now.Add(-window), now)
	if err != nil {
		return RemediationStats{}, fmt.Errorf("time to remediate over %v: %w", window, err)
	}
	ds := make([]time.Duration, 0, len(rs))
	for _, r := range rs {
		ds = append(ds, r.Fixed.Sub(r.Flagged))
	}
	return summarizeRemediation(window, ds), nil
}
