package notify

import (
	"encoding/json"
	"time"
)

// Payload is the stable JSON body of a message, shared by the webhook,
// SNS and SQS (format: json), Lambda, file and stdout receivers. Field
// names and order are a contract with consumers: extend, don't rename.
// Recipients are left out: they are personal data that consumers of a
// structured feed do not need.
type Payload struct {
	ID        string    `json:"id"`
	Kind      string    `json:"kind"`
	Receiver  string    `json:"receiver"`
	GroupKey  string    `json:"groupKey"`
	Subject   string    `json:"subject"`
	Text      string    `json:"text"`
	Items     []Item    `json:"items"`
	CreatedAt time.Time `json:"createdAt"`
}

// NewPayload returns the payload of m. Items is never nil, so it encodes
// as [] rather than null, and CreatedAt is in UTC.
func NewPayload(m Message) Payload {
	items := m.Items
	if items == nil {
		items = []Item{}
	}
	return Payload{
		ID:        m.ID,
		Kind:      m.Kind,
		Receiver:  m.Receiver,
		GroupKey:  m.GroupKey,
		Subject:   m.Subject,
		Text:      m.Text,
		Items:     items,
		CreatedAt: m.CreatedAt.UTC(),
	}
}

// MarshalPayload returns the JSON encoding of m's payload, without a
// trailing newline.
func MarshalPayload(m Message) ([]byte, error) {
	return json.Marshal(NewPayload(m))
}
