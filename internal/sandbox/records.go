package sandbox

import (
	"sync"
	"time"
)

// What the sandbox was asked to send, kept for tests and demos, oldest first: SNS messages
// published, Lambda invocations, SES emails. Served under /_sandbox/ and by the Go methods below.

// MessageAttribute is an SNS or SQS message attribute.
type MessageAttribute struct {
	// DataType is String, String.Array, Number or Binary (optionally with a custom suffix,
	// e.g. Number.int).
	DataType    string `json:"dataType"`
	StringValue string `json:"stringValue,omitempty"`
	BinaryValue []byte `json:"binaryValue,omitempty"`
}

// PublishedMessage is one successful sns:Publish.
type PublishedMessage struct {
	MessageID string `json:"messageId"`
	TopicArn  string `json:"topicArn"`
	// Account is the publisher's account, Caller its ARN.
	Account           string                      `json:"account"`
	Caller            string                      `json:"caller"`
	Subject           string                      `json:"subject,omitempty"`
	Message           string                      `json:"message"`
	MessageAttributes map[string]MessageAttribute `json:"messageAttributes,omitempty"`
	Time              time.Time                   `json:"time"`
	// DeliveredTo lists the ARNs of the queues the message was delivered to (after filter
	// policies), in subscription order.
	DeliveredTo []string `json:"deliveredTo"`
}

// LambdaInvocation is one lambda:Invoke of an existing function.
type LambdaInvocation struct {
	Account        string `json:"account"`
	FunctionName   string `json:"functionName"`
	FunctionArn    string `json:"functionArn"`
	InvocationType string `json:"invocationType"` // RequestResponse, Event or DryRun
	Payload        string `json:"payload"`
	// StatusCode is the HTTP status of the answer (200, 202 or 204); FunctionError is
	// "Unhandled" when the function is configured to fail.
	StatusCode    int       `json:"statusCode"`
	FunctionError string    `json:"functionError,omitempty"`
	Time          time.Time `json:"time"`
}

// SentEmail is one ses:SendEmail.
type SentEmail struct {
	MessageID string    `json:"messageId"`
	Account   string    `json:"account"`
	From      string    `json:"from"`
	To        []string  `json:"to,omitempty"`
	Cc        []string  `json:"cc,omitempty"`
	Bcc       []string  `json:"bcc,omitempty"`
	ReplyTo   []string  `json:"replyTo,omitempty"`
	Subject   string    `json:"subject,omitempty"`
	Text      string    `json:"text,omitempty"`
	HTML      string    `json:"html,omitempty"`
	Raw       []byte    `json:"raw,omitempty"` // Content.Raw.Data, the whole MIME message
	Time      time.Time `json:"time"`
}

type records struct {
	mu          sync.Mutex
	published   []PublishedMessage
	invocations []LambdaInvocation
	emails      []SentEmail
}

// Published returns the messages published to SNS topics so far, oldest first.
func (s *Server) Published() []PublishedMessage {
	s.records.mu.Lock()
	defer s.records.mu.Unlock()
	return append([]PublishedMessage{}, s.records.published...)
}

// Invocations returns the Lambda invocations so far, oldest first.
func (s *Server) Invocations() []LambdaInvocation {
	s.records.mu.Lock()
	defer s.records.mu.Unlock()
	return append([]LambdaInvocation{}, s.records.invocations...)
}

// Emails returns the emails sent through SES so far, oldest first.
func (s *Server) Emails() []SentEmail {
	s.records.mu.Lock()
	defer s.records.mu.Unlock()
	return append([]SentEmail{}, s.records.emails...)
}

// ResetRecords forgets the published messages, invocations and emails recorded so far.
func (s *Server) ResetRecords() {
	s.records.mu.Lock()
	defer s.records.mu.Unlock()
	s.records.published, s.records.invocations, s.records.emails = nil, nil, nil
}

func (s *Server) recordPublished(m PublishedMessage) {
	s.records.mu.Lock()
	s.records.published = append(s.records.published, m)
	s.records.mu.Unlock()
}

func (s *Server) recordInvocation(i LambdaInvocation) {
	s.records.mu.Lock()
	s.records.invocations = append(s.records.invocations, i)
	s.records.mu.Unlock()
}

func (s *Server) recordEmail(e SentEmail) {
	s.records.mu.Lock()
	s.records.emails = append(s.records.emails, e)
	s.records.mu.Unlock()
}
