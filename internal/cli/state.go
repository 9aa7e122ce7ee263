package cli

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyage/keyage/internal/cycle"
	"github.com/keyage/keyage/internal/store"
)

// newStateCmd is the state group: prune and vacuum.
func newStateCmd(ios *IO) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "state",
		Short: "Maintain the state database: prune history, give space back",
	}
	cmd.AddCommand(newStatePruneCmd(ios), newStateVacuumCmd(ios))
	return cmd
}

type statePruneOptions struct {
	statePath  string
	configPath string
	vacuum     bool
}

func newStatePruneCmd(ios *IO) *cobra.Command {
	o := &statePruneOptions{}
	cmd := &cobra.Command{
		Use:   "prune",
		Short: "Delete history older than the config's state.retention",
		Long: `Prune deletes what is older than state.retention keeps (by default 400 days of
compliance history, scans and audit records, 30 days of sent messages and of
scans' per-account rows), as keyage run and serve do after each scan. What is
current is never pruned. The file keeps its size (SQLite reuses the pages);
--vacuum, or keyage state vacuum, gives the space back.`,
		Example: `  keyage state prune --state keyage.db
  keyage state prune --config keyage.yaml --vacuum`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runStatePrune(cmd.Context(), ios, o, time.Now())
		},
	}
	f := cmd.Flags()
	addStateFlag(f, &o.statePath)
	addConfigFlag(f, &o.configPath)
	f.BoolVar(&o.vacuum, "vacuum", false, "vacuum after pruning")
	return cmd
}

func runStatePrune(ctx context.Context, ios *IO, o *statePruneOptions, now time.Time) error {
	cfg, err := loadConfig(o.configPath)
	if err != nil {
		return usageError(err)
	}
	st, err := store.Open(ctx, o.statePath, store.Options{MustExist: true})
	if err != nil {
		return err
	}
	defer st.Close()
	p, err := st.Prune(ctx, now, cycle.Retention(cfg))
	if err != nil {
		return err
	}
	fmt.Fprintf(ios.Out, "Pruned %d rows: %d compliance changes, %d scans, %d scans' account rows, %d messages, %d executions, %d audit records",
		p.Total(), p.History, p.Scans, p.ScanAccounts, p.Outbox, p.Executions, p.Audit)
	if p.Sessions > 0 { // not history: expired dashboard sessions' revocations
		fmt.Fprintf(ios.Out, "; and %d revocations of expired dashboard sessions", p.Sessions)
	}
	fmt.Fprintln(ios.Out, ".")
	if o.vacuum {
		return vacuum(ctx, ios, st)
	}
	return nil
}

func newStateVacuumCmd(ios *IO) *cobra.Command {
	var statePath string
	cmd := &cobra.Command{
		Use:     "vacuum",
		Short:   "Rewrite the state database to its smallest size",
		Example: `  keyage state vacuum --state /var/lib/keyage/keyage.db`,
		Long: `Vacuum rewrites the state database without its free pages. It needs as much
free disk as the file and blocks writers (run, serve) while it runs.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withState(cmd.Context(), statePath, func(st *store.Store) error {
				return vacuum(cmd.Context(), ios, st)
			})
		},
	}
	addStateFlag(cmd.Flags(), &statePath)
	return cmd
}

// withState runs fn on the state database at path, which must exist, and
// closes it.
func withState(ctx context.Context, path string, fn func(*store.Store) error) error {
	st, err := store.Open(ctx, path, store.Options{MustExist: true})
	if err != nil {
		return err
	}
	defer st.Close()
	return fn(st)
}

func vacuum(ctx context.Context, ios *IO, st *store.Store) error {
	before := fileSize(st.Path())
	if err := st.Vacuum(ctx); err != nil {
		return err
	}
	fmt.Fprintf(ios.Out, "Vacuumed %s: %d bytes, was %d.\n", st.Path(), fileSize(st.Path()), before)
	return nil
}

// fileSize is the size of the database and its WAL.
func fileSize(path string) int64 {
	var n int64
	for _, p := range []string{path, path + "-wal"} {
		if fi, err := os.Stat(p); err == nil {
			n += fi.Size()
		}
	}
	return n
}
