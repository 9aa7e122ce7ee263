package sandbox

import (
	"bytes"
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Secrets Manager over awsJson1_1 (X-Amz-Target secretsmanager.<Operation>), as the API
// reference (https://docs.aws.amazon.com/secretsmanager/latest/apireference/) and the SDK's
// model describe it: CreateSecret, PutSecretValue, GetSecretValue, DescribeSecret,
// ListSecretVersionIds, TagResource, PutResourcePolicy and DeleteSecret.
//
// Secrets live in their account and region. A secret's ARN is
// arn:aws:secretsmanager:<region>:<account>:secret:<name>-<6 characters>; SecretId takes the
// name, the full ARN or the ARN without its suffix. Versions carry staging labels: a new value
// gets AWSCURRENT unless VersionStages says otherwise, and moving AWSCURRENT moves AWSPREVIOUS
// to the version that had AWSCURRENT; a version left without labels is deprecated (listed only
// with IncludeDeprecated). ClientRequestToken is the VersionId and makes PutSecretValue
// idempotent: the same token with the same value is accepted again, with another value
// refused. DeleteSecret schedules the deletion (7 to 30 days, default 30) or, with
// ForceDeleteWithoutRecovery, deletes at once; a secret scheduled for deletion refuses
// everything but DescribeSecret and ListSecretVersionIds. Permissions: the caller's identity
// policies on the secret's ARN (iampolicy.go), or in the secret's own account its resource
// policy; a customer managed KmsKeyId also needs kms:GenerateDataKey (to write) or
// kms:Decrypt (to read) on that key.

const (
	smTarget        = "secretsmanager"
	smCurrent       = "AWSCURRENT"
	smPrevious      = "AWSPREVIOUS"
	smMaxValue      = 65536
	smDefaultWindow = 30
	smDefaultKMS    = "alias/aws/secretsmanager"
)

// secretsState is an account's secrets, under their own lock.
type secretsState struct {
	mu      sync.Mutex
	secrets map[string]*secret // region + "/" + name -> secret
}

type secret struct {
	name, arn, region   string
	description, kmsKey string
	tags                []tag
	policy              *policyDoc
	policyText          string
	versions            []*secretVersion // creation order
	created, changed    time.Time
	lastAccessed        time.Time
	deleted, deleteAt   time.Time // zero: not scheduled for deletion
}

type secretVersion struct {
	id      string
	value   string
	binary  []byte
	stages  []string
	created time.Time
	read    time.Time
}

func smError(code, msg string) *apiError { return newError(http.StatusBadRequest, code, msg) }

var (
	smNotFound     = smError("ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
	smMarkedDelete = smError("InvalidRequestException",
		"You can't perform this operation on the secret because it was marked for deletion.")
)

func (s *Server) secretsManagerService() *service {
	return &service{
		name:     "secretsmanager",
		target:   smTarget,
		proto:    jsonProtocol{contentType: "application/x-amz-json-1.1"},
		throttle: smError("ThrottlingException", "Rate exceeded"),
		failure:  newError(http.StatusInternalServerError, "InternalServiceError", "An error occurred on the server side."),
		unknownOp: func(op string) *apiError {
			return newError(http.StatusBadRequest, "UnknownOperationException", "Unknown operation "+op)
		},
		ops: map[string]operation{
			"CreateSecret":         s.smCreateSecret,
			"PutSecretValue":       s.smPutSecretValue,
			"GetSecretValue":       s.smGetSecretValue,
			"DescribeSecret":       s.smDescribeSecret,
			"ListSecretVersionIds": s.smListSecretVersionIds,
			"TagResource":          s.smTagResource,
			"PutResourcePolicy":    s.smPutResourcePolicy,
			"DeleteSecret":         s.smDeleteSecret,
		},
	}
}

// validSecretName: 1 to 512 ASCII letters, digits and /_+=.@- (the API reference's
// "Name" constraint; IAM user names may also hold ',', which a secret name may not).
func validSecretName(name string) bool { return validName(name, 512, "/_+=.@-") }

// secretARN is the ARN a secret of that name gets in the account and region.
func (s *Server) secretARN(acct, region, name string) string {
	return "arn:aws:secretsmanager:" + region + ":" + acct + ":secret:" + name + "-" +
		s.ids.id("", 6, acct, region, "secret", name)
}

// secretRef resolves a SecretId (name, ARN or partial ARN) to its account, region and name.
func (s *Server) secretRef(c *call, id string) (a *account, region, name string) {
	if !strings.HasPrefix(id, "arn:") {
		return c.acct(), c.region, id
	}
	parts := strings.SplitN(id, ":", 7)
	if len(parts) != 7 || parts[2] != "secretsmanager" || parts[5] != "secret" {
		return nil, "", ""
	}
	a = s.accounts[parts[4]]
	name = parts[6]
	// A full ARN ends in -XXXXXX; strip it when it is this secret's suffix.
	if i := strings.LastIndexByte(name, '-'); i > 0 && len(name)-i == 7 && a != nil &&
		s.secretARN(a.id, parts[3], name[:i]) == id {
		name = name[:i]
	}
	return a, parts[3], name
}

func (s *Server) secretsResourceOf(c *call) string {
	var in struct{ SecretId, Name string }
	_ = json.Unmarshal(c.body, &in)
	id := in.SecretId
	if c.op == "CreateSecret" {
		id = in.Name
	}
	if strings.HasPrefix(id, "arn:") {
		return id
	}
	return s.secretARN(c.acct().id, c.region, id)
}

// lookupSecret finds the secret a call names and checks the secret's resource policy when
// the caller's identity policies did not allow the call or the secret is in another account.
// It returns with the owning account's secrets lock held; the caller unlocks it.
func (s *Server) lookupSecret(c *call, id string, allowDeleted bool) (*secret, *account, error) {
	if id == "" {
		return nil, nil, smError("InvalidParameterException", "You must provide a value for the SecretId parameter.")
	}
	a, region, name := s.secretRef(c, id)
	if a == nil {
		return nil, nil, smNotFound
	}
	a.secrets.mu.Lock()
	sec := a.secrets.secrets[region+"/"+name]
	if sec != nil && !sec.deleteAt.IsZero() && !c.now.Before(sec.deleteAt) {
		delete(a.secrets.secrets, region+"/"+name) // the recovery window is over
		sec = nil
	}
	if sec == nil {
		a.secrets.mu.Unlock()
		return nil, nil, smNotFound
	}
	d := sec.policy.evaluate(s.policyRequest(c.p, c.api, sec.arn))
	if d == policyDeny || (d != policyAllow && (c.acct() != a || c.idNoAllow)) {
		a.secrets.mu.Unlock()
		return nil, nil, smError("AccessDeniedException", "User: "+c.p.arn()+" is not authorized to perform: "+c.api+
			" on resource: "+id+" because no resource-based policy allows the "+c.api+" action")
	}
	if !allowDeleted && !sec.deleted.IsZero() {
		a.secrets.mu.Unlock()
		return nil, nil, smMarkedDelete
	}
	return sec, a, nil
}

// lookupSecretKMS is lookupSecret for a call that also uses the secret's KMS key for action.
func (s *Server) lookupSecretKMS(c *call, id, action string) (*secret, *account, error) {
	sec, a, err := s.lookupSecret(c, id, false)
	if err != nil {
		return nil, nil, err
	}
	if e := s.kmsAllowed(c, sec.kmsKey, action); e != nil {
		a.secrets.mu.Unlock()
		return nil, nil, e
	}
	return sec, a, nil
}

// kmsAllowed checks that the caller may use the secret's customer managed key for action
// (kms:GenerateDataKey or kms:Decrypt), as Secrets Manager does on the caller's behalf.
func (s *Server) kmsAllowed(c *call, keyID, action string) *apiError {
	if keyID == "" || keyID == smDefaultKMS {
		return nil
	}
	pols, enforced := identityPolicies(c.p)
	if !enforced {
		return nil
	}
	arn := keyID
	if !strings.HasPrefix(arn, "arn:") {
		arn = "arn:aws:kms:" + c.region + ":" + c.acct().id + ":key/" + keyID
		if strings.HasPrefix(keyID, "alias/") {
			arn = "arn:aws:kms:" + c.region + ":" + c.acct().id + ":" + keyID
		}
	}
	r := s.policyRequest(c.p, action, arn)
	d := policyNone
	for _, p := range pols {
		switch p.evaluateIdentity(r) {
		case policyDeny:
			return smError("AccessDeniedException", "Access to KMS is not allowed")
		case policyAllow:
			d = policyAllow
		}
	}
	if d != policyAllow {
		return smError("AccessDeniedException", "Access to KMS is not allowed")
	}
	return nil
}

type smTag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

func mergeTags(tags []tag, add []smTag) []tag {
	for _, t := range add {
		found := false
		for i := range tags {
			if tags[i].key == t.Key {
				tags[i].value, found = t.Value, true
			}
		}
		if !found {
			tags = append(tags, tag{key: t.Key, value: t.Value})
		}
	}
	return tags
}

func epoch(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

// putVersion adds a version (or accepts the same one again) and moves the staging labels as
// Secrets Manager does. The caller holds the secrets lock.
func putVersion(sec *secret, id, value string, binary []byte, stages []string, now time.Time) *apiError {
	if len(value) > smMaxValue || len(binary) > smMaxValue {
		return smError("InvalidParameterException", "The secret value exceeds the maximum size of 65536 bytes.")
	}
	if len(stages) == 0 {
		stages = []string{smCurrent}
	}
	for _, v := range sec.versions {
		if v.id == id {
			if v.value != value || !bytes.Equal(v.binary, binary) {
				return smError("ResourceExistsException", "You can't modify an existing version, you can only create a new version.")
			}
			return nil
		}
	}
	nv := &secretVersion{id: id, value: value, binary: binary, created: now}
	for _, st := range stages {
		if st == smCurrent {
			for _, v := range sec.versions {
				if hasStage(v.stages, smCurrent) {
					v.stages = append(removeStage(removeStage(v.stages, smCurrent), smPrevious), smPrevious)
				} else {
					v.stages = removeStage(v.stages, smPrevious)
				}
			}
		} else {
			for _, v := range sec.versions {
				v.stages = removeStage(v.stages, st)
			}
		}
		nv.stages = append(nv.stages, st)
	}
	sec.versions = append(sec.versions, nv)
	sec.changed = now
	return nil
}

func hasStage(stages []string, st string) bool {
	for _, s := range stages {
		if s == st {
			return true
		}
	}
	return false
}

func removeStage(stages []string, st string) []string {
	out := stages[:0:0]
	for _, s := range stages {
		if s != st {
			out = append(out, s)
		}
	}
	return out
}

func (s *Server) smCreateSecret(c *call) (any, error) {
	var in struct {
		Name, ClientRequestToken, Description, KmsKeyId, SecretString string
		SecretBinary                                                  []byte
		Tags                                                          []smTag
	}
	if err := c.decodeJSON(&in); err != nil {
		return nil, err
	}
	if !validSecretName(in.Name) {
		return nil, smError("ValidationException",
			"Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!")
	}
	if c.idNoAllow { // a secret to be has no resource policy to allow it
		return nil, smError("AccessDeniedException", "User: "+c.p.arn()+" is not authorized to perform: "+c.api+
			" on resource: "+in.Name+" because no identity-based policy allows the "+c.api+" action")
	}
	hasValue := in.SecretString != "" || in.SecretBinary != nil
	if in.SecretString != "" && in.SecretBinary != nil {
		return nil, smError("InvalidParameterException", "You can't specify both a binary secret value and a string secret value in the same secret.")
	}
	if hasValue {
		if err := s.kmsAllowed(c, in.KmsKeyId, "kms:GenerateDataKey"); err != nil {
			return nil, err
		}
	}
	a := c.acct()
	a.secrets.mu.Lock()
	defer a.secrets.mu.Unlock()
	if a.secrets.secrets == nil {
		a.secrets.secrets = map[string]*secret{}
	}
	key := c.region + "/" + in.Name
	if old := a.secrets.secrets[key]; old != nil {
		if !old.deleteAt.IsZero() && !c.now.Before(old.deleteAt) {
			delete(a.secrets.secrets, key)
		} else if !old.deleted.IsZero() {
			return nil, smError("InvalidRequestException", "You can't create this secret because a secret with this name is already scheduled for deletion.")
		} else {
			return nil, smError("ResourceExistsException", "The operation failed because the secret "+in.Name+" already exists.")
		}
	}
	sec := &secret{name: in.Name, arn: s.secretARN(a.id, c.region, in.Name), region: c.region, description: in.Description,
		kmsKey: in.KmsKeyId, tags: mergeTags(nil, in.Tags), created: c.now, changed: c.now}
	out := map[string]any{"ARN": sec.arn, "Name": sec.name}
	if hasValue {
		id := in.ClientRequestToken
		if id == "" {
			id = s.requestID()
		}
		if err := putVersion(sec, id, in.SecretString, in.SecretBinary, nil, c.now); err != nil {
			return nil, err
		}
		out["VersionId"] = id
	}
	a.secrets.secrets[key] = sec
	return out, nil
}

func (s *Server) smPutSecretValue(c *call) (any, error) {
	var in struct {
		SecretId, ClientRequestToken, SecretString string
		SecretBinary                               []byte
		VersionStages                              []string
	}
	if err := c.decodeJSON(&in); err != nil {
		return nil, err
	}
	if in.SecretString != "" && in.SecretBinary != nil {
		return nil, smError("InvalidParameterException", "You can't specify both a binary secret value and a string secret value in the same secret.")
	}
	if in.SecretString == "" && in.SecretBinary == nil {
		return nil, smError("InvalidParameterException", "You must provide either SecretString or SecretBinary.")
	}
	sec, a, err := s.lookupSecretKMS(c, in.SecretId, "kms:GenerateDataKey")
	if err != nil {
		return nil, err
	}
	defer a.secrets.mu.Unlock()
	id := in.ClientRequestToken
	if id == "" {
		id = s.requestID()
	}
	if e := putVersion(sec, id, in.SecretString, in.SecretBinary, in.VersionStages, c.now); e != nil {
		return nil, e
	}
	var stages []string
	for _, v := range sec.versions {
		if v.id == id {
			stages = v.stages
		}
	}
	return map[string]any{"ARN": sec.arn, "Name": sec.name, "VersionId": id, "VersionStages": stages}, nil
}

func (s *Server) smGetSecretValue(c *call) (any, error) {
	var in struct{ SecretId, VersionId, VersionStage string }
	if err := c.decodeJSON(&in); err != nil {
		return nil, err
	}
	sec, a, err := s.lookupSecretKMS(c, in.SecretId, "kms:Decrypt")
	if err != nil {
		return nil, err
	}
	defer a.secrets.mu.Unlock()
	stage := in.VersionStage
	if stage == "" && in.VersionId == "" {
		stage = smCurrent
	}
	for _, v := range sec.versions {
		if (in.VersionId == "" || v.id == in.VersionId) && (stage == "" || hasStage(v.stages, stage)) {
			v.read = c.now
			sec.lastAccessed = c.now.Truncate(day)
			out := map[string]any{"ARN": sec.arn, "Name": sec.name, "VersionId": v.id, "VersionStages": v.stages,
				"CreatedDate": epoch(v.created)}
			if v.binary != nil {
				out["SecretBinary"] = v.binary
			} else {
				out["SecretString"] = v.value
			}
			return out, nil
		}
	}
	if in.VersionId != "" {
		return nil, smError("ResourceNotFoundException", "Secrets Manager can't find the specified secret value for VersionId: "+in.VersionId)
	}
	return nil, smError("ResourceNotFoundException", "Secrets Manager can't find the specified secret value for staging label: "+stage)
}

func (s *Server) smDescribeSecret(c *call) (any, error) {
	var in struct{ SecretId string }
	if err := c.decodeJSON(&in); err != nil {
		return nil, err
	}
	sec, a, err := s.lookupSecret(c, in.SecretId, true)
	if err != nil {
		return nil, err
	}
	defer a.secrets.mu.Unlock()
	out := map[string]any{"ARN": sec.arn, "Name": sec.name, "CreatedDate": epoch(sec.created),
		"LastChangedDate": epoch(sec.changed)}
	if sec.description != "" {
		out["Description"] = sec.description
	}
	if sec.kmsKey != "" {
		out["KmsKeyId"] = sec.kmsKey
	}
	if !sec.lastAccessed.IsZero() {
		out["LastAccessedDate"] = epoch(sec.lastAccessed)
	}
	if !sec.deleted.IsZero() {
		out["DeletedDate"] = epoch(sec.deleted)
	}
	tags := make([]smTag, 0, len(sec.tags))
	for _, t := range sec.tags {
		tags = append(tags, smTag{t.key, t.value})
	}
	out["Tags"] = tags
	stages := map[string][]string{}
	for _, v := range sec.versions {
		if len(v.stages) > 0 {
			stages[v.id] = v.stages
		}
	}
	out["VersionIdsToStages"] = stages
	return out, nil
}

func (s *Server) smListSecretVersionIds(c *call) (any, error) {
	var in struct {
		SecretId, NextToken string
		MaxResults          int
		IncludeDeprecated   bool
	}
	if err := c.decodeJSON(&in); err != nil {
		return nil, err
	}
	if in.MaxResults < 0 || in.MaxResults > 100 {
		return nil, smError("InvalidParameterException", "MaxResults must be between 1 and 100.")
	}
	sec, a, err := s.lookupSecret(c, in.SecretId, true)
	if err != nil {
		return nil, err
	}
	defer a.secrets.mu.Unlock()
	type version struct {
		VersionId        string
		VersionStages    []string
		CreatedDate      float64
		LastAccessedDate float64 `json:",omitempty"`
	}
	var all []version
	for _, v := range sec.versions {
		if len(v.stages) == 0 && !in.IncludeDeprecated {
			continue
		}
		vv := version{VersionId: v.id, VersionStages: v.stages, CreatedDate: epoch(v.created)}
		if !v.read.IsZero() {
			vv.LastAccessedDate = epoch(v.read.Truncate(day))
		}
		all = append(all, vv)
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].CreatedDate > all[j].CreatedDate })
	start := 0
	if in.NextToken != "" {
		n, err := strconv.Atoi(in.NextToken)
		if err != nil || n < 0 || n > len(all) {
			return nil, smError("InvalidNextTokenException", "The NextToken value is invalid.")
		}
		start = n
	}
	max := in.MaxResults
	if max == 0 {
		max = 100
	}
	out := map[string]any{"ARN": sec.arn, "Name": sec.name}
	end := min(start+max, len(all))
	out["Versions"] = append([]version{}, all[start:end]...)
	if end < len(all) {
		out["NextToken"] = strconv.Itoa(end)
	}
	return out, nil
}

func (s *Server) smTagResource(c *call) (any, error) {
	var in struct {
		SecretId string
		Tags     []smTag
	}
	if err := c.decodeJSON(&in); err != nil {
		return nil, err
	}
	sec, a, err := s.lookupSecret(c, in.SecretId, false)
	if err != nil {
		return nil, err
	}
	defer a.secrets.mu.Unlock()
	sec.tags = mergeTags(sec.tags, in.Tags)
	return nil, nil
}

func (s *Server) smPutResourcePolicy(c *call) (any, error) {
	var in struct {
		SecretId, ResourcePolicy string
		BlockPublicPolicy        bool
	}
	if err := c.decodeJSON(&in); err != nil {
		return nil, err
	}
	p, perr := parsePolicy(in.ResourcePolicy)
	if perr != nil {
		return nil, smError("MalformedPolicyDocumentException", "The resource policy has syntax errors: "+perr.Error())
	}
	sec, a, err := s.lookupSecret(c, in.SecretId, false)
	if err != nil {
		return nil, err
	}
	defer a.secrets.mu.Unlock()
	sec.policy, sec.policyText = p, in.ResourcePolicy
	return map[string]any{"ARN": sec.arn, "Name": sec.name}, nil
}

func (s *Server) smDeleteSecret(c *call) (any, error) {
	var in struct {
		SecretId                   string
		RecoveryWindowInDays       *int
		ForceDeleteWithoutRecovery bool
	}
	if err := c.decodeJSON(&in); err != nil {
		return nil, err
	}
	if in.ForceDeleteWithoutRecovery && in.RecoveryWindowInDays != nil {
		return nil, smError("InvalidParameterException", "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.")
	}
	window := smDefaultWindow
	if in.RecoveryWindowInDays != nil {
		window = *in.RecoveryWindowInDays
		if window < 7 || window > 30 {
			return nil, smError("InvalidParameterException", "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).")
		}
	}
	sec, a, err := s.lookupSecret(c, in.SecretId, false)
	if err != nil {
		return nil, err
	}
	defer a.secrets.mu.Unlock()
	sec.deleted = c.now
	sec.deleteAt = c.now.Add(time.Duration(window) * day)
	if in.ForceDeleteWithoutRecovery {
		sec.deleteAt = c.now
		delete(a.secrets.secrets, sec.region+"/"+sec.name)
	}
	return map[string]any{"ARN": sec.arn, "Name": sec.name, "DeletionDate": epoch(sec.deleteAt)}, nil
}
