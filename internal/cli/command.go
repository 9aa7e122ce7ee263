package cli

import (
	"context"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// runE is the RunE of a command over its dependencies f (the factory, or
// the IO alone): runF, when not nil, replaces run (tests of flag parsing);
// run is told which flags were set.
func runE[F, O any](f F, o *O, runF func(*O) error, run func(context.Context, F, *O, func(string) bool) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, _ []string) error {
		if runF != nil {
			return runF(o)
		}
		return run(cmd.Context(), f, o, cmd.Flags().Changed)
	}
}

// addStateFlag declares --state, the SQLite state database.
func addStateFlag(fl *pflag.FlagSet, p *string) {
	fl.StringVar(p, "state", defaultStatePath, "SQLite state database")
}

// addConfigFlag declares --config, the YAML config file.
func addConfigFlag(fl *pflag.FlagSet, p *string) {
	fl.StringVar(p, "config", "", "YAML config file (default ./keyage.yaml when it exists)")
}
