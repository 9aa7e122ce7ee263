package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
)

// Lambda over restJson1: Invoke only (POST /2015-03-31/functions/{name}/invocations). Functions
// do not run: they exist (declared in the fixture or with PutFunction) and either succeed,
// answering {"ok":true,"echo":<payload>}, or fail with an Unhandled function error. Every
// invocation of an existing function is recorded with its payload (Server.Invocations).

const lambdaInvokePrefix = "/2015-03-31/functions/"

// lambdaState is an account's functions, under their own lock.
type lambdaState struct {
	mu        sync.Mutex
	functions map[string]*function
}

type function struct {
	name string
	fail bool
}

func (s *Server) lambdaService() *service {
	return &service{
		name:  "lambda",
		proto: restJSONProtocol{},
		route: func(r *http.Request) (string, bool) {
			if r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, lambdaInvokePrefix) && strings.HasSuffix(r.URL.Path, "/invocations") {
				return "Invoke", true
			}
			return "", false
		},
		throttle: lambdaError(http.StatusTooManyRequests, "TooManyRequestsException", "Rate Exceeded.", "CallerRateLimitExceeded"),
		failure:  newError(http.StatusInternalServerError, "ServiceException", "An internal error occurred."),
		unknownOp: func(string) *apiError {
			return newError(http.StatusNotFound, "UnknownOperationException", "The sandbox serves Lambda Invoke only")
		},
		ops: map[string]operation{"Invoke": s.lambdaInvoke},
	}
}

func lambdaError(status int, code, msg, reason string) *apiError {
	e := newError(status, code, msg)
	e.Fields = map[string]string{"Type": "User"}
	if reason != "" {
		e.Fields["Reason"] = reason
	}
	return e
}

// PutFunction creates (or reconfigures) a Lambda function in an account; with fail, every
// invocation answers with an Unhandled function error.
func (s *Server) PutFunction(accountID, name string, fail bool) error {
	a := s.accounts[accountID]
	if a == nil {
		return fmt.Errorf("put function %q: no account %s in the sandbox", name, accountID)
	}
	if !validFunctionName(name) {
		return fmt.Errorf("put function %q in %s: want 1 to 64 of [A-Za-z0-9_-]", name, accountID)
	}
	a.lambda.mu.Lock()
	defer a.lambda.mu.Unlock()
	a.putFunctionLocked(name, fail)
	return nil
}

func (a *account) putFunctionLocked(name string, fail bool) {
	if a.lambda.functions == nil {
		a.lambda.functions = map[string]*function{}
	}
	a.lambda.functions[name] = &function{name: name, fail: fail}
}

func validFunctionName(n string) bool {
	if len(n) == 0 || len(n) > 64 {
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

// parseFunctionName accepts a name, a partial ARN (123456789012:function:name) or a full ARN,
// each optionally with a :qualifier, returning the account (caller's when absent) and name.
func parseFunctionName(s, caller string) (acct, name string, ok bool) {
	parts := strings.Split(s, ":")
	switch {
	case len(parts) <= 2:
		acct, name = caller, parts[0]
	case len(parts) >= 7 && parts[0] == "arn" && parts[2] == "lambda" && parts[5] == "function":
		acct, name = parts[4], parts[6]
	case len(parts) >= 3 && parts[1] == "function":
		acct, name = parts[0], parts[2]
	default:
		return "", "", false
	}
	return acct, name, accountIDPattern.MatchString(acct) && validFunctionName(name)
}

func (s *Server) lambdaInvoke(c *call) (any, error) {
	raw := strings.TrimSuffix(strings.TrimPrefix(c.req.URL.Path, lambdaInvokePrefix), "/invocations")
	acctID, name, ok := parseFunctionName(raw, c.acct().id)
	if !ok {
		return nil, lambdaError(http.StatusBadRequest, "ValidationException",
			"1 validation error detected: Value '"+raw+"' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_\\.]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?", "")
	}
	arn := "arn:aws:lambda:" + c.region + ":" + acctID + ":function:" + name
	if acctID != c.acct().id {
		return nil, lambdaError(http.StatusForbidden, "AccessDeniedException", "User: "+c.p.arn()+
			" is not authorized to perform: lambda:InvokeFunction on resource: "+arn+
			" because no resource-based policy allows the lambda:InvokeFunction action", "")
	}
	typ := c.req.Header.Get("X-Amz-Invocation-Type")
	if typ == "" {
		typ = "RequestResponse"
	}
	limit := 6 << 20
	switch typ {
	case "RequestResponse", "DryRun":
	case "Event":
		limit = 1 << 20
	default:
		return nil, lambdaError(http.StatusBadRequest, "InvalidParameterValueException", "Unsupported invocation type "+typ, "")
	}
	if len(c.body) > limit {
		return nil, lambdaError(http.StatusRequestEntityTooLarge, "RequestTooLargeException",
			fmt.Sprintf("Request must be smaller than %d bytes for the InvokeFunction operation", limit), "")
	}
	if len(c.body) > 0 && !json.Valid(c.body) {
		return nil, lambdaError(http.StatusBadRequest, "InvalidRequestContentException", "Could not parse request body into json: Could not parse payload into json", "")
	}
	a := c.acct()
	a.lambda.mu.Lock()
	fn := a.lambda.functions[name]
	var f function
	if fn != nil {
		f = *fn
	}
	a.lambda.mu.Unlock()
	if fn == nil {
		return nil, lambdaError(http.StatusNotFound, "ResourceNotFoundException", "Function not found: "+arn, "")
	}
	inv := LambdaInvocation{Account: a.id, FunctionName: name, FunctionArn: arn, InvocationType: typ, Payload: string(c.body), Time: c.now}
	res := &restResult{header: map[string]string{"X-Amz-Executed-Version": "$LATEST"}}
	switch {
	case typ == "DryRun":
		res.status = http.StatusNoContent
	case typ == "Event":
		res.status = http.StatusAccepted
	case f.fail:
		res.status = http.StatusOK
		res.header["X-Amz-Function-Error"] = "Unhandled"
		res.body = []byte(`{"errorType":"Error","errorMessage":"` + name + ` failed (the sandbox function is configured to fail)","trace":[]}`)
		inv.FunctionError = "Unhandled"
	default:
		res.status = http.StatusOK
		echo := c.body
		if len(echo) == 0 {
			echo = []byte("null")
		}
		res.body = append(append([]byte(`{"ok":true,"echo":`), echo...), '}')
	}
	inv.StatusCode = res.status
	s.recordInvocation(inv)
	return res, nil
}
