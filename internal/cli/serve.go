package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/keyage/keyage/internal/awsenv"
	"github.com/keyage/keyage/internal/config"
	"github.com/keyage/keyage/internal/daemon"
	"github.com/keyage/keyage/internal/events"
	"github.com/keyage/keyage/internal/notify"
	"github.com/keyage/keyage/internal/notify/receivers"
	"github.com/keyage/keyage/internal/remediate"
	"github.com/keyage/keyage/internal/rule"
	"github.com/keyage/keyage/internal/scan"
	"github.com/keyage/keyage/internal/server"
	"github.com/keyage/keyage/internal/store"
)

type serveOptions struct {
	scan           scanOptions
	statePath      string
	listen         string
	authTokenFile  string
	insecureNoAuth bool
	eventsQueue    string
	enforce        bool
	// ready, when set, is called with the dashboard URL once serving (demo).
	ready func(url string)
}

// newServeCmd builds the command; runF, when not nil, replaces runServe
// (tests of flag parsing).
func newServeCmd(ios *IO, runF func(*serveOptions) error) *cobra.Command {
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
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(o)
			}
			return runServe(cmd.Context(), ios, o, cmd.Flags().Changed)
		},
	}
	addScanFlags(cmd, &o.scan)
	f := cmd.Flags()
	f.StringVar(&o.statePath, "state", defaultStatePath, "SQLite state database")
	f.StringVar(&o.listen, "listen", "127.0.0.1:8080", "address of the dashboard, API and metrics")
	f.StringVar(&o.authTokenFile, "auth-token-file", "", "file holding the bearer token the dashboard and API require")
	f.BoolVar(&o.insecureNoAuth, "insecure-no-auth", false, "allow a non-loopback --listen without a token")
	f.StringVar(&o.eventsQueue, "events-queue", "", "SQS queue URL of IAM change and Config compliance events")
	f.BoolVar(&o.enforce, "enforce", false, "run keyage enforce after each scan (it acts only with enforce.apply: true)")
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

func runServe(ctx context.Context, ios *IO, o *serveOptions, changed func(string) bool) error {
	job, err := resolveScan(&o.scan, changed)
	if err != nil {
		return err
	}
	token := ""
	switch {
	case o.authTokenFile != "":
		b, err := os.ReadFile(o.authTokenFile)
		if err != nil {
			return usageError(fmt.Errorf("--auth-token-file: %w", err))
		}
		if token = strings.TrimSpace(string(b)); len(token) < 16 {
			return usageError(fmt.Errorf("--auth-token-file %s: the token must be at least 16 characters", o.authTokenFile))
		}
	case !loopback(o.listen) && !o.insecureNoAuth:
		return usageError(fmt.Errorf("refusing to listen on %s without authentication: give --auth-token-file, or --insecure-no-auth if something in front of keyage authenticates", o.listen))
	}
	interval, err := job.cfg.Schedule.Interval()
	if err != nil {
		return usageError(fmt.Errorf("schedule.maximumExecutionFrequency: %w", err))
	}
	if interval < 4*time.Hour {
		ios.Logger.Info("AWS regenerates credential reports at most every 4 hours: scans in between re-read the same report, and re-check flagged users in real time", "interval", interval)
	}
	engine, err := remediate.NewEngine(job.cfg)
	if err != nil {
		return usageError(err)
	}
	st, err := store.Open(ctx, o.statePath, store.Options{})
	if err != nil {
		return err
	}
	defer st.Close()

	reg := prometheus.NewRegistry()
	sched := &daemon.Scheduler{Interval: interval, Logger: ios.Logger}
	srv, err := server.New(server.Options{
		Store: st, Logger: ios.Logger, Registry: reg, AuthToken: token, Version: version(),
		MaxAccessKeyAge: int(job.scan.Policy.MaxAge / rule.Day), ReminderInterval: reminderInterval(job.cfg),
		ScanNow:      func(context.Context) error { sched.Trigger(); return nil },
		ScanProgress: sched.Progress,
	})
	if err != nil {
		return err
	}
	job.env.Observe = srv.ObserveAWSCall
	base, err := awsenv.Load(ctx, job.env)
	if err != nil {
		return err
	}
	assumer, err := awsenv.NewAssumer(ctx, base, job.assume)
	if err != nil {
		return err
	}
	notifiers, err := receivers.Build(job.cfg, receivers.Env{AWS: base, Stdout: ios.Out, Version: version(), TemplateData: remediate.TemplateData})
	if err != nil {
		return usageError(err)
	}
	disp := &notify.Dispatcher{Outbox: remediate.NewOutbox(st), Notifiers: notifiers, Logger: ios.Logger, Observe: srv.ObserveNotification,
		Window:  time.Duration(job.cfg.Remediation.RetryAttemptSeconds) * time.Second,
		Timeout: time.Duration(job.cfg.Remediation.TimeoutSeconds) * time.Second}
	automatic := job.cfg.Remediation.IsAutomatic()

	sched.Scan = func(ctx context.Context, progress func(done, total int)) error {
		accounts, err := accountSeq(ctx, assumer, job.selection, usesOUs(job.cfg))
		if err != nil {
			return err
		}
		so := job.scan
		so.Now, so.Logger, so.Progress = time.Now(), ios.Logger, progress
		so.WithTags = true
		started := time.Now()
		res, err := scan.RunSeq(ctx, assumer, accounts, so)
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err() // interrupted: record nothing
		}
		finished := time.Now()
		if _, err := st.RecordScan(ctx, started, finished, res); err != nil {
			return err
		}
		srv.ObserveScan(res, finished.Sub(started))
		if automatic {
			plan, err := engine.Plan(ctx, st, res, finished)
			if err != nil {
				return err
			}
			if err := engine.Apply(ctx, st, plan); err != nil { // the dispatcher delivers
				return err
			}
		}
		if o.enforce {
			if _, err := enforceScan(ctx, &IO{Out: io.Discard, ErrOut: ios.ErrOut, Logger: ios.Logger}, job.cfg, job, st, res, assumer, job.cfg.Enforce.Apply, nil, false); err != nil {
				return fmt.Errorf("enforce: %w", err)
			}
		}
		return nil
	}

	ctx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); sched.Run(ctx) }()
	go func() {
		defer wg.Done()
		if err := disp.Run(ctx); err != nil {
			ios.Logger.Error("dispatcher stopped", "err", err)
		}
	}()
	if o.eventsQueue != "" {
		single := &remediate.Single{Engine: engine, Store: st, Accounts: assumer, Evaluator: job.scan.Evaluator, Logger: ios.Logger}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := remediate.Consume(ctx, awsenv.ForQueue(base, o.eventsQueue), o.eventsQueue, true, ios.Logger, func(ctx context.Context, ev events.Event) error {
				_, err := single.Remediate(ctx, ev.AccountID, ev.ResourceID, ev.UserName, false)
				return err
			})
			if err != nil {
				ios.Logger.Error("event consumer stopped", "err", err)
			}
		}()
	}

	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", o.listen, err)
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	url := "http://" + ln.Addr().String() + "/"
	ios.Logger.Info("serving", "dashboard", url, "state", o.statePath, "schedule", interval)
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
	ios.Logger.Info("shutting down: finishing deliveries in flight; the rest stay in the outbox")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = hs.Shutdown(sctx)
	stop()
	wg.Wait()
	return nil
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
