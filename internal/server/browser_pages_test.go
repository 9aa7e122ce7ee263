package server

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserPages loads every page at 1,400 and 390 px: nothing overflows
// the viewport at 390 px, the overview's overdue count is the store's, and
// the keys table sorts as its arrow shows. Screenshots go to
// $KEYAGE_TEST_ARTIFACTS/server when set.
func TestBrowserPages(t *testing.T) {
	bin := chromium(t)
	st := rotatedOrg(t)
	srv, ts := newTestServer(t, st, Options{ScanNow: func(context.Context) error { return nil }})
	out := artifacts(t)
	ctx := newBrowser(t, bin, 1400)
	due, err := st.Due(ctx, srv.opts.Now(), 90*day)
	if err != nil {
		t.Fatal(err)
	}
	pages := []struct{ name, path string }{
		{"overview", "/"}, {"keys", "/noncompliant?stage=all"}, {"keys-expired", "/noncompliant"}, {"accounts", "/accounts"},
		{"account", "/accounts/" + acctProd}, {"user", "/users/" + acctProd + "/AIDAALICE"},
		{"rotations", "/rotations"},
	}
	for _, width := range []int64{1400, 390} {
		var emulate chromedp.Action = chromedp.EmulateViewport(width, 900)
		if width < 600 {
			emulate = chromedp.EmulateViewport(width, 844, chromedp.EmulateMobile)
		}
		if err := chromedp.Run(ctx, emulate); err != nil {
			t.Fatal(err)
		}
		for _, p := range pages {
			t.Run(fmt.Sprintf("%s at %d px", p.name, width), func(t *testing.T) {
				var over []string
				var inner int
				if err := chromedp.Run(ctx, chromedp.Navigate(ts.URL+p.path), chromedp.WaitReady("footer", chromedp.ByQuery),
					chromedp.Evaluate(overflowJS, &over), chromedp.Evaluate(`window.innerWidth`, &inner),
					screenshot(t, out, fmt.Sprintf("%s-%d.png", p.name, width))); err != nil {
					t.Fatal(err)
				}
				if inner != int(width) {
					t.Errorf("viewport is %d px wide, want %d", inner, width)
				}
				if len(over) > 0 {
					t.Errorf("%s at %d px overflows the viewport outside a scrolling card:\n%s", p.path, width, strings.Join(over, "\n"))
				}
			})
		}

		t.Run(fmt.Sprintf("overdue count at %d px", width), func(t *testing.T) {
			var overdue string
			if err := chromedp.Run(ctx, chromedp.Navigate(ts.URL+"/"), chromedp.Text("#keys-overdue", &overdue, chromedp.ByQuery)); err != nil {
				t.Fatal(err)
			}
			if overdue != strconv.Itoa(due.Overdue) || due.Overdue != 4 {
				t.Errorf("overview shows %q keys past due, the store %d (want 4)", overdue, due.Overdue)
			}
		})

		t.Run(fmt.Sprintf("sort follows the arrow at %d px", width), func(t *testing.T) {
			var ages []string
			var arrow string
			check := func(want string) {
				t.Helper()
				var n []int
				for _, a := range ages {
					v, err := strconv.Atoi(a)
					if err != nil {
						t.Fatalf("age %q: %v", a, err)
					}
					n = append(n, v)
				}
				asc := slices.IsSorted(n)
				desc := slices.IsSortedFunc(n, func(a, b int) int { return b - a })
				if len(n) < 3 || strings.TrimSpace(arrow) != want || (want == "▲" && !asc) || (want == "▼" && !desc) {
					t.Errorf("ages %v under arrow %q, want %s order", n, arrow, map[string]string{"▲": "ascending", "▼": "descending"}[want])
				}
			}
			readAges := chromedp.Evaluate(`Array.from(document.querySelectorAll("#noncompliant td[data-age]")).map(td => td.dataset.age)`, &ages)
			readArrow := chromedp.Text(`#noncompliant th[aria-sort] .arrow`, &arrow, chromedp.ByQuery)
			if err := chromedp.Run(ctx, chromedp.Navigate(ts.URL+"/noncompliant?stage=all&sort=age&dir=asc"), readAges, readArrow); err != nil {
				t.Fatal(err)
			}
			check("▲")
			// Clicking the sorted column's header reverses it.
			if err := chromedp.Run(ctx, chromedp.Click(`#noncompliant th[aria-sort="ascending"] a`, chromedp.ByQuery),
				chromedp.WaitReady(`#noncompliant th[aria-sort="descending"]`, chromedp.ByQuery), readAges, readArrow); err != nil {
				t.Fatal(err)
			}
			check("▼")
		})
	}
}
