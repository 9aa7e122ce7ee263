package server

import (
	"context"
	"encoding/csv"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"
)

// chromium finds the browser: Debian's chromium, which .ci/run installs.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no chromium binary: CI must run the browser test (.ci/run installs Debian's chromium)")
	}
	t.Skip("no chromium binary (apt-get install chromium); the browser test runs in CI")
	return ""
}

// artifacts is where the test's screenshots go.
func artifacts(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("KEYAGE_TEST_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	dir = filepath.Join(dir, "server")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestBrowser(t *testing.T) {
	bin := chromium(t)
	st := testOrg(t)
	_, ts := newTestServer(t, st, Options{ScanNow: func(context.Context) error { return nil }})
	out := artifacts(t)
	downloads := t.TempDir()

	ctx := newBrowser(t, bin, 1400)

	tot, err := st.Totals(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// Overview: the numbers match the store.
	var users, nonCompliant, pct, failed, expired string
	shot := func(name string) chromedp.Action { return screenshot(t, out, name) }
	err = chromedp.Run(ctx,
		chromedp.Navigate(ts.URL+"/"),
		chromedp.Text("#users", &users, chromedp.ByQuery),
		chromedp.Text("#noncompliant-users", &nonCompliant, chromedp.ByQuery),
		chromedp.Text("#compliance-pct", &pct, chromedp.ByQuery),
		chromedp.Text("#failed-accounts", &failed, chromedp.ByQuery),
		chromedp.Text(`#stages b[data-stage="expired"]`, &expired, chromedp.ByQuery),
		shot("overview.png"),
	)
	if err != nil {
		t.Fatal(err)
	}
	got := []string{users, nonCompliant, pct, failed, expired}
	want := []string{"7", "4", compliancePct(tot), "1", "4"}
	if tot.Users != 7 || tot.NonCompliant != 4 || tot.AccountsFailed != 1 || tot.Keys["expired"] != 4 {
		t.Fatalf("store totals = %+v; the fixture changed", tot)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("overview users, non-compliant, compliance, failed accounts, expired keys (-want +got):\n%s", diff)
	}

	// The non-compliant table lists the users with an expired key, oldest first.
	var names []string
	if err := chromedp.Run(ctx,
		chromedp.Navigate(ts.URL+"/noncompliant"),
		chromedp.Evaluate(`Array.from(document.querySelectorAll("#noncompliant tbody a.user")).map(a => a.textContent)`, &names),
	); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"gina", "alice", "bob", "eve"}, names); diff != "" {
		t.Errorf("non-compliant users (-want +got):\n%s", diff)
	}

	// A filter: the account field and the Filter button (a GET form).
	if err := chromedp.Run(ctx,
		chromedp.SetValue(`#filters input[name=account]`, acctProd, chromedp.ByQuery),
		chromedp.Click(`#filters button[type=submit]`, chromedp.ByQuery),
		waitURL(t, "account="+acctProd),
		chromedp.WaitReady(`#noncompliant`, chromedp.ByQuery),
		chromedp.Evaluate(`Array.from(document.querySelectorAll("#noncompliant tbody a.user")).map(a => a.textContent)`, &names),
	); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"alice", "bob"}, names); diff != "" {
		t.Errorf("non-compliant users of account %s (-want +got):\n%s", acctProd, diff)
	}

	// The CSV export downloads the visible rows.
	var visible [][]string
	if err := chromedp.Run(ctx,
		chromedp.Evaluate(`Array.from(document.querySelectorAll("#noncompliant tbody tr")).map(tr => [tr.cells[0].querySelector("a").textContent, tr.cells[1].textContent.trim(), tr.cells[2].textContent.trim()])`, &visible),
		browser.SetDownloadBehavior(browser.SetDownloadBehaviorBehaviorAllowAndName).WithDownloadPath(downloads).WithEventsEnabled(true),
	); err != nil {
		t.Fatal(err)
	}
	done := make(chan string, 1)
	chromedp.ListenTarget(ctx, func(ev any) {
		if e, ok := ev.(*browser.EventDownloadProgress); ok && e.State == browser.DownloadProgressStateCompleted {
			select {
			case done <- e.GUID:
			default:
			}
		}
	})
	if err := chromedp.Run(ctx, chromedp.Click(`#export-csv`, chromedp.ByQuery)); err != nil {
		t.Fatal(err)
	}
	var guid string
	select {
	case guid = <-done:
	case <-ctx.Done():
		t.Fatal("the CSV export did not download")
	}
	f, err := os.Open(filepath.Join(downloads, guid))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	var downloaded [][]string
	for _, r := range recs[1:] {
		downloaded = append(downloaded, []string{r[0], r[2], r[4]}) // account, user, key
	}
	if diff := cmp.Diff(visible, downloaded); diff != "" {
		t.Errorf("CSV export vs visible rows (-visible +downloaded):\n%s", diff)
	}

	// A link opens the user page.
	var title, keys string
	if err := chromedp.Run(ctx,
		chromedp.Click(`#noncompliant tbody a.user`, chromedp.ByQuery),
		chromedp.WaitVisible(`#keys`, chromedp.ByQuery),
		chromedp.Text(`#user-name`, &title, chromedp.ByQuery),
		chromedp.Text(`#keys tbody`, &keys, chromedp.ByQuery),
		shot("user.png"),
	); err != nil {
		t.Fatal(err)
	}
	if title != "alice" || !strings.Contains(keys, "AKIAALICE1") {
		t.Errorf("user page = %q with keys %q, want alice with AKIAALICE1", title, keys)
	}

	// The hostile account name renders as text, and no script ran.
	var alerted bool
	chromedp.ListenTarget(ctx, func(ev any) {
		if _, ok := ev.(*cdppage.EventJavascriptDialogOpening); ok {
			alerted = true
		}
	})
	var name string
	if err := chromedp.Run(ctx,
		chromedp.Navigate(ts.URL+"/accounts/"+acctHostile),
		chromedp.Text(`h1`, &name, chromedp.ByQuery),
		shot("account.png"),
		chromedp.Navigate(ts.URL+"/noncompliant?stage=all"),
		shot("noncompliant.png"),
	); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(name, hostileName) || alerted {
		t.Errorf("hostile account heading = %q (alert shown: %v), want the name as text", name, alerted)
	}
}

// waitURL waits until the page's URL contains part (a navigation ended).
func waitURL(t *testing.T, part string) chromedp.Action {
	return chromedp.ActionFunc(func(ctx context.Context) error {
		for {
			var loc string
			if err := chromedp.Location(&loc).Do(ctx); err == nil && strings.Contains(loc, part) {
				return nil
			}
			select {
			case <-ctx.Done():
				t.Errorf("the page never reached a URL with %q", part)
				return ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
	})
}

// profileDir is a temporary browser profile, removed after the test; the
// browser's helpers may still be writing it as it exits, so removal is
// retried and its failure only logged.
func profileDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "keyage-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for range 20 {
			if err = os.RemoveAll(dir); err == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Logf("remove browser profile %s: %v", dir, err)
	})
	return dir
}
