package internal_test

import (
	"go/build"
	"io/fs"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/keyage/keyage/"

// internalImports maps every package of the module (by its path under the
// module, e.g. "internal/rule") to the module's packages its non-test files
// import.
func internalImports(t *testing.T) map[string][]string {
	t.Helper()
	pkgs := map[string][]string{}
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if path != ".." && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) {
			return filepath.SkipDir
		}
		p, err := build.Default.ImportDir(path, 0)
		if err != nil {
			if _, ok := err.(*build.NoGoError); ok {
				return nil
			}
			t.Errorf("read package %s: %v", path, err)
			return nil
		}
		rel, err := filepath.Rel("..", path)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(rel)
		var deps []string
		for _, imp := range p.Imports {
			if strings.HasPrefix(imp, module) {
				deps = append(deps, strings.TrimPrefix(imp, module))
			}
		}
		sort.Strings(deps)
		pkgs[name] = deps
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) < 10 {
		t.Fatalf("found only %d packages: the walk is broken", len(pkgs))
	}
	return pkgs
}

// isReceiver reports whether pkg is one receiver package (notify/<name>).
func isReceiver(pkg string) bool {
	rest, ok := strings.CutPrefix(pkg, "internal/notify/")
	return ok && !strings.Contains(rest, "/") && rest != "receivers" && rest != "notifytest"
}

// TestPackageDependencies keeps the intended direction of the module's
// imports, as Tailscale's deptest does: the leaves stay leaves, the notify
// core knows no receiver, and only the command line reaches the sandbox.
func TestPackageDependencies(t *testing.T) {
	pkgs := internalImports(t)
	// may lists, for a package, every package of the module it may import.
	may := map[string][]string{
		"internal/template":    {},
		"internal/rule":        {"internal/template"},
		"internal/config":      {"internal/template"},
		"internal/lifecycle":   {"internal/rule", "internal/config", "internal/template"},
		"internal/notify":      {"internal/template"},
		"internal/sandbox/cfn": {},
		// The walk of a finding: store (record, enqueue) -> outbox (claim,
		// outcome) -> notify; each once, the store never back from notify.
		"internal/outbox": {"internal/store", "internal/notify", "internal/template"},
	}
	for pkg, allowed := range may {
		deps, ok := pkgs[pkg]
		if !ok {
			t.Errorf("package %s is gone: update this test with the package that took its place", pkg)
			continue
		}
		for _, d := range deps {
			if !slices.Contains(allowed, d) {
				t.Errorf("%s imports %s; it may import only %v", pkg, d, allowed)
			}
		}
	}
	receivers := 0
	for pkg, deps := range pkgs {
		if isReceiver(pkg) {
			receivers++
			for _, d := range deps {
				if d != "internal/notify" {
					t.Errorf("receiver package %s imports %s; a receiver imports only internal/notify", pkg, d)
				}
			}
		}
		for _, d := range deps {
			switch {
			case isReceiver(d) && pkg != "internal/notify/receivers":
				t.Errorf("%s imports the receiver %s; only internal/notify/receivers constructs receivers", pkg, d)
			case d == "internal/sandbox" && pkg != "internal/cli" && pkg != "internal/sandbox/sandboxtest":
				t.Errorf("%s imports internal/sandbox; only internal/cli (and tests, through sandboxtest) does", pkg)
			case d == "internal/sandbox/sandboxtest":
				t.Errorf("%s imports internal/sandbox/sandboxtest; only tests do", pkg)
			case d == "internal/sandbox/cfn" && pkg != "internal/sandbox":
				t.Errorf("%s imports internal/sandbox/cfn; only internal/sandbox does", pkg)
			case pkg == "internal/store" && (d == "internal/notify" || d == "internal/outbox" || d == "internal/remediate"):
				t.Errorf("internal/store imports %s; the store records and enqueues, and the walk goes on through internal/outbox", d)
			case d == "internal/cli" && pkg != "cmd/keyage":
				t.Errorf("%s imports internal/cli; only cmd/keyage does", pkg)
			}
		}
	}
	if receivers < 5 {
		t.Errorf("found %d receiver packages under internal/notify: the test no longer sees them", receivers)
	}
}
