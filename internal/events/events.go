// Package events parses the AWS events keyage reacts to, as they arrive in
// SQS, directly or wrapped in an SNS envelope: EventBridge events for AWS
// Config compliance changes and for IAM API calls recorded by CloudTrail,
// the seed's own remediation message from the AWS-native deployment (both spellings of
// its companion repository too) and the companion repository's SQS JSON body.
package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Kinds of event.
const (
	KindComplianceChange = "Config Rules Compliance Change"
	KindAPICall          = "AWS API Call via CloudTrail"
	// KindSeedMessage is the seed's remediation message, published by the
	// SSM automation of the AWS-native deployment to the central topic:
	// Account "222222222222" User "alice" needs to rotate their access key.
	KindSeedMessage = "keyage seed message"
	// KindSeedQueueMessage is the JSON body the seed's companion repository's later templates
	// send to an SQS queue: {"account_id": ..., "resource_id": ..., "resource_name": ...}.
	KindSeedQueueMessage = "seed queue message"
)

// seedRE matches the seed's message, and keyage's default text, in both spellings: "access
// key." (the seed's blog post) and "Access Key" without the period (the companion
// repository's later templates). The deployment's owner variant adds ` (owner "...")` after
// the user.
var seedRE = regexp.MustCompile(`^Account "(\d{12})" User "([\w+=,.@-]{1,64})"(?: \(owner "[^"]*"\))? needs to rotate their (?:access key|Access Key)\.?`)

// seedQueueBody is the companion repository's SQS message.
type seedQueueBody struct {
	AccountID    *string `json:"account_id"`
	ResourceID   string  `json:"resource_id"`
	ResourceName string  `json:"resource_name"`
}

// Event is what keyage needs from one event: which user in which account to
// look at again.
type Event struct {
	ID         string
	Kind       string
	AccountID  string
	Time       time.Time
	Region     string
	ResourceID string // the UserId, for compliance changes
	UserName   string // for IAM API calls
	// Compliance is the new compliance type of a compliance change.
	Compliance string
	// RuleName is the Config rule of a compliance change.
	RuleName string
	// EventName is the IAM API of an API call (CreateAccessKey, ...).
	EventName string
}

// ErrIgnored marks a well-formed event keyage has no use for (another rule,
// another resource type, an IAM call that does not touch keys or users).
var ErrIgnored = errors.New("event not relevant to keyage")

// IAMEvents are the IAM calls that change what the rule sees.
var IAMEvents = map[string]bool{
	"CreateAccessKey": true, "UpdateAccessKey": true, "DeleteAccessKey": true,
	"CreateUser": true, "DeleteUser": true, "TagUser": true, "UntagUser": true,
}

type envelope struct {
	Type    string `json:"Type"`
	Message string `json:"Message"`
}

type raw struct {
	ID         string          `json:"id"`
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	Account    string          `json:"account"`
	Time       time.Time       `json:"time"`
	Region     string          `json:"region"`
	Detail     json.RawMessage `json:"detail"`
}

type complianceDetail struct {
	ResourceID          string `json:"resourceId"`
	ResourceType        string `json:"resourceType"`
	AWSAccountID        string `json:"awsAccountId"`
	ConfigRuleName      string `json:"configRuleName"`
	NewEvaluationResult struct {
		ComplianceType string `json:"complianceType"`
	} `json:"newEvaluationResult"`
}

type apiCallDetail struct {
	EventSource      string `json:"eventSource"`
	EventName        string `json:"eventName"`
	RecipientAccount string `json:"recipientAccountId"`
	ErrorCode        string `json:"errorCode"`
	// UserIdentity is the caller. A user acting on their own keys sends no
	// UserName, so CloudTrail's requestParameters have none: the user is
	// the caller.
	UserIdentity struct {
		Type      string `json:"type"`
		AccountID string `json:"accountId"`
		UserName  string `json:"userName"`
	} `json:"userIdentity"`
	RequestParameters struct {
		UserName string `json:"userName"`
	} `json:"requestParameters"`
	ResponseElements *struct {
		AccessKey *struct {
			UserName string `json:"userName"`
		} `json:"accessKey"`
		User *struct {
			UserName string `json:"userName"`
		} `json:"user"`
	} `json:"responseElements"`
}

// Parse reads one SQS message body. rule names the Config rule whose
// compliance changes count (access-keys-rotated; deployments may prefix it).
func Parse(body []byte, rule string) (Event, error) {
	var env envelope
	if json.Unmarshal(body, &env) == nil && env.Type == "Notification" && env.Message != "" {
		body = []byte(env.Message)
	}
	if m := seedRE.FindSubmatch(bytes.TrimSpace(body)); m != nil {
		return Event{Kind: KindSeedMessage, AccountID: string(m[1]), UserName: string(m[2])}, nil
	}
	var q seedQueueBody
	if json.Unmarshal(body, &q) == nil && q.AccountID != nil {
		if len(*q.AccountID) != 12 {
			return Event{}, fmt.Errorf("seed queue message: account_id %q is not a 12-digit account id", *q.AccountID)
		}
		if q.ResourceID == "" && q.ResourceName == "" {
			return Event{}, errors.New("seed queue message: neither resource_id nor resource_name")
		}
		return Event{Kind: KindSeedQueueMessage, AccountID: *q.AccountID, ResourceID: q.ResourceID, UserName: q.ResourceName}, nil
	}
	var r raw
	if err := json.Unmarshal(body, &r); err != nil {
		return Event{}, fmt.Errorf("not an EventBridge event or the seed's message: %w", err)
	}
	if r.DetailType == "" || len(r.Detail) == 0 {
		return Event{}, errors.New("not an EventBridge event: no detail-type or detail")
	}
	ev := Event{ID: r.ID, Kind: r.DetailType, AccountID: r.Account, Time: r.Time, Region: r.Region}
	switch r.DetailType {
	case KindComplianceChange:
		var d complianceDetail
		if err := json.Unmarshal(r.Detail, &d); err != nil {
			return Event{}, fmt.Errorf("event %s: compliance change detail: %w", r.ID, err)
		}
		if d.ResourceType != "AWS::IAM::User" || !strings.Contains(d.ConfigRuleName, rule) {
			return ev, fmt.Errorf("event %s: rule %q resource type %q: %w", r.ID, d.ConfigRuleName, d.ResourceType, ErrIgnored)
		}
		if d.ResourceID == "" {
			return Event{}, fmt.Errorf("event %s: compliance change without resourceId", r.ID)
		}
		ev.ResourceID, ev.RuleName, ev.Compliance = d.ResourceID, d.ConfigRuleName, d.NewEvaluationResult.ComplianceType
		if d.AWSAccountID != "" {
			ev.AccountID = d.AWSAccountID
		}
	case KindAPICall:
		var d apiCallDetail
		if err := json.Unmarshal(r.Detail, &d); err != nil {
			return Event{}, fmt.Errorf("event %s: API call detail: %w", r.ID, err)
		}
		if d.EventSource != "iam.amazonaws.com" || !IAMEvents[d.EventName] || d.ErrorCode != "" {
			return ev, fmt.Errorf("event %s: %s %s: %w", r.ID, d.EventSource, d.EventName, ErrIgnored)
		}
		ev.EventName = d.EventName
		ev.UserName = d.RequestParameters.UserName
		if re := d.ResponseElements; ev.UserName == "" && re != nil {
			switch {
			case re.AccessKey != nil:
				ev.UserName = re.AccessKey.UserName
			case re.User != nil:
				ev.UserName = re.User.UserName
			}
		}
		if id := d.UserIdentity; ev.UserName == "" && id.Type == "IAMUser" && (d.RecipientAccount == "" || id.AccountID == d.RecipientAccount) {
			ev.UserName = id.UserName
		}
		if ev.UserName == "" {
			return Event{}, fmt.Errorf("event %s: %s without a user name", r.ID, d.EventName)
		}
		if d.RecipientAccount != "" {
			ev.AccountID = d.RecipientAccount
		}
	default:
		return ev, fmt.Errorf("event %s: detail-type %q: %w", r.ID, r.DetailType, ErrIgnored)
	}
	if len(ev.AccountID) != 12 {
		return Event{}, fmt.Errorf("event %s: account %q is not a 12-digit account id", r.ID, ev.AccountID)
	}
	return ev, nil
}
