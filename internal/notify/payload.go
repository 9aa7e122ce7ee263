package notify

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
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
	// Summary is a run summary's counts (kind summary only).
	Summary *Summary `json:"summary,omitempty"`
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
		Summary:   m.Summary,
	}
}

// MarshalPayload returns the JSON encoding of m's payload, without a
// trailing newline.
func MarshalPayload(m Message) ([]byte, error) {
	return json.Marshal(NewPayload(m))
}

// Body is the body of a message for receivers that carry either text or a
// structured payload (SNS, SQS): the JSON payload when m.JSON, otherwise
// Text, falling back to Subject. Empty is an error: SNS and SQS refuse
// empty messages.
func Body(m Message) (string, error) {
	if m.JSON {
		b, err := MarshalPayload(m)
		if err != nil {
			return "", fmt.Errorf("encode JSON payload of message %s: %w", m.ID, err)
		}
		return string(b), nil
	}
	if m.Text != "" {
		return m.Text, nil
	}
	if m.Subject != "" {
		return m.Subject, nil
	}
	return "", fmt.Errorf("message %s has no text", m.ID)
}

// DedupeID makes s usable as an SNS or SQS FIFO MessageDeduplicationId or
// MessageGroupId: at most 128 characters from ASCII letters, digits and
// punctuation. Other characters become '-'; a longer value is replaced
// by its SHA-256 in hex, which stays unique.
func DedupeID(s string) string {
	if len(s) > 128 {
		sum := sha256.Sum256([]byte(s))
		return hex.EncodeToString(sum[:])
	}
	b := []byte(s)
	for i, c := range b {
		if c <= ' ' || c >= 0x7f {
			b[i] = '-'
		}
	}
	return string(b)
}

// FIFOIDs are the MessageGroupId and MessageDeduplicationId of m on an SNS
// topic or SQS queue of the FIFO kind: its group key ("keyage" without one)
// and its ID, both through DedupeID.
func (m Message) FIFOIDs() (group, dedupe string) {
	group = m.GroupKey
	if group == "" {
		group = "keyage"
	}
	return DedupeID(group), DedupeID(m.ID)
}

// AttributeType is the SNS and SQS data type of the message attribute
// name from Attributes: Number for ageDays, String for the others.
func AttributeType(name string) string {
	if name == "ageDays" {
		return "Number"
	}
	return "String"
}
