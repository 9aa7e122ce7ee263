package server

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// The API cursor: what encodeCursor makes decodes back to its parts, and
// any cursor a client sends is a 400 or a page, never a panic or a 500.
func FuzzCursor(f *testing.F) {
	st := testOrg(f)
	s, err := New(Options{Store: st})
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{"", "x", encodeCursor("12"), encodeCursor("a", "b"), encodeCursor("2026-11-24T10:00:00Z", "222222222222", "AIDA1"), "%00", "////", "AAAA"} {
		f.Add(seed, "a\x00b")
	}
	f.Fuzz(func(t *testing.T, cursor, part string) {
		for n := 1; n <= 3; n++ {
			if _, err := decodeCursor(cursor, n); err != nil {
				var he httpError
				if !errors.As(err, &he) || he.status != http.StatusBadRequest {
					t.Fatalf("decodeCursor(%q, %d) = %v, want a 400", cursor, n, err)
				}
			}
		}
		if !strings.Contains(part, "\x00") {
			parts := []string{part, "x"}
			got, err := decodeCursor(encodeCursor(parts...), 2)
			if err != nil || !slices.Equal(got, parts) {
				t.Fatalf("decodeCursor(encodeCursor(%q)) = %q, %v", parts, got, err)
			}
		}
		for _, path := range []string{"/api/v1/evaluations", "/api/v1/executions", "/api/v1/scans"} {
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://127.0.0.1"+path+"?cursor="+url.QueryEscape(cursor), nil))
			if rec.Code != http.StatusOK && rec.Code != http.StatusBadRequest {
				t.Fatalf("GET %s?cursor=%q = %d %s, want 200 or 400", path, cursor, rec.Code, rec.Body)
			}
		}
	})
}
