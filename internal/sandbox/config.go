package sandbox

import (
	"net/http"
	"sort"
	"strconv"
)

// AWS Config over awsJson1_1 (X-Amz-Target: StarlingDoveService.<Operation>): the resource
// inventory of IAM users, current and deleted (deleted ones with includeDeletedResources, as
// Config does). An account whose fixture says config: false has no recorder: every list is
// empty. Config rules (PutConfigRule and the rules AWS Config enforces on managed rules) are in
// config_rules.go.

const configTarget = "StarlingDoveService"

func (s *Server) configService() *service {
	return &service{
		name:     "config",
		target:   configTarget,
		proto:    jsonProtocol{contentType: "application/x-amz-json-1.1"},
		throttle: newError(http.StatusBadRequest, "ThrottlingException", "Rate exceeded"),
		failure:  newError(http.StatusInternalServerError, "InternalFailure", "An internal error has occurred"),
		unknownOp: func(op string) *apiError {
			return newError(http.StatusBadRequest, "UnknownOperationException", "Unknown operation "+op)
		},
		ops: map[string]operation{
			"ListDiscoveredResources": s.configListDiscoveredResources,
			"PutConfigRule":           s.configPutConfigRule,
			"DescribeConfigRules":     s.configDescribeConfigRules,
			"DeleteConfigRule":        s.configDeleteConfigRule,

			"DescribeConfigurationRecorders":      s.configDescribeRecorders,
			"DescribeConfigurationRecorderStatus": s.configDescribeRecorderStatus,
		},
	}
}

type configResource struct {
	ResourceType         string `json:"resourceType"`
	ResourceID           string `json:"resourceId"`
	ResourceName         string `json:"resourceName,omitempty"`
	ResourceDeletionTime *int64 `json:"resourceDeletionTime,omitempty"`
}

func configValidation(msg string) *apiError {
	return newError(http.StatusBadRequest, "ValidationException", msg)
}

func (s *Server) configListDiscoveredResources(c *call) (any, error) {
	var in struct {
		ResourceType            string   `json:"resourceType"`
		ResourceIDs             []string `json:"resourceIds"`
		ResourceName            string   `json:"resourceName"`
		Limit                   int      `json:"limit"`
		IncludeDeletedResources bool     `json:"includeDeletedResources"`
		NextToken               string   `json:"nextToken"`
	}
	if err := c.decodeJSON(&in); err != nil {
		return nil, err
	}
	switch {
	case in.ResourceType == "":
		return nil, configValidation("1 validation error detected: Value null at 'resourceType' failed to satisfy constraint: Member must not be null")
	case in.Limit < 0 || in.Limit > 100:
		return nil, newError(http.StatusBadRequest, "InvalidLimitException",
			"1 validation error detected: Value '"+strconv.Itoa(in.Limit)+"' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 100")
	case len(in.ResourceIDs) > 20:
		return nil, configValidation("1 validation error detected: Value at 'resourceIds' failed to satisfy constraint: Member must have length less than or equal to 20")
	}
	limit := in.Limit
	if limit == 0 {
		limit = 100
	}
	out := struct {
		ResourceIdentifiers []configResource `json:"resourceIdentifiers"`
		NextToken           string           `json:"nextToken,omitempty"`
	}{ResourceIdentifiers: []configResource{}}
	a := c.acct()
	if a.configOff || in.ResourceType != "AWS::IAM::User" {
		return out, nil
	}
	ids := map[string]bool{}
	for _, id := range in.ResourceIDs {
		ids[id] = true
	}
	keep := func(id, name string) bool {
		return (len(ids) == 0 || ids[id]) && (in.ResourceName == "" || in.ResourceName == name)
	}
	var all []configResource
	a.mu.RLock()
	for _, u := range a.users {
		if keep(u.id, u.name) {
			all = append(all, configResource{ResourceType: in.ResourceType, ResourceID: u.id, ResourceName: u.name})
		}
	}
	if in.IncludeDeletedResources {
		for _, d := range a.deleted {
			if keep(d.id, d.name) {
				t := d.deleted.Unix()
				all = append(all, configResource{ResourceType: in.ResourceType, ResourceID: d.id, ResourceName: d.name, ResourceDeletionTime: &t})
			}
		}
	}
	a.mu.RUnlock()
	sort.SliceStable(all, func(i, j int) bool { return all[i].ResourceID < all[j].ResourceID })
	start := 0
	if in.NextToken != "" {
		v, err := decodeMarker("config", in.NextToken)
		n, aerr := strconv.Atoi(v)
		if err != nil || aerr != nil || n <= 0 || n > len(all) {
			return nil, newError(http.StatusBadRequest, "InvalidNextTokenException", "The specified next token is invalid. Specify the nextToken string that was returned in the previous response to get the next page of results.")
		}
		start = n
	}
	end := min(len(all), start+limit)
	out.ResourceIdentifiers = append(out.ResourceIdentifiers, all[start:end]...)
	if end < len(all) {
		out.NextToken = encodeMarker("config", strconv.Itoa(end))
	}
	return out, nil
}

// The account's configuration recorder, as the fixture's configRecording describes it: named
// "default", recording all supported resources with global ones (on, off), or only EC2
// instances (no-iam); none has no recorder.

type configRecorder struct {
	Name           string `json:"name"`
	RoleARN        string `json:"roleARN"`
	RecordingGroup struct {
		AllSupported               bool     `json:"allSupported"`
		IncludeGlobalResourceTypes bool     `json:"includeGlobalResourceTypes"`
		ResourceTypes              []string `json:"resourceTypes"`
	} `json:"recordingGroup"`
}

func (s *Server) configRecorders(c *call) []configRecorder {
	a := c.acct()
	if a.recording == "none" {
		return []configRecorder{}
	}
	r := configRecorder{Name: "default", RoleARN: "arn:aws:iam::" + a.id + ":role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig"}
	r.RecordingGroup.ResourceTypes = []string{}
	if a.recording == "no-iam" {
		r.RecordingGroup.ResourceTypes = []string{"AWS::EC2::Instance"}
	} else {
		r.RecordingGroup.AllSupported, r.RecordingGroup.IncludeGlobalResourceTypes = true, true
	}
	return []configRecorder{r}
}

// namedRecorders returns the account's recorders, refusing a name in
// ConfigurationRecorderNames that is not one of them, as AWS Config does.
func (s *Server) namedRecorders(c *call) ([]configRecorder, error) {
	var in struct {
		Names []string `json:"ConfigurationRecorderNames"`
	}
	if err := c.decodeJSON(&in); err != nil {
		return nil, err
	}
	recs := s.configRecorders(c)
	for _, n := range in.Names {
		if len(recs) == 0 || n != recs[0].Name {
			return nil, newError(http.StatusBadRequest, "NoSuchConfigurationRecorderException", "Cannot find configuration recorder with the specified name '"+n+"'.")
		}
	}
	return recs, nil
}

func (s *Server) configDescribeRecorders(c *call) (any, error) {
	recs, err := s.namedRecorders(c)
	if err != nil {
		return nil, err
	}
	return map[string]any{"ConfigurationRecorders": recs}, nil
}

func (s *Server) configDescribeRecorderStatus(c *call) (any, error) {
	recs, err := s.namedRecorders(c)
	if err != nil {
		return nil, err
	}
	out := []map[string]any{}
	for _, r := range recs {
		status := map[string]any{"name": r.Name, "recording": c.acct().recording != "off", "lastStatus": "SUCCESS"}
		if c.acct().recording == "off" {
			status["lastStatus"] = "PENDING"
		}
		out = append(out, status)
	}
	return map[string]any{"ConfigurationRecordersStatus": out}, nil
}
