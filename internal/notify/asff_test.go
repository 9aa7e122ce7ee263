package notify

import "testing"

func TestASFFRate(t *testing.T) {
	for _, tt := range []struct {
		name              string
		kind, stage       string
		age               int
		sev, comp, record string
	}{
		{"warning", KindFinding, "warning", 85, SeverityLow, ComplianceWarning, RecordActive},
		{"just expired", KindFinding, "expired", 91, SeverityMedium, ComplianceFailed, RecordActive},
		{"twice the limit", KindFinding, "expired", 180, SeverityMedium, ComplianceFailed, RecordActive},
		{"past twice the limit", KindFinding, "expired", 181, SeverityHigh, ComplianceFailed, RecordActive},
		{"deactivation scheduled", KindFinding, "deactivation-scheduled", 100, SeverityHigh, ComplianceFailed, RecordActive},
		{"escalated", KindFinding, "escalated", 100, SeverityHigh, ComplianceFailed, RecordActive},
		{"exempt", KindFinding, "exempt", 300, SeverityInformational, CompliancePassed, RecordActive},
		{"rotated", KindResolved, "expired", 120, SeverityInformational, CompliancePassed, RecordArchived},
		{"deactivated", KindFinding, "deactivated", 120, SeverityInformational, CompliancePassed, RecordArchived},
		{"deleted", KindFinding, "deleted", 120, SeverityInformational, CompliancePassed, RecordArchived},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sev, comp, rec := ASFFRate(tt.kind, tt.stage, tt.age, 90)
			if sev != tt.sev || comp != tt.comp || rec != tt.record {
				t.Errorf("ASFFRate(%s, %s, %dd, 90) = %s %s %s, want %s %s %s", tt.kind, tt.stage, tt.age, sev, comp, rec, tt.sev, tt.comp, tt.record)
			}
		})
	}
}
