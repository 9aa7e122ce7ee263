package output

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/keyage/keyage/internal/notify"
	"github.com/keyage/keyage/internal/scan"
)

// OCSFVersion is the OCSF schema version of -o ocsf: 1.1.0, the version
// Amazon Security Lake ingests.
const OCSFVersion = "1.1.0"

// The OCSF class of -o ocsf: Compliance Finding, in the Findings category.
// A key past the limit is a failed compliance check (CIS 1.14, FSBP IAM.3),
// not a detection of activity, which is what Detection Finding describes.
const (
	OCSFClassUID    = 2003
	OCSFCategoryUID = 2
	ocsfActivity    = 1 // Create
)

// OCSFEvent is one OCSF 1.1.0 Compliance Finding event.
type OCSFEvent struct {
	ActivityID   int    `json:"activity_id"`
	ActivityName string `json:"activity_name"`
	CategoryUID  int    `json:"category_uid"`
	CategoryName string `json:"category_name"`
	ClassUID     int    `json:"class_uid"`
	ClassName    string `json:"class_name"`
	TypeUID      int    `json:"type_uid"`
	TypeName     string `json:"type_name"`
	SeverityID   int    `json:"severity_id"`
	Severity     string `json:"severity"`
	StatusID     int    `json:"status_id"`
	Status       string `json:"status"`
	// Time is the scan's evaluation time, in milliseconds since the epoch.
	Time        int64             `json:"time"`
	Message     string            `json:"message"`
	Metadata    OCSFMetadata      `json:"metadata"`
	Cloud       OCSFCloud         `json:"cloud"`
	FindingInfo OCSFFindingInfo   `json:"finding_info"`
	Compliance  OCSFCompliance    `json:"compliance"`
	Remediation OCSFRemediation   `json:"remediation"`
	Resources   []OCSFResource    `json:"resources"`
	Unmapped    map[string]string `json:"unmapped,omitempty"`
}

// OCSFMetadata is the event's metadata object.
type OCSFMetadata struct {
	Version  string      `json:"version"`
	Product  OCSFProduct `json:"product"`
	Profiles []string    `json:"profiles"`
}

// OCSFProduct names keyage.
type OCSFProduct struct {
	Name       string `json:"name"`
	VendorName string `json:"vendor_name"`
	Version    string `json:"version,omitempty"`
}

// OCSFCloud is the cloud profile's cloud object.
type OCSFCloud struct {
	Provider string      `json:"provider"`
	Region   string      `json:"region,omitempty"`
	Account  OCSFAccount `json:"account"`
}

// OCSFAccount is an AWS account.
type OCSFAccount struct {
	UID    string `json:"uid"`
	Name   string `json:"name,omitempty"`
	Type   string `json:"type"`
	TypeID int    `json:"type_id"`
}

// OCSFFindingInfo identifies the finding; UID is the ASFF Id.
type OCSFFindingInfo struct {
	UID         string   `json:"uid"`
	Title       string   `json:"title"`
	Desc        string   `json:"desc"`
	Types       []string `json:"types"`
	CreatedTime int64    `json:"created_time,omitempty"`
}

// OCSFCompliance is the compliance check's outcome.
type OCSFCompliance struct {
	Standards    []string `json:"standards"`
	Requirements []string `json:"requirements"`
	Control      string   `json:"control"`
	Status       string   `json:"status"`
	StatusID     int      `json:"status_id"`
}

// OCSFRemediation tells how to fix the finding.
type OCSFRemediation struct {
	Desc       string   `json:"desc"`
	References []string `json:"references,omitempty"`
}

// OCSFResource is a resource_details object.
type OCSFResource struct {
	UID            string     `json:"uid"`
	Name           string     `json:"name,omitempty"`
	Type           string     `json:"type"`
	CloudPartition string     `json:"cloud_partition,omitempty"`
	Region         string     `json:"region,omitempty"`
	Owner          *OCSFOwner `json:"owner,omitempty"`
}

// OCSFOwner is the IAM user owning an access key.
type OCSFOwner struct {
	UID  string `json:"uid"`
	Name string `json:"name"`
}

var ocsfSeverity = map[string]int{
	notify.SeverityInformational: 1, notify.SeverityLow: 2, notify.SeverityMedium: 3, notify.SeverityHigh: 4, notify.SeverityCritical: 5,
}

var ocsfCompliance = map[string]int{notify.CompliancePassed: 1, notify.ComplianceWarning: 2, notify.ComplianceFailed: 3}

// OCSFEvents are the scan's findings as OCSF Compliance Finding events, the
// same findings as ASFFFindings, with the same severity and the ASFF Id as
// finding_info.uid.
func OCSFEvents(r *scan.Result, o Options) []OCSFEvent {
	fs := ASFFFindings(r, o)
	out := make([]OCSFEvent, 0, len(fs))
	ms := r.EvaluatedAt.UnixMilli()
	for _, f := range fs {
		control := "IAM.3"
		if strings.Contains(f.GeneratorID, "root") {
			control = "IAM.4"
		}
		comp := f.Compliance.Status
		ev := OCSFEvent{
			ActivityID: ocsfActivity, ActivityName: "Create",
			CategoryUID: OCSFCategoryUID, CategoryName: "Findings",
			ClassUID: OCSFClassUID, ClassName: "Compliance Finding",
			TypeUID: OCSFClassUID*100 + ocsfActivity, TypeName: "Compliance Finding: Create",
			SeverityID: ocsfSeverity[f.Severity.Label], Severity: ocsfCaption(f.Severity.Label),
			StatusID: 1, Status: "New",
			Time:    ms,
			Message: f.Title,
			Metadata: OCSFMetadata{Version: OCSFVersion, Product: OCSFProduct{Name: "keyage", VendorName: "keyage", Version: o.Version},
				Profiles: []string{"cloud"}},
			Cloud: OCSFCloud{Provider: "AWS", Region: f.Region,
				Account: OCSFAccount{UID: f.AwsAccountID, Name: f.AwsAccountName, Type: "AWS Account", TypeID: 10}},
			FindingInfo: OCSFFindingInfo{UID: f.ID, Title: f.Title, Desc: f.Description, Types: f.Types},
			Compliance: OCSFCompliance{Standards: standards(f.Compliance.RelatedRequirements), Requirements: f.Compliance.RelatedRequirements,
				Control: control, Status: ocsfCaption(comp), StatusID: ocsfCompliance[comp]},
			Remediation: OCSFRemediation{Desc: f.Remediation.Recommendation.Text, References: []string{f.Remediation.Recommendation.URL}},
			Unmapped:    f.ProductFields,
		}
		for _, res := range f.Resources {
			or := OCSFResource{UID: res.ID, Type: res.Type, CloudPartition: res.Partition, Region: res.Region}
			if d := res.Details; d != nil && d.AwsIamAccessKey != nil {
				or.Owner = &OCSFOwner{UID: d.AwsIamAccessKey.PrincipalID, Name: d.AwsIamAccessKey.PrincipalName}
			}
			if d := res.Details; d != nil && d.AwsIamUser != nil {
				or.Name = d.AwsIamUser.UserName
			}
			ev.Resources = append(ev.Resources, or)
		}
		out = append(out, ev)
	}
	return out
}

// standards are the standards of requirements "Standard/Requirement".
func standards(reqs []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range reqs {
		s, _, _ := strings.Cut(r, "/")
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// ocsfCaption is an ASFF upper-case value as an OCSF caption: FAILED -> Failed.
func ocsfCaption(s string) string {
	switch s {
	case notify.CompliancePassed:
		return "Pass"
	case notify.ComplianceFailed:
		return "Fail"
	}
	if s == "" {
		return ""
	}
	return s[:1] + strings.ToLower(s[1:])
}

// writeOCSF writes one event per line (JSON Lines), as Security Lake's
// custom sources and Firehose take them.
func writeOCSF(w io.Writer, r *scan.Result, o Options) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	for _, ev := range OCSFEvents(r, o) {
		if err := enc.Encode(ev); err != nil {
			return fmt.Errorf("encode ocsf event %s: %w", ev.FindingInfo.UID, err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write ocsf: %w", err)
	}
	return nil
}
