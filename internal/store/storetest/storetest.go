// Package storetest opens throwaway state databases for tests.
package storetest

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/keyage/keyage/internal/store"
)

// Open opens a new state database in t.TempDir(), closed when t ends.
func Open(t testing.TB) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "keyage.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
