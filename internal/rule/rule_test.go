package rule

import (
	"testing"
	"time"
)

var now = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

func active(id string, age time.Duration) Key {
	return Key{AccessKeyID: id, Status: StatusActive, CreateDate: now.Add(-age)}
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

func TestEvaluationRef(t *testing.T) {
	for _, tt := range []struct {
		name string
		ev   Evaluation
		want ResourceRef
	}{
		{"user", Evaluation{AccountID: "111111111111", ResourceID: "AIDA1", UserName: "alice"}, ResourceRef{AccountID: "111111111111", ResourceID: "AIDA1"}},
		{"same id in another account", Evaluation{AccountID: "222222222222", ResourceID: "AIDA1"}, ResourceRef{AccountID: "222222222222", ResourceID: "AIDA1"}},
		{"account-level evaluation", NotApplicableAccount("333333333333"), ResourceRef{AccountID: "333333333333", ResourceID: "333333333333"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.ev.Ref(); got != tt.want {
				t.Errorf("Ref() = %+v, want %+v", got, tt.want)
			}
		})
	}
}
