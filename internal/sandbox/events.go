package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
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

// iamEvent sends one CloudTrail-shaped IAM event for a change made by
// caller in account; request and response are the API's parameters.
func (s *Server) iamEvent(account, callerARN, eventName string, request, response map[string]any, now time.Time) {
	target := s.events.get()
	if target == "" {
		return
	}
	id := s.uuid("event", account, eventName, now.String())
	ev := map[string]any{
		"version": "0", "id": id, "detail-type": "AWS API Call via CloudTrail", "source": "aws.iam",
		"account": account, "time": now.UTC().Format(time.RFC3339), "region": "us-east-1", "resources": []string{},
		"detail": map[string]any{
			"eventVersion": "1.08",
			"userIdentity": map[string]any{"type": identityType(callerARN), "arn": callerARN, "accountId": account},
			"eventTime":    now.UTC().Format(time.RFC3339), "eventSource": "iam.amazonaws.com", "eventName": eventName,
			"awsRegion": "us-east-1", "sourceIPAddress": "127.0.0.1", "userAgent": "keyage-sandbox",
			"requestParameters": request, "responseElements": response,
			"requestID": id, "eventID": id, "readOnly": false, "eventType": "AwsApiCall",
			"managementEvent": true, "recipientAccountId": account, "eventCategory": "Management",
		},
	}
	b, err := json.Marshal(ev)
	if err != nil {
		return
	}
	if !s.deliverToQueue(target, string(b), nil, now, "events.amazonaws.com") {
		s.log.Warn("events queue is gone; event dropped", "queue", target, "event", eventName)
	}
}

func identityType(arn string) string {
	switch {
	case strings.Contains(arn, ":assumed-role/"):
		return "AssumedRole"
	case strings.HasSuffix(arn, ":root"):
		return "Root"
	}
	return "IAMUser"
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
