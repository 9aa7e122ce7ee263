package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// exitUnhealthy is health's exit code for an unhealthy or unreachable
// server: 1, as Docker's HEALTHCHECK expects (it reserves 2).
const exitUnhealthy = 1

type healthOptions struct {
	url     string
	ready   bool
	timeout time.Duration
}

const defaultHealthURL = "http://127.0.0.1:8080/healthz"

func newHealthCmd(ios *IO) *cobra.Command {
	o := &healthOptions{}
	cmd := &cobra.Command{
		Use:   "health",
		Short: `Check a running "keyage serve": exit 0 when healthy, 1 otherwise`,
		Long: `Health asks a running "keyage serve" whether it is alive (/healthz) or, with
--ready, whether it has a recent scan to serve (/readyz). It exits 0 when the
answer is 200 and 1 otherwise (not ready, an error status, unreachable,
timeout), with the reason on stderr. It is the container health check: the
image has no shell and no curl.

With --ready, a --url ending in /healthz (or with no path) is asked on
/readyz instead; any other path is asked as given.`,
		Example: `  keyage health
  keyage health --ready
  keyage health --url http://keyage.keyage.svc:8080/healthz --timeout 2s`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runHealth(cmd.Context(), ios, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.url, "url", defaultHealthURL, "the server's /healthz URL")
	f.BoolVar(&o.ready, "ready", false, "check readiness (/readyz) instead of liveness")
	f.DurationVar(&o.timeout, "timeout", 5*time.Second, "give up after this long")
	return cmd
}

// healthURL is the URL health asks, from --url and --ready.
func healthURL(raw string, ready bool) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", usageError(fmt.Errorf("--url %q: %w", raw, err))
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", usageError(fmt.Errorf("--url %q: want an http:// or https:// URL with a host", raw))
	}
	if ready && (u.Path == "" || u.Path == "/" || strings.HasSuffix(u.Path, "/healthz")) {
		u.Path = strings.TrimSuffix(strings.TrimSuffix(u.Path, "/"), "/healthz") + "/readyz"
	}
	return u.String(), nil
}

func runHealth(ctx context.Context, ios *IO, o *healthOptions) error {
	target, err := healthURL(o.url, o.ready)
	if err != nil {
		return err
	}
	if o.timeout <= 0 {
		return usageError(fmt.Errorf("--timeout %v: want a positive duration", o.timeout))
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return usageError(fmt.Errorf("--url %q: %w", target, err))
	}
	// A redirect (to the login page, say) is not a health answer.
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("no answer within %v", o.timeout)
		}
		return &ExitError{Code: exitUnhealthy, Err: fmt.Errorf("unhealthy: GET %s: %w", target, err)}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	answer, _, _ := strings.Cut(strings.TrimSpace(string(body)), "\n")
	if resp.StatusCode != http.StatusOK {
		if answer == "" {
			answer = http.StatusText(resp.StatusCode)
		}
		return &ExitError{Code: exitUnhealthy, Err: fmt.Errorf("unhealthy: GET %s: %s: %s", target, resp.Status, answer)}
	}
	_, err = fmt.Fprintf(ios.Out, "healthy: GET %s: %s\n", target, answer)
	return err
}
