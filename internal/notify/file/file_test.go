package file

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/keyage/keyage/internal/notify"
	"github.com/keyage/keyage/internal/notify/notifytest"
)

func TestAppendsParseableLines(t *testing.T) {
	for _, fsync := range []bool{false, true} {
		t.Run(fmt.Sprintf("fsync=%v", fsync), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "notifications.jsonl")
			// Two notifiers on the same file, as two processes would be.
			a, err := New(Options{Path: path, Fsync: fsync})
			if err != nil {
				t.Fatal(err)
			}
			b, _ := New(Options{Path: path, Fsync: fsync})
			const n = 50
			var wg sync.WaitGroup
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					m := notifytest.Message()
					m.ID = fmt.Sprintf("msg-%03d", i)
					target := a
					if i%2 == 1 {
						target = b
					}
					if retry, err := target.Notify(context.Background(), m); err != nil || retry {
						t.Errorf("Notify(%s) = %v, %v", m.ID, retry, err)
					}
				}()
			}
			wg.Wait()
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			seen := map[string]bool{}
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				var p notify.Payload
				if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
					t.Fatalf("line %q is not JSON: %v", sc.Text(), err)
				}
				if len(p.Items) != 1 || p.Items[0].AccessKeyID != "AKIAALICEEXAMPLE0001" {
					t.Errorf("line %s lacks the item", sc.Text())
				}
				seen[p.ID] = true
			}
			if len(seen) != n {
				t.Errorf("file has %d distinct messages, want %d", len(seen), n)
			}
			if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
				t.Errorf("file mode = %v, want 0600", fi.Mode().Perm())
			}
		})
	}
}

func TestMissingDirectoryIsFinal(t *testing.T) {
	n, err := New(Options{Path: filepath.Join(t.TempDir(), "no", "such", "dir", "x.jsonl")})
	if err != nil {
		t.Fatal(err)
	}
	if retry, err := n.Notify(context.Background(), notifytest.Message()); err == nil || retry {
		t.Errorf("Notify = %v, %v, want false, error", retry, err)
	}
}

func TestNewValidates(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Error("New(no path) = nil error")
	}
}
