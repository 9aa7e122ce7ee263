package rule

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var now = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

func active(id string, age time.Duration) Key {
	return Key{AccessKeyID: id, Status: StatusActive, CreateDate: now.Add(-age)}
}

func TestKeyStage(t *testing.T) {
	p := Policy{MaxAge: 90 * Day, WarnAge: 80 * Day}
	for _, tt := range []struct {
		name string
		key  Key
		want Stage
	}{
		{"fresh key", active("A", 10*Day), StageOK},
		{"exactly the warning age", active("A", 80*Day), StageOK},
		{"one hour past the warning age", active("A", 80*Day+time.Hour), StageWarning},
		{"one hour before the limit", active("A", 90*Day-time.Hour), StageWarning},
		{"exactly the limit", active("A", 90*Day), StageWarning},
		{"one hour past the limit", active("A", 90*Day+time.Hour), StageExpired},
		{"inactive 500-day key", Key{Status: StatusInactive, CreateDate: now.Add(-500 * Day)}, StageInactive},
		{"created in the future", active("A", -time.Hour), StageOK},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := KeyStage(tt.key, p, now); got != tt.want {
				t.Errorf("KeyStage(age %v, %s) = %v, want %v", now.Sub(tt.key.CreateDate), tt.key.Status, got, tt.want)
			}
		})
	}
}

func TestKeyStageWithoutWarning(t *testing.T) {
	p := DefaultPolicy()
	if got := KeyStage(active("A", 89*Day), p, now); got != StageOK {
		t.Errorf("KeyStage(89d, no warnAge) = %v, want ok", got)
	}
}

func TestEvaluate(t *testing.T) {
	p := DefaultPolicy()
	for _, tt := range []struct {
		name           string
		keys           []Key
		want           Compliance
		wantAnnotation string
	}{
		{"no keys", nil, Compliant, ""},
		{"key one hour before the limit", []Key{active("AKIAAAAAAAAAAAAAAAA1", 90*Day-time.Hour)}, Compliant, ""},
		{"key one hour past the limit", []Key{active("AKIAAAAAAAAAAAAAAAA1", 90*Day+time.Hour)}, NonCompliant,
			"Access key AKIAAAAAAAAAAAAAAAA1 is 90 days old; the limit is 90 days."},
		{"inactive 500-day key", []Key{{AccessKeyID: "AKIAOLD", Status: StatusInactive, CreateDate: now.Add(-500 * Day)}}, Compliant, ""},
		{"two keys, one old", []Key{active("AKIANEW", 10*Day), active("AKIAOLD", 120*Day)}, NonCompliant,
			"Access key AKIAOLD is 120 days old; the limit is 90 days."},
		{"two old keys names the oldest", []Key{active("AKIAOLD1", 100*Day), active("AKIAOLD2", 300*Day)}, NonCompliant,
			"Access key AKIAOLD2 is 300 days old; the limit is 90 days. 2 active keys are over the limit."},
		{"report key without id", []Key{{Slot: 2, Status: StatusActive, CreateDate: now.Add(-120 * Day)}}, NonCompliant,
			"Access key 2 (created 2026-02-01) is 120 days old; the limit is 90 days."},
	} {
		t.Run(tt.name, func(t *testing.T) {
			u := User{AccountID: "222222222222", UserID: "AIDAEXAMPLE", UserName: "alice", Keys: tt.keys}
			got := Evaluate(u, p, now)
			if got.Compliance != tt.want {
				t.Errorf("Evaluate(%s) = %v, want %v", tt.name, got.Compliance, tt.want)
			}
			if got.Annotation != tt.wantAnnotation {
				t.Errorf("Evaluate(%s).Annotation = %q, want %q", tt.name, got.Annotation, tt.wantAnnotation)
			}
			if got.ResourceType != ResourceTypeUser || got.ResourceID != "AIDAEXAMPLE" {
				t.Errorf("Evaluate resource = %s %s, want AWS::IAM::User AIDAEXAMPLE", got.ResourceType, got.ResourceID)
			}
			if len(got.Keys) != len(tt.keys) {
				t.Errorf("Evaluate returned %d keys, want %d", len(got.Keys), len(tt.keys))
			}
		})
	}
}

func TestEvaluateKeyResults(t *testing.T) {
	p := PolicyDays(90, 80)
	u := User{Keys: []Key{active("K1", 85*Day+time.Minute), {AccessKeyID: "K2", Status: StatusInactive, CreateDate: now.Add(-200 * Day)}}}
	got := Evaluate(u, p, now).Keys
	want := []KeyResult{
		{Key: u.Keys[0], AgeDays: 85, Stage: StageWarning},
		{Key: u.Keys[1], AgeDays: 200, Stage: StageInactive},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Evaluate keys mismatch (-want +got):\n%s", diff)
	}
}

func TestFlagged(t *testing.T) {
	for _, tt := range []struct {
		name string
		p    Policy
		keys []Key
		want bool
	}{
		{"fresh", PolicyDays(90, 0), []Key{active("A", 10*Day)}, false},
		{"expired", PolicyDays(90, 0), []Key{active("A", 91*Day)}, true},
		{"warning counts", PolicyDays(90, 80), []Key{active("A", 81*Day)}, true},
		{"inactive old does not", PolicyDays(90, 80), []Key{{Status: StatusInactive, CreateDate: now.Add(-900 * Day)}}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := Flagged(User{Keys: tt.keys}, tt.p, now); got != tt.want {
				t.Errorf("Flagged(%s) = %v, want %v", tt.name, got, tt.want)
			}
		})
	}
}

func TestPolicyValidate(t *testing.T) {
	for _, tt := range []struct {
		name    string
		p       Policy
		wantErr bool
	}{
		{"default", DefaultPolicy(), false},
		{"warn below max", PolicyDays(90, 80), false},
		{"warn equal max", PolicyDays(90, 90), true},
		{"zero max", PolicyDays(0, 0), true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.p.Validate(); (err != nil) != tt.wantErr {
				t.Errorf("Validate(%+v) error = %v, wantErr %v", tt.p, err, tt.wantErr)
			}
		})
	}
}

func TestNotApplicableAccount(t *testing.T) {
	got := NotApplicableAccount("333333333333")
	if got.Compliance != NotApplicable || got.ResourceType != ResourceTypeAccount || got.ResourceID != "333333333333" {
		t.Errorf("NotApplicableAccount = %+v, want NOT_APPLICABLE AWS::::Account 333333333333", got)
	}
}
