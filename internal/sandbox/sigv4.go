package sandbox

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Signature Version 4, verified as AWS verifies it
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html, and the
// canonicalisation of aws-sdk-go-v2's aws/signer/v4): the canonical request (method, URI
// path encoded twice as every service but S3 does, sorted query, the signed headers with
// trimmed values, the payload hash), the credential scope, the string to sign and the
// HMAC-SHA256 chain of the secret. Both header-signed and presigned (query) requests are
// checked; the request time must be within 15 minutes of the sandbox's request clock, and a
// presigned URL must not be past its X-Amz-Expires.

const (
	sigV4Algorithm  = "AWS4-HMAC-SHA256"
	unsignedPayload = "UNSIGNED-PAYLOAD"
	amzDateFormat   = "20060102T150405Z"
	maxClockSkew    = 15 * time.Minute
)

// sigRequest is the signature-relevant part of a request, as its Authorization header or
// presigned query names it.
type sigRequest struct {
	algorithm     string
	accessKeyID   string
	scope         string // 20261124/us-east-1/iam/aws4_request
	scopeDate     string
	signedHeaders []string
	signature     string
	amzDate       string
	expires       time.Duration // presigned only
	presigned     bool
}

// parseSigRequest reads the signature of a request; ok is false when it is malformed.
func parseSigRequest(r *http.Request) (sr sigRequest, msg string) {
	if h := r.Header.Get("Authorization"); h != "" {
		alg, rest, _ := strings.Cut(h, " ")
		sr.algorithm = alg
		for _, part := range strings.Split(rest, ",") {
			k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
			switch k {
			case "Credential":
				sr.accessKeyID, sr.scope, _ = strings.Cut(v, "/")
			case "SignedHeaders":
				sr.signedHeaders = strings.Split(v, ";")
			case "Signature":
				sr.signature = v
			}
		}
		sr.amzDate = r.Header.Get("X-Amz-Date")
		if sr.amzDate == "" {
			sr.amzDate = r.Header.Get("Date")
		}
	} else {
		q := r.URL.Query()
		sr.presigned = true
		sr.algorithm = q.Get("X-Amz-Algorithm")
		sr.accessKeyID, sr.scope, _ = strings.Cut(q.Get("X-Amz-Credential"), "/")
		if h := q.Get("X-Amz-SignedHeaders"); h != "" {
			sr.signedHeaders = strings.Split(h, ";")
		}
		sr.signature = q.Get("X-Amz-Signature")
		sr.amzDate = q.Get("X-Amz-Date")
		if e := q.Get("X-Amz-Expires"); e != "" {
			n, err := strconv.Atoi(e)
			if err != nil || n < 1 || n > 604800 {
				return sr, "X-Amz-Expires must be a number of seconds from 1 to 604800, got " + strconv.Quote(e)
			}
			sr.expires = time.Duration(n) * time.Second
		} else {
			sr.expires = 15 * time.Minute
		}
	}
	switch {
	case sr.algorithm != sigV4Algorithm:
		return sr, "Unsupported signing algorithm " + strconv.Quote(sr.algorithm) + ": the sandbox verifies " + sigV4Algorithm
	case sr.scope == "" || strings.Count(sr.scope, "/") != 3 || !strings.HasSuffix(sr.scope, "/aws4_request"):
		return sr, "Credential should be scoped to a valid region, service and date: " + strconv.Quote(sr.scope)
	case len(sr.signedHeaders) == 0 || sr.signature == "":
		return sr, "Authorization header requires 'SignedHeaders' and 'Signature' parameters"
	case sr.amzDate == "":
		return sr, "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header"
	}
	sr.scopeDate = sr.scope[:strings.IndexByte(sr.scope, '/')]
	return sr, ""
}

// verifySignature checks a request's signature with the secret of its access key at now (the
// request clock). It returns "" when the signature verifies, else AWS's message.
func (s *Server) verifySignature(r *http.Request, body []byte, secret string, now time.Time) string {
	sr, msg := parseSigRequest(r)
	if msg != "" {
		return msg
	}
	t, err := time.Parse(amzDateFormat, sr.amzDate)
	if err != nil {
		if t, err = http.ParseTime(sr.amzDate); err != nil {
			return "Date must be in ISO-8601 'basic format'. Got '" + sr.amzDate + "'. See http://en.wikipedia.org/wiki/ISO_8601"
		}
		sr.amzDate = t.UTC().Format(amzDateFormat)
	}
	if sr.amzDate[:8] != sr.scopeDate {
		return "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '" +
			sr.scopeDate + "' != '" + sr.amzDate[:8] + "', from '" + sr.amzDate + "'."
	}
	switch {
	case sr.presigned && now.After(t.Add(sr.expires)):
		return "Signature expired: " + sr.amzDate + " is now earlier than " + now.Add(-sr.expires).Format(amzDateFormat) +
			" (" + now.Format(amzDateFormat) + " - " + sr.expires.String() + ")"
	case !sr.presigned && now.Sub(t) > maxClockSkew:
		return "Signature expired: " + sr.amzDate + " is now earlier than " + now.Add(-maxClockSkew).Format(amzDateFormat) +
			" (" + now.Format(amzDateFormat) + " - 15 min.)"
	case t.Sub(now) > maxClockSkew:
		return "Signature not yet current: " + sr.amzDate + " is still later than " + now.Add(maxClockSkew).Format(amzDateFormat) +
			" (" + now.Format(amzDateFormat) + " + 15 min.)"
	}
	signed := false
	for _, h := range sr.signedHeaders {
		if h == "host" {
			signed = true
		}
	}
	if !signed {
		return "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
	}

	// The payload hash: x-amz-content-sha256 when the client sent it (it must then match the
	// body unless it is UNSIGNED-PAYLOAD, which presigned URLs also use), else the body's hash.
	bodyHash := hashHex(body)
	hashes := []string{bodyHash}
	if h := r.Header.Get("X-Amz-Content-Sha256"); h != "" {
		if h != unsignedPayload && h != bodyHash {
			return "The provided 'x-amz-content-sha256' header does not match what was computed."
		}
		hashes = []string{h}
	} else if sr.presigned {
		hashes = append(hashes, unsignedPayload)
	}
	key := s.signingKey(secret, sr.scope)
	want, err := hex.DecodeString(sr.signature)
	if err != nil {
		return signatureMismatch
	}
	for _, ph := range hashes {
		creq := canonicalRequest(r, sr, ph)
		sts := sigV4Algorithm + "\n" + sr.amzDate + "\n" + sr.scope + "\n" + hashHex([]byte(creq))
		if hmac.Equal(hmacSHA256(key, sts), want) {
			return ""
		}
	}
	return signatureMismatch
}

const signatureMismatch = "The request signature we calculated does not match the signature you provided. " +
	"Check your AWS Secret Access Key and signing method. Consult the service documentation for details."

// canonicalRequest builds the canonical request of r for the signed headers of sr.
func canonicalRequest(r *http.Request, sr sigRequest, payloadHash string) string {
	var b strings.Builder
	b.Grow(512)
	b.WriteString(r.Method)
	b.WriteByte('\n')
	path := r.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	b.WriteString(escapePath(path))
	b.WriteByte('\n')
	b.WriteString(canonicalQuery(r.URL.RawQuery, sr.presigned))
	b.WriteByte('\n')
	for _, h := range sr.signedHeaders {
		b.WriteString(h)
		b.WriteByte(':')
		b.WriteString(canonicalHeaderValue(r, h))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(sr.signedHeaders, ";"))
	b.WriteByte('\n')
	b.WriteString(payloadHash)
	return b.String()
}

// canonicalHeaderValue is a header's values joined by commas, each trimmed, runs of spaces
// collapsed. The server keeps Host and Content-Length out of r.Header.
func canonicalHeaderValue(r *http.Request, name string) string {
	var vals []string
	switch name {
	case "host":
		vals = []string{r.Host}
	case "content-length":
		vals = r.Header.Values("Content-Length")
		if len(vals) == 0 {
			vals = []string{strconv.FormatInt(r.ContentLength, 10)}
		}
	default:
		vals = r.Header.Values(name)
	}
	for i, v := range vals {
		vals[i] = strings.Join(strings.Fields(v), " ")
	}
	return strings.Join(vals, ",")
}

// canonicalQuery sorts the parameters by name then value, each URI-encoded (RFC 3986
// unreserved characters kept, space as %20); a presigned URL's X-Amz-Signature is left out.
func canonicalQuery(raw string, presigned bool) string {
	if raw == "" {
		return ""
	}
	q, _ := url.ParseQuery(raw)
	if presigned {
		delete(q, "X-Amz-Signature")
	}
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		vs := q[k]
		sort.Strings(vs)
		for _, v := range vs {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(uriEncode(k, true))
			b.WriteByte('=')
			b.WriteString(uriEncode(v, true))
		}
	}
	return b.String()
}

// escapePath encodes an (already escaped) path once more, keeping slashes, as SigV4 does for
// every service but S3.
func escapePath(p string) string { return uriEncode(p, false) }

// uriEncode percent-encodes everything but A-Z a-z 0-9 - _ . ~ (and / unless encodeSlash).
func uriEncode(s string, encodeSlash bool) string {
	const hexUpper = "0123456789ABCDEF"
	n := 0
	for i := 0; i < len(s); i++ {
		if !unreserved(s[i]) && (encodeSlash || s[i] != '/') {
			n++
		}
	}
	if n == 0 {
		return s
	}
	out := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) || (!encodeSlash && c == '/') {
			out = append(out, c)
			continue
		}
		out = append(out, '%', hexUpper[c>>4], hexUpper[c&15])
	}
	return string(out)
}

func unreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~'
}

func hashHex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// signingKeys caches derived signing keys: a scanner signs thousands of requests with one
// key and scope per day.
type signingKeys struct {
	mu sync.Mutex
	m  map[string][]byte
}

// signingKey derives HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), service), "aws4_request").
func (s *Server) signingKey(secret, scope string) []byte {
	ck := secret + "/" + scope
	s.sigKeys.mu.Lock()
	k, ok := s.sigKeys.m[ck]
	s.sigKeys.mu.Unlock()
	if ok {
		return k
	}
	parts := strings.Split(scope, "/")
	k = []byte("AWS4" + secret)
	for _, p := range parts {
		k = hmacSHA256(k, p)
	}
	s.sigKeys.mu.Lock()
	if s.sigKeys.m == nil || len(s.sigKeys.m) >= 1<<16 {
		s.sigKeys.m = make(map[string][]byte) // bounded: start over rather than grow without end
	}
	s.sigKeys.m[ck] = k
	s.sigKeys.mu.Unlock()
	return k
}

// signV4 signs r with SigV4 in the Authorization header, as an SDK would; for the sandbox's
// own tests and benchmarks, which send requests without the SDK.
func signV4(r *http.Request, body []byte, keyID, secret, token, region, service string, now time.Time) {
	amzDate := now.UTC().Format(amzDateFormat)
	r.Header.Set("X-Amz-Date", amzDate)
	if token != "" {
		r.Header.Set("X-Amz-Security-Token", token)
	}
	if r.Host == "" {
		r.Host = r.URL.Host
	}
	headers := []string{"host", "x-amz-date"}
	if token != "" {
		headers = append(headers, "x-amz-security-token")
	}
	scope := amzDate[:8] + "/" + region + "/" + service + "/aws4_request"
	sr := sigRequest{scope: scope, signedHeaders: headers, amzDate: amzDate}
	creq := canonicalRequest(r, sr, hashHex(body))
	k := []byte("AWS4" + secret)
	for _, p := range strings.Split(scope, "/") {
		k = hmacSHA256(k, p)
	}
	sig := hmacSHA256(k, sigV4Algorithm+"\n"+amzDate+"\n"+scope+"\n"+hashHex([]byte(creq)))
	r.Header.Set("Authorization", sigV4Algorithm+" Credential="+keyID+"/"+scope+", SignedHeaders="+
		strings.Join(headers, ";")+", Signature="+hex.EncodeToString(sig))
}
