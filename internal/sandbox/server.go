package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a Server. The zero value serves a small generated organization with no
// faults.
type Options struct {
	// Fixture is the organization to serve; nil serves a generated one of 3 accounts x 10 users.
	Fixture *Fixture
	// Latency is added to every API request (not to /_sandbox/ requests).
	Latency time.Duration
	// ThrottleRPS, when positive, limits API requests to that many per second over the whole
	// sandbox (a token bucket holding up to one second of requests, measured in wall time);
	// excess requests get the service's throttling error.
	ThrottleRPS float64
	// FailRate is the fraction (0 to 1) of API requests answered with an HTTP 500 error.
	FailRate float64
	// MaxInflight, when positive, bounds the API requests served at once (Latency included);
	// the others wait their turn. 1 stands for a single-threaded emulator such as moto.
	MaxInflight int
	// ReportDelay is how long a credential report takes to generate. With 0 the report started
	// by one GenerateCredentialReport call is complete for the next call.
	ReportDelay time.Duration
	// EventsQueueARN, when set, receives an EventBridge event for every IAM
	// key or user change (see SetEventsQueue).
	EventsQueueARN string
	// Now is the clock; default time.Now. Fixture ages are relative to Now() at New, and
	// sessions expire by it.
	Now func() time.Time
	// After is how the sandbox waits in real time: each step of a CloudFormation operation
	// and the readiness of a change set (SetCloudFormationDelay), an SQS long poll, and
	// Latency. Default time.After. Now is not used for these waits because tests pin it to a
	// fixed date; tests pass an After they drive instead, to wait without sleeping.
	After func(d time.Duration) <-chan time.Time
	// RequestClock is the clock request signatures are checked against (AWS's 15-minute
	// window, presigned URLs' expiry); default time.Now, because clients sign with the wall
	// clock even when Now simulates another time.
	RequestClock func() time.Time
	// DefaultRolePolicies gives, by role name, the identity policy (a JSON document) of every
	// fixture role that has no policy of its own: the CLI passes what "keyage iam-policy"
	// prints for KeyageAuditRole and KeyageEnforceRole. A role with neither is allowed
	// everything, as the sandbox was before it enforced IAM permissions.
	DefaultRolePolicies map[string]string
	// Seed drives the organization generated when Fixture is nil and the FailRate draws.
	Seed int64
	// Logger receives one debug line per request; default discards.
	Logger *slog.Logger
}

// Server is an AWS-compatible endpoint for one synthetic organization. It implements
// http.Handler; all state is in memory.
type Server struct {
	opts   Options
	now    func() time.Time
	after  func(time.Duration) <-chan time.Time
	start  time.Time
	log    *slog.Logger
	ids    idGen
	mgmtID string

	mgmtKeyID, mgmtSecret string

	accounts    map[string]*account // immutable after New
	accountList []*account          // fixture order, management first
	org         *organization

	keys     sync.Map // access key id -> keyRef (users' and root keys)
	sessions sync.Map // temporary access key id -> *session
	nSession atomic.Int64
	reqSeq   atomic.Uint64
	keySeq   atomic.Uint64 // CreateAccessKey calls

	services  []*service
	bySigning map[string]*service // SigV4 signing name -> service
	byTarget  map[string]*service // X-Amz-Target prefix -> service
	admin     *http.ServeMux

	faults *faults
	// inflight holds a token per API request being served (Options.MaxInflight); nil: no bound.
	inflight chan struct{}
	sigKeys  signingKeys
	// defaultPolicies are the parsed Options.DefaultRolePolicies.
	defaultPolicies map[string]*policyDoc
	stats           statsCounter
	records         records // what SNS, Lambda and SES were asked to send
	events          eventsTarget
}

var _ http.Handler = (*Server)(nil)

// New builds a Server for opts.Fixture, validating it.
func New(opts Options) (*Server, error) {
	if opts.FailRate < 0 || opts.FailRate > 1 {
		return nil, fmt.Errorf("sandbox fail rate %v: want a fraction between 0 and 1", opts.FailRate)
	}
	if opts.ThrottleRPS < 0 || opts.Latency < 0 || opts.ReportDelay < 0 || opts.MaxInflight < 0 {
		return nil, errors.New("sandbox latency, throttle rate, report delay and max in-flight requests must not be negative")
	}
	f := opts.Fixture
	if f == nil {
		f = Generate(GenerateOptions{Accounts: 3, Users: 10, Seed: opts.Seed})
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	opts.Fixture = nil // the state below is built from it; do not keep it alive
	s := &Server{
		opts:   opts,
		now:    opts.Now,
		after:  opts.After,
		log:    opts.Logger,
		ids:    idGen{seed: "keyage-sandbox"},
		mgmtID: f.ManagementAccountID,
		faults: newFaults(opts),
	}
	if opts.MaxInflight > 0 {
		s.inflight = make(chan struct{}, opts.MaxInflight)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.after == nil {
		s.after = time.After
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.start = s.now().UTC()
	s.defaultPolicies = make(map[string]*policyDoc, len(opts.DefaultRolePolicies))
	for name, doc := range opts.DefaultRolePolicies {
		p, err := parseIdentityPolicy(doc)
		if err != nil {
			return nil, fmt.Errorf("default policy of role %s: %w", name, err)
		}
		s.defaultPolicies[name] = p
	}

	auditRole := f.AuditRoleName
	if auditRole == "" {
		auditRole = DefaultAuditRoleName
	}
	s.accounts = make(map[string]*account, len(f.Accounts)+1)
	s.accountList = make([]*account, 0, len(f.Accounts)+1)
	hasMgmt := false
	for i := range f.Accounts {
		hasMgmt = hasMgmt || f.Accounts[i].ID == s.mgmtID
	}
	if !hasMgmt {
		m := FixtureAccount{ID: s.mgmtID, Name: "management"}
		a := s.buildAccount(&m, auditRole)
		s.accounts[a.id] = a
		s.accountList = append(s.accountList, a)
	}
	for i := range f.Accounts {
		a := s.buildAccount(&f.Accounts[i], auditRole)
		s.accounts[a.id] = a
		if a.mgmt {
			s.accountList = append([]*account{a}, s.accountList...)
		} else {
			s.accountList = append(s.accountList, a)
		}
	}

	// The management credentials belong to a hidden IAM user of the management account: a user,
	// not the root, because AWS refuses AssumeRole to root credentials.
	mgmt := s.accounts[s.mgmtID]
	s.mgmtKeyID = s.ids.id("AKIA", 16, s.mgmtID, "sandbox-admin")
	s.mgmtSecret = s.ids.secret(s.mgmtID, "sandbox-admin")
	mgmt.admin = &user{
		name: "sandbox-admin", lower: "sandbox-admin", path: "/", id: s.ids.id("AIDA", 16, s.mgmtID, "sandbox-admin"),
		created: mgmt.created,
		keys:    []accessKey{{id: s.mgmtKeyID, secret: s.mgmtSecret, status: statusActive, created: mgmt.created}},
	}
	s.keys.Store(s.mgmtKeyID, keyRef{acct: mgmt, user: mgmt.admin})

	s.org = s.buildOrganization()
	s.org.stackSetsAccess = f.StackSetsTrustedAccess == nil || *f.StackSetsTrustedAccess

	s.bySigning = map[string]*service{}
	s.byTarget = map[string]*service{}
	for _, svc := range []*service{s.iamService(), s.stsService(), s.organizationsService(),
		s.snsService(), s.sqsService(), s.configService(), s.lambdaService(), s.sesService(), s.cloudFormationService(), s.securityHubService(),
		s.secretsManagerService()} {
		s.register(svc)
	}
	s.cfn().unavailable = unavailableTypes(f.Regions)
	s.admin = s.adminMux()
	if err := s.SetEventsQueue(opts.EventsQueueARN); err != nil {
		return nil, err
	}
	return s, nil
}

// ManagementAccountID returns the organization's management account id.
func (s *Server) ManagementAccountID() string { return s.mgmtID }

// ManagementCredentials returns the long-term credentials of the management account. They are
// derived from the management account id, so they are the same on every run.
func (s *Server) ManagementCredentials() (accessKeyID, secretAccessKey string) {
	return s.mgmtKeyID, s.mgmtSecret
}

// AccountIDs returns the ids of every account, management first, then in fixture order.
func (s *Server) AccountIDs() []string {
	out := make([]string, len(s.accountList))
	for i, a := range s.accountList {
		out[i] = a.id
	}
	return out
}

// A service is one AWS API: its SigV4 signing name (also the prefix of its operations in
// Stats), its protocol and its operations. Adding a service is one file that builds one of these.
type service struct {
	name string
	// target is the X-Amz-Target prefix of JSON protocols (AWSOrganizationsV20161128).
	target string
	// version is the awsQuery Version parameter (2010-05-08). A JSON service with a version also
	// takes awsQuery requests (a form without X-Amz-Target), as SQS does.
	version string
	proto   protocol
	ops     map[string]operation
	// route names the operation of a request whose protocol carries it in neither X-Amz-Target
	// nor an Action parameter (REST protocols). Nil for awsQuery and awsJson services.
	route func(r *http.Request) (op string, ok bool)
	// throttle and failure are the errors for injected throttling and failures.
	throttle, failure *apiError
	// unknownOp is the error for an operation the service does not have.
	unknownOp func(op string) *apiError
}

// An operation handles one API action, returning a result for the service's protocol or an
// error (an *apiError is sent as is; any other error becomes an internal failure).
type operation func(c *call) (any, error)

func (s *Server) register(svc *service) {
	s.services = append(s.services, svc)
	s.bySigning[svc.name] = svc
	if svc.target != "" {
		s.byTarget[svc.target] = svc
	}
}

// call is one API request in flight.
type call struct {
	ctx    context.Context
	s      *Server
	svc    *service
	op     string
	api    string // "iam:ListUsers"
	form   url.Values
	body   []byte
	p      *principal
	now    time.Time
	reqID  string
	region string
	req    *http.Request
	// idNoAllow: the caller's identity policies are enforced and none allows the call, which
	// may go on only if the resource's policy in the caller's own account allows it.
	idNoAllow bool
}

// acct is the caller's account.
func (c *call) acct() *account { return c.p.acct }

// ServeHTTP routes a request: /_sandbox/ to the admin API; a request with X-Amz-Target to the
// JSON service owning that prefix; any other to the service named by the SigV4 credential scope.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/_sandbox/") {
		s.admin.ServeHTTP(w, r)
		return
	}
	if s.inflight != nil {
		select {
		case s.inflight <- struct{}{}:
			defer func() { <-s.inflight }()
		case <-r.Context().Done():
			return // the client went away while waiting its turn
		}
	}
	// Deferred after the slot's release, so it runs first: the service time is
	// the time the request held its slot (or the handler's time without a bound).
	defer s.stats.served(time.Now())
	c := &call{ctx: r.Context(), s: s, reqID: s.requestID(), req: r}
	cred := parseCredential(r)
	c.region = cred.region
	if c.region == "" {
		c.region = "us-east-1"
	}
	if t := r.Header.Get("X-Amz-Target"); t != "" {
		prefix, op, _ := strings.Cut(t, ".")
		c.svc, c.op = s.byTarget[prefix], op
		if c.svc == nil {
			jsonProtocol{contentType: r.Header.Get("Content-Type")}.encodeError(w, c,
				newError(http.StatusBadRequest, "UnknownOperationException", "The sandbox does not serve X-Amz-Target "+t))
			return
		}
	} else {
		c.svc = s.bySigning[cred.service]
		if c.svc == nil {
			msg := "The sandbox cannot tell the service of this request: send X-Amz-Target or a SigV4 Authorization header"
			if cred.service != "" {
				msg = "The sandbox does not serve the service " + cred.service
			}
			queryProtocol{}.encodeError(w, c, newError(http.StatusBadRequest, "UnknownService", msg))
			return
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 8<<20))
	if err != nil {
		c.svc.proto.encodeError(w, c, newError(http.StatusBadRequest, "SerializationException", "Could not read request body: "+err.Error()))
		return
	}
	c.body = body
	switch {
	case c.svc.route != nil:
		c.op, _ = c.svc.route(r)
	case c.svc.target == "", c.svc.version != "" && r.Header.Get("X-Amz-Target") == "":
		form, err := url.ParseQuery(string(body))
		if err != nil {
			c.svc.proto.encodeError(w, c, newError(http.StatusBadRequest, "MalformedQueryString", err.Error()))
			return
		}
		for k, v := range r.URL.Query() {
			form[k] = append(form[k], v...)
		}
		c.form = form
		c.op = form.Get("Action")
	}
	handler, ok := c.svc.ops[c.op]
	if !ok {
		c.svc.proto.encodeError(w, c, c.svc.unknownOp(c.op))
		return
	}
	c.api = c.svc.name + ":" + c.op

	auth := s.authenticate(r, cred, body)
	c.p = auth.p
	var acct *account
	if auth.p != nil {
		acct = auth.p.acct
	}
	s.stats.count(c.api, acct)
	start := time.Now()
	status := s.serve(w, c, handler, auth)
	s.log.LogAttrs(c.ctx, slog.LevelDebug, "request", slog.String("api", c.api), slog.String("account", accountID(acct)),
		slog.Int("status", status), slog.Duration("duration", time.Since(start)), slog.String("requestId", c.reqID))
}

func accountID(a *account) string {
	if a == nil {
		return ""
	}
	return a.id
}

// serve applies the faults, then credentials, then the operation, returning the HTTP status.
func (s *Server) serve(w http.ResponseWriter, c *call, handler operation, auth authResult) int {
	fail := func(e *apiError) int {
		c.svc.proto.encodeError(w, c, e)
		return e.Status
	}
	if err := s.faults.wait(c.ctx); err != nil {
		return 499 // the client went away; nothing to write
	}
	if !s.faults.allow(time.Now()) {
		return fail(c.svc.throttle)
	}
	if s.faults.fail() {
		return fail(c.svc.failure)
	}
	ae := c.svc.proto.authErrors()
	switch auth.fail {
	case authMissing:
		return fail(ae.missing)
	case authInvalid:
		return fail(ae.invalid)
	case authExpired:
		return fail(ae.expired)
	case authSignature:
		e := *ae.signature
		e.Message = auth.msg
		return fail(&e)
	}
	c.now = s.now().UTC()
	if e := s.authorize(c); e != nil {
		return fail(e)
	}
	result, err := handler(c)
	if err != nil {
		var e *apiError
		if !errors.As(err, &e) {
			s.log.Error("operation", "api", c.api, "err", err)
			e = c.svc.failure
		}
		return fail(e)
	}
	c.svc.proto.encode(w, c, result)
	return http.StatusOK
}

// requestID returns a UUID-shaped request id, unique within the process.
func (s *Server) requestID() string {
	n := s.reqSeq.Add(1)
	x := n * 0x9e3779b97f4a7c15
	return fmt.Sprintf("%08x-%04x-4%03x-a%03x-%012x", uint32(x>>32), uint16(x>>16), uint16(x)&0xfff, uint16(n>>48)&0xfff, n&0xffffffffffff)
}

// credential is what the SigV4 credential scope says about a request.
type credential struct {
	accessKeyID, region, service string
	sessionToken                 string
}

// parseCredential reads "Credential=AKID/20261124/us-east-1/iam/aws4_request" from the
// Authorization header (SigV4 and SigV4a) or from a presigned URL's X-Amz-Credential.
func parseCredential(r *http.Request) credential {
	var scope string
	if h := r.Header.Get("Authorization"); h != "" {
		if i := strings.Index(h, "Credential="); i >= 0 {
			scope = h[i+len("Credential="):]
			if j := strings.IndexAny(scope, ", "); j >= 0 {
				scope = scope[:j]
			}
		}
	} else {
		scope = r.URL.Query().Get("X-Amz-Credential")
	}
	c := credential{sessionToken: r.Header.Get("X-Amz-Security-Token")}
	if c.sessionToken == "" {
		c.sessionToken = r.URL.Query().Get("X-Amz-Security-Token")
	}
	parts := strings.Split(scope, "/")
	c.accessKeyID = parts[0]
	if n := len(parts); n >= 4 {
		c.service = parts[n-2]
		if n == 5 {
			c.region = parts[2]
		}
	}
	return c
}
