package server

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"

	"github.com/keyage/keyage/internal/report"
)

// newBrowser starts a headless Chromium of width x 1000 px for the test.
func newBrowser(t *testing.T, bin string, width int) context.Context {
	t.Helper()
	actx, cancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(bin),
		chromedp.Flag("headless", true), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true), chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.UserDataDir(profileDir(t)), chromedp.WindowSize(width, 1000),
	)
	t.Cleanup(cancel)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	ctx, cancel = context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// screenshot saves the full page as dir/name.
func screenshot(t *testing.T, dir, name string) chromedp.Action {
	return chromedp.ActionFunc(func(ctx context.Context) error {
		var png []byte
		if err := chromedp.FullScreenshot(&png, 100).Do(ctx); err != nil {
			return err
		}
		p := filepath.Join(dir, name)
		t.Logf("screenshot: %s", p)
		return os.WriteFile(p, png, 0o644)
	})
}

// overflowJS lists the elements that stick out of the viewport, but for
// those inside a scrolling (or clipping) container such as a table's card.
const overflowJS = `(() => {
  const vw = document.documentElement.clientWidth, out = [];
  for (const el of document.querySelectorAll("body *")) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || (r.right <= vw + 1 && r.left >= -1)) continue;
    let p = el.parentElement, inside = false;
    for (; p && p !== document.body; p = p.parentElement) {
      if (getComputedStyle(p).overflowX !== "visible") { inside = true; break; }
    }
    if (!inside) out.push(el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + " right=" + Math.round(r.right) + " > " + vw);
  }
  if (document.documentElement.scrollWidth > vw) out.push("page scrolls sideways: " + document.documentElement.scrollWidth + " > " + vw);
  return out.slice(0, 10);
})()`

// TestBrowserEnforcementPages opens the enforcement, exemptions, user and
// report pages at 1400 and 390 px: nothing sticks out of the viewport (wide
// tables scroll inside their card) and what they show matches the API.
func TestBrowserEnforcementPages(t *testing.T) {
	bin := chromium(t)
	_, ts := newTestServer(t, enforcedOrg(t), Options{})
	out := artifacts(t)
	for _, width := range []int{1400, 390} {
		ctx := newBrowser(t, bin, width)
		for _, p := range []struct{ name, path, ready string }{
			{"enforcement", "/enforcement?account=" + acctProd + "&key=AKIAALICE1", "#actions"},
			{"exemptions", "/exemptions", "#exemptions"},
			{"timeline", "/users/" + acctProd + "/AIDAALICE", "#timeline"},
			{"report", "/report.html", "#enforcement"},
		} {
			var over []string
			if err := chromedp.Run(ctx,
				chromedp.EmulateViewport(int64(width), 1000),
				chromedp.Navigate(ts.URL+p.path),
				chromedp.WaitReady(p.ready, chromedp.ByQuery),
				chromedp.Evaluate(overflowJS, &over),
				screenshot(t, out, p.name+"-"+itoa(width)+".png"),
			); err != nil {
				t.Fatalf("%s at %d px: %v", p.path, width, err)
			}
			if len(over) > 0 {
				t.Errorf("%s at %d px overflows the viewport:\n%s", p.path, width, strings.Join(over, "\n"))
			}
		}
		var outcomes map[string]string
		var exempt []string
		if err := chromedp.Run(ctx,
			chromedp.Navigate(ts.URL+"/enforcement"),
			chromedp.Evaluate(`Object.fromEntries(Array.from(document.querySelectorAll("#outcomes [data-outcome]")).map(e => [e.dataset.outcome, e.textContent]))`, &outcomes),
			chromedp.Navigate(ts.URL+"/exemptions"),
			chromedp.Evaluate(`Array.from(document.querySelectorAll("#exemptions tbody a.user")).map(a => a.textContent)`, &exempt),
		); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(map[string]string{"applied": "1", "dry-run": "1", "refused": "1", "escalated": "1"}, outcomes); diff != "" {
			t.Errorf("enforcement tiles at %d px (-want +got):\n%s", width, diff)
		}
		if diff := cmp.Diff([]string{"hank", "ivan"}, exempt); diff != "" {
			t.Errorf("exempt users at %d px, expiring soonest first (-want +got):\n%s", width, diff)
		}
	}
}

// TestBrowserReportFile opens the report as `keyage report` writes it, from
// a file: the browser requests nothing but the file, and its numbers are
// the API's.
func TestBrowserReportFile(t *testing.T) {
	bin := chromium(t)
	st := enforcedOrg(t)
	s, ts := newTestServer(t, st, Options{})
	rep, err := report.Build(context.Background(), st, report.Options{Now: s.opts.Now(), Since: defaultWindow, MaxAge: 90 * day})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "report.html")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteHTML(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	ctx := newBrowser(t, bin, 1400)
	var mu sync.Mutex
	var requests []string
	chromedp.ListenTarget(ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok {
			mu.Lock()
			requests = append(requests, e.Request.URL)
			mu.Unlock()
		}
	})
	var shown map[string]string
	if err := chromedp.Run(ctx,
		network.Enable(),
		chromedp.Navigate("file://"+path),
		chromedp.WaitReady("#config, #enforcement", chromedp.ByQuery),
		chromedp.Evaluate(`Object.fromEntries(Array.from(document.querySelectorAll("[id][data-value]")).map(e => [e.id, e.dataset.value]))`, &shown),
		screenshot(t, artifacts(t), "report-file.png"),
	); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	for _, u := range requests {
		if u != "file://"+path {
			t.Errorf("the report requested %s; it must load nothing", u)
		}
	}
	mu.Unlock()

	_, body := get(t, ts, "/api/v1/report")
	var api report.Report
	if err := json.Unmarshal([]byte(body), &api); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"users": itoa(api.Summary.Users), "noncompliant": itoa(api.Summary.NonCompliant), "compliance-pct": ftoa(api.Summary.CompliancePct),
		"overdue-total": itoa(api.OverdueTotal), "mttr-mean": ftoa(api.MTTR.MeanDays), "mttr-p90": ftoa(api.MTTR.P90Days),
		"mttr-remediated": itoa(api.MTTR.Remediated), "accounts-failed": itoa(api.Summary.AccountsFailed),
		"exemptions-count": itoa(len(api.Exemptions)), "enforcement-total": itoa(api.Enforcement.Total), "planned": itoa(len(api.Enforcement.Planned)),
	}
	if diff := cmp.Diff(want, shown); diff != "" {
		t.Errorf("report file numbers vs /api/v1/report (-api +file):\n%s", diff)
	}
	if api.OverdueTotal != 3 || api.MTTR.Remediated != 1 || len(api.Exemptions) != 2 {
		t.Errorf("the API's report = %d overdue, %d remediated, %d exemptions; the fixture changed", api.OverdueTotal, api.MTTR.Remediated, len(api.Exemptions))
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// ftoa writes v as html/template writes a float64 attribute.
func ftoa(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
