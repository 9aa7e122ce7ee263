package sandbox

import (
	"encoding/json"
	"strings"
)

// AWS::KMS::Key, as much as keyage's master template needs: a key with an ARN and a key policy
// that must be a policy document. Not modelled: the KMS API, key states and scheduled
// deletion, grants, and encryption itself. Who may use the key when publishing to an encrypted
// topic, or when SNS delivers to an encrypted queue, is checked in sns_kms.go.

func kmsKeyCreate(cf *cloudFormation, a *account, st *cfnStack, r *cfnRes) error {
	if err := checkKeyPolicy(r.props["KeyPolicy"]); err != nil {
		return err
	}
	if spec := propString(r.props, "KeySpec"); spec != "" && spec != "SYMMETRIC_DEFAULT" {
		return handlerError("InvalidRequest", "the sandbox models SYMMETRIC_DEFAULT keys only, not %s", spec)
	}
	id := strings.ToLower(cf.s.ids.id("", 8, st.id, r.logical, "kms")) + "-" + strings.ToLower(cf.s.ids.id("", 4, st.id, r.logical, "kms2")) +
		"-" + strings.ToLower(cf.s.ids.id("", 4, st.id, r.logical, "kms3")) + "-" + strings.ToLower(cf.s.ids.id("", 12, st.id, r.logical, "kms4"))
	arn := "arn:aws:kms:" + st.region + ":" + a.id + ":key/" + id
	r.physical = id
	r.attrs = map[string]string{"Ref": id, "KeyId": id, "Arn": arn}
	return nil
}

func kmsKeyUpdate(_ *cloudFormation, _ *account, _ *cfnStack, _ *cfnRes, props map[string]any) error {
	return checkKeyPolicy(props["KeyPolicy"])
}

func kmsKeyDelete(*cloudFormation, *account, *cfnStack, *cfnRes) error { return nil }

// checkKeyPolicy refuses a key policy that is not a policy document with statements, as KMS
// does (MalformedPolicyDocumentException).
func checkKeyPolicy(p any) error {
	if p == nil {
		return nil // KMS's default key policy
	}
	if s, ok := p.(string); ok {
		var v any
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			return handlerError("InvalidRequest", "MalformedPolicyDocumentException: the key policy is not JSON")
		}
		p = v
	}
	m, ok := p.(map[string]any)
	if !ok {
		return handlerError("InvalidRequest", "MalformedPolicyDocumentException: the key policy is not an object")
	}
	if st, ok := m["Statement"].([]any); !ok || len(st) == 0 {
		return handlerError("InvalidRequest", "MalformedPolicyDocumentException: the key policy has no Statement")
	}
	return nil
}
