package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyage/keyage/internal/deploy"
	"github.com/keyage/keyage/internal/sandbox"
)

type sandboxOptions struct {
	listen      string
	accounts    int
	users       int
	seed        int64
	fixture     string
	latency     time.Duration
	maxInflight int
	throttleRPS float64
	failRate    float64
	reportDelay time.Duration
	region      string
	eventsQueue string
}

func newSandboxCmd(ios *IO) *cobra.Command {
	o := &sandboxOptions{}
	cmd := &cobra.Command{
		Use:   "sandbox",
		Short: "Serve a synthetic AWS organization over the real AWS protocols",
		Long: `Sandbox serves a synthetic organization on a local endpoint, over the real AWS
protocols of ` + sandbox.ServiceNames() + `,
so that keyage, the AWS CLI and any AWS SDK can be tried and tested without an
AWS account. It prints the export lines that point a shell at it (credentials,
region, AWS_ENDPOINT_URL), then serves until interrupted. AWS CLI versions
before 2.13 ignore AWS_ENDPOINT_URL and would call real AWS: give them
--endpoint-url. State lives in memory and is lost on exit: it is a test and
demo tool, not a security boundary. See docs/sandbox.md.`,
		Example: `  keyage sandbox --accounts 20 --users 50

  # in the background, then load its export lines into this shell
  keyage sandbox --accounts 20 --users 50 >sandbox.env &
  until grep -q '^# management account' sandbox.env 2>/dev/null; do sleep 0.2; done
  . ./sandbox.env
  aws --endpoint-url "$AWS_ENDPOINT_URL" sts get-caller-identity

  keyage sandbox --fixture org.yaml --latency 20ms --throttle-rps 200`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSandbox(cmd.Context(), ios, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.listen, "listen", "127.0.0.1:4566", "address to listen on")
	f.IntVar(&o.accounts, "accounts", 12, "generated org: number of accounts")
	f.IntVar(&o.users, "users", 40, "generated org: IAM users per account")
	f.Int64Var(&o.seed, "seed", 1, "generated org: random seed (same seed, same org)")
	f.StringVar(&o.fixture, "fixture", "", "load the org from this YAML or JSON file instead of generating it")
	f.DurationVar(&o.latency, "latency", 0, "added latency per call, e.g. 20ms")
	f.IntVar(&o.maxInflight, "max-inflight", 0, "serve at most this many API calls at once, --latency included (0: no bound; 1 stands for a single-threaded emulator)")
	f.Float64Var(&o.throttleRPS, "throttle-rps", 0, "answer calls beyond this rate with AWS's Throttling error (0: off)")
	f.Float64Var(&o.failRate, "fail-rate", 0, "fraction of calls answered with a 500 error (0 to 1)")
	f.DurationVar(&o.reportDelay, "report-delay", 0, "time AWS takes to generate a credential report")
	f.StringVar(&o.region, "region", "us-east-1", "region printed in the export lines")
	f.StringVar(&o.eventsQueue, "events-queue-arn", "", "send EventBridge events of IAM key and user changes to this sandbox SQS queue (for keyage serve --events-queue)")
	return cmd
}

// newSandbox builds the server from the options.
func newSandbox(o *sandboxOptions, ios *IO) (*sandbox.Server, error) {
	if o.failRate < 0 || o.failRate > 1 {
		return nil, usageError(fmt.Errorf("--fail-rate %v: want a fraction from 0 to 1", o.failRate))
	}
	if o.maxInflight < 0 {
		return nil, usageError(fmt.Errorf("--max-inflight %d: want 0 (no bound) or more", o.maxInflight))
	}
	if o.throttleRPS < 0 {
		return nil, usageError(fmt.Errorf("--throttle-rps %v: want 0 (off) or more", o.throttleRPS))
	}
	var fx *sandbox.Fixture
	if o.fixture != "" {
		var err error
		if fx, err = sandbox.LoadFixture(o.fixture); err != nil {
			return nil, usageError(err)
		}
	} else {
		if o.accounts < 1 || o.users < 0 {
			return nil, usageError(fmt.Errorf("--accounts %d --users %d: want at least one account and zero or more users", o.accounts, o.users))
		}
		fx = sandbox.Generate(sandbox.GenerateOptions{Accounts: o.accounts, Users: o.users, Seed: o.seed})
	}
	// The sandbox's roles get exactly what "keyage iam-policy" prints for them.
	policies, err := deploy.RolePolicies(deploy.PolicyOptions{AuditRoleName: fx.AuditRoleName})
	if err != nil {
		return nil, err
	}
	return sandbox.New(sandbox.Options{
		Fixture: fx, Latency: o.latency, MaxInflight: o.maxInflight, ThrottleRPS: o.throttleRPS, FailRate: o.failRate,
		ReportDelay: o.reportDelay, Seed: o.seed, Logger: ios.Logger, EventsQueueARN: o.eventsQueue,
		DefaultRolePolicies: policies,
	})
}

// startSandbox listens on addr and serves srv until ctx ends. It returns the
// endpoint URL and a function that waits for the server to stop.
func startSandbox(ctx context.Context, srv *sandbox.Server, addr string) (string, func() error, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	wait := func() error {
		select {
		case <-ctx.Done():
		case err := <-errc:
			return err
		}
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := hs.Shutdown(sctx); err != nil {
			_ = hs.Close() // a client still holds a connection: state is in memory anyway
		}
		if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}
	return "http://" + ln.Addr().String(), wait, nil
}

func runSandbox(ctx context.Context, ios *IO, o *sandboxOptions) error {
	srv, err := newSandbox(o, ios)
	if err != nil {
		return err
	}
	url, wait, err := startSandbox(ctx, srv, o.listen)
	if err != nil {
		return err
	}
	fmt.Fprint(ios.Out, sandbox.ExportLines(url, srv, o.region))
	ios.Logger.Info("sandbox serving; Ctrl-C stops it (state is in memory)", "endpoint", url, "managementAccount", srv.ManagementAccountID())
	return wait()
}
