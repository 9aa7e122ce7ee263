package sandbox

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
)

// Organizations over awsJson1_1 (X-Amz-Target: AWSOrganizationsV20161128.<Operation>). The
// structure is fixed at New, so these handlers take no locks. Only the management account may
// call them, except DescribeOrganization, which AWS lets every member call.

type organization struct {
	id    string // o-xxxxxxxxxx
	arn   string
	root  *orgUnit
	units map[string]*orgUnit // root and OUs by id
	// stackSetsAccess: trusted access for CloudFormation StackSets is enabled (fixture
	// stackSetsTrustedAccess, default true).
	stackSetsAccess bool
}

// orgUnit is the root or an organizational unit.
type orgUnit struct {
	id, name, arn, path string
	children            []*orgUnit
	accounts            []*account
}

func (s *Server) buildOrganization() *organization {
	g := s.ids
	o := &organization{id: "o-" + g.lower(10, s.mgmtID, "organization"), units: map[string]*orgUnit{}}
	o.arn = "arn:aws:organizations::" + s.mgmtID + ":organization/" + o.id
	rootSuffix := g.lower(4, s.mgmtID, "root")
	o.root = &orgUnit{id: "r-" + rootSuffix, name: "Root"}
	o.root.arn = "arn:aws:organizations::" + s.mgmtID + ":root/" + o.id + "/" + o.root.id
	o.root.path = o.id + "/" + o.root.id + "/"
	o.units[o.root.id] = o.root
	byPath := map[string]*orgUnit{"": o.root}
	for _, a := range s.accountList {
		parent := o.root
		if a.ouPath != "" {
			path := ""
			for _, name := range strings.Split(a.ouPath, "/") {
				if path != "" {
					path += "/"
				}
				path += name
				ou := byPath[path]
				if ou == nil {
					ou = &orgUnit{id: "ou-" + rootSuffix + "-" + g.lower(8, s.mgmtID, "ou", path), name: name}
					ou.arn = "arn:aws:organizations::" + s.mgmtID + ":ou/" + o.id + "/" + ou.id
					ou.path = parent.path + ou.id + "/"
					parent.children = append(parent.children, ou)
					byPath[path] = ou
					o.units[ou.id] = ou
				}
				parent = ou
			}
		}
		a.ou = parent
		parent.accounts = append(parent.accounts, a)
	}
	return o
}

const orgTarget = "AWSOrganizationsV20161128"

func (s *Server) organizationsService() *service {
	svc := &service{
		name:     "organizations",
		target:   orgTarget,
		proto:    jsonProtocol{contentType: "application/x-amz-json-1.1"},
		throttle: newError(http.StatusTooManyRequests, "TooManyRequestsException", "Rate exceeded"),
		failure: newError(http.StatusInternalServerError, "ServiceException",
			"AWS Organizations can't complete your request because of an internal service error. Try again later."),
		unknownOp: func(op string) *apiError {
			return newError(http.StatusBadRequest, "UnknownOperationException", "Unknown operation "+op)
		},
	}
	mgmtOnly := func(op operation) operation {
		return func(c *call) (any, error) {
			if c.acct().id != s.mgmtID {
				return nil, newError(http.StatusForbidden, "AccessDeniedException", "You don't have permissions to access this resource.")
			}
			return op(c)
		}
	}
	svc.ops = map[string]operation{
		"DescribeOrganization":                s.orgDescribeOrganization,
		"ListAccounts":                        mgmtOnly(s.orgListAccounts),
		"ListRoots":                           mgmtOnly(s.orgListRoots),
		"ListOrganizationalUnitsForParent":    mgmtOnly(s.orgListOUsForParent),
		"ListAccountsForParent":               mgmtOnly(s.orgListAccountsForParent),
		"ListChildren":                        mgmtOnly(s.orgListChildren),
		"DescribeOrganizationalUnit":          mgmtOnly(s.orgDescribeOU),
		"ListAWSServiceAccessForOrganization": s.orgAdminOnly(s.orgListServiceAccess),
		"ListDelegatedAdministrators":         s.orgAdminOnly(s.orgListDelegatedAdministrators),
	}
	return svc
}

type orgPolicyType struct {
	Status string `json:"Status"`
	Type   string `json:"Type"`
}

type orgAccount struct {
	Arn             string   `json:"Arn"`
	Email           string   `json:"Email"`
	ID              string   `json:"Id"`
	JoinedMethod    string   `json:"JoinedMethod"`
	JoinedTimestamp int64    `json:"JoinedTimestamp"`
	Name            string   `json:"Name"`
	Paths           []string `json:"Paths,omitempty"`
	State           string   `json:"State"`
	Status          string   `json:"Status"`
}

func (s *Server) accountJSON(a *account) orgAccount {
	method := "CREATED"
	if a.mgmt {
		method = "INVITED"
	}
	return orgAccount{
		Arn:             "arn:aws:organizations::" + s.mgmtID + ":account/" + s.org.id + "/" + a.id,
		Email:           a.email,
		ID:              a.id,
		JoinedMethod:    method,
		JoinedTimestamp: a.joined.Unix(),
		Name:            a.name,
		Paths:           []string{a.ou.path + a.id + "/"},
		State:           a.status,
		Status:          a.status,
	}
}

func (s *Server) orgDescribeOrganization(c *call) (any, error) {
	o := s.org
	type organizationJSON struct {
		Arn                  string          `json:"Arn"`
		AvailablePolicyTypes []orgPolicyType `json:"AvailablePolicyTypes"`
		FeatureSet           string          `json:"FeatureSet"`
		ID                   string          `json:"Id"`
		MasterAccountArn     string          `json:"MasterAccountArn"`
		MasterAccountEmail   string          `json:"MasterAccountEmail"`
		MasterAccountID      string          `json:"MasterAccountId"`
	}
	mgmt := s.accounts[s.mgmtID]
	return map[string]organizationJSON{"Organization": {
		Arn:                  o.arn,
		AvailablePolicyTypes: []orgPolicyType{{Status: "ENABLED", Type: "SERVICE_CONTROL_POLICY"}},
		FeatureSet:           "ALL",
		ID:                   o.id,
		MasterAccountArn:     s.accountJSON(mgmt).Arn,
		MasterAccountEmail:   mgmt.email,
		MasterAccountID:      mgmt.id,
	}}, nil
}

type orgPageInput struct {
	NextToken  string `json:"NextToken"`
	MaxResults int    `json:"MaxResults"`
	ParentID   string `json:"ParentId"`
	ChildType  string `json:"ChildType"`
}

func invalidInput(reason, msg string) *apiError {
	e := newError(http.StatusBadRequest, "InvalidInputException", msg)
	e.Fields = map[string]string{"Reason": reason}
	return e
}

// orgPage decodes the input and returns the window [start, end) of n items and the next token.
func (c *call) orgPage(n int) (in orgPageInput, start, end int, next string, err error) {
	if e := c.decodeJSON(&in); e != nil {
		return in, 0, 0, "", e
	}
	limit := 20
	switch {
	case in.MaxResults < 0:
		return in, 0, 0, "", invalidInput("MIN_VALUE_EXCEEDED", "You provided a value that is smaller than the minimum allowed value.")
	case in.MaxResults > 20:
		return in, 0, 0, "", invalidInput("MAX_VALUE_EXCEEDED", "You provided a value that exceeds the maximum allowed value.")
	case in.MaxResults > 0:
		limit = in.MaxResults
	}
	if in.NextToken != "" {
		b, derr := base64.RawURLEncoding.DecodeString(in.NextToken)
		v, found := strings.CutPrefix(string(b), c.op+":")
		start, _ = strconv.Atoi(v)
		if derr != nil || !found || start <= 0 || start > n {
			return in, 0, 0, "", invalidInput("INVALID_NEXT_TOKEN", "The NextToken value is not valid.")
		}
	}
	end = min(n, start+limit)
	if end < n {
		next = base64.RawURLEncoding.EncodeToString([]byte(c.op + ":" + strconv.Itoa(end)))
	}
	return in, start, end, next, nil
}

func (s *Server) orgListAccounts(c *call) (any, error) {
	_, start, end, next, err := c.orgPage(len(s.accountList))
	if err != nil {
		return nil, err
	}
	out := struct {
		Accounts  []orgAccount `json:"Accounts"`
		NextToken string       `json:"NextToken,omitempty"`
	}{Accounts: make([]orgAccount, 0, end-start), NextToken: next}
	for _, a := range s.accountList[start:end] {
		out.Accounts = append(out.Accounts, s.accountJSON(a))
	}
	return out, nil
}

func (s *Server) orgListRoots(c *call) (any, error) {
	_, start, end, next, err := c.orgPage(1)
	if err != nil {
		return nil, err
	}
	type rootJSON struct {
		Arn         string          `json:"Arn"`
		ID          string          `json:"Id"`
		Name        string          `json:"Name"`
		PolicyTypes []orgPolicyType `json:"PolicyTypes"`
	}
	out := struct {
		Roots     []rootJSON `json:"Roots"`
		NextToken string     `json:"NextToken,omitempty"`
	}{Roots: []rootJSON{}, NextToken: next}
	if start < end {
		r := s.org.root
		out.Roots = append(out.Roots, rootJSON{Arn: r.arn, ID: r.id, Name: r.name,
			PolicyTypes: []orgPolicyType{{Status: "ENABLED", Type: "SERVICE_CONTROL_POLICY"}}})
	}
	return out, nil
}

// parent decodes ParentId before paging.
func (s *Server) parent(c *call) (*orgUnit, error) {
	var in orgPageInput
	if e := c.decodeJSON(&in); e != nil {
		return nil, e
	}
	if in.ParentID == "" {
		return nil, invalidInput("INPUT_REQUIRED", "You must specify a value for ParentId.")
	}
	u := s.org.units[in.ParentID]
	if u == nil {
		return nil, newError(http.StatusNotFound, "ParentNotFoundException", "We can't find a root or OU with the ParentId that you specified.")
	}
	return u, nil
}

func (s *Server) orgListOUsForParent(c *call) (any, error) {
	p, err := s.parent(c)
	if err != nil {
		return nil, err
	}
	_, start, end, next, err := c.orgPage(len(p.children))
	if err != nil {
		return nil, err
	}
	type ouJSON struct {
		Arn  string `json:"Arn"`
		ID   string `json:"Id"`
		Name string `json:"Name"`
		Path string `json:"Path"`
	}
	out := struct {
		OrganizationalUnits []ouJSON `json:"OrganizationalUnits"`
		NextToken           string   `json:"NextToken,omitempty"`
	}{OrganizationalUnits: []ouJSON{}, NextToken: next}
	for _, u := range p.children[start:end] {
		out.OrganizationalUnits = append(out.OrganizationalUnits, ouJSON{Arn: u.arn, ID: u.id, Name: u.name, Path: u.path})
	}
	return out, nil
}

func (s *Server) orgListAccountsForParent(c *call) (any, error) {
	p, err := s.parent(c)
	if err != nil {
		return nil, err
	}
	_, start, end, next, err := c.orgPage(len(p.accounts))
	if err != nil {
		return nil, err
	}
	out := struct {
		Accounts  []orgAccount `json:"Accounts"`
		NextToken string       `json:"NextToken,omitempty"`
	}{Accounts: make([]orgAccount, 0, end-start), NextToken: next}
	for _, a := range p.accounts[start:end] {
		out.Accounts = append(out.Accounts, s.accountJSON(a))
	}
	return out, nil
}

func (s *Server) orgListChildren(c *call) (any, error) {
	p, err := s.parent(c)
	if err != nil {
		return nil, err
	}
	var in orgPageInput
	_ = c.decodeJSON(&in)
	var ids []string
	switch in.ChildType {
	case "ACCOUNT":
		for _, a := range p.accounts {
			ids = append(ids, a.id)
		}
	case "ORGANIZATIONAL_UNIT":
		for _, u := range p.children {
			ids = append(ids, u.id)
		}
	case "":
		return nil, invalidInput("INPUT_REQUIRED", "You must specify a value for ChildType.")
	default:
		return nil, invalidInput("INVALID_ENUM", "You specified an invalid value for ChildType.")
	}
	_, start, end, next, err := c.orgPage(len(ids))
	if err != nil {
		return nil, err
	}
	type childJSON struct {
		ID   string `json:"Id"`
		Type string `json:"Type"`
	}
	out := struct {
		Children  []childJSON `json:"Children"`
		NextToken string      `json:"NextToken,omitempty"`
	}{Children: make([]childJSON, 0, end-start), NextToken: next}
	for _, id := range ids[start:end] {
		out.Children = append(out.Children, childJSON{ID: id, Type: in.ChildType})
	}
	return out, nil
}

func (s *Server) orgDescribeOU(c *call) (any, error) {
	var in struct {
		OrganizationalUnitID string `json:"OrganizationalUnitId"`
	}
	if e := c.decodeJSON(&in); e != nil {
		return nil, e
	}
	if in.OrganizationalUnitID == "" {
		return nil, invalidInput("INPUT_REQUIRED", "You must specify a value for OrganizationalUnitId.")
	}
	if !strings.HasPrefix(in.OrganizationalUnitID, "ou-") {
		return nil, invalidInput("INVALID_PATTERN", "You specified a value with an invalid pattern for OrganizationalUnitId.")
	}
	u := s.org.units[in.OrganizationalUnitID]
	if u == nil {
		return nil, newError(http.StatusBadRequest, "OrganizationalUnitNotFoundException", "We can't find an OU with the OrganizationalUnitId that you specified.")
	}
	type ouJSON struct {
		Arn  string `json:"Arn"`
		ID   string `json:"Id"`
		Name string `json:"Name"`
		Path string `json:"Path"`
	}
	return map[string]ouJSON{"OrganizationalUnit": {Arn: u.arn, ID: u.id, Name: u.name, Path: u.path}}, nil
}
