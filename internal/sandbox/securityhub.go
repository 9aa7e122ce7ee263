package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Security Hub over restJson1: BatchImportFindings (POST /findings/import), GetFindings
// (POST /findings) and BatchUpdateFindings (PATCH /findings/batchupdate). Findings live in the
// account of their AwsAccountId. BatchImportFindings refuses what Security Hub refuses: more
// than 100 findings, a finding missing an ASFF required attribute or larger than 240 KB, a
// finding for another account or another account's product (with the default product
// ARN, the caller must be the finding's account), and, on an existing finding, a change to
// the fields that belong to the customer (Workflow, Note, UserDefinedFields,
// VerificationState), which only BatchUpdateFindings may change. GetFindings filters on Id,
// RecordState, AwsAccountId, ComplianceStatus and WorkflowStatus; the management account,
// as the organization's Security Hub administrator, sees every account's findings.

const (
	shMaxBatch       = 100
	shMaxFindingSize = 240 << 10
	shSchemaVersion  = "2018-10-08"
)

// shCustomerFields are the finding fields only BatchUpdateFindings may change.
var shCustomerFields = []string{"Workflow", "Note", "UserDefinedFields", "VerificationState"}

// shRequired are ASFF's required attributes for BatchImportFindings.
var shRequired = []string{"AwsAccountId", "CreatedAt", "Description", "GeneratorId", "Id", "ProductArn", "Resources",
	"SchemaVersion", "Severity", "Title", "Types", "UpdatedAt"}

var shProductARN = regexp.MustCompile(`^arn:(aws[a-z-]*):securityhub:([a-z0-9-]+):(\d{12}):product/(\d{12})/default$`)

// securityHubState is an account's findings, under their own lock.
type securityHubState struct {
	mu       sync.Mutex
	findings map[string]map[string]any // ProductArn + "|" + Id -> finding
}

func (s *Server) securityHubService() *service {
	return &service{
		name:  "securityhub",
		proto: restJSONProtocol{},
		route: func(r *http.Request) (string, bool) {
			switch {
			case r.Method == http.MethodPost && r.URL.Path == "/findings/import":
				return "BatchImportFindings", true
			case r.Method == http.MethodPost && r.URL.Path == "/findings":
				return "GetFindings", true
			case r.Method == http.MethodPatch && r.URL.Path == "/findings/batchupdate":
				return "BatchUpdateFindings", true
			}
			return "", false
		},
		throttle: newError(http.StatusTooManyRequests, "TooManyRequestsException", "Rate exceeded"),
		failure:  newError(http.StatusInternalServerError, "InternalException", "Internal service error"),
		unknownOp: func(string) *apiError {
			return newError(http.StatusNotFound, "UnknownOperationException",
				"The sandbox serves Security Hub BatchImportFindings, GetFindings and BatchUpdateFindings only")
		},
		ops: map[string]operation{
			"BatchImportFindings": s.shBatchImportFindings,
			"GetFindings":         s.shGetFindings,
			"BatchUpdateFindings": s.shBatchUpdateFindings,
		},
	}
}

func shInvalidInput(msg string) *apiError {
	e := newError(http.StatusBadRequest, "InvalidInputException", msg)
	e.Fields = map[string]string{"Code": "InvalidInputException"}
	return e
}

type shFailed struct {
	ID           string `json:"Id"`
	ErrorCode    string `json:"ErrorCode"`
	ErrorMessage string `json:"ErrorMessage"`
}

func (s *Server) shBatchImportFindings(c *call) (any, error) {
	var in struct {
		Findings []json.RawMessage
	}
	if e := c.decodeJSON(&in); e != nil {
		return nil, e
	}
	switch {
	case in.Findings == nil:
		return nil, shInvalidInput("Findings: required")
	case len(in.Findings) > shMaxBatch:
		return nil, shInvalidInput(fmt.Sprintf("Findings: %d findings; BatchImportFindings takes at most %d", len(in.Findings), shMaxBatch))
	}
	out := struct {
		FailedCount    int
		SuccessCount   int
		FailedFindings []shFailed
	}{FailedFindings: []shFailed{}}
	caller := c.acct()
	for i, raw := range in.Findings {
		var f map[string]any
		if err := json.Unmarshal(raw, &f); err != nil {
			return nil, shInvalidInput(fmt.Sprintf("Findings[%d]: not a JSON object: %v", i, err))
		}
		id, _ := f["Id"].(string)
		fail := func(code, msg string) {
			out.FailedCount++
			out.FailedFindings = append(out.FailedFindings, shFailed{ID: id, ErrorCode: code, ErrorMessage: msg})
		}
		if msg := shValidate(f, len(raw)); msg != "" {
			fail("InvalidInput", msg)
			continue
		}
		acctID := f["AwsAccountId"].(string)
		m := shProductARN.FindStringSubmatch(f["ProductArn"].(string))
		switch {
		case m == nil:
			fail("InvalidInput", "ProductArn "+f["ProductArn"].(string)+" is not a default product ARN (arn:<partition>:securityhub:<region>:<account>:product/<account>/default)")
			continue
		case m[3] != m[4] || m[3] != caller.id || acctID != caller.id:
			fail("AccessDeniedException", fmt.Sprintf("Account %s may import findings only for itself with its default product: the finding names account %s and product %s",
				caller.id, acctID, f["ProductArn"]))
			continue
		case m[2] != c.region:
			fail("InvalidInput", "ProductArn "+f["ProductArn"].(string)+" is not in the region of the request, "+c.region)
			continue
		}
		key := f["ProductArn"].(string) + "|" + id
		sh := &caller.securityHub
		sh.mu.Lock()
		old := sh.findings[key]
		if old != nil {
			if field := shCustomerChange(old, f); field != "" {
				sh.mu.Unlock()
				fail("InvalidInput", field+" of an existing finding cannot be updated with BatchImportFindings; the customer changes it with BatchUpdateFindings")
				continue
			}
			for _, k := range shCustomerFields {
				if v, ok := old[k]; ok {
					f[k] = v
				}
			}
			f["WorkflowState"] = old["WorkflowState"]
			if v, ok := old["FirstObservedAt"]; ok {
				f["FirstObservedAt"] = v
			}
		} else {
			if _, ok := f["Workflow"]; !ok {
				f["Workflow"] = map[string]any{"Status": "NEW"}
			}
			f["WorkflowState"] = "NEW"
		}
		if _, ok := f["RecordState"]; !ok {
			f["RecordState"] = "ACTIVE"
		}
		f["ProcessedAt"] = c.now.Format(time.RFC3339)
		if sh.findings == nil {
			sh.findings = map[string]map[string]any{}
		}
		sh.findings[key] = f
		sh.mu.Unlock()
		out.SuccessCount++
	}
	return out, nil
}

// shValidate returns why Security Hub would refuse f, "" if it would not.
func shValidate(f map[string]any, size int) string {
	var missing []string
	for _, k := range shRequired {
		if v, ok := f[k]; !ok || v == nil || v == "" {
			if k == "Severity" && f["FindingProviderFields"] != nil {
				continue
			}
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return "Finding is missing required attributes: " + strings.Join(missing, ", ")
	}
	if size > shMaxFindingSize {
		return fmt.Sprintf("Finding is %d bytes; the limit is %d", size, shMaxFindingSize)
	}
	if f["SchemaVersion"] != shSchemaVersion {
		return fmt.Sprintf("SchemaVersion %v is not supported; use %s", f["SchemaVersion"], shSchemaVersion)
	}
	if a, _ := f["AwsAccountId"].(string); !accountIDPattern.MatchString(a) {
		return fmt.Sprintf("AwsAccountId %v is not a 12-digit account id", f["AwsAccountId"])
	}
	for _, k := range []string{"CreatedAt", "UpdatedAt"} {
		if v, _ := f[k].(string); !shTime(v) {
			return fmt.Sprintf("%s %v is not an ISO 8601 date-time", k, f[k])
		}
	}
	if t, _ := f["Title"].(string); len(t) > 256 {
		return "Title is longer than 256 characters"
	}
	if d, _ := f["Description"].(string); len(d) > 1024 {
		return "Description is longer than 1024 characters"
	}
	types, _ := f["Types"].([]any)
	if len(types) == 0 || len(types) > 50 {
		return "Types must list 1 to 50 types"
	}
	res, _ := f["Resources"].([]any)
	if len(res) == 0 || len(res) > 32 {
		return "Resources must list 1 to 32 resources"
	}
	for i, r := range res {
		rm, _ := r.(map[string]any)
		if rm["Type"] == nil || rm["Type"] == "" || rm["Id"] == nil || rm["Id"] == "" {
			return fmt.Sprintf("Resources[%d] needs Type and Id", i)
		}
	}
	sev, _ := f["Severity"].(map[string]any)
	if sev == nil {
		fpf, _ := f["FindingProviderFields"].(map[string]any)
		sev, _ = fpf["Severity"].(map[string]any)
	}
	if sev["Label"] == nil && sev["Normalized"] == nil {
		return "Severity needs Label or Normalized"
	}
	if l, ok := sev["Label"].(string); ok {
		switch l {
		case "INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL":
		default:
			return "Severity.Label " + l + " is not INFORMATIONAL, LOW, MEDIUM, HIGH or CRITICAL"
		}
	}
	if rs, ok := f["RecordState"]; ok && rs != "ACTIVE" && rs != "ARCHIVED" {
		return fmt.Sprintf("RecordState %v is not ACTIVE or ARCHIVED", rs)
	}
	if cm, ok := f["Compliance"].(map[string]any); ok {
		switch cm["Status"] {
		case nil, "PASSED", "WARNING", "FAILED", "NOT_AVAILABLE":
		default:
			return fmt.Sprintf("Compliance.Status %v is not PASSED, WARNING, FAILED or NOT_AVAILABLE", cm["Status"])
		}
	}
	return ""
}

func shTime(s string) bool {
	_, err := time.Parse(time.RFC3339Nano, s)
	return err == nil
}

// shCustomerChange names a customer field the import would change on old, "" if none.
func shCustomerChange(old, f map[string]any) string {
	for _, k := range shCustomerFields {
		v, ok := f[k]
		if !ok {
			continue
		}
		a, _ := json.Marshal(v)
		b, _ := json.Marshal(old[k])
		if string(a) != string(b) {
			return k
		}
	}
	return ""
}

type shStringFilter struct {
	Value      string
	Comparison string
}

func (s *Server) shGetFindings(c *call) (any, error) {
	var in struct {
		Filters    map[string][]shStringFilter
		MaxResults int
		NextToken  string
	}
	if e := c.decodeJSON(&in); e != nil {
		return nil, e
	}
	if in.MaxResults == 0 {
		in.MaxResults = 100
	}
	if in.MaxResults < 1 || in.MaxResults > 100 {
		return nil, shInvalidInput("MaxResults must be between 1 and 100")
	}
	get := map[string]func(f map[string]any) string{
		"Id":               func(f map[string]any) string { v, _ := f["Id"].(string); return v },
		"RecordState":      func(f map[string]any) string { v, _ := f["RecordState"].(string); return v },
		"AwsAccountId":     func(f map[string]any) string { v, _ := f["AwsAccountId"].(string); return v },
		"ComplianceStatus": func(f map[string]any) string { return shNested(f, "Compliance", "Status") },
		"WorkflowStatus":   func(f map[string]any) string { return shNested(f, "Workflow", "Status") },
	}
	for k, fs := range in.Filters {
		if get[k] == nil {
			return nil, shInvalidInput("The sandbox filters findings on Id, RecordState, AwsAccountId, ComplianceStatus and WorkflowStatus, not " + k)
		}
		for _, sf := range fs {
			switch sf.Comparison {
			case "EQUALS", "NOT_EQUALS", "PREFIX":
			default:
				return nil, shInvalidInput("Filters." + k + ": the sandbox supports the comparisons EQUALS, NOT_EQUALS and PREFIX, not " + sf.Comparison)
			}
		}
	}
	accts := []*account{c.acct()}
	if c.acct().mgmt {
		accts = s.accountList
	}
	var all []map[string]any
	for _, a := range accts {
		a.securityHub.mu.Lock()
		for _, f := range a.securityHub.findings {
			if shMatch(f, in.Filters, get) {
				all = append(all, f)
			}
		}
		a.securityHub.mu.Unlock()
	}
	sort.Slice(all, func(i, j int) bool {
		return get["Id"](all[i])+get["AwsAccountId"](all[i]) < get["Id"](all[j])+get["AwsAccountId"](all[j])
	})
	start := 0
	if in.NextToken != "" {
		n, err := strconv.Atoi(in.NextToken)
		if err != nil || n < 0 || n > len(all) {
			return nil, shInvalidInput("NextToken is not valid")
		}
		start = n
	}
	end := min(start+in.MaxResults, len(all))
	out := map[string]any{"Findings": all[start:end]}
	if end < len(all) {
		out["NextToken"] = strconv.Itoa(end)
	}
	b, err := json.Marshal(out) // under no lock: findings are replaced, never mutated
	if err != nil {
		return nil, err
	}
	return &restResult{status: http.StatusOK, body: b}, nil
}

func shNested(f map[string]any, obj, field string) string {
	m, _ := f[obj].(map[string]any)
	v, _ := m[field].(string)
	return v
}

// shMatch applies Security Hub's filter semantics: the EQUALS and PREFIX filters of one field
// are ORed, NOT_EQUALS filters ANDed, and fields ANDed.
func shMatch(f map[string]any, filters map[string][]shStringFilter, get map[string]func(map[string]any) string) bool {
	for k, fs := range filters {
		v := get[k](f)
		anyPositive, matched := false, false
		for _, sf := range fs {
			switch sf.Comparison {
			case "NOT_EQUALS":
				if v == sf.Value {
					return false
				}
			case "EQUALS":
				anyPositive = true
				matched = matched || v == sf.Value
			case "PREFIX":
				anyPositive = true
				matched = matched || strings.HasPrefix(v, sf.Value)
			}
		}
		if anyPositive && !matched {
			return false
		}
	}
	return true
}

func (s *Server) shBatchUpdateFindings(c *call) (any, error) {
	var in struct {
		FindingIdentifiers []struct{ Id, ProductArn string }
		Workflow           *struct{ Status string }
		Note               map[string]any
		VerificationState  string
		UserDefinedFields  map[string]string
	}
	if e := c.decodeJSON(&in); e != nil {
		return nil, e
	}
	if len(in.FindingIdentifiers) == 0 || len(in.FindingIdentifiers) > shMaxBatch {
		return nil, shInvalidInput("FindingIdentifiers must list 1 to 100 findings")
	}
	if in.Workflow != nil {
		switch in.Workflow.Status {
		case "NEW", "NOTIFIED", "RESOLVED", "SUPPRESSED":
		default:
			return nil, shInvalidInput("Workflow.Status " + in.Workflow.Status + " is not NEW, NOTIFIED, RESOLVED or SUPPRESSED")
		}
	}
	type ident struct{ Id, ProductArn string }
	processed := []ident{}
	type unprocessed struct {
		FindingIdentifier ident
		ErrorCode         string
		ErrorMessage      string
	}
	failed := []unprocessed{}
	for _, fi := range in.FindingIdentifiers {
		m := shProductARN.FindStringSubmatch(fi.ProductArn)
		var a *account
		if m != nil {
			a = s.accounts[m[3]]
		}
		if a == nil || (a != c.acct() && !c.acct().mgmt) {
			failed = append(failed, unprocessed{ident(fi), "FindingNotFound", "Finding not found"})
			continue
		}
		a.securityHub.mu.Lock()
		key := fi.ProductArn + "|" + fi.Id
		old := a.securityHub.findings[key]
		if old == nil {
			a.securityHub.mu.Unlock()
			failed = append(failed, unprocessed{ident(fi), "FindingNotFound", "Finding not found"})
			continue
		}
		f := make(map[string]any, len(old)+2)
		for k, v := range old {
			f[k] = v
		}
		if in.Workflow != nil {
			f["Workflow"] = map[string]any{"Status": in.Workflow.Status}
			f["WorkflowState"] = map[string]string{"NEW": "NEW", "NOTIFIED": "ASSIGNED", "RESOLVED": "RESOLVED", "SUPPRESSED": "RESOLVED"}[in.Workflow.Status]
		}
		if in.Note != nil {
			f["Note"] = in.Note
		}
		if in.VerificationState != "" {
			f["VerificationState"] = in.VerificationState
		}
		if in.UserDefinedFields != nil {
			f["UserDefinedFields"] = in.UserDefinedFields
		}
		a.securityHub.findings[key] = f
		a.securityHub.mu.Unlock()
		processed = append(processed, ident(fi))
	}
	return map[string]any{"ProcessedFindings": processed, "UnprocessedFindings": failed}, nil
}

// SecurityHubFindings returns the findings imported into an account, ordered by Id, as JSON
// objects in ASFF.
func (s *Server) SecurityHubFindings(accountID string) []map[string]any {
	a := s.accounts[accountID]
	if a == nil {
		return nil
	}
	a.securityHub.mu.Lock()
	defer a.securityHub.mu.Unlock()
	out := make([]map[string]any, 0, len(a.securityHub.findings))
	for _, f := range a.securityHub.findings {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return fmt.Sprint(out[i]["Id"]) < fmt.Sprint(out[j]["Id"]) })
	return out
}
