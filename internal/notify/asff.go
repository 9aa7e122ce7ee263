package notify

// This file is the AWS Security Finding Format (ASFF) of a finding: what the
// securityhub receiver imports and what keyage scan -o asff prints.

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ASFFSchemaVersion is the AWS Security Finding Format version keyage writes.
const ASFFSchemaVersion = "2018-10-08"

// ASFFGeneratorID names the check that produced a finding.
const ASFFGeneratorID = "keyage/access-keys-rotated"

// ASFFTypes are the finding types AWS uses for the control IAM.3 (and IAM.4,
// root access keys): the Industry and Regulatory Standards path.
var ASFFTypes = []string{
	"Software and Configuration Checks/Industry and Regulatory Standards/CIS AWS Foundations Benchmark",
	"Software and Configuration Checks/Industry and Regulatory Standards/AWS-Foundational-Security-Best-Practices",
}

// ASFFKeyRequirements are the requirements an aged access key fails: CIS AWS
// Foundations 1.4 (v1.2.0) and 1.14 (v1.4.0 and v3.0.0), AWS FSBP IAM.3.
var ASFFKeyRequirements = []string{
	"CIS AWS Foundations Benchmark v1.2.0/1.4",
	"CIS AWS Foundations Benchmark v1.4.0/1.14",
	"CIS AWS Foundations Benchmark v3.0.0/1.14",
	"AWS Foundational Security Best Practices v1.0.0/IAM.3",
}

// ASFFRootRequirements are the requirements an active root access key fails:
// CIS 1.12 (v1.2.0) and 1.4 (v1.4.0 and v3.0.0), AWS FSBP IAM.4.
var ASFFRootRequirements = []string{
	"CIS AWS Foundations Benchmark v1.2.0/1.12",
	"CIS AWS Foundations Benchmark v1.4.0/1.4",
	"CIS AWS Foundations Benchmark v3.0.0/1.4",
	"AWS Foundational Security Best Practices v1.0.0/IAM.4",
}

// ASFFRotateURL is the remediation's documentation link.
const ASFFRotateURL = "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_access-keys.html#rotating_access_keys_console"

// The severity labels of ASFF.
const (
	SeverityInformational = "INFORMATIONAL"
	SeverityLow           = "LOW"
	SeverityMedium        = "MEDIUM"
	SeverityHigh          = "HIGH"
	SeverityCritical      = "CRITICAL"
)

// The compliance statuses and record states keyage sets.
const (
	CompliancePassed  = "PASSED"
	ComplianceWarning = "WARNING"
	ComplianceFailed  = "FAILED"
	RecordActive      = "ACTIVE"
	RecordArchived    = "ARCHIVED"
)

// ASFFFinding is one ASFF finding, with the field names and shapes of Security
// Hub's AwsSecurityFinding. keyage never sets Workflow, Note,
// UserDefinedFields or VerificationState: they belong to the security team.
type ASFFFinding struct {
	SchemaVersion         string             `json:"SchemaVersion"`
	ID                    string             `json:"Id"`
	ProductArn            string             `json:"ProductArn"`
	ProductName           string             `json:"ProductName"`
	CompanyName           string             `json:"CompanyName"`
	Region                string             `json:"Region,omitempty"`
	GeneratorID           string             `json:"GeneratorId"`
	AwsAccountID          string             `json:"AwsAccountId"`
	AwsAccountName        string             `json:"AwsAccountName,omitempty"`
	Types                 []string           `json:"Types"`
	CreatedAt             string             `json:"CreatedAt"`
	UpdatedAt             string             `json:"UpdatedAt"`
	Severity              ASFFSeverity       `json:"Severity"`
	Title                 string             `json:"Title"`
	Description           string             `json:"Description"`
	Remediation           ASFFRemediation    `json:"Remediation"`
	ProductFields         map[string]string  `json:"ProductFields,omitempty"`
	Resources             []ASFFResource     `json:"Resources"`
	Compliance            ASFFCompliance     `json:"Compliance"`
	RecordState           string             `json:"RecordState"`
	FindingProviderFields ASFFProviderFields `json:"FindingProviderFields"`
}

// ASFFSeverity is a finding's severity: Label, and the provider's own value.
type ASFFSeverity struct {
	Label    string `json:"Label"`
	Original string `json:"Original,omitempty"`
}

// ASFFRemediation tells how to fix the finding.
type ASFFRemediation struct {
	Recommendation ASFFRecommendation `json:"Recommendation"`
}

// ASFFRecommendation is a remediation's text and link.
type ASFFRecommendation struct {
	Text string `json:"Text"`
	URL  string `json:"Url,omitempty"`
}

// ASFFCompliance is the control's verdict on the resource.
type ASFFCompliance struct {
	Status              string   `json:"Status"`
	RelatedRequirements []string `json:"RelatedRequirements,omitempty"`
}

// ASFFProviderFields carry the provider's Severity and Types: the way a
// provider updates them on an existing finding.
type ASFFProviderFields struct {
	Severity ASFFSeverity `json:"Severity"`
	Types    []string     `json:"Types"`
}

// ASFFResource is one resource of a finding.
type ASFFResource struct {
	Type      string               `json:"Type"`
	ID        string               `json:"Id"`
	Partition string               `json:"Partition,omitempty"`
	Region    string               `json:"Region,omitempty"`
	Details   *ASFFResourceDetails `json:"Details,omitempty"`
}

// ASFFResourceDetails holds the details of IAM users and access keys.
type ASFFResourceDetails struct {
	AwsIamAccessKey *ASFFAccessKeyDetails `json:"AwsIamAccessKey,omitempty"`
	AwsIamUser      *ASFFUserDetails      `json:"AwsIamUser,omitempty"`
}

// ASFFAccessKeyDetails is ASFF's AwsIamAccessKeyDetails.
type ASFFAccessKeyDetails struct {
	AccessKeyID   string `json:"AccessKeyId,omitempty"`
	AccountID     string `json:"AccountId,omitempty"`
	CreatedAt     string `json:"CreatedAt,omitempty"`
	PrincipalID   string `json:"PrincipalId,omitempty"`
	PrincipalName string `json:"PrincipalName,omitempty"`
	PrincipalType string `json:"PrincipalType,omitempty"`
	Status        string `json:"Status,omitempty"`
}

// ASFFUserDetails is ASFF's AwsIamUserDetails.
type ASFFUserDetails struct {
	UserID   string `json:"UserId,omitempty"`
	UserName string `json:"UserName,omitempty"`
	Path     string `json:"Path,omitempty"`
}

// ASFFProduct is where findings are imported: the partition and region of
// each account's default custom product.
type ASFFProduct struct {
	// Partition is aws, aws-cn or aws-us-gov; "" takes it from the
	// user's ARN, else aws.
	Partition string
	// Region is the Security Hub region of the product ARN. Required.
	Region string
}

// ASFFProductARN is the default custom product of an account:
// arn:<partition>:securityhub:<region>:<account>:product/<account>/default.
func ASFFProductARN(partition, region, account string) string {
	return "arn:" + partition + ":securityhub:" + region + ":" + account + ":product/" + account + "/default"
}

// ASFFFindingID is a key finding's stable Id:
// <partition>/<account>/<user id>/<access key id>.
func ASFFFindingID(partition, account, userID, accessKeyID string) string {
	return partition + "/" + account + "/" + userID + "/" + accessKeyID
}

// asffResolved reports whether a stage (or a resolved message) closes a
// finding: the key was rotated, deactivated or deleted.
func asffResolved(kind, stage string) bool {
	if kind == KindResolved {
		return true
	}
	switch stage {
	case "ok", "inactive", "deactivated", "deleted":
		return true
	}
	return false
}

// ASFFRate is the severity, compliance status and record state of a key in a
// stage, at an age, with a limit (maxAccessKeyAge, days). It is the
// mapping documented in docs/integrations.md:
//
//	resolved (rotated, deactivated, deleted, ok, inactive): INFORMATIONAL, PASSED, ARCHIVED
//	warning:                                                LOW, WARNING, ACTIVE
//	expired, up to twice the limit:                         MEDIUM, FAILED, ACTIVE
//	expired, past twice the limit:                          HIGH, FAILED, ACTIVE
//	deactivation-scheduled, escalated:                      HIGH, FAILED, ACTIVE
//	exempt:                                                 INFORMATIONAL, PASSED, ACTIVE
func ASFFRate(kind, stage string, ageDays, limit int) (severity, compliance, record string) {
	switch {
	case asffResolved(kind, stage):
		return SeverityInformational, CompliancePassed, RecordArchived
	case stage == "warning":
		return SeverityLow, ComplianceWarning, RecordActive
	case stage == "exempt":
		return SeverityInformational, CompliancePassed, RecordActive
	case stage == "deactivation-scheduled" || stage == "escalated":
		return SeverityHigh, ComplianceFailed, RecordActive
	case limit > 0 && ageDays > 2*limit:
		return SeverityHigh, ComplianceFailed, RecordActive
	}
	return SeverityMedium, ComplianceFailed, RecordActive
}

// ASFFKeyFinding builds the finding of one access key. kind is the message
// kind (finding or resolved); now is UpdatedAt.
func ASFFKeyFinding(it Item, kind string, p ASFFProduct, now time.Time) ASFFFinding {
	part := p.Partition
	if part == "" {
		part = asffPartition(it.ARN)
	}
	sev, comp, rec := ASFFRate(kind, it.Stage, it.AgeDays, it.MaxAge)
	original := it.Stage
	if original == "" {
		original = kind
	}
	original += " " + strconv.Itoa(it.AgeDays) + "d"
	key := asffKeyRef(it)
	title := fmt.Sprintf("IAM user %s has an access key older than %d days", it.UserName, it.MaxAge)
	desc := fmt.Sprintf("Access key %s of IAM user %s (%s) in account %s is %d days old; the limit is %d days (stage %s).",
		key, it.UserName, it.ResourceID, it.AccountID, it.AgeDays, it.MaxAge, it.Stage)
	if rec == RecordArchived {
		title = fmt.Sprintf("IAM user %s no longer has the aged access key %s", it.UserName, key)
		desc = fmt.Sprintf("Access key %s of IAM user %s (%s) in account %s was rotated, deactivated or deleted.",
			key, it.UserName, it.ResourceID, it.AccountID)
	}
	fields := map[string]string{
		"ProviderName":           "keyage",
		"keyage/stage":           it.Stage,
		"keyage/ageDays":         strconv.Itoa(it.AgeDays),
		"keyage/maxAccessKeyAge": strconv.Itoa(it.MaxAge),
	}
	if it.Owner != "" {
		fields["keyage/owner"] = it.Owner
	}
	if !it.Deadline.IsZero() {
		fields["keyage/deadline"] = asffTime(it.Deadline)
	}
	if it.AccountName != "" {
		fields["keyage/accountName"] = it.AccountName
	}
	status := "Active"
	if it.Stage == "inactive" || it.Stage == "deactivated" {
		status = "Inactive"
	}
	created := it.CreateDate
	if created.IsZero() {
		created = now
	}
	return ASFFFinding{
		SchemaVersion:  ASFFSchemaVersion,
		ID:             ASFFFindingID(part, it.AccountID, it.ResourceID, key),
		ProductArn:     ASFFProductARN(part, p.Region, it.AccountID),
		ProductName:    "keyage",
		CompanyName:    "keyage",
		Region:         p.Region,
		GeneratorID:    ASFFGeneratorID,
		AwsAccountID:   it.AccountID,
		AwsAccountName: it.AccountName,
		Types:          ASFFTypes,
		CreatedAt:      asffTime(created),
		UpdatedAt:      asffTime(now),
		Severity:       ASFFSeverity{Label: sev, Original: original},
		Title:          asffTruncate(title, 256),
		Description:    asffTruncate(desc, 1024),
		Remediation: ASFFRemediation{Recommendation: ASFFRecommendation{
			Text: asffTruncate(fmt.Sprintf("Rotate access key %s of IAM user %s: create a new key, move its users to it, then deactivate and delete the old one.", key, it.UserName), 512),
			URL:  ASFFRotateURL,
		}},
		ProductFields: fields,
		Resources: []ASFFResource{
			{Type: "AwsIamAccessKey", ID: key, Partition: part, Region: p.Region, Details: &ASFFResourceDetails{AwsIamAccessKey: &ASFFAccessKeyDetails{
				AccessKeyID: key, AccountID: it.AccountID, CreatedAt: asffTime(it.CreateDate), PrincipalID: it.ResourceID,
				PrincipalName: it.UserName, PrincipalType: "IAMUser", Status: status,
			}}},
			{Type: "AwsIamUser", ID: it.ARN, Partition: part, Region: p.Region, Details: &ASFFResourceDetails{AwsIamUser: &ASFFUserDetails{
				UserID: it.ResourceID, UserName: it.UserName, Path: it.UserPath,
			}}},
		},
		Compliance:            ASFFCompliance{Status: comp, RelatedRequirements: ASFFKeyRequirements},
		RecordState:           rec,
		FindingProviderFields: ASFFProviderFields{Severity: ASFFSeverity{Label: sev, Original: original}, Types: ASFFTypes},
	}
}

// ASFFRootKey is one access key of an account's root user.
type ASFFRootKey struct {
	AccountID   string
	AccountName string
	// Slot numbers the account's root keys (1, 2), in the credential
	// report's order: root keys have no id in the report.
	Slot   int
	Status string
	// AgeDays is -1 when unknown.
	AgeDays int
}

// ASFFRootKeyFinding builds the finding of an active root access key:
// CRITICAL, FAILED.
func ASFFRootKeyFinding(k ASFFRootKey, p ASFFProduct, now time.Time) ASFFFinding {
	part := p.Partition
	if part == "" {
		part = "aws"
	}
	rootARN := "arn:" + part + ":iam::" + k.AccountID + ":root"
	original := "root key " + k.Status
	desc := fmt.Sprintf("The root user of account %s has an active access key (slot %d).", k.AccountID, k.Slot)
	if k.AgeDays >= 0 {
		original += " " + strconv.Itoa(k.AgeDays) + "d"
		desc = fmt.Sprintf("The root user of account %s has an active access key (slot %d), %d days old.", k.AccountID, k.Slot, k.AgeDays)
	}
	sev := ASFFSeverity{Label: SeverityCritical, Original: original}
	return ASFFFinding{
		SchemaVersion:  ASFFSchemaVersion,
		ID:             part + "/" + k.AccountID + "/root/access-key-" + strconv.Itoa(k.Slot),
		ProductArn:     ASFFProductARN(part, p.Region, k.AccountID),
		ProductName:    "keyage",
		CompanyName:    "keyage",
		Region:         p.Region,
		GeneratorID:    "keyage/root-access-key",
		AwsAccountID:   k.AccountID,
		AwsAccountName: k.AccountName,
		Types:          ASFFTypes,
		CreatedAt:      asffTime(now),
		UpdatedAt:      asffTime(now),
		Severity:       sev,
		Title:          "The root user of account " + k.AccountID + " has an active access key",
		Description:    desc,
		Remediation: ASFFRemediation{Recommendation: ASFFRecommendation{
			Text: "Delete the root user's access keys: sign in as the root user, open Security credentials, and delete them.",
			URL:  "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_root-user_manage_delete-key.html",
		}},
		ProductFields: map[string]string{"ProviderName": "keyage", "keyage/stage": "root"},
		Resources: []ASFFResource{{Type: "AwsAccount", ID: "AWS::::Account:" + k.AccountID, Partition: part, Region: p.Region},
			{Type: "Other", ID: rootARN, Partition: part, Region: p.Region}},
		Compliance:            ASFFCompliance{Status: ComplianceFailed, RelatedRequirements: ASFFRootRequirements},
		RecordState:           RecordActive,
		FindingProviderFields: ASFFProviderFields{Severity: sev, Types: ASFFTypes},
	}
}

// asffKeyRef is the access key's id, or, for a key only the credential report
// described, "created-" and its creation time.
func asffKeyRef(it Item) string {
	if it.AccessKeyID != "" {
		return it.AccessKeyID
	}
	return "created-" + it.CreateDate.UTC().Format("20060102T150405Z")
}

func asffPartition(arn string) string {
	if p := strings.Split(arn, ":"); len(p) > 1 && strings.HasPrefix(p[1], "aws") {
		return p[1]
	}
	return "aws"
}

func asffTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func asffTruncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}
