// Package server serves keyage's state: an HTML dashboard (embedded
// templates and assets, readable without JavaScript), a JSON API under
// /api/v1/, Prometheus metrics on an injected registry, and health checks.
// Every page reads the store; nothing is cached, so what it shows is what
// the store holds.
package server

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/keyage/keyage/internal/config"
	"github.com/keyage/keyage/internal/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Options configure a Server.
type Options struct {
	Store  *store.Store
	Logger *slog.Logger
	// Registry receives keyage's metrics; /metrics serves it. Nil makes a
	// new one.
	Registry *prometheus.Registry
	// AuthToken, when set, is required on every route but /healthz,
	// /readyz and /static/: as "Authorization: Bearer <token>" or through
	// the session cookie /login sets.
	AuthToken string
	// ScanNow asks for a scan and returns at once (daemon.Scheduler.Trigger);
	// nil hides the "Scan now" button.
	ScanNow func(ctx context.Context) error
	// ScanProgress reports the running scan's progress (may be nil).
	ScanProgress func() (done, total int, running bool)
	// Now is the clock (default time.Now).
	Now     func() time.Time
	Version string
	// MaxAccessKeyAge is the rule's limit in days (for display).
	MaxAccessKeyAge int
	// Listen is the address the server listens on ("127.0.0.1:8080"). It
	// answers only requests whose Host header names a loopback host
	// (localhost, 127.0.0.1, [::1]) or Listen's host, and 421 Misdirected
	// Request to any other, so a page on another site cannot read it through
	// DNS rebinding. A wildcard host (":8080", "0.0.0.0:8080", "[::]:8080")
	// accepts any Host: such a server requires a token, or something in
	// front of it that authenticates. Empty means loopback names only.
	Listen string
	// Config is the configuration in force, shown (secrets redacted) in
	// the audit report; nil leaves it out.
	Config *config.Config
	// ReminderInterval is how long after a notification the next reminder
	// is due, for the "next reminder" column: the routes' repeatInterval.
	// Zero means 7 days.
	ReminderInterval time.Duration
}

// Server is the dashboard, API and metrics handler.
type Server struct {
	opts    Options
	log     *slog.Logger
	mux     *http.ServeMux
	pages   map[string]*template.Template
	metrics *metrics
	// sessionKey signs session cookies and form tokens; derived from the
	// token so sessions survive a restart and die with a new token.
	sessionKey []byte
	// scanned is set once ObserveScan has seen a scan.
	scanned atomic.Bool
	// revoked are the sessions logged out before their expiry.
	revoked revocations
	// hosts are the Host names accepted (lower case, no port); nil accepts
	// any.
	hosts   map[string]bool
	handler http.Handler
}

// New builds a Server. It registers keyage's metrics on opts.Registry.
func New(opts Options) (*Server, error) {
	if opts.Store == nil {
		return nil, errors.New("server: a store is required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxAccessKeyAge <= 0 {
		opts.MaxAccessKeyAge = 90
	}
	if opts.ReminderInterval <= 0 {
		opts.ReminderInterval = 7 * 24 * time.Hour
	}
	s := &Server{opts: opts, log: opts.Logger, mux: http.NewServeMux()}
	s.sessionKey = deriveKey(opts.AuthToken)
	var err error
	if s.pages, err = parseTemplates(); err != nil {
		return nil, err
	}
	if s.metrics, err = newMetrics(opts.Registry, s); err != nil {
		return nil, err
	}
	if s.hosts, err = allowedHosts(opts.Listen); err != nil {
		return nil, err
	}
	s.routes()
	cop := http.NewCrossOriginProtection()
	s.handler = securityHeaders(s.checkHost(cop.Handler(s.mux)))
	return s, nil
}

// allowedHosts are the Host names a server listening on listen answers: the
// loopback names and listen's host; nil (any) for a wildcard host.
func allowedHosts(listen string) (map[string]bool, error) {
	hosts := map[string]bool{"localhost": true, "127.0.0.1": true, "::1": true}
	if listen == "" {
		return hosts, nil
	}
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return nil, fmt.Errorf("server: listen address %q: %w", listen, err)
	}
	if host == "" {
		return nil, nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		return nil, nil
	}
	hosts[strings.ToLower(host)] = true
	return hosts, nil
}

// checkHost answers 421 to a request for a host this server is not: the
// defence against DNS rebinding. Health checks answer whatever the Host.
func (s *Server) checkHost(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.hosts == nil || r.URL.Path == "/healthz" || r.URL.Path == "/readyz" {
			next.ServeHTTP(w, r)
			return
		}
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		host = strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
		if !s.hosts[host] && !strings.HasSuffix(host, ".localhost") {
			s.log.Warn("request for another host refused", "host", r.Host, "remote", r.RemoteAddr)
			http.Error(w, "misdirected request: this server does not answer for host "+strconv.Quote(r.Host), http.StatusMisdirectedRequest)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Timeouts of the HTTP server HTTPServer makes: a client that sends its
// headers or body slowly, or keeps an idle connection, is cut off.
const (
	ReadHeaderTimeout = 10 * time.Second
	ReadTimeout       = 30 * time.Second
	WriteTimeout      = 2 * time.Minute
	IdleTimeout       = 2 * time.Minute
)

// HTTPServer is an http.Server serving s with read, read-header, write and
// idle timeouts.
func (s *Server) HTTPServer() *http.Server {
	return &http.Server{Handler: s, ReadHeaderTimeout: ReadHeaderTimeout, ReadTimeout: ReadTimeout,
		WriteTimeout: WriteTimeout, IdleTimeout: IdleTimeout, ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

var _ http.Handler = (*Server)(nil)

func (s *Server) routes() {
	static, _ := fs.Sub(staticFS, "static")
	fileServer := http.StripPrefix("/static/", http.FileServerFS(static))
	s.mux.Handle("GET /static/", cacheStatic(fileServer))
	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.mux.HandleFunc("GET /readyz", s.readyz)
	s.mux.HandleFunc("GET /login", s.withToken(s.loginPage))
	s.mux.HandleFunc("POST /login", s.withToken(s.login))
	s.mux.HandleFunc("POST /logout", s.logout)

	page := func(pattern string, h func(w http.ResponseWriter, r *http.Request) error) {
		s.mux.Handle(pattern, s.authPage(s.htmlErrors(h)))
	}
	page("GET /{$}", s.overview)
	page("GET /noncompliant", s.nonCompliant)
	page("GET /accounts", s.accounts)
	page("GET /accounts/{id}", s.account)
	page("GET /users/{account}/{resource}", s.user)
	page("POST /scan", s.scanNow)
	s.mux.Handle("GET /overview/trend.csv", s.authPage(s.htmlErrors(s.overviewTrendCSV)))
	page("GET /enforcement", viewPage(s, "enforcement", "Enforcement", s.enforcementView))
	page("GET /exemptions", viewPage(s, "exemptions", "Exemptions", s.exemptionsView))
	page("GET /rotations", viewPage(s, "rotations", "Rotations", s.rotationsView))
	s.mux.Handle("GET /report.html", s.authPage(s.htmlErrors(s.reportPage)))
	s.mux.Handle("GET /noncompliant.csv", s.authPage(s.htmlErrors(s.nonCompliantCSV)))
	s.mux.Handle("GET /noncompliant.json", s.authAPI(s.apiErrors(s.nonCompliantJSON)))

	api := func(pattern string, h func(w http.ResponseWriter, r *http.Request) error) {
		s.mux.Handle(pattern, s.authAPI(s.apiErrors(h)))
	}
	api("GET /api/v1/evaluations", s.apiEvaluations)
	api("GET /api/v1/accounts", s.apiAccounts)
	api("GET /api/v1/accounts/{id}", s.apiAccount)
	api("GET /api/v1/users/{account}/{resource}", s.apiUser)
	api("GET /api/v1/executions", s.apiExecutions)
	api("GET /api/v1/scans", s.apiScans)
	api("GET /api/v1/status", s.apiStatus)
	api("GET /api/v1/overview", s.apiOverview)
	api("POST /api/v1/scans", s.apiScanNow)
	api("GET /api/v1/enforcement", viewJSON(s.enforcementView))
	api("GET /api/v1/exemptions", viewJSON(s.exemptionsView))
	api("GET /api/v1/rotations", viewJSON(s.rotationsView))
	api("GET /api/v1/report", s.reportJSON)
	s.mux.Handle("/api/", s.authAPI(s.apiErrors(func(w http.ResponseWriter, r *http.Request) error {
		return httpError{http.StatusNotFound, "no such API route: " + r.Method + " " + r.URL.Path}
	})))
	s.mux.Handle("GET /metrics", s.authAPI(s.metrics.handler()))
	s.mux.Handle("/", s.authPage(s.htmlErrors(func(w http.ResponseWriter, r *http.Request) error {
		return httpError{http.StatusNotFound, "Page not found."}
	})))
}

// httpError is an error with the status to answer; its message is shown.
type httpError struct {
	status int
	msg    string
}

func (e httpError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return httpError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

// statusOf maps an error to the status and the text shown: internal errors
// are logged and not shown.
func (s *Server) statusOf(r *http.Request, err error) (int, string) {
	var he httpError
	if errors.As(err, &he) {
		return he.status, he.msg
	}
	if errors.Is(err, context.Canceled) {
		return 499, "request canceled"
	}
	s.log.Error("serve request", "method", r.Method, "path", r.URL.Path, "err", err)
	return http.StatusInternalServerError, "internal error; see the server log"
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, "ok")
}

// readyWindow is how recent a stored scan makes the server ready.
const readyWindow = 2 * 24 * time.Hour

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	ok, why := s.ready(r.Context())
	if !ok {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	fmt.Fprintln(w, why)
}

// ready reports whether a scan finished since start, or the store holds one
// younger than readyWindow.
func (s *Server) ready(ctx context.Context) (bool, string) {
	if s.scanned.Load() {
		return true, "ok: scanned since start"
	}
	sc, err := s.opts.Store.LatestScan(ctx)
	if err != nil {
		s.log.Error("readiness: read latest scan", "err", err)
		return false, "not ready: cannot read the state"
	}
	if sc == nil {
		return false, "not ready: no scan yet"
	}
	at := sc.FinishedAt
	if at.IsZero() {
		at = sc.StartedAt
	}
	if age := s.opts.Now().Sub(at); age > readyWindow {
		return false, fmt.Sprintf("not ready: the latest scan finished %s ago", age.Round(time.Minute))
	}
	return true, "ok: latest scan at " + at.UTC().Format(time.RFC3339)
}

// securityHeaders sets the headers every response carries.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

func cacheStatic(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		next.ServeHTTP(w, r)
	})
}

// requestPath is the path and query of r, for redirects back to it.
func requestPath(r *http.Request) string {
	p := r.URL.EscapedPath()
	if r.URL.RawQuery != "" {
		p += "?" + r.URL.RawQuery
	}
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") {
		return "/"
	}
	return p
}
