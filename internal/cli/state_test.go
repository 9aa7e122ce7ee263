package cli

import (
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyage/keyage/internal/store"
)

// Commands that only read the state never create it, and refuse a corrupt
// or newer state with exit 4, leaving it as it was.
func TestReadOnlyCommandsAndState(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	corrupt := filepath.Join(dir, "corrupt.db")
	if err := os.WriteFile(corrupt, []byte(strings.Repeat("not sqlite ", 500)), 0o600); err != nil {
		t.Fatal(err)
	}
	newer := filepath.Join(dir, "newer.db")
	st, err := store.Open(ctx, newer, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	// A newer keyage's migration, written with plain SQLite.
	if err := execSQL(newer, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)`); err != nil {
		t.Fatal(err)
	}
	commands := [][]string{{"executions"}, {"audit"}, {"state", "prune"}, {"state", "vacuum"}}
	for _, cmd := range commands {
		name := strings.Join(cmd, " ")
		t.Run(name, func(t *testing.T) {
			typo := filepath.Join(dir, "tyop.db")
			code, out, stderr := runCLI(t, append(cmd, "--state", typo)...)
			if code != ExitUsage || !strings.Contains(stderr, typo) || !strings.Contains(stderr, "does not exist") {
				t.Errorf("keyage %s --state <missing>: exit %d, stderr %q; want %d naming the file", name, code, stderr, ExitUsage)
			}
			if strings.Contains(out, "no executions") {
				t.Errorf("keyage %s --state <missing> printed %q", name, out)
			}
			if _, err := os.Stat(typo); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("keyage %s --state <missing> created it", name)
			}
			for _, bad := range []string{corrupt, newer} {
				before, _ := os.ReadFile(bad)
				code, _, stderr := runCLI(t, append(cmd, "--state", bad)...)
				if code != ExitState || !strings.Contains(stderr, bad) {
					t.Errorf("keyage %s --state %s: exit %d, stderr %q; want %d naming the file", name, filepath.Base(bad), code, stderr, ExitState)
				}
				if after, _ := os.ReadFile(bad); string(after) != string(before) {
					t.Errorf("keyage %s --state %s changed the file", name, filepath.Base(bad))
				}
			}
		})
	}
}

// keyage run applies state.retention after recording; keyage state prune
// does it on demand.
func TestRunAndStatePrune(t *testing.T) {
	sandboxEnv(t)
	ctx := context.Background()
	dir := t.TempDir()
	state := filepath.Join(dir, "keyage.db")
	st, err := store.Open(ctx, state, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-500 * 24 * time.Hour)
	for _, at := range []time.Time{old, old.Add(time.Hour), time.Now().Add(-time.Hour)} {
		if _, err := st.Audit(ctx, store.AuditRecord{At: at, AccountID: "222222222222", UserName: "u", AccessKeyID: "AKIA1", Action: "deactivate", Outcome: "dry-run", DryRun: true}); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	audits := func() int {
		st, err := store.Open(ctx, state, store.Options{MustExist: true})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		recs, err := st.AuditRecords(ctx, "", "")
		if err != nil {
			t.Fatal(err)
		}
		return len(recs)
	}
	cfg := writeConfig(t, "accounts:\n  ids: [\"111111111111\"]\nremediation:\n  automatic: false\nstate:\n  retention:\n    audit: 0\n")
	if code, out, stderr := runCLI(t, "run", "--config", cfg, "--state", state, "--log-level", "error"); code != ExitOK {
		t.Fatalf("run: exit %d\n%s\n%s", code, out, stderr)
	}
	if n := audits(); n != 3 {
		t.Errorf("run with state.retention.audit: 0 left %d audit records, want all 3", n)
	}
	cfg = writeConfig(t, "accounts:\n  ids: [\"111111111111\"]\nremediation:\n  automatic: false\n")
	if code, out, stderr := runCLI(t, "run", "--config", cfg, "--state", state, "--log-level", "error"); code != ExitOK {
		t.Fatalf("run: exit %d\n%s\n%s", code, out, stderr)
	}
	if n := audits(); n != 1 {
		t.Errorf("run with the default retention left %d audit records, want the recent 1", n)
	}
	// A dashboard session revoked at logout whose cookie has since expired: prune drops the
	// revocation and says so, apart from the history rows.
	func() {
		st, err := store.Open(ctx, state, store.Options{MustExist: true})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		if err := st.RevokeSession(ctx, "expired-session", time.Now().Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
	}()
	code, out, stderr := runCLI(t, "state", "prune", "--config", cfg, "--state", state, "--vacuum")
	if code != ExitOK || !strings.Contains(out, "Pruned 0 rows") || !strings.Contains(out, "; and 1 revocations of expired dashboard sessions.") || !strings.Contains(out, "Vacuumed "+state) {
		t.Errorf("state prune --vacuum: exit %d\n%s\n%s", code, out, stderr)
	}
	if fi, err := os.Stat(state); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("state file mode = %v, %v; want 0600", fi.Mode().Perm(), err)
	}
}

// execSQL runs q on the SQLite file at path, outside the store.
func execSQL(path, q string) error {
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.Exec(q)
	return err
}
