package sandbox

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// SQS over awsJson1_0 (X-Amz-Target: AmazonSQS.<Operation>), the protocol of the current SDKs,
// with the awsQuery-compatible error codes in X-Amzn-Query-Error, and over awsQuery (a form with
// Action and Version 2012-11-05), the protocol of older SDKs and AWS CLIs before 2.13 (see
// sqs_query.go). Queues are standard queues,
// addressed by URL <endpoint>/<account>/<name>; their names are unique per account. Other
// accounts may use a queue only when its Policy allows them (SNS delivery needs no policy).

const sqsTarget = "AmazonSQS"

// sqsState is an account's queues, under their own lock.
type sqsState struct {
	mu     sync.Mutex
	queues map[string]*queue // by name
}

type queue struct {
	name, region, arn string
	created, modified time.Time
	attrs             map[string]string // settable attributes, defaults filled in
	policy            *policyDoc
	msgs              []*sqsMessage // in send order
	// wake is closed (and replaced) when a message may have become receivable, waking long polls.
	wake chan struct{}
}

type sqsMessage struct {
	id, body, md5Body string
	attrs             map[string]MessageAttribute
	sent, visibleAt   time.Time
	firstReceive      time.Time
	receives          int
	receipt           string // the latest receipt handle
	senderID          string
}

func (q *queue) signal() {
	close(q.wake)
	q.wake = make(chan struct{})
}

func (q *queue) intAttr(name string) int {
	n, _ := strconv.Atoi(q.attrs[name])
	return n
}

// sqsProtocol is awsJson1_0 with SQS's credential errors, or awsQuery for a request that came
// as a form (c.form is set).
type sqsProtocol struct{ jsonProtocol }

func (p sqsProtocol) encode(w http.ResponseWriter, c *call, result any) {
	if c.form != nil {
		sqsQueryProtocol.encode(w, c, sqsQueryResult(result))
		return
	}
	p.jsonProtocol.encode(w, c, result)
}

func (p sqsProtocol) encodeError(w http.ResponseWriter, c *call, e *apiError) {
	if c.form != nil {
		sqsQueryProtocol.encodeError(w, c, sqsQueryError(e))
		return
	}
	p.jsonProtocol.encodeError(w, c, e)
}

func (sqsProtocol) authErrors() authErrors {
	return authErrors{
		missing:   sqsError(http.StatusForbidden, "MissingAuthenticationToken", "MissingAuthenticationToken", "Request is missing Authentication Token"),
		invalid:   sqsError(http.StatusForbidden, "InvalidClientTokenId", "InvalidClientTokenId", "The security token included in the request is invalid."),
		expired:   sqsError(http.StatusForbidden, "ExpiredToken", "ExpiredToken", "The security token included in the request is expired"),
		signature: sqsError(http.StatusForbidden, "SignatureDoesNotMatch", "SignatureDoesNotMatch", signatureMismatch),
	}
}

// sqsError is an SQS error: code is the JSON __type, queryCode the code SDKs report.
func sqsError(status int, code, queryCode, msg string) *apiError {
	fault := "Sender"
	if status >= 500 {
		fault = "Receiver"
	}
	e := newError(status, code, msg)
	e.QueryCode = queryCode + ";" + fault
	return e
}

func sqsInvalidValue(msg string) *apiError {
	return sqsError(http.StatusBadRequest, "InvalidParameterValue", "InvalidParameterValue", msg)
}

func sqsMissing(param string) *apiError {
	return sqsError(http.StatusBadRequest, "MissingParameter", "MissingParameter", "The request must contain the parameter "+param+".")
}

var errNoQueue = sqsError(http.StatusBadRequest, "com.amazonaws.sqs#QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue",
	"The specified queue does not exist.")

func (s *Server) sqsService() *service {
	svc := &service{
		name:     "sqs",
		target:   sqsTarget,
		version:  sqsQueryVersion,
		proto:    sqsProtocol{jsonProtocol{contentType: "application/x-amz-json-1.0"}},
		throttle: sqsError(http.StatusBadRequest, "ThrottlingException", "ThrottlingException", "Rate exceeded"),
		failure:  sqsError(http.StatusInternalServerError, "InternalFailure", "InternalFailure", "We encountered an internal error. Please try again."),
		unknownOp: func(op string) *apiError {
			return sqsError(http.StatusBadRequest, "UnknownOperationException", "InvalidAction", "The action "+op+" is not valid for this endpoint.")
		},
	}
	svc.ops = map[string]operation{
		"CreateQueue":             s.sqsCreateQueue,
		"GetQueueUrl":             s.sqsGetQueueURL,
		"ListQueues":              s.sqsListQueues,
		"GetQueueAttributes":      s.sqsGetQueueAttributes,
		"SetQueueAttributes":      s.sqsSetQueueAttributes,
		"DeleteQueue":             s.sqsDeleteQueue,
		"PurgeQueue":              s.sqsPurgeQueue,
		"SendMessage":             s.sqsSendMessage,
		"ReceiveMessage":          s.sqsReceiveMessage,
		"DeleteMessage":           s.sqsDeleteMessage,
		"ChangeMessageVisibility": s.sqsChangeMessageVisibility,
	}
	for name, op := range svc.ops {
		svc.ops[name] = sqsQueryInput(op)
	}
	return svc
}

// validQueueName: 1 to 80 of [A-Za-z0-9_-].
func validQueueName(n string) bool {
	if len(n) == 0 || len(n) > 80 {
		return false
	}
	for i := 0; i < len(n); i++ {
		b := n[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '_' || b == '-') {
			return false
		}
	}
	return true
}

var queueDefaults = map[string]string{
	"VisibilityTimeout":             "30",
	"DelaySeconds":                  "0",
	"ReceiveMessageWaitTimeSeconds": "0",
	"MessageRetentionPeriod":        "345600",
	"MaximumMessageSize":            "262144",
	"SqsManagedSseEnabled":          "true",
}

// intRange is the allowed range of an integer queue attribute.
var queueIntAttrs = map[string][2]int{
	"VisibilityTimeout":             {0, 43200},
	"DelaySeconds":                  {0, 900},
	"ReceiveMessageWaitTimeSeconds": {0, 20},
	"MessageRetentionPeriod":        {60, 1209600},
	"MaximumMessageSize":            {1024, 1048576},
}

// checkQueueAttrs validates settable attributes, returning the parsed policy if one is set.
func checkQueueAttrs(attrs map[string]string) (*policyDoc, error) {
	var pol *policyDoc
	for k, v := range attrs {
		if r, ok := queueIntAttrs[k]; ok {
			n, err := strconv.Atoi(v)
			if err != nil || n < r[0] || n > r[1] {
				return nil, sqsError(http.StatusBadRequest, "InvalidAttributeValue", "InvalidAttributeValue", "Invalid value for the parameter "+k+".")
			}
			continue
		}
		switch k {
		case "Policy":
			if v != "" {
				p, err := parsePolicy(v)
				if err != nil {
					return nil, sqsError(http.StatusBadRequest, "InvalidAttributeValue", "InvalidAttributeValue", "Invalid value for the parameter Policy: "+err.Error())
				}
				pol = p
			}
		case "RedrivePolicy", "RedriveAllowPolicy", "KmsMasterKeyId", "KmsDataKeyReusePeriodSeconds", "SqsManagedSseEnabled":
		case "FifoQueue", "ContentBasedDeduplication", "DeduplicationScope", "FifoThroughputLimit":
			return nil, sqsInvalidValue("The sandbox does not support FIFO queues.")
		default:
			return nil, sqsError(http.StatusBadRequest, "InvalidAttributeName", "InvalidAttributeName", "Unknown Attribute "+k+".")
		}
	}
	return pol, nil
}

// createQueueLocked makes a queue in a; the caller holds a.sqs.mu.
func (a *account) createQueueLocked(region, name string, now time.Time, attrs map[string]string, pol *policyDoc) *queue {
	q := &queue{name: name, region: region, arn: "arn:aws:sqs:" + region + ":" + a.id + ":" + name,
		created: now, modified: now, attrs: map[string]string{}, policy: pol, wake: make(chan struct{})}
	for k, v := range queueDefaults {
		q.attrs[k] = v
	}
	for k, v := range attrs {
		q.attrs[k] = v
	}
	if a.sqs.queues == nil {
		a.sqs.queues = map[string]*queue{}
	}
	a.sqs.queues[name] = q
	return q
}

func queueURL(c *call, acct, name string) string { return c.endpoint() + "/" + acct + "/" + name }

// lockQueue finds the queue of a QueueUrl, checks that the caller may perform action on it
// (sqs:SendMessage), and locks its account's SQS state; the caller unlocks.
func (s *Server) lockQueue(c *call, rawURL, action string) (*queue, *account, error) {
	if rawURL == "" {
		return nil, nil, sqsMissing("QueueUrl")
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, nil, errNoQueue
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(parts) != 2 {
		return nil, nil, errNoQueue
	}
	a := s.accounts[parts[0]]
	if a == nil {
		return nil, nil, errNoQueue
	}
	a.sqs.mu.Lock()
	q := a.sqs.queues[parts[1]]
	if q == nil {
		a.sqs.mu.Unlock()
		return nil, nil, errNoQueue
	}
	d := q.policy.evaluate(s.policyRequest(c.p, action, q.arn))
	if d == policyDeny || (d != policyAllow && (c.acct() != a || c.idNoAllow)) {
		a.sqs.mu.Unlock()
		return nil, nil, sqsError(http.StatusForbidden, "com.amazon.coral.service#AccessDeniedException", "AccessDenied",
			"User: "+c.p.arn()+" is not authorized to perform: "+strings.ToLower(action)+" on resource: "+q.arn+
				" because no resource-based policy allows the "+strings.ToLower(action)+" action")
	}
	return q, a, nil
}

func (s *Server) sqsCreateQueue(c *call) (any, error) {
	var in struct {
		QueueName  string
		Attributes map[string]string
	}
	if err := c.decodeJSON(&in); err != nil {
		return nil, err
	}
	switch {
	case in.QueueName == "":
		return nil, sqsMissing("QueueName")
	case strings.HasSuffix(in.QueueName, ".fifo"):
		return nil, sqsInvalidValue("The sandbox does not support FIFO queues.")
	case !validQueueName(in.QueueName):
		return nil, sqsInvalidValue("Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length")
	}
	pol, err := checkQueueAttrs(in.Attributes)
	if err != nil {
		return nil, err
	}
	a := c.acct()
	a.sqs.mu.Lock()
	defer a.sqs.mu.Unlock()
	if q := a.sqs.queues[in.QueueName]; q != nil {
		for k, v := range in.Attributes {
			if q.attrs[k] != v {
				return nil, sqsError(http.StatusBadRequest, "QueueNameExists", "QueueAlreadyExists",
					"A queue already exists with the same name and a different value for attribute "+k)
			}
		}
	} else {
		a.createQueueLocked(c.region, in.QueueName, c.now, in.Attributes, pol)
	}
	return map[string]string{"QueueUrl": queueURL(c, a.id, in.QueueName)}, nil
}

func (s *Server) sqsGetQueueURL(c *call) (any, error) {
	var in struct {
		QueueName              string
		QueueOwnerAWSAccountID string `json:"QueueOwnerAWSAccountId"`
	}
	if err := c.decodeJSON(&in); err != nil {
		return nil, err
	}
	if in.QueueName == "" {
		return nil, sqsMissing("QueueName")
	}
	owner := c.acct().id
	if in.QueueOwnerAWSAccountID != "" {
		owner = in.QueueOwnerAWSAccountID
	}
	q, a, err := s.lockQueue(c, "/"+owner+"/"+in.QueueName, "sqs:GetQueueUrl")
	if err != nil {
		return nil, err
	}
	a.sqs.mu.Unlock()
	return map[string]string{"QueueUrl": queueURL(c, a.id, q.name)}, nil
}

func (s *Server) sqsListQueues(c *call) (any, error) {
	var in struct {
		QueueNamePrefix string
		MaxResults      int
		NextToken       string
	}
	if err := c.decodeJSON(&in); err != nil {
		return nil, err
	}
	if in.MaxResults < 0 || in.MaxResults > 1000 {
		return nil, sqsInvalidValue("Value for parameter MaxResults is invalid. Reason: MaxResults must be an integer between 1 and 1000.")
	}
	a := c.acct()
	a.sqs.mu.Lock()
	var names []string
	for n := range a.sqs.queues {
		if strings.HasPrefix(n, in.QueueNamePrefix) {
			names = append(names, n)
		}
	}
	a.sqs.mu.Unlock()
	sort.Strings(names)
	start := 0
	if in.NextToken != "" {
		last, err := decodeMarker("queues", in.NextToken)
		if err != nil {
			return nil, sqsInvalidValue("Invalid NextToken value.")
		}
		start = sort.SearchStrings(names, last+"\x00")
	}
	limit := len(names)
	if in.MaxResults > 0 {
		limit = in.MaxResults
	}
	end := min(len(names), start+limit)
	out := struct {
		QueueUrls []string `json:"QueueUrls,omitempty"`
		NextToken string   `json:"NextToken,omitempty"`
	}{}
	for _, n := range names[start:end] {
		out.QueueUrls = append(out.QueueUrls, queueURL(c, a.id, n))
	}
	if end < len(names) && in.MaxResults > 0 {
		out.NextToken = encodeMarker("queues", names[end-1])
	}
	return out, nil
}

// counts returns the numbers of visible, in-flight and delayed messages at now.
func (q *queue) counts(now time.Time) (visible, inflight, delayed int) {
	for _, m := range q.msgs {
		switch {
		case !m.visibleAt.After(now):
			visible++
		case m.receives > 0:
			inflight++
		default:
			delayed++
		}
	}
	return
}

func (s *Server) sqsGetQueueAttributes(c *call) (any, error) {
	var in struct {
		QueueURL       string `json:"QueueUrl"`
		AttributeNames []string
	}
	if err := c.decodeJSON(&in); err != nil {
		return nil, err
	}
	q, a, err := s.lockQueue(c, in.QueueURL, "sqs:GetQueueAttributes")
	if err != nil {
		return nil, err
	}
	defer a.sqs.mu.Unlock()
	visible, inflight, delayed := q.counts(c.now)
	all := map[string]string{
		"QueueArn":                              q.arn,
		"ApproximateNumberOfMessages":           strconv.Itoa(visible),
		"ApproximateNumberOfMessagesNotVisible": strconv.Itoa(inflight),
		"ApproximateNumberOfMessagesDelayed":    strconv.Itoa(delayed),
		"CreatedTimestamp":                      strconv.FormatInt(q.created.Unix(), 10),
		"LastModifiedTimestamp":                 strconv.FormatInt(q.modified.Unix(), 10),
	}
	for k, v := range q.attrs {
		all[k] = v
	}
	out := map[string]string{}
	for _, n := range in.AttributeNames {
		if n == "All" {
			out = all
			break
		}
		v, ok := all[n]
		if !ok {
			if _, known := queueIntAttrs[n]; !known && n != "Policy" && n != "RedrivePolicy" && n != "KmsMasterKeyId" {
				return nil, sqsError(http.StatusBadRequest, "InvalidAttributeName", "InvalidAttributeName", "Unknown Attribute "+n+".")
			}
			continue
		}
		out[n] = v
	}
	if len(out) == 0 {
		return struct{}{}, nil
	}
	return map[string]map[string]string{"Attributes": out}, nil
}

func (s *Server) sqsSetQueueAttributes(c *call) (any, error) {
	var in struct {
		QueueURL   string `json:"QueueUrl"`
		Attributes map[string]string
	}
	if err := c.decodeJSON(&in); err != nil {
		return nil, err
	}
	pol, err := checkQueueAttrs(in.Attributes)
	if err != nil {
		return nil, err
	}
	q, a, err := s.lockQueue(c, in.QueueURL, "sqs:SetQueueAttributes")
	if err != nil {
		return nil, err
	}
	defer a.sqs.mu.Unlock()
	for k, v := range in.Attributes {
		q.attrs[k] = v
		if k == "Policy" {
			q.policy = pol
			if v == "" {
				delete(q.attrs, k)
			}
		}
	}
	q.modified = c.now
	return nil, nil
}

func (s *Server) sqsDeleteQueue(c *call) (any, error) {
	var in struct {
		QueueURL string `json:"QueueUrl"`
	}
	if err := c.decodeJSON(&in); err != nil {
		return nil, err
	}
	q, a, err := s.lockQueue(c, in.QueueURL, "sqs:DeleteQueue")
	if err != nil {
		return nil, err
	}
	defer a.sqs.mu.Unlock()
	delete(a.sqs.queues, q.name)
	q.signal()
	return nil, nil
}

func (s *Server) sqsPurgeQueue(c *call) (any, error) {
	var in struct {
		QueueURL string `json:"QueueUrl"`
	}
	if err := c.decodeJSON(&in); err != nil {
		return nil, err
	}
	q, a, err := s.lockQueue(c, in.QueueURL, "sqs:PurgeQueue")
	if err != nil {
		return nil, err
	}
	defer a.sqs.mu.Unlock()
	q.msgs = nil
	return nil, nil
}

// sqsAttributeValue is a message attribute in SQS's JSON.
type sqsAttributeValue struct {
	DataType    string `json:"DataType"`
	StringValue string `json:"StringValue,omitempty"`
	BinaryValue []byte `json:"BinaryValue,omitempty"`
}

func md5Hex(b []byte) string {
	sum := md5.Sum(b)
	return hex.EncodeToString(sum[:])
}

// md5OfAttributes is SQS's MD5OfMessageAttributes: over the attributes sorted by name, each
// as length-prefixed name, data type, a transport byte (1 string, 2 binary) and value.
func md5OfAttributes(attrs map[string]MessageAttribute) string {
	if len(attrs) == 0 {
		return ""
	}
	names := make([]string, 0, len(attrs))
	for n := range attrs {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf []byte
	put := func(b []byte) {
		buf = binary.BigEndian.AppendUint32(buf, uint32(len(b)))
		buf = append(buf, b...)
	}
	for _, n := range names {
		a := attrs[n]
		put([]byte(n))
		put([]byte(a.DataType))
		if strings.HasPrefix(a.DataType, "Binary") {
			buf = append(buf, 2)
			put(a.BinaryValue)
		} else {
			buf = append(buf, 1)
			put([]byte(a.StringValue))
		}
	}
	return md5Hex(buf)
}

// validMessageBody reports whether body has only the characters SQS accepts.
func validMessageBody(body string) bool {
	for _, r := range body {
		switch {
		case r == 0x9 || r == 0xA || r == 0xD:
		case r >= 0x20 && r <= 0xD7FF:
		case r >= 0xE000 && r <= 0xFFFD:
		case r >= 0x10000 && r <= 0x10FFFF:
		default:
			return false
		}
	}
	return utf8.ValidString(body)
}

// enqueueLocked appends a message; the caller holds the queue's account lock.
func (q *queue) enqueueLocked(id, body string, attrs map[string]MessageAttribute, now time.Time, delay time.Duration, sender string) *sqsMessage {
	m := &sqsMessage{id: id, body: body, md5Body: md5Hex([]byte(body)), attrs: attrs, sent: now, visibleAt: now.Add(delay), senderID: sender}
	q.msgs = append(q.msgs, m)
	q.signal()
	return m
}

// deliverToQueue puts an SNS notification on the queue with that ARN, reporting whether the
// queue exists.
func (s *Server) deliverToQueue(arn, body string, attrs map[string]MessageAttribute, now time.Time, sender string) bool {
	region, acct, name, ok := parseQueueARN(arn)
	a := s.accounts[acct]
	if !ok || a == nil {
		return false
	}
	a.sqs.mu.Lock()
	defer a.sqs.mu.Unlock()
	q := a.sqs.queues[name]
	if q == nil || q.region != region {
		return false
	}
	q.enqueueLocked(s.uuid("sqs", arn), body, attrs, now, time.Duration(q.intAttr("DelaySeconds"))*time.Second, sender)
	return true
}

func (s *Server) sqsSendMessage(c *call) (any, error) {
	var in struct {
		QueueURL          string `json:"QueueUrl"`
		MessageBody       *string
		DelaySeconds      *int
		MessageAttributes map[string]sqsAttributeValue
	}
	if err := c.decodeJSON(&in); err != nil {
		return nil, err
	}
	switch {
	case in.MessageBody == nil || *in.MessageBody == "":
		return nil, sqsMissing("MessageBody")
	case !validMessageBody(*in.MessageBody):
		return nil, sqsError(http.StatusBadRequest, "InvalidMessageContents", "InvalidMessageContents", "Invalid characters found.")
	case in.DelaySeconds != nil && (*in.DelaySeconds < 0 || *in.DelaySeconds > 900):
		return nil, sqsInvalidValue("Value " + strconv.Itoa(*in.DelaySeconds) + " for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= 900.")
	case len(in.MessageAttributes) > 10:
		return nil, sqsInvalidValue("Number of message attributes [" + strconv.Itoa(len(in.MessageAttributes)) + "] exceeds the allowed maximum [10].")
	}
	var attrs map[string]MessageAttribute
	for n, v := range in.MessageAttributes {
		a := MessageAttribute{DataType: v.DataType, StringValue: v.StringValue, BinaryValue: v.BinaryValue}
		if err := validateAttribute(n, a); err != nil {
			return nil, sqsInvalidValue(err.Error())
		}
		if attrs == nil {
			attrs = map[string]MessageAttribute{}
		}
		attrs[n] = a
	}
	q, a, err := s.lockQueue(c, in.QueueURL, "sqs:SendMessage")
	if err != nil {
		return nil, err
	}
	defer a.sqs.mu.Unlock()
	size := len(*in.MessageBody)
	for n, v := range attrs {
		size += len(n) + len(v.DataType) + len(v.StringValue) + len(v.BinaryValue)
	}
	if size > q.intAttr("MaximumMessageSize") {
		return nil, sqsInvalidValue("One or more parameters are invalid. Reason: Message must be shorter than " + q.attrs["MaximumMessageSize"] + " bytes.")
	}
	delay := q.intAttr("DelaySeconds")
	if in.DelaySeconds != nil {
		delay = *in.DelaySeconds
	}
	m := q.enqueueLocked(s.uuid("sqs", q.arn), *in.MessageBody, attrs, c.now, time.Duration(delay)*time.Second, c.p.userID())
	return struct {
		MessageID              string `json:"MessageId"`
		MD5OfMessageBody       string `json:"MD5OfMessageBody"`
		MD5OfMessageAttributes string `json:"MD5OfMessageAttributes,omitempty"`
	}{m.id, m.md5Body, md5OfAttributes(attrs)}, nil
}

type sqsReceived struct {
	MessageID              string                       `json:"MessageId"`
	ReceiptHandle          string                       `json:"ReceiptHandle"`
	MD5OfBody              string                       `json:"MD5OfBody"`
	Body                   string                       `json:"Body"`
	Attributes             map[string]string            `json:"Attributes,omitempty"`
	MD5OfMessageAttributes string                       `json:"MD5OfMessageAttributes,omitempty"`
	MessageAttributes      map[string]sqsAttributeValue `json:"MessageAttributes,omitempty"`
}

func (s *Server) sqsReceiveMessage(c *call) (any, error) {
	var in struct {
		QueueURL                    string `json:"QueueUrl"`
		MaxNumberOfMessages         *int
		VisibilityTimeout           *int
		WaitTimeSeconds             *int
		AttributeNames              []string
		MessageSystemAttributeNames []string
		MessageAttributeNames       []string
	}
	if err := c.decodeJSON(&in); err != nil {
		return nil, err
	}
	max := 1
	if in.MaxNumberOfMessages != nil {
		max = *in.MaxNumberOfMessages
		if max < 1 || max > 10 {
			return nil, sqsInvalidValue("Value " + strconv.Itoa(max) + " for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided.")
		}
	}
	if v := in.VisibilityTimeout; v != nil && (*v < 0 || *v > 43200) {
		return nil, sqsInvalidValue("Value " + strconv.Itoa(*v) + " for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200, if provided.")
	}
	if v := in.WaitTimeSeconds; v != nil && (*v < 0 || *v > 20) {
		return nil, sqsInvalidValue("Value " + strconv.Itoa(*v) + " for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided.")
	}
	sysNames := append(append([]string{}, in.AttributeNames...), in.MessageSystemAttributeNames...)

	var expired <-chan time.Time // the end of the long poll; nil before the first pass
	for {
		q, a, err := s.lockQueue(c, in.QueueURL, "sqs:ReceiveMessage")
		if err != nil {
			return nil, err
		}
		if expired == nil {
			wait := q.intAttr("ReceiveMessageWaitTimeSeconds")
			if in.WaitTimeSeconds != nil {
				wait = *in.WaitTimeSeconds
			}
			expired = closedTime
			if wait > 0 {
				expired = s.after(time.Duration(wait) * time.Second)
			}
		}
		vis := q.intAttr("VisibilityTimeout")
		if in.VisibilityTimeout != nil {
			vis = *in.VisibilityTimeout
		}
		now := s.now().UTC()
		var out []sqsReceived
		var next time.Time // when the next invisible message becomes visible
		for _, m := range q.msgs {
			if m.visibleAt.After(now) {
				if next.IsZero() || m.visibleAt.Before(next) {
					next = m.visibleAt
				}
				continue
			}
			if len(out) == max {
				break
			}
			m.receives++
			if m.receives == 1 {
				m.firstReceive = now
			}
			m.visibleAt = now.Add(time.Duration(vis) * time.Second)
			m.receipt = base64.RawURLEncoding.EncodeToString([]byte(q.arn + "|" + m.id + "|" + s.uuid("receipt", m.id)))
			out = append(out, received(m, sysNames, in.MessageAttributeNames))
		}
		wake := q.wake
		a.sqs.mu.Unlock()

		over := false
		select {
		case <-expired:
			over = true
		default:
		}
		if len(out) > 0 || over {
			return struct {
				Messages []sqsReceived `json:"Messages,omitempty"`
			}{out}, nil
		}
		var visible <-chan time.Time // nil (never) without delayed or in-flight messages
		if !next.IsZero() {
			visible = s.after(max1ms(next.Sub(now)))
		}
		select {
		case <-wake:
		case <-visible:
		case <-expired:
			expired = closedTime
		case <-c.ctx.Done():
			return nil, c.ctx.Err()
		}
	}
}

// closedTime is a channel that is always ready: a wait that is over.
var closedTime = func() <-chan time.Time {
	ch := make(chan time.Time)
	close(ch)
	return ch
}()

func max1ms(d time.Duration) time.Duration { return max(d, time.Millisecond) }

// received renders a message with the system and message attributes asked for.
func received(m *sqsMessage, sysNames, attrNames []string) sqsReceived {
	r := sqsReceived{MessageID: m.id, ReceiptHandle: m.receipt, MD5OfBody: m.md5Body, Body: m.body}
	sys := map[string]string{
		"SenderId":                         m.senderID,
		"SentTimestamp":                    strconv.FormatInt(m.sent.UnixMilli(), 10),
		"ApproximateReceiveCount":          strconv.Itoa(m.receives),
		"ApproximateFirstReceiveTimestamp": strconv.FormatInt(m.firstReceive.UnixMilli(), 10),
	}
	for _, n := range sysNames {
		if n == "All" {
			r.Attributes = sys
			break
		}
		if v, ok := sys[n]; ok {
			if r.Attributes == nil {
				r.Attributes = map[string]string{}
			}
			r.Attributes[n] = v
		}
	}
	sel := map[string]MessageAttribute{}
	for name, a := range m.attrs {
		for _, want := range attrNames {
			prefix, isPrefix := strings.CutSuffix(want, ".*")
			if want == "All" || want == ".*" || want == name || (isPrefix && strings.HasPrefix(name, prefix+".")) {
				sel[name] = a
				break
			}
		}
	}
	if len(sel) > 0 {
		r.MessageAttributes = make(map[string]sqsAttributeValue, len(sel))
		for n, a := range sel {
			r.MessageAttributes[n] = sqsAttributeValue{DataType: a.DataType, StringValue: a.StringValue, BinaryValue: a.BinaryValue}
		}
		r.MD5OfMessageAttributes = md5OfAttributes(sel)
	}
	return r
}

// findByReceipt returns the message a receipt handle was issued for (nil if it is gone) and
// whether the handle is the message's latest. It fails for a handle the sandbox never issued.
func (q *queue) findByReceipt(handle string) (*sqsMessage, bool, error) {
	b, err := base64.RawURLEncoding.DecodeString(handle)
	parts := strings.Split(string(b), "|")
	if err != nil || len(parts) != 3 || parts[0] != q.arn {
		return nil, false, sqsError(http.StatusNotFound, "ReceiptHandleIsInvalid", "ReceiptHandleIsInvalid",
			`The input receipt handle "`+handle+`" is not a valid receipt handle.`)
	}
	for _, m := range q.msgs {
		if m.id == parts[1] {
			return m, m.receipt == handle, nil
		}
	}
	return nil, false, nil
}

func (s *Server) sqsDeleteMessage(c *call) (any, error) {
	var in struct {
		QueueURL      string `json:"QueueUrl"`
		ReceiptHandle string
	}
	if err := c.decodeJSON(&in); err != nil {
		return nil, err
	}
	if in.ReceiptHandle == "" {
		return nil, sqsMissing("ReceiptHandle")
	}
	q, a, err := s.lockQueue(c, in.QueueURL, "sqs:DeleteMessage")
	if err != nil {
		return nil, err
	}
	defer a.sqs.mu.Unlock()
	m, latest, err := q.findByReceipt(in.ReceiptHandle)
	if err != nil {
		return nil, err
	}
	// Like SQS, an outdated handle of a message received again succeeds without deleting it.
	if m != nil && latest {
		for i, x := range q.msgs {
			if x == m {
				q.msgs = append(q.msgs[:i:i], q.msgs[i+1:]...)
				break
			}
		}
	}
	return nil, nil
}

func (s *Server) sqsChangeMessageVisibility(c *call) (any, error) {
	var in struct {
		QueueURL          string `json:"QueueUrl"`
		ReceiptHandle     string
		VisibilityTimeout *int
	}
	if err := c.decodeJSON(&in); err != nil {
		return nil, err
	}
	switch {
	case in.ReceiptHandle == "":
		return nil, sqsMissing("ReceiptHandle")
	case in.VisibilityTimeout == nil:
		return nil, sqsMissing("VisibilityTimeout")
	case *in.VisibilityTimeout < 0 || *in.VisibilityTimeout > 43200:
		return nil, sqsInvalidValue("Value " + strconv.Itoa(*in.VisibilityTimeout) + " for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200.")
	}
	q, a, err := s.lockQueue(c, in.QueueURL, "sqs:ChangeMessageVisibility")
	if err != nil {
		return nil, err
	}
	defer a.sqs.mu.Unlock()
	m, latest, err := q.findByReceipt(in.ReceiptHandle)
	if err != nil {
		return nil, err
	}
	if m == nil || !latest || !m.visibleAt.After(c.now) {
		return nil, sqsError(http.StatusBadRequest, "com.amazonaws.sqs#MessageNotInflight", "AWS.SimpleQueueService.MessageNotInflight",
			"Message does not exist or is not available for visibility timeout change.")
	}
	m.visibleAt = c.now.Add(time.Duration(*in.VisibilityTimeout) * time.Second)
	if *in.VisibilityTimeout == 0 {
		q.signal()
	}
	return nil, nil
}
