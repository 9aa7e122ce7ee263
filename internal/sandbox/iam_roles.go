package sandbox

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
)

// iam:GetRole, for the roles of the fixture and the roles CloudFormation stacks created. Like
// AWS (IAM API reference, Role data type), the AssumeRolePolicyDocument comes back
// URL-encoded (RFC 3986).

// stackSetAdministrationRole is the role AWS's self-managed StackSet prerequisites create in
// the administrator account; AWS's template (AWSCloudFormationStackSetAdministrationRole.yml)
// lets the CloudFormation service assume it.
const stackSetAdministrationRole = "AWSCloudFormationStackSetAdministrationRole"

// stackSetExecutionRole is the role AWS's self-managed StackSet prerequisites create in each
// target account (AWSCloudFormationStackSetExecutionRole.yml).
const stackSetExecutionRole = "AWSCloudFormationStackSetExecutionRole"

// defaultTrust is the trust policy of a fixture role that names none: the CloudFormation
// service for the StackSet administration role, else the management account (as AWS's
// AWSCloudFormationStackSetExecutionRole.yml trusts the administrator account), with the
// role's external id as a condition.
func defaultTrust(roleName, externalID, mgmtID string) string {
	st := map[string]any{"Effect": "Allow", "Action": "sts:AssumeRole",
		"Principal": map[string]string{"AWS": "arn:aws:iam::" + mgmtID + ":root"}}
	if roleName == stackSetAdministrationRole {
		st["Principal"] = map[string]string{"Service": "cloudformation.amazonaws.com"}
	}
	if externalID != "" {
		st["Condition"] = map[string]any{"StringEquals": map[string]string{"sts:ExternalId": externalID}}
	}
	b, _ := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": []any{st}})
	return string(b)
}

func (s *Server) iamGetRole(c *call) (any, error) {
	name := c.form.Get("RoleName")
	if err := validRoleName(name); err != nil {
		return nil, err
	}
	a := c.acct()
	var path, id, trust string
	if r := a.findRole(name); r != nil {
		path, id, trust = "/", r.id, r.trust
	} else if cf := s.cfn(); cf != nil {
		cf.mu.Lock()
		if cr := cf.role(a.id, name); cr != nil {
			path, id, trust, name = cr.path, cr.id, cr.trust, cr.name
		}
		cf.mu.Unlock()
	}
	if id == "" {
		return nil, newError(http.StatusNotFound, "NoSuchEntity", "The role with name "+name+" cannot be found.")
	}
	return xmlResult(func(x *xmlWriter) {
		x.open("Role")
		x.elem("Path", path)
		x.elem("RoleName", name)
		x.elem("RoleId", id)
		x.elem("Arn", "arn:aws:iam::"+a.id+":role"+path+name)
		x.timeElem("CreateDate", a.created)
		x.elem("AssumeRolePolicyDocument", strings.ReplaceAll(url.QueryEscape(trust), "+", "%20"))
		x.elem("MaxSessionDuration", "3600")
		x.close("Role")
	}), nil
}

// validRoleName checks RoleName as IAM's API reference constrains it: 1 to 64 characters of
// [\w+=,.@-].
func validRoleName(name string) *apiError {
	switch {
	case name == "":
		return validationError("1 validation error detected: Value null at 'roleName' failed to satisfy constraint: Member must not be null")
	case !validIAMName(name, 64):
		return validationError("1 validation error detected: Value '%s' at 'roleName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+", name)
	}
	return nil
}
