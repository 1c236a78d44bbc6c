package web_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/xuri/excelize/v2"

	"github.com/lothub/lothub/core"
)

// The browser journeys: Debian's chromium, headless, driven by chromedp
// over the demo plant that hub demo syncs. Without chromium they are
// skipped, except under CI, where scripts/test installs it and its
// absence is a failure.

const chromiumPath = "/usr/bin/chromium"

// newBrowser starts a fresh headless chromium (its own profile) and
// returns a tab's context. Downloads go to downloads.
func newBrowser(t *testing.T, downloads string) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("chromium is not installed at %s (scripts/test installs it: apt-get install -y chromium): %v", chromiumPath, err)
		}
		t.Skipf("chromium is not installed at %s: apt-get install -y chromium", chromiumPath)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		// Without these the browser calls home, and this machine refuses
		// its connections.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.UserDataDir(t.TempDir()),
		// A user in Berlin: the pages show times in the browser's zone.
		chromedp.Env("TZ=Europe/Berlin"),
		chromedp.WindowSize(1360, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// A bound on the whole journey: a hung browser fails the test.
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(cancelTimeout)
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	if _, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: downloads}); err != nil {
		t.Fatal(err)
	}
	// Accept the "are you sure?" of buttons marked data-confirm.
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for _, err := range dialogs {
			if err != nil {
				return
			}
			chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	return ctx
}

// signIn signs the browser in as user (NAME:ROLE) through the real
// sign-in page, as a person would: the user is made in the store with the
// test password (hub user add does the same), the browser's cookies are
// cleared (whoever was signed in is gone), then /login is filled in.
func signIn(t *testing.T, ctx context.Context, h *hub, user string) {
	t.Helper()
	h.user(t, user)
	name, _, _ := strings.Cut(user, ":")
	if _, err := chromedp.Call(ctx, network.ClearBrowserCookies, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	must(t, ctx, chromedp.Navigate(h.URL+"/"), chromedp.WaitVisible(chromedp.ID("password")))
	if u := location(t, ctx); u.Path != "/login" {
		t.Fatalf("a browser not signed in is at %s, want /login", u)
	}
	must(t, ctx,
		chromedp.SendKeys(chromedp.ID("name"), name),
		chromedp.SendKeys(chromedp.ID("password"), testPassword),
		chromedp.Submit(chromedp.ID("password")),
		chromedp.WaitVisible(chromedp.CSS("h1")), chromedp.WaitVisible(chromedp.CSS(".who")))
	who := text(t, ctx, ".who")
	if !strings.Contains(who, name) {
		t.Fatalf("signed in as %s, the page says %q", user, who)
	}
}

func must(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		t.Fatalf("browser at %s: %v", loc, err)
	}
}

func text(t *testing.T, ctx context.Context, css string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(css)))
	if err != nil {
		t.Fatalf("read %s: %v", css, err)
	}
	return s
}

func location(t *testing.T, ctx context.Context) *url.URL {
	t.Helper()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// shot saves a screenshot of the page for the README (go test ./web
// -run TestJourneys -screenshots).
func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	if !*screenshots {
		return
	}
	b, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("..", "docs", "img", name), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// waitFile waits for a download to complete in dir.
func waitFile(t *testing.T, dir, suffix string) string {
	t.Helper()
	for range 200 {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), suffix) {
				return filepath.Join(dir, e.Name())
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no %s file was downloaded into %s", suffix, dir)
	return ""
}

func TestJourneys(t *testing.T) {
	h := demoHub(t)
	downloads := t.TempDir()
	ctx := newBrowser(t, downloads)
	bad := core.LotRef{Item: h.Plant.Contaminated.Item, Lot: h.Plant.Contaminated.Lot}
	q := &core.Queries{Store: h.Store}
	recall, err := q.Recall(context.Background(), core.Selector{Lot: &bad})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("quality finds, traces and recalls the contaminated lot", func(t *testing.T) {
		signIn(t, ctx, h, "quinn:quality")
		// The browser's time zone is the pages' (app.js sets the cookie).
		must(t, ctx, chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("zone")))
		if zone := text(t, ctx, "#zone"); zone != "Europe/Berlin" {
			t.Errorf("the pages show times in %q, want the browser's Europe/Berlin", zone)
		}
		dash := text(t, ctx, "main")
		for _, want := range []string{"Open exceptions", "Active holds", "demo-plant", "ok"} {
			if !strings.Contains(dash, want) {
				t.Errorf("the dashboard does not show %q", want)
			}
		}
		// The dashboard on a production day of the demo, for the README.
		must(t, ctx, chromedp.Navigate(h.URL+"/?day=2026-03-04"), chromedp.WaitVisible(chromedp.CSS("dl.stats")))
		shot(t, ctx, "dashboard.png")

		// The header's search box, as a newcomer would use it.
		must(t, ctx,
			chromedp.SendKeys(chromedp.CSS(`form.find input[name="q"]`), bad.Lot),
			chromedp.Submit(chromedp.CSS(`form.find input[name="q"]`)),
			chromedp.WaitVisible(chromedp.CSS("table.results")),
		)
		must(t, ctx, chromedp.Click(chromedp.CSS(fmt.Sprintf(`table.results a.lot[href*=%q]`, url.QueryEscape(bad.Lot)))),
			chromedp.WaitVisible(chromedp.CSS("h1.lotname")))
		if got := text(t, ctx, "h1.lotname"); !strings.Contains(got, bad.Lot) {
			t.Fatalf("the lot page's title is %q, want the lot %s", got, bad)
		}
		lotPage := text(t, ctx, "main")
		// Received 2026-03-03T06:48:00Z: 07:48 in Berlin, in winter.
		for _, want := range []string{h.Plant.SupplierLot, h.Plant.ContaminatedSupplier, "Mass balance", "Receipts", "2026-03-03 07:48 CET"} {
			if !strings.Contains(lotPage, want) {
				t.Errorf("the lot page of %s does not show %q", bad, want)
			}
		}

		// Its graph, then a click through to a finished lot.
		must(t, ctx, chromedp.Click(chromedp.CSS(`a.button[href^="/graph"]`)), chromedp.WaitVisible(chromedp.CSS("svg")))
		var finished core.LotRef
		for _, l := range recall.Lots {
			if l.Depth == 2 {
				finished = core.LotRef{Item: l.Item, Lot: l.Lot}
				break
			}
		}
		if finished.Lot == "" {
			t.Fatal("the demo's recall reaches no finished lot")
		}
		nodes, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("svg a.node")].map(a => a.getAttribute("href"))`))
		if err != nil {
			t.Fatal(err)
		}
		if len(nodes) < len(recall.Lots)+1 {
			t.Errorf("the graph draws %d nodes, want at least the %d lots of the recall and the lot itself", len(nodes), len(recall.Lots)+1)
		}
		shot(t, ctx, "graph.png")
		href := "/lot?" + url.Values{"item": {finished.Item}, "lot": {finished.Lot}}.Encode()
		if !slices.Contains(nodes, href) {
			t.Fatalf("the graph has no node linking to %s: %v", href, nodes)
		}
		must(t, ctx, chromedp.Click(chromedp.CSS(fmt.Sprintf(`svg a.node[href=%q] rect`, href))), chromedp.WaitVisible(chromedp.CSS("h1.lotname")))
		if got := text(t, ctx, "h1.lotname"); !strings.Contains(got, finished.Lot) {
			t.Fatalf("clicking %s in the graph opened %q", finished, got)
		}
		finishedPage := text(t, ctx, "main")
		for _, want := range []string{"Process steps", "Shipments", "Consumed by"} {
			if !strings.Contains(finishedPage, want) {
				t.Errorf("the finished lot's page has no %q", want)
			}
		}
		shot(t, ctx, "lot.png")

		// Fewer levels: the graph collapses to the lot's neighbours.
		must(t, ctx, chromedp.Navigate(h.URL+"/graph?"+url.Values{"item": {bad.Item}, "lot": {bad.Lot}, "depth": {"1"}}.Encode()), chromedp.WaitVisible(chromedp.CSS("svg")))
		one, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("svg a.node").length`))
		if err != nil {
			t.Fatal(err)
		}
		if one >= len(nodes) {
			t.Errorf("one level draws %d nodes, all levels %d: nothing collapsed", one, len(nodes))
		}

		// The recall page, and its XLSX read back.
		must(t, ctx, chromedp.Click(chromedp.CSS(`a.button[href^="/recall"]`)), chromedp.WaitVisible(chromedp.ID("download-xlsx")))
		page := text(t, ctx, "main")
		for _, c := range *recall.Customers {
			if !strings.Contains(page, c.Name) {
				t.Errorf("the recall page does not list customer %s", c.Name)
			}
		}
		shot(t, ctx, "recall.png")
		must(t, ctx, chromedp.Click(chromedp.ID("download-xlsx")))
		file := waitFile(t, downloads, ".xlsx")
		x, err := excelize.OpenFile(file)
		if err != nil {
			t.Fatalf("the downloaded recall is no XLSX: %v", err)
		}
		var cells strings.Builder
		for _, sheet := range x.GetSheetList() {
			rows, _ := x.GetRows(sheet)
			for _, r := range rows {
				cells.WriteString(strings.Join(r, "\t") + "\n")
			}
		}
		x.Close()
		for _, c := range *recall.Customers {
			if !strings.Contains(cells.String(), c.Name) {
				t.Errorf("the recall XLSX does not list customer %s", c.Name)
			}
		}
		for _, s := range recall.Shipments {
			if !strings.Contains(cells.String(), s.SalesOrder) {
				t.Errorf("the recall XLSX does not list sales order %s", s.SalesOrder)
			}
		}

		// Hold on all affected lots: first without a reason, then with.
		must(t, ctx, chromedp.Click(chromedp.ID("hold-all")), chromedp.WaitVisible(chromedp.CSS(".field-error")))
		if held, _ := h.Store.HeldLots(context.Background()); slices.ContainsFunc(held, func(r core.HeldLotRow) bool { return r.Ref == bad }) {
			t.Fatal("a hold without a reason was placed")
		}
		must(t, ctx,
			chromedp.SendKeys(chromedp.ID("hold-reason"), "supplier recall "+h.Plant.SupplierLot),
			chromedp.Click(chromedp.ID("hold-all")),
			chromedp.WaitVisible(chromedp.CSS("p.done")),
		)
		if msg := text(t, ctx, "p.done"); !strings.Contains(msg, "placed on hold") {
			t.Errorf("after the hold the page says %q", msg)
		}
		held, err := h.Store.HeldLots(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(held, func(r core.HeldLotRow) bool { return r.Ref == bad }) {
			t.Errorf("%s is not on hold after the recall's hold", bad)
		}
		hs, _ := q.Holds(context.Background())
		for _, x := range hs {
			if x.Item == bad.Item && x.Lot == bad.Lot && (x.By != "quinn" || !strings.Contains(x.Reason, h.Plant.SupplierLot)) {
				t.Errorf("the hold is recorded by %q for %q, want quinn and the reason", x.By, x.Reason)
			}
		}
	})

	t.Run("quality confirms an exception", func(t *testing.T) {
		// A cookie batch the MES recorded without its inputs.
		h.ingest(t, `{"id":"mes:WO-9001:out","type":"produce","time":"2026-03-12T10:00:00Z","lot":{"item":"COOKIE-BUTTER","lot":"20260312-COOKIE-BUTTER-009"},"qty":40,"uom":"CS","order":"WO-9001"}`)
		gaps, err := h.Srv.Monitor.GapList(context.Background(), core.ExceptionFilter{Open: true})
		if err != nil {
			t.Fatal(err)
		}
		var gap core.Gap
		for _, g := range gaps {
			if g.Kind == core.GapOutputWithoutInput && g.Order == "WO-9001" {
				gap = g
			}
		}
		if gap.ID == "" {
			t.Fatalf("no gap for WO-9001 among %v", gaps)
		}
		must(t, ctx, chromedp.Navigate(h.URL+"/exceptions"), chromedp.WaitVisible(chromedp.CSS("table.queue")))
		must(t, ctx, chromedp.Click(chromedp.CSS(fmt.Sprintf(`table.queue a[href="/exceptions/%s"]`, gap.ID))), chromedp.WaitVisible(chromedp.ID("confirm")))
		must(t, ctx,
			chromedp.SendKeys(chromedp.CSS(`textarea[name="consumed"]`), "COOKIE-DOUGH/20260304-COOKIE-DOUGH-001:20:KG"),
			chromedp.SendKeys(chromedp.ID("confirm-reason"), "paper batch record 9001 names the dough"),
			chromedp.Click(chromedp.ID("confirm")),
			chromedp.WaitVisible(chromedp.CSS("p.done")),
		)
		if got := text(t, ctx, "h1"); !strings.Contains(got, "confirmed") {
			t.Errorf("after confirming, the exception's title says %q", got)
		}
		back, err := q.Trace(context.Background(), core.Backward, core.Selector{Lot: &core.LotRef{Item: "COOKIE-BUTTER", Lot: "20260312-COOKIE-BUTTER-009"}})
		if err != nil {
			t.Fatal(err)
		}
		batch := core.LotRef{Item: "COOKIE-BUTTER", Lot: "20260312-COOKIE-BUTTER-009"}
		if !slices.ContainsFunc(back.Links, func(l core.Link) bool {
			return l.Child == batch && l.Confirmed && l.Parent == core.LotRef{Item: "COOKIE-DOUGH", Lot: "20260304-COOKIE-DOUGH-001"}
		}) {
			t.Errorf("after the confirmation the batch's backward links are %+v, want a confirmed link from the dough", back.Links)
		}
	})

	t.Run("integrator resets a cursor", func(t *testing.T) {
		signIn(t, ctx, h, "ivan:integrator")
		if _, err := h.Store.Cursor(context.Background(), "demo-plant"); err != nil {
			t.Fatalf("the demo left no cursor: %v", err)
		}
		must(t, ctx, chromedp.Navigate(h.URL+"/connectors"), chromedp.Click(chromedp.CSS(`a[href="/connectors/demo-plant"]`)),
			chromedp.WaitVisible(chromedp.ID("reset-cursor")))
		if strings.Contains(text(t, ctx, "main"), "BEGIN OPENSSH") {
			t.Error("the connector page shows a private key")
		}
		must(t, ctx, chromedp.Click(chromedp.ID("reset-cursor")), chromedp.WaitVisible(chromedp.ID("confirm-name")))
		if _, err := h.Store.Cursor(context.Background(), "demo-plant"); err != nil {
			t.Fatal("the cursor was reset before it was confirmed")
		}
		must(t, ctx,
			chromedp.SendKeys(chromedp.ID("confirm-name"), "demo-plant"),
			chromedp.SendKeys(chromedp.ID("reset-reason"), "re-read the plant after the SFTP folder was restored"),
			chromedp.Click(chromedp.ID("confirm-reset")),
			chromedp.WaitVisible(chromedp.CSS("p.done")),
		)
		if _, err := h.Store.Cursor(context.Background(), "demo-plant"); core.ErrorCode(err) != core.ENOTFOUND {
			t.Errorf("after the reset the cursor is still there (err %v)", err)
		}
		if got := text(t, ctx, "main"); !strings.Contains(got, "No position stored") {
			t.Error("the connector page does not say the cursor is gone")
		}
		// Run now: the plugin reads every file again, and nothing is
		// stored twice.
		must(t, ctx, chromedp.Click(chromedp.ID("run-now")), chromedp.WaitVisible(chromedp.CSS("p.done")))
		var last core.Run
		for range 600 {
			runs, err := h.Store.Runs(context.Background(), core.RunFilter{Connector: "demo-plant", Limit: 1})
			if err != nil {
				t.Fatal(err)
			}
			if len(runs) > 0 && runs[0].Trigger == "manual" && runs[0].Status != core.RunRunning {
				last = runs[0]
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if last.Status != core.RunOK || last.Records != 431 || last.Events != 0 || last.Unchanged != 430 {
			t.Errorf("the sync run from the page: %+v, want ok, 431 records read again, nothing new", last)
		}
		must(t, ctx, chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("run-now")))
		if got := text(t, ctx, "main"); !strings.Contains(got, "manual") {
			t.Error("the connector page does not list the manual run")
		}
	})

	t.Run("viewer reads and is refused", func(t *testing.T) {
		signIn(t, ctx, h, "vera:viewer")
		must(t, ctx, chromedp.Navigate(h.URL+"/recall?"+url.Values{"item": {bad.Item}, "lot": {bad.Lot}}.Encode()), chromedp.WaitVisible(chromedp.ID("download-xlsx")))
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#hold-all, form[action='/recall/hold']").length`))
		if err != nil || n != 0 {
			t.Errorf("the recall page offers a viewer the hold (%d forms, %v)", n, err)
		}
		must(t, ctx, chromedp.Navigate(h.URL+"/connectors/demo-plant/reset"), chromedp.WaitVisible(chromedp.CSS("h1")))
		if got := text(t, ctx, "h1"); got != "Not allowed" {
			t.Errorf("a viewer opening the reset page sees %q, want Not allowed", got)
		}
		// A forged post (with the viewer's own CSRF token, read from a
		// page's sign-out form) is refused too.
		must(t, ctx, chromedp.Navigate(h.URL+"/"), chromedp.WaitVisible(chromedp.CSS(".who")))
		status, err := chromedp.Run(ctx, chromedp.Evaluate[int](`fetch("/holds/place", {method: "POST", body: new URLSearchParams({csrf: document.querySelector("input[name=csrf]").value, item: "FLOUR", lot: "`+bad.Lot+`", reason: "x"})}).then(r => r.status)`,
			chromedp.EvalAwaitPromise))
		if err != nil || status != 403 {
			t.Errorf("a viewer's hold: status %d (%v), want 403", status, err)
		}
	})
}
