package notify

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// TestPackagesDocumented checks that notify and every receiver package
// below it have a package comment.
func TestPackagesDocumented(t *testing.T) {
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() || d.Name() == "testdata" {
			return err
		}
		pkgs, err := parser.ParseDir(token.NewFileSet(), path, func(fi fs.FileInfo) bool {
			return !strings.HasSuffix(fi.Name(), "_test.go")
		}, parser.ParseComments|parser.PackageClauseOnly)
		if err != nil {
			return err
		}
		for name, pkg := range pkgs {
			documented := false
			for _, f := range pkg.Files {
				documented = documented || f.Doc != nil && strings.HasPrefix(f.Doc.Text(), "Package "+name+" ")
			}
			if !documented {
				t.Errorf("package %s (%s) has no package comment starting %q", name, path, "Package "+name+" ")
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
