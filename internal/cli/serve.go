package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/keyage/keyage/internal/config"
	"github.com/keyage/keyage/internal/cycle"
	"github.com/keyage/keyage/internal/daemon"
	"github.com/keyage/keyage/internal/remediate"
	"github.com/keyage/keyage/internal/rule"
	"github.com/keyage/keyage/internal/server"
)

type serveOptions struct {
	scan           scanOptions
	statePath      string
	listen         string
	authTokenFile  string
	insecureNoAuth bool
	eventsQueue    string
	enforce        bool
	// ready, when set, is called with the dashboard URL once serving (the
	// demo prints it; tests wait for it).
	ready func(url string)
	// recorded, when set, is called after each scheduled scan and each
	// change event has been handled (tests wait for it instead of polling).
	recorded func()
}

// newServeCmd builds the command; runF, when not nil, replaces runServe
// (tests of flag parsing).
func newServeCmd(f *Factory, runF func(*serveOptions) error) *cobra.Command {
	o := &serveOptions{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Evaluate on a schedule and on change; serve the dashboard, API and metrics",
		Long: `Serve scans at start and then on the config's schedule (schedule.maximumExecutionFrequency),
remediates and notifies as "keyage run" does, and serves the organization's
state: a dashboard, a JSON API under /api/v1/, Prometheus metrics at /metrics,
/healthz and /readyz.

With --events-queue it also consumes, from SQS, EventBridge events for IAM key
and user changes and AWS Config compliance changes, and re-evaluates just that
user within seconds.

It listens on 127.0.0.1:8080 by default. Another address requires
--auth-token-file (bearer token, or the login form) or --insecure-no-auth.
SIGTERM stops it cleanly: deliveries in flight finish, the rest stay in the
outbox for the next start.`,
		Example: `  keyage serve --config keyage.yaml --state keyage.db
  keyage serve --listen 0.0.0.0:8080 --auth-token-file /run/secrets/keyage-token --events-queue https://sqs.../keyage-events`,
		Args: cobra.NoArgs,
		RunE: runE(f, o, runF, runServe),
	}
	addScanFlags(cmd, &o.scan)
	offerNoOutput(cmd)
	fl := cmd.Flags()
	addStateFlag(fl, &o.statePath)
	fl.StringVar(&o.listen, "listen", "127.0.0.1:8080", "address of the dashboard, API and metrics")
	fl.StringVar(&o.authTokenFile, "auth-token-file", "", "file holding the bearer token the dashboard and API require")
	fl.BoolVar(&o.insecureNoAuth, "insecure-no-auth", false, "allow a non-loopback --listen without a token")
	fl.StringVar(&o.eventsQueue, "events-queue", "", "SQS queue URL of IAM change and Config compliance events")
	fl.BoolVar(&o.enforce, "enforce", false, "run keyage enforce after each scan (it acts only with enforce.apply: true)")
	return cmd
}

// loopback reports whether addr's host only accepts local connections.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func runServe(ctx context.Context, f *Factory, o *serveOptions, changed func(string) bool) error {
	log := f.IO.Logger
	job, err := f.Config(&o.scan, changed)
	if err != nil {
		return err
	}
	token, err := serveToken(o)
	if err != nil {
		return err
	}
	interval, err := job.cfg.Schedule.Interval()
	if err != nil {
		return usageError(fmt.Errorf("schedule.maximumExecutionFrequency: %w", err))
	}
	if interval < 4*time.Hour {
		log.Info("AWS regenerates credential reports at most every 4 hours: scans in between re-read the same report, and re-check flagged users in real time", "interval", interval)
	}
	st, err := f.OpenStore(ctx, o.statePath)
	if err != nil {
		return err
	}
	defer st.Close()

	sched := &daemon.Scheduler{Interval: interval, Logger: log}
	srv, err := server.New(server.Options{
		Store: st, Logger: log, Registry: prometheus.NewRegistry(), AuthToken: token, Version: version(), Listen: o.listen,
		MaxAccessKeyAge: int(job.scan.Policy.MaxAge / rule.Day), ReminderInterval: reminderInterval(job.cfg), Config: job.cfg,
		ScanNow:      func(context.Context) error { sched.Trigger(); return nil },
		ScanProgress: sched.Progress,
	})
	if err != nil {
		return err
	}
	sched.Done = srv.ObserveCycle
	co := cycle.Options{Store: st, Metrics: srv} // the dispatcher below delivers
	if o.enforce {
		co.Enforce = &cycle.EnforceOptions{Apply: job.cfg.Enforce.Apply}
	}
	r, err := f.Cycle(ctx, job, co)
	if err != nil {
		return err
	}
	sched.Scan = r.Scheduled
	var each func(*remediate.SingleResult)
	if o.recorded != nil {
		sched.Scan = func(ctx context.Context, progress func(done, total int)) error {
			defer o.recorded()
			return r.Scheduled(ctx, progress)
		}
		each = func(*remediate.SingleResult) { o.recorded() }
	}

	ctx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); sched.Run(ctx) }()
	go func() {
		defer wg.Done()
		if err := r.Dispatch(ctx); err != nil {
			log.Error("dispatcher stopped", "err", err)
		}
	}()
	if o.eventsQueue != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := r.ConsumeEvents(ctx, o.eventsQueue, true, each); err != nil {
				log.Error("event consumer stopped", "err", err)
			}
		}()
	}

	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", o.listen, err)
	}
	hs := srv.HTTPServer()
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	url := "http://" + ln.Addr().String() + "/"
	log.Info("serving", "dashboard", url, "state", o.statePath, "schedule", interval)
	if o.ready != nil {
		o.ready(url)
	}
	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			stop()
			wg.Wait()
			return fmt.Errorf("serve %s: %w", o.listen, err)
		}
	}
	log.Info("shutting down: finishing deliveries in flight; the rest stay in the outbox")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = hs.Shutdown(sctx)
	stop()
	wg.Wait()
	return nil
}

// serveToken reads --auth-token-file, and refuses a non-loopback --listen
// without one unless --insecure-no-auth.
func serveToken(o *serveOptions) (string, error) {
	switch {
	case o.authTokenFile != "":
		b, err := os.ReadFile(o.authTokenFile)
		if err != nil {
			return "", usageError(fmt.Errorf("--auth-token-file: %w", err))
		}
		token := strings.TrimSpace(string(b))
		if len(token) < 16 {
			return "", usageError(fmt.Errorf("--auth-token-file %s: the token must be at least 16 characters", o.authTokenFile))
		}
		return token, nil
	case !loopback(o.listen) && !o.insecureNoAuth:
		return "", usageError(fmt.Errorf("refusing to listen on %s without authentication: give --auth-token-file, or --insecure-no-auth if something in front of keyage authenticates", o.listen))
	}
	return "", nil
}

// reminderInterval is the routes' repeat interval for the dashboard's "next
// reminder" (the shortest, when routes differ).
func reminderInterval(cfg *config.Config) time.Duration {
	var d time.Duration
	for _, r := range cfg.Routes {
		if v := r.RepeatInterval.Duration(); v > 0 && (d == 0 || v < d) {
			d = v
		}
	}
	return d
}
