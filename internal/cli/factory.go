package cli

import (
	"context"
	"errors"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/keyage/keyage/internal/awsenv"
	"github.com/keyage/keyage/internal/cycle"
	"github.com/keyage/keyage/internal/store"
)

// Factory hands commands their dependencies, as the GitHub CLI's
// cmdutil.Factory does: the IO streams, the configuration (the file with the
// flags written over it), the caller's AWS config, the state store and the
// clock. The demo and tests replace its fields; commands never reach for
// them another way.
type Factory struct {
	IO *IO
	// Now is the clock.
	Now func() time.Time
	// AWSConfig loads the caller's AWS config (awsenv.Load).
	AWSConfig func(ctx context.Context, o awsenv.Options) (aws.Config, error)
	// OpenStore opens (creating when needed) the state database at path.
	OpenStore func(ctx context.Context, path string) (*store.Store, error)
}

// newFactory is the factory of a real run.
func newFactory(ios *IO) *Factory {
	return &Factory{
		IO:        ios,
		Now:       time.Now,
		AWSConfig: awsenv.Load,
		OpenStore: func(ctx context.Context, path string) (*store.Store, error) {
			return store.Open(ctx, path, store.Options{})
		},
	}
}

// Config reads the config file and writes the flags the user changed over
// it (resolveScan).
func (f *Factory) Config(o *scanOptions, changed func(string) bool) (*scanJob, error) {
	return resolveScan(o, changed)
}

// Cycle assembles the cycle for a resolved job: the factory's clock, AWS
// config (with the job's --profile), logger and stdout fill what o leaves
// empty. A configuration problem found while assembling is a usage error.
func (f *Factory) Cycle(ctx context.Context, job *scanJob, o cycle.Options) (*cycle.Runner, error) {
	profile := job.env.Profile
	o.AWS = func(ctx context.Context, env awsenv.Options) (aws.Config, error) {
		env.Profile = profile
		return f.AWSConfig(ctx, env)
	}
	if o.Now == nil {
		o.Now = f.Now
	}
	o.Logger, o.Stdout, o.Version = f.IO.Logger, f.IO.Out, version()
	r, err := cycle.New(ctx, job.cfg, o)
	var ce *cycle.ConfigError
	if errors.As(err, &ce) {
		return nil, usageError(err)
	}
	return r, err
}

// progressBar is the scan's progress on stderr, drawn on a terminal only.
func (f *Factory) progressBar() (update func(done, total int), finish func()) {
	bar := f.IO.display().Start("accounts")
	return bar.Update, bar.Finish
}
