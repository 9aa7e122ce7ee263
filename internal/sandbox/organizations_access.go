package sandbox

import (
	"net/http"
)

// The StackSet prerequisites on the Organizations side: trusted access for CloudFormation
// StackSets (ListAWSServiceAccessForOrganization) and its delegated administrators
// (ListDelegatedAdministrators). Both may be called only by the management account or a
// delegated administrator (Organizations API reference); the sandbox's only delegated
// administrators are those of StackSets (the fixture's stackSetDelegatedAdmin).

// stackSetsPrincipal is the service principal of CloudFormation StackSets in Organizations.
const stackSetsPrincipal = "member.org.stacksets.cloudformation.amazonaws.com"

// orgAdminOnly lets the management account and delegated administrators call op.
func (s *Server) orgAdminOnly(op operation) operation {
	return func(c *call) (any, error) {
		if a := c.acct(); a.id != s.mgmtID && !a.delegated {
			return nil, newError(http.StatusForbidden, "AccessDeniedException", "You don't have permissions to access this resource.")
		}
		return op(c)
	}
}

func (s *Server) orgListServiceAccess(c *call) (any, error) {
	var enabled []map[string]any
	if s.org.stackSetsAccess {
		enabled = append(enabled, map[string]any{"ServicePrincipal": stackSetsPrincipal, "DateEnabled": s.start.Unix()})
	}
	_, start, end, next, err := c.orgPage(len(enabled))
	if err != nil {
		return nil, err
	}
	return orgPageOut("EnabledServicePrincipals", append([]map[string]any{}, enabled[start:end]...), next), nil
}

func (s *Server) orgListDelegatedAdministrators(c *call) (any, error) {
	var admins []*account
	for _, a := range s.accountList {
		if a.delegated {
			admins = append(admins, a)
		}
	}
	var in struct{ ServicePrincipal string }
	if err := c.decodeJSON(&in); err != nil {
		return nil, err
	}
	if in.ServicePrincipal != "" && in.ServicePrincipal != stackSetsPrincipal {
		admins = nil
	}
	_, start, end, next, err := c.orgPage(len(admins))
	if err != nil {
		return nil, err
	}
	out := []map[string]any{}
	for _, a := range admins[start:end] {
		j := s.accountJSON(a)
		out = append(out, map[string]any{"Id": j.ID, "Arn": j.Arn, "Email": j.Email, "Name": j.Name, "Status": j.Status,
			"JoinedMethod": j.JoinedMethod, "JoinedTimestamp": j.JoinedTimestamp, "DelegationEnabledDate": s.start.Unix()})
	}
	return orgPageOut("DelegatedAdministrators", out, next), nil
}

// orgPageOut is a list answer under key, with NextToken when there is more.
func orgPageOut(key string, items []map[string]any, next string) map[string]any {
	out := map[string]any{key: items}
	if next != "" {
		out["NextToken"] = next
	}
	return out
}
