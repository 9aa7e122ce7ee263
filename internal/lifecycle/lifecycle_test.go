package lifecycle

import (
	"testing"
	"time"
)

var now = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

func policy() Policy {
	return Policy{WarnAge: 80 * Day, Reminders: []time.Duration{83 * Day, 87 * Day}, MaxAge: 90 * Day,
		DeactivateAge: 100 * Day, DeleteAge: 110 * Day, DeleteAfterInactive: 7 * Day,
		UnusedAge: 45 * Day, NeverUsedAge: 7 * Day, RecentUseGuard: 24 * time.Hour}
}

func active(age time.Duration) Key {
	return Key{Active: true, CreateDate: now.Add(-age), LastUsed: now.Add(-2 * Day)}
}

// Ages on both sides of every threshold, with an injected clock.
func TestStages(t *testing.T) {
	h := time.Hour
	for _, tt := range []struct {
		name       string
		key        Key
		wantStage  Stage
		wantAction Action
		reminder   time.Duration
	}{
		{"fresh", active(10 * Day), OK, None, 0},
		{"warnAge minus 1h", active(80*Day - h), OK, None, 0},
		{"warnAge plus 1h", active(80*Day + h), Warning, None, 80 * Day},
		{"reminder 83 plus 1h", active(83*Day + h), Warning, None, 83 * Day},
		{"reminder 87 plus 1h", active(87*Day + h), Warning, None, 87 * Day},
		{"maxAge minus 1h", active(90*Day - h), Warning, None, 87 * Day},
		{"maxAge plus 1h", active(90*Day + h), Expired, None, 0},
		{"deactivateAge minus 1h", active(100*Day - h), Expired, None, 0},
		{"deactivateAge plus 1h", active(100*Day + h), Deactivate, ActDeactivate, 0},
		{"inactive, deleteAge minus 1h", Key{CreateDate: now.Add(-110*Day + h), InactiveSince: now.Add(-30 * Day)}, Inactive, None, 0},
		{"inactive, deleteAge plus 1h, inactive long enough", Key{CreateDate: now.Add(-110*Day - h), InactiveSince: now.Add(-7*Day - h)}, Delete, ActDelete, 0},
		{"inactive, deleteAge plus 1h, inactive 1h too short", Key{CreateDate: now.Add(-110*Day - h), InactiveSince: now.Add(-7*Day + h)}, Inactive, None, 0},
		{"inactive since unknown", Key{CreateDate: now.Add(-500 * Day)}, Inactive, None, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			v := Evaluate(tt.key, policy(), nil, now)
			if v.Stage != tt.wantStage || v.Action != tt.wantAction || v.Reminder != tt.reminder {
				t.Errorf("Evaluate(%s) = %s/%q/%v, want %s/%q/%v (%s)", tt.name, v.Stage, v.Action, v.Reminder, tt.wantStage, tt.wantAction, tt.reminder, v.Reason)
			}
		})
	}
}

func TestStagesOff(t *testing.T) {
	p := Policy{MaxAge: 90 * Day}
	if v := Evaluate(active(500*Day), p, nil, now); v.Stage != Expired || v.Action != None {
		t.Errorf("without deactivateAge a 500-day key is %s/%q, want expired and no action", v.Stage, v.Action)
	}
	if v := Evaluate(Key{CreateDate: now.Add(-500 * Day), InactiveSince: now.Add(-400 * Day)}, p, nil, now); v.Action != None {
		t.Errorf("without deleteAge an old inactive key gets %q", v.Action)
	}
}

func TestUnusedAndNeverUsed(t *testing.T) {
	p := policy()
	for _, tt := range []struct {
		name             string
		key              Key
		unused, neverUse bool
	}{
		{"used 44 days ago", Key{Active: true, CreateDate: now.Add(-60 * Day), LastUsed: now.Add(-44 * Day)}, false, false},
		{"used 46 days ago", Key{Active: true, CreateDate: now.Add(-60 * Day), LastUsed: now.Add(-46 * Day)}, true, false},
		{"never used, 6 days old", Key{Active: true, CreateDate: now.Add(-6 * Day)}, false, false},
		{"never used, 8 days old", Key{Active: true, CreateDate: now.Add(-8 * Day)}, false, true},
		{"inactive never used", Key{CreateDate: now.Add(-80 * Day)}, false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			v := Evaluate(tt.key, p, nil, now)
			if v.Unused != tt.unused || v.NeverUsed != tt.neverUse {
				t.Errorf("%s: unused=%v neverUsed=%v, want %v %v", tt.name, v.Unused, v.NeverUsed, tt.unused, tt.neverUse)
			}
		})
	}
}

func TestExemption(t *testing.T) {
	k := active(120 * Day)
	past := &Exemption{Until: now.Add(-time.Hour), Reason: "migration", Source: "tag"}
	if v := Evaluate(k, policy(), past, now); v.Stage != Deactivate {
		t.Errorf("an exemption that ended an hour ago still counts: %s", v.Stage)
	}
	future := &Exemption{Until: now.Add(30 * Day), Reason: "vendor integration", Source: "config"}
	v := Evaluate(k, policy(), future, now)
	if v.Stage != Exempt || v.Action != None || v.Exempt != future {
		t.Errorf("exempt key = %+v, want stage exempt, no action", v)
	}
}

func TestPolicyValidate(t *testing.T) {
	bad := policy()
	bad.DeleteAge = 95 * Day
	if bad.Validate() == nil {
		t.Errorf("deleteAge below deactivateAge accepted")
	}
	if policy().Validate() != nil {
		t.Errorf("the example policy is rejected: %v", policy().Validate())
	}
}

// TestGuard: the recent-use guard's reason reads as the configuration is written (days,
// hours and minutes), not as Go prints a duration (24h0m0s).
func TestGuard(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	p := Policy{RecentUseGuard: 24 * time.Hour}
	for _, tt := range []struct {
		name     string
		lastUsed time.Time
		guard    time.Duration
		want     string
	}{
		{"used two hours ago", now.Add(-2 * time.Hour), p.RecentUseGuard, "key was used 2h ago, within recentUseGuard 1d"},
		{"used 90 minutes ago, guard of a week", now.Add(-90 * time.Minute), 7 * 24 * time.Hour, "key was used 1h30m ago, within recentUseGuard 1w"},
		{"used seconds ago", now.Add(-10 * time.Second), p.RecentUseGuard, "key was used 1m ago, within recentUseGuard 1d"},
		{"used before the guard", now.Add(-25 * time.Hour), p.RecentUseGuard, ""},
		{"never used", time.Time{}, p.RecentUseGuard, ""},
		{"no guard", now.Add(-time.Hour), 0, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := Guard(Key{LastUsed: tt.lastUsed}, Policy{RecentUseGuard: tt.guard}, now); got != tt.want {
				t.Errorf("Guard() = %q, want %q", got, tt.want)
			}
		})
	}
}
