package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"
)

// eventsTarget is the queue ARN the sandbox sends IAM change events to, as
// an EventBridge rule on "AWS API Call via CloudTrail" events would; ""
// sends none.
type eventsTarget struct{ arn atomic.Value }

func (t *eventsTarget) get() string {
	v, _ := t.arn.Load().(string)
	return v
}

// SetEventsQueue makes the sandbox send an EventBridge event, in the shape
// of an "AWS API Call via CloudTrail" event, to the SQS queue with this ARN
// whenever IAM keys or users change (CreateAccessKey, UpdateAccessKey,
// DeleteAccessKey, and DeleteUser through the Go method or admin API). ""
// stops it.
func (s *Server) SetEventsQueue(queueARN string) error {
	if queueARN != "" {
		if _, acct, _, ok := parseQueueARN(queueARN); !ok || s.accounts[acct] == nil {
			return fmt.Errorf("events queue %q: not a queue ARN of a sandbox account", queueARN)
		}
	}
	s.events.arn.Store(queueARN)
	return nil
}

// iamEvent sends one CloudTrail-shaped IAM event for a change in account
// made by the API call c (nil for a change made through the Go method or
// admin API, recorded as made by the account's root); request and response
// are the API's parameters and result in CloudTrail's camelCase.
//
// As CloudTrail records it (see "Example IAM API events in CloudTrail log"
// in the IAM User Guide, and the userIdentity element of the CloudTrail
// record contents): requestParameters holds what the request sent, so a
// user's call on their own keys, without a UserName parameter, has no
// userName there, and userIdentity names the caller (type, principalId,
// arn, accountId, accessKeyId, and userName for IAM users). IAM is a global
// service: its events come from us-east-1 whatever region the request was
// signed for.
func (s *Server) iamEvent(c *call, account, eventName string, request, response map[string]any, now time.Time) {
	target := s.events.get()
	if c != nil && c.form != nil && c.form.Get("UserName") == "" {
		delete(request, "userName")
	}
	var req any = request
	if len(request) == 0 {
		req = nil // CloudTrail writes "requestParameters": null for a call without parameters
	}
	var resp any = response
	if len(response) == 0 {
		resp = nil
	}
	id := s.uuid("event", account, eventName, now.String())
	ev := map[string]any{
		"version": "0", "id": id, "detail-type": "AWS API Call via CloudTrail", "source": "aws.iam",
		"account": account, "time": now.UTC().Format(time.RFC3339), "region": iamEventRegion, "resources": []string{},
		"detail": map[string]any{
			"eventVersion": "1.08",
			"userIdentity": s.userIdentity(c, account),
			"eventTime":    now.UTC().Format(time.RFC3339), "eventSource": "iam.amazonaws.com", "eventName": eventName,
			"awsRegion": iamEventRegion, "sourceIPAddress": "127.0.0.1", "userAgent": "keyage-sandbox",
			"requestParameters": req, "responseElements": resp,
			"requestID": id, "eventID": id, "readOnly": false, "eventType": "AwsApiCall",
			"managementEvent": true, "recipientAccountId": account, "eventCategory": "Management",
		},
	}
	s.putOnDefaultBus(account, iamEventRegion, ev, now, 0) // the rules of stacks (events_rules.go)
	if target == "" {
		return
	}
	b, err := json.Marshal(ev)
	if err != nil {
		return
	}
	if !s.deliverToQueue(target, string(b), nil, now, "events.amazonaws.com") {
		s.log.Warn("events queue is gone; event dropped", "queue", target, "event", eventName)
	}
}

// iamEventRegion is where CloudTrail records IAM, a global service.
const iamEventRegion = "us-east-1"

// userIdentity is CloudTrail's userIdentity element for the caller of c, or
// for the root of account when c is nil.
func (s *Server) userIdentity(c *call, account string) map[string]any {
	if c == nil || c.p == nil {
		return map[string]any{"type": "Root", "principalId": account, "arn": "arn:aws:iam::" + account + ":root", "accountId": account}
	}
	p := c.p
	id := map[string]any{"principalId": p.userID(), "arn": p.arn(), "accountId": p.acct.id}
	if c.req != nil {
		id["accessKeyId"] = parseCredential(c.req).accessKeyID
	}
	switch p.kind {
	case kindRoot:
		id["type"] = "Root"
	case kindRole:
		id["type"] = "AssumedRole"
		id["sessionContext"] = map[string]any{
			"sessionIssuer": map[string]any{
				"type": "Role", "principalId": p.sess.role.id, "arn": "arn:aws:iam::" + p.acct.id + ":role/" + p.sess.role.name,
				"accountId": p.acct.id, "userName": p.sess.role.name,
			},
			"attributes": map[string]any{"mfaAuthenticated": "false"},
		}
	default:
		id["type"] = "IAMUser"
		id["userName"] = p.user.name
	}
	return id
}

// adminEventsQueue serves PUT /_sandbox/events-queue {"queueArn": "..."}.
func (s *Server) adminEventsQueue(w http.ResponseWriter, r *http.Request) {
	var in struct {
		QueueArn string `json:"queueArn"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		http.Error(w, "body: want {\"queueArn\": \"arn:aws:sqs:...\"}", http.StatusBadRequest)
		return
	}
	if err := s.SetEventsQueue(in.QueueArn); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
