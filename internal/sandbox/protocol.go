package sandbox

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"
)

// A protocol is one AWS wire protocol: how a request names its operation and input, and how
// results and errors are written. Services pick one; a new protocol (restJson for Lambda and
// SES v2, say) is one more implementation.
type protocol interface {
	// encode writes the result of an operation: for awsQuery an xmlResult (or nil for operations
	// without output), for JSON protocols any value encoding/json accepts.
	encode(w http.ResponseWriter, c *call, result any)
	encodeError(w http.ResponseWriter, c *call, e *apiError)
	// authErrors names the errors for missing, unknown and expired credentials.
	authErrors() authErrors
}

type authErrors struct{ missing, invalid, expired, signature *apiError }

// apiError is an AWS error response. Fields holds extra members of JSON errors (Reason, Type).
// QueryCode is the X-Amzn-Query-Error header of awsQuery-compatible JSON services (SQS), e.g.
// "AWS.SimpleQueueService.NonExistentQueue;Sender": the code the SDKs report.
type apiError struct {
	Status    int
	Code      string
	Message   string
	Fields    map[string]string
	QueryCode string
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func newError(status int, code, message string) *apiError {
	return &apiError{Status: status, Code: code, Message: message}
}

// --- awsQuery (IAM, STS, later SNS and CloudFormation) ---

// queryProtocol is awsQuery: a form-encoded POST with Action and Version, answered with
// <ActionResponse><ActionResult>...</ActionResult><ResponseMetadata/></ActionResponse>.
type queryProtocol struct {
	xmlns string
}

// xmlResult writes the members of an <ActionResult> element.
type xmlResult func(x *xmlWriter)

func (p queryProtocol) encode(w http.ResponseWriter, c *call, result any) {
	x := &xmlWriter{}
	x.raw(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	x.raw("<" + c.op + `Response xmlns="` + p.xmlns + `">`)
	if r, ok := result.(xmlResult); ok && r != nil {
		x.open(c.op + "Result")
		r(x)
		x.close(c.op + "Result")
	}
	x.open("ResponseMetadata")
	x.elem("RequestId", c.reqID)
	x.close("ResponseMetadata")
	x.close(c.op + "Response")
	writeBody(w, c.reqID, "text/xml", http.StatusOK, x.buf.Bytes())
}

func (p queryProtocol) encodeError(w http.ResponseWriter, c *call, e *apiError) {
	x := &xmlWriter{}
	x.raw(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	x.raw(`<ErrorResponse xmlns="` + p.xmlns + `">`)
	x.open("Error")
	if e.Status >= 500 {
		x.elem("Type", "Receiver")
	} else {
		x.elem("Type", "Sender")
	}
	x.elem("Code", e.Code)
	x.elem("Message", e.Message)
	x.close("Error")
	x.elem("RequestId", c.reqID)
	x.close("ErrorResponse")
	writeBody(w, c.reqID, "text/xml", e.Status, x.buf.Bytes())
}

func (queryProtocol) authErrors() authErrors {
	return authErrors{
		missing:   newError(http.StatusForbidden, "MissingAuthenticationToken", "Request is missing Authentication Token"),
		invalid:   newError(http.StatusForbidden, "InvalidClientTokenId", "The security token included in the request is invalid."),
		expired:   newError(http.StatusForbidden, "ExpiredToken", "The security token included in the request is expired"),
		signature: newError(http.StatusForbidden, "SignatureDoesNotMatch", signatureMismatch),
	}
}

// xmlWriter builds XML without reflection; responses are hot in benchmarks.
type xmlWriter struct{ buf bytes.Buffer }

func (x *xmlWriter) raw(s string) { x.buf.WriteString(s) }
func (x *xmlWriter) open(name string) {
	x.buf.WriteByte('<')
	x.buf.WriteString(name)
	x.buf.WriteByte('>')
}
func (x *xmlWriter) close(name string) {
	x.buf.WriteString("</")
	x.buf.WriteString(name)
	x.buf.WriteByte('>')
}

func (x *xmlWriter) elem(name, value string) {
	x.open(name)
	if needsEscape(value) {
		_ = xml.EscapeText(&x.buf, []byte(value))
	} else {
		x.buf.WriteString(value)
	}
	x.close(name)
}

func needsEscape(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '<', c == '>', c == '&', c == '\'', c == '"', c < 0x20, c >= utf8.RuneSelf:
			return true
		}
	}
	return false
}

// timeElem writes an ISO 8601 timestamp as AWS does: 2026-01-05T10:00:00Z.
func (x *xmlWriter) timeElem(name string, t time.Time) { x.elem(name, formatTime(t)) }

func (x *xmlWriter) boolElem(name string, b bool) { x.elem(name, strconv.FormatBool(b)) }

func formatTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// --- awsJson1_0 / awsJson1_1 (Organizations; later SQS, Config) ---

// jsonProtocol is awsJson: POST with X-Amz-Target: <prefix>.<Operation> and a JSON body.
type jsonProtocol struct {
	contentType string // application/x-amz-json-1.1
}

func (p jsonProtocol) encode(w http.ResponseWriter, c *call, result any) {
	if result == nil {
		result = struct{}{}
	}
	b, err := json.Marshal(result)
	if err != nil {
		p.encodeError(w, c, newError(http.StatusInternalServerError, "InternalFailure", err.Error()))
		return
	}
	writeBody(w, c.reqID, p.contentType, http.StatusOK, b)
}

func (p jsonProtocol) encodeError(w http.ResponseWriter, c *call, e *apiError) {
	m := make(map[string]string, 2+len(e.Fields))
	for k, v := range e.Fields {
		m[k] = v
	}
	m["__type"] = e.Code
	m["Message"] = e.Message
	b, _ := json.Marshal(m)
	w.Header().Set("X-Amzn-Errortype", e.Code)
	if e.QueryCode != "" {
		w.Header().Set("X-Amzn-Query-Error", e.QueryCode)
	}
	writeBody(w, c.reqID, p.contentType, e.Status, b)
}

func (jsonProtocol) authErrors() authErrors {
	return authErrors{
		missing:   newError(http.StatusBadRequest, "MissingAuthenticationTokenException", "Request is missing Authentication Token"),
		invalid:   newError(http.StatusBadRequest, "UnrecognizedClientException", "The security token included in the request is invalid."),
		expired:   newError(http.StatusBadRequest, "ExpiredTokenException", "The security token included in the request is expired"),
		signature: newError(http.StatusBadRequest, "InvalidSignatureException", signatureMismatch),
	}
}

// --- restJson1 (Lambda, SES v2) ---

// restJSONProtocol is restJson1: the operation is named by method and path (service.route),
// input comes from the path, headers and a JSON (or opaque) body, and errors carry their code
// in the X-Amzn-Errortype header.
type restJSONProtocol struct{}

// restResult is a REST response with its own status, headers and raw body; any other result is
// encoded as JSON with status 200.
type restResult struct {
	status int
	header map[string]string
	body   []byte
	ctype  string
}

func (p restJSONProtocol) encode(w http.ResponseWriter, c *call, result any) {
	if r, ok := result.(*restResult); ok {
		for k, v := range r.header {
			w.Header().Set(k, v)
		}
		ct := r.ctype
		if ct == "" {
			ct = "application/json"
		}
		writeBody(w, c.reqID, ct, r.status, r.body)
		return
	}
	if result == nil {
		result = struct{}{}
	}
	b, err := json.Marshal(result)
	if err != nil {
		p.encodeError(w, c, newError(http.StatusInternalServerError, "InternalFailure", err.Error()))
		return
	}
	writeBody(w, c.reqID, "application/json", http.StatusOK, b)
}

func (restJSONProtocol) encodeError(w http.ResponseWriter, c *call, e *apiError) {
	m := make(map[string]string, 2+len(e.Fields))
	for k, v := range e.Fields {
		m[k] = v
	}
	m["message"] = e.Message
	b, _ := json.Marshal(m)
	w.Header().Set("X-Amzn-Errortype", e.Code)
	writeBody(w, c.reqID, "application/json", e.Status, b)
}

func (restJSONProtocol) authErrors() authErrors {
	return authErrors{
		missing:   newError(http.StatusForbidden, "MissingAuthenticationTokenException", "Missing Authentication Token"),
		invalid:   newError(http.StatusForbidden, "UnrecognizedClientException", "The security token included in the request is invalid."),
		expired:   newError(http.StatusForbidden, "ExpiredTokenException", "The security token included in the request is expired"),
		signature: newError(http.StatusForbidden, "InvalidSignatureException", signatureMismatch),
	}
}

func writeBody(w http.ResponseWriter, reqID, contentType string, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Amzn-Requestid", reqID)
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// decodeJSON decodes a JSON request body; an empty body is an empty object.
func (c *call) decodeJSON(v any) *apiError {
	if len(bytes.TrimSpace(c.body)) == 0 {
		return nil
	}
	if err := json.Unmarshal(c.body, v); err != nil {
		return newError(http.StatusBadRequest, "SerializationException", "Could not parse request body: "+err.Error())
	}
	return nil
}
