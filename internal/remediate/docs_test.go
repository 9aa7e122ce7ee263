package remediate

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/keyage/keyage/internal/config"
)

// Every template in docs/configuration.md's examples names fields that
// exist: the blocks load with the engine's template samples registered.
func TestDocsTemplatesUseRealFields(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "configuration.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllSubmatch(doc, -1)
	templates := 0
	for i, b := range blocks {
		templates += strings.Count(string(b[1]), "{{")
		cfg, err := config.Parse(b[1], "configuration.md")
		if err != nil {
			t.Errorf("yaml block %d of docs/configuration.md:\n%v", i+1, err)
			continue
		}
		if _, err := NewEngine(cfg); err != nil {
			t.Errorf("yaml block %d: engine: %v", i+1, err)
		}
	}
	if templates < 3 {
		t.Errorf("docs/configuration.md's examples hold %d template actions; the test expects the documented ones", templates)
	}
}
