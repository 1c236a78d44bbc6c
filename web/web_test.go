package web_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/lothub/lothub/config"
	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/report"
	"github.com/lothub/lothub/runner"
	"github.com/lothub/lothub/server"
	"github.com/lothub/lothub/web"
)

// client is a signed-in user ("" for nobody) talking to a hub.
type client struct {
	t             *testing.T
	base          string
	user          string // NAME:ROLE
	session, csrf string
}

// as signs user (NAME:ROLE, made in the store when new) in with a session
// of its own; "" is nobody.
func (h *hub) as(t *testing.T, user string) *client {
	c := &client{t: t, base: h.URL, user: user}
	if user != "" {
		c.session, c.csrf = h.session(t, user)
	}
	return c
}

func (c *client) do(method, path string, form url.Values) (int, string, http.Header) {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		form = maps.Clone(form) // the caller's values are shared by subtests
		if c.user != "" && form.Get("csrf") == "" {
			form.Set("csrf", c.csrf)
		}
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if c.user != "" {
		if c.session != "" {
			req.AddCookie(&http.Cookie{Name: server.SessionCookie, Value: c.session})
		} else {
			req.AddCookie(&http.Cookie{Name: userCookie, Value: c.user}) // the handler alone (testAuth)
		}
	}
	cl := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := cl.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b), res.Header
}

func (c *client) get(path string) (int, string) {
	c.t.Helper()
	st, b, _ := c.do("GET", path, nil)
	return st, b
}

func (c *client) post(path string, form url.Values) (int, string, http.Header) {
	c.t.Helper()
	return c.do("POST", path, form)
}

func lotPath(page, item, lot string) string {
	return page + "?" + url.Values{"item": {item}, "lot": {lot}}.Encode()
}

// A small bakery whose names and parameters hold HTML: every page shows
// them as text, never as markup.
const (
	evilLot      = `<script>alert("lot")</script>`
	evilCustomer = `<img src=x onerror=alert("customer")>`
	evilParam    = `<b onmouseover=alert("param")>hot</b>`
)

func evilPlant(t *testing.T, h *hub) {
	t.Helper()
	h.ingest(t,
		`{"id":"r1","type":"receive","time":"2026-03-01T08:00:00Z","lot":{"item":"FLOUR","lot":"F-A"},"qty":100,"uom":"KG","supplier":{"id":"V-MILL","name":"Mill <i>Co</i>"},"supplier_lot":"M-1","po":"PO-1"}`,
		`{"id":"c1","type":"consume","time":"2026-03-02T08:00:00Z","lot":{"item":"FLOUR","lot":"F-A"},"qty":40,"uom":"KG","order":"WO-1"}`,
		fmt.Sprintf(`{"id":"p1","type":"produce","time":"2026-03-02T12:00:00Z","lot":{"item":"BREAD","lot":%q},"qty":100,"uom":"EA","order":"WO-1"}`, evilLot),
		fmt.Sprintf(`{"id":"st1","type":"step","time":"2026-03-02T13:00:00Z","lot":{"item":"BREAD","lot":%q},"step":"bake","operator":"ann","params":{"oven":%q}}`, evilLot, evilParam),
		fmt.Sprintf(`{"id":"s1","type":"ship","time":"2026-03-03T10:00:00Z","lot":{"item":"BREAD","lot":%q},"qty":60,"uom":"EA","customer":{"id":"C-1","name":%q},"sales_order":"SO-1"}`, evilLot, evilCustomer),
	)
}

func TestHTMLInNamesIsEscaped(t *testing.T) {
	h := emptyHub(t)
	evilPlant(t, h)
	if _, err := h.Srv.Monitor.Hold(context.Background(), core.HoldParams{Lot: core.LotRef{Item: "BREAD", Lot: evilLot}, Reason: evilParam, By: "qa"}); err != nil {
		t.Fatal(err)
	}
	c := h.as(t, "qa:quality")
	for _, path := range []string{
		"/",
		lotPath("/lot", "BREAD", evilLot),
		lotPath("/lot", "FLOUR", "F-A"),
		lotPath("/graph", "FLOUR", "F-A"),
		lotPath("/graph", "BREAD", evilLot),
		lotPath("/recall", "FLOUR", "F-A"),
		"/search?q=%3Cscript",
		"/search?customer=C-1",
		"/holds",
		lotPath("/holds", "FLOUR", "F-A"),
		"/search?q=" + url.QueryEscape(evilLot) + "&from=bad",
		lotPath("/lot", "BREAD", evilLot+"x"), // not found: the message names the lot
	} {
		st, body := c.get(path)
		if st != http.StatusOK && st != http.StatusNotFound && st != http.StatusBadRequest {
			t.Errorf("GET %s: status %d", path, st)
		}
		for _, raw := range []string{"<script>alert", "<img src=x", "<b onmouseover", "<i>Co</i>"} {
			if strings.Contains(body, raw) {
				t.Errorf("GET %s: the page holds the markup %q unescaped", path, raw)
			}
		}
	}
	// No form that is sent with GET carries the CSRF token (it would go
	// into the address, the history and the logs).
	for _, path := range []string{"/holds", lotPath("/holds", "FLOUR", "F-A"), lotPath("/lot", "FLOUR", "F-A"), lotPath("/recall", "FLOUR", "F-A"), "/search", "/exceptions"} {
		_, body := c.get(path)
		for _, form := range strings.Split(body, "<form")[1:] {
			form, _, _ = strings.Cut(form, "</form>")
			if !strings.Contains(form, `method="post"`) && strings.Contains(form, `name="csrf"`) {
				t.Errorf("GET %s: a GET form carries the CSRF token:\n<form%s", path, form)
			}
		}
	}
	// The held lot is drawn as held in the graph of its ancestor.
	if _, body := c.get(lotPath("/graph", "FLOUR", "F-A")); !strings.Contains(body, `class="node held"`) {
		t.Error("the graph does not draw the held lot as held")
	}
	// And the escaped names are shown.
	_, body := c.get(lotPath("/lot", "BREAD", evilLot))
	for _, want := range []string{"&lt;script&gt;alert(&#34;lot&#34;)&lt;/script&gt;", "&lt;img src=x onerror=alert(&#34;customer&#34;)&gt;", "oven: &lt;b onmouseover"} {
		if !strings.Contains(body, want) {
			t.Errorf("the lot page does not show %q as text", want)
		}
	}
}

func TestUnknownLotIsNotFound(t *testing.T) {
	h := emptyHub(t)
	evilPlant(t, h)
	c := h.as(t, "vera:viewer")
	for _, page := range []string{"/lot", "/graph", "/recall"} {
		st, body := c.get(lotPath(page, "FLOUR", "F-NOPE"))
		if st != http.StatusNotFound {
			t.Errorf("GET %s of an unknown lot: status %d, want 404", page, st)
		}
		if !strings.Contains(body, "FLOUR/F-NOPE not found") || !strings.Contains(body, `<form action="/search"`) {
			t.Errorf("GET %s of an unknown lot: no not-found message with a search box:\n%s", page, body)
		}
	}
	if st, _ := c.get("/exceptions/GAP-999"); st != http.StatusNotFound {
		t.Errorf("unknown exception: status %d, want 404", st)
	}
	if st, _ := c.get("/connectors/nope"); st != http.StatusNotFound {
		t.Errorf("unknown connector: status %d, want 404", st)
	}
	if st, body := c.get("/graph?item=FLOUR&lot=F-A&depth=0"); st != http.StatusBadRequest || !strings.Contains(body, "want a number of levels") {
		t.Errorf("depth 0: status %d, want 400 saying what depth takes", st)
	}
}

func TestNotSignedInGoesToLogin(t *testing.T) {
	h := emptyHub(t)
	c := h.as(t, "")
	st, _, hdr := c.do("GET", "/lot?item=A&lot=B", nil)
	if st != http.StatusSeeOther || hdr.Get("Location") != "/login?next="+url.QueryEscape("/lot?item=A&lot=B") {
		t.Errorf("GET a page signed out: %d to %q, want 303 to /login?next=the page", st, hdr.Get("Location"))
	}
}

// Every action of the web application, with every role: what the role
// may do is done, what it may not is refused with 403 and changes
// nothing.
func TestRolesOfActions(t *testing.T) {
	type action struct {
		name string
		path string
		form url.Values
		perm core.Permission
		done func(t *testing.T, h *hub) bool // whether it changed the store
	}
	onHold := func(item, lot string) func(*testing.T, *hub) bool {
		return func(t *testing.T, h *hub) bool {
			hs, err := h.Srv.Monitor.Store.HeldLots(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for _, x := range hs {
				if x.Ref == (core.LotRef{Item: item, Lot: lot}) {
					return true
				}
			}
			return false
		}
	}
	gapStatus := func(want core.GapStatus) func(*testing.T, *hub) bool {
		return func(t *testing.T, h *hub) bool {
			gs, err := h.Store.Exceptions(context.Background(), core.ExceptionFilter{})
			if err != nil {
				t.Fatal(err)
			}
			for _, g := range gs {
				if g.Status == want {
					return true
				}
			}
			return false
		}
	}
	cursorGone := func(t *testing.T, h *hub) bool {
		_, err := h.Store.Cursor(context.Background(), "erp")
		return core.ErrorCode(err) == core.ENOTFOUND
	}
	ranSync := func(t *testing.T, h *hub) bool {
		runs, err := h.Store.Runs(context.Background(), core.RunFilter{Connector: "erp"})
		if err != nil {
			t.Fatal(err)
		}
		return len(runs) > 0
	}
	actions := []action{
		{"run now", "/connectors/erp/run", url.Values{}, core.PermIntegrate, ranSync},
		{"hold", "/holds/place", url.Values{"item": {"FLOUR"}, "lot": {"F-A"}, "reason": {"test"}}, core.PermQuality, onHold("FLOUR", "F-A")},
		{"recall hold", "/recall/hold", url.Values{"item": {"FLOUR"}, "lot": {"F-A"}, "reason": {"test"}}, core.PermQuality, onHold("FLOUR", "F-A")},
		{"dismiss", "/exceptions/GAP-1/dismiss", url.Values{"reason": {"test"}}, core.PermQuality, gapStatus(core.GapWaived)},
		{"confirm", "/exceptions/GAP-1/confirm", url.Values{"reason": {"test"}, "consumed": {"FLOUR/F-A:1:KG"}}, core.PermQuality, gapStatus(core.GapConfirmed)},
		{"reset cursor", "/connectors/erp/reset", url.Values{"confirm": {"erp"}, "reason": {"re-read after a restore"}}, core.PermIntegrate, cursorGone},
	}
	for _, role := range core.Roles {
		for _, a := range actions {
			t.Run(string(role)+"/"+a.name, func(t *testing.T) {
				t.Parallel()
				h := rolesHub(t)
				st, body, _ := h.as(t, "u:"+string(role)).post(a.path, a.form)
				allowed := role.Can(a.perm)
				switch {
				case allowed && st != http.StatusSeeOther:
					t.Errorf("%s as %s: status %d, want 303 (done)\n%s", a.name, role, st, body)
				case !allowed && st != http.StatusForbidden:
					t.Errorf("%s as %s: status %d, want 403", a.name, role, st)
				case !allowed && !strings.Contains(body, "may not do this"):
					t.Errorf("%s as %s: the 403 page does not say why:\n%s", a.name, role, body)
				}
				if got := a.done(t, h); got != allowed {
					t.Errorf("%s as %s: store changed = %v, want %v", a.name, role, got, allowed)
				}
			})
		}
	}
	// The pages a role may not use do not offer the buttons.
	h := rolesHub(t)
	_, body := h.as(t, "v:viewer").get(lotPath("/recall", "FLOUR", "F-A"))
	if strings.Contains(body, `id="hold-all"`) {
		t.Error("the recall page offers a viewer the hold button")
	}
	_, body = h.as(t, "q:quality").get(lotPath("/recall", "FLOUR", "F-A"))
	if !strings.Contains(body, `id="hold-all"`) {
		t.Error("the recall page does not offer quality the hold button")
	}
	_, body = h.as(t, "q:quality").get("/connectors/erp")
	if strings.Contains(body, `id="reset-cursor"`) {
		t.Error("the connector page offers quality the reset button")
	}
	_, body = h.as(t, "i:integrator").get("/connectors/erp")
	if !strings.Contains(body, `id="reset-cursor"`) {
		t.Error("the connector page does not offer an integrator the reset button")
	}
	if st, _ := h.as(t, "v:viewer").get("/connectors/erp/reset"); st != http.StatusForbidden {
		t.Errorf("the reset confirmation page for a viewer: status %d, want 403", st)
	}
}

// rolesHub is a hub with a lot with stock, an order gap and a cursor.
func rolesHub(t *testing.T) *hub {
	t.Helper()
	cfg, err := config.Parse("hub.yaml", []byte("connectors:\n  - name: erp\n    plugin: filedrop\n    mapping: m.yaml\n    config:\n      source: /nowhere\n"))
	if err != nil {
		t.Fatal(err)
	}
	// No plugin is installed: a sync of erp runs, and fails.
	h := serve(t, t.TempDir()+"/hub.db", cfg, &runner.Plugins{})
	h.ingest(t,
		`{"id":"r1","type":"receive","time":"2026-03-01T08:00:00Z","lot":{"item":"FLOUR","lot":"F-A"},"qty":100,"uom":"KG","supplier":{"id":"V","name":"Mill"}}`,
		`{"id":"p1","type":"produce","time":"2026-03-02T12:00:00Z","lot":{"item":"BREAD","lot":"B-1"},"qty":100,"uom":"EA","order":"WO-1"}`,
	)
	if err := h.Store.Ingest(context.Background(), func(tx core.IngestTx) error {
		return tx.SetCursor(context.Background(), core.CursorRow{Connector: "erp", Position: []byte(`{"file":"x"}`)})
	}); err != nil {
		t.Fatal(err)
	}
	gs, err := h.Store.Exceptions(context.Background(), core.ExceptionFilter{})
	if err != nil || len(gs) != 1 || gs[0].ID != 1 || gs[0].Kind != core.GapOutputWithoutInput {
		t.Fatalf("want one order gap GAP-1, got %v %v", gs, err)
	}
	return h
}

func TestFormsSayWhatIsWrong(t *testing.T) {
	h := rolesHub(t)
	c := h.as(t, "qa:quality")
	st, body, _ := c.post("/holds/place", url.Values{"item": {"FLOUR"}, "lot": {"F-A"}, "reason": {"  "}})
	if st != http.StatusBadRequest || !strings.Contains(body, `<span class="field-error">Give the reason`) {
		t.Errorf("hold without a reason: status %d, want 400 with the error at the reason field", st)
	}
	st, body, _ = c.post("/holds/place", url.Values{"item": {"FLOUR"}, "lot": {"F-NOPE"}, "reason": {"x"}})
	if st != http.StatusBadRequest || !strings.Contains(body, "FLOUR/F-NOPE not found") {
		t.Errorf("hold of an unknown lot: status %d, want 400 saying it is not found", st)
	}
	st, body, _ = c.post("/recall/hold", url.Values{"item": {"FLOUR"}, "lot": {"F-A"}})
	if st != http.StatusBadRequest || !strings.Contains(body, "Give the reason for the hold") {
		t.Errorf("recall hold without a reason: status %d, want 400 with the error", st)
	}
	st, body, _ = c.post("/exceptions/GAP-1/dismiss", url.Values{})
	if st != http.StatusBadRequest || !strings.Contains(body, "Give the reason") {
		t.Errorf("dismiss without a reason: status %d, want 400 with the error", st)
	}
	st, body, _ = c.post("/exceptions/GAP-1/confirm", url.Values{"reason": {"r"}, "consumed": {"not a lot"}})
	if st != http.StatusBadRequest || !strings.Contains(body, "want ITEM/LOT") {
		t.Errorf("confirm with a bad lot: status %d, want 400 saying the format", st)
	}
	st, body, _ = h.as(t, "i:integrator").post("/connectors/erp/reset", url.Values{"confirm": {"wrong"}})
	if st != http.StatusBadRequest || !strings.Contains(body, "Type erp to confirm") {
		t.Errorf("reset without the confirmation: status %d, want 400 asking for it", st)
	}
	if hs, _ := h.Store.HeldLots(context.Background()); len(hs) != 0 {
		t.Errorf("refused forms placed %d holds", len(hs))
	}
	if gs, _ := h.Store.Exceptions(context.Background(), core.ExceptionFilter{Open: true}); len(gs) != 1 {
		t.Errorf("refused forms closed the gap")
	}
	if _, err := h.Store.Cursor(context.Background(), "erp"); err != nil {
		t.Errorf("a refused reset removed the cursor: %v", err)
	}
	st, body = c.get("/search?item=FLOUR&from=2026-03-05&to=2026-03-01")
	if st != http.StatusBadRequest || !strings.Contains(body, "The end of the range is before its start") {
		t.Errorf("search with a reversed range: status %d, want 400 with the error at the field", st)
	}
	st, body = c.get("/search?from=yesterday")
	if st != http.StatusBadRequest || !strings.Contains(body, "Give the item") || !strings.Contains(body, "Give a date as YYYY-MM-DD") {
		t.Errorf("search with a bad date and no item: status %d, want 400 with both errors", st)
	}
	// The message after an action is the hub's: a link made elsewhere
	// shows none.
	st, _, hdr := h.as(t, "i:integrator").post("/connectors/erp/reset", url.Values{"confirm": {"erp"}, "reason": {"test"}})
	if st != http.StatusSeeOther {
		t.Fatalf("reset: status %d", st)
	}
	if _, body := c.get(hdr.Get("Location")); !strings.Contains(body, `<p class="done" role="status">cursor reset`) {
		t.Error("the page after the reset does not say it was reset")
	}
	if _, body := c.get("/holds?done=Recall+cancelled%3A+no+action+needed"); strings.Contains(body, "Recall cancelled") {
		t.Error("a message in a link made elsewhere is shown as the hub's")
	}
	// A post without the CSRF token never reaches the pages.
	st, _, _ = c.post("/holds/place", url.Values{"item": {"FLOUR"}, "lot": {"F-A"}, "reason": {"x"}, "csrf": {"forged"}})
	if st != http.StatusForbidden {
		t.Errorf("post with a wrong CSRF token: status %d, want 403", st)
	}
}

func TestSecretsAreMasked(t *testing.T) {
	t.Setenv("LOTHUB_TEST_ERP_PASSWORD", "hunter2-very-secret")
	cfg, err := config.Parse("hub.yaml", []byte("connectors:\n  - name: erp\n    plugin: filedrop\n    mapping: m.yaml\n    config:\n      source: /srv/erp\n      password: ${env:LOTHUB_TEST_ERP_PASSWORD}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Resolve(); err != nil {
		t.Fatal(err)
	}
	h := serve(t, t.TempDir()+"/hub.db", cfg, nil)
	_, body := h.as(t, "i:integrator").get("/connectors/erp")
	if strings.Contains(body, "hunter2") {
		t.Fatal("the connector page shows a secret's value")
	}
	for _, want := range []string{"/srv/erp", "•••••• from ${env:LOTHUB_TEST_ERP_PASSWORD}"} {
		if !strings.Contains(body, want) {
			t.Errorf("the connector page does not show %q", want)
		}
	}
}

func TestSearch(t *testing.T) {
	h := emptyHub(t)
	evilPlant(t, h)
	c := h.as(t, "v:viewer")
	for _, tc := range []struct{ query, want, not string }{
		{"q=F-", lotPath("/lot", "FLOUR", "F-A"), "BREAD"},
		{"supplier_lot=M-1", lotPath("/lot", "FLOUR", "F-A"), "BREAD"},
		{"sales_order=SO-1", lotPath("/lot", "BREAD", evilLot), "F-A"},
		{"customer=C-1", lotPath("/lot", "BREAD", evilLot), "F-A"},
		{"item=BREAD&from=2026-03-02&to=2026-03-02", lotPath("/lot", "BREAD", evilLot), "F-A"},
		{"item=BREAD&from=2026-03-03&to=2026-03-09", "No lot found", "F-A"},
	} {
		st, body := c.get("/search?" + tc.query)
		want := strings.ReplaceAll(tc.want, "&", "&amp;")
		if st != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("search %s: status %d, no %q", tc.query, st, want)
		}
		if strings.Contains(body, `lot=`+tc.not) || strings.Contains(body, `item=`+tc.not) {
			t.Errorf("search %s lists %s", tc.query, tc.not)
		}
	}
}

// A lot reaching more lots than the graph draws gets its summary per
// level and item, with drill-down links that list them.
func TestWideGraphIsSummarised(t *testing.T) {
	h := emptyHub(t)
	lines := []string{`{"id":"r","type":"receive","time":"2026-03-01T08:00:00Z","lot":{"item":"SALT","lot":"S-1"},"qty":1000,"uom":"KG","supplier":{"id":"V","name":"V"}}`}
	for i := range 12 {
		lines = append(lines,
			fmt.Sprintf(`{"id":"c%d","type":"consume","time":"2026-03-02T08:00:00Z","lot":{"item":"SALT","lot":"S-1"},"qty":1,"uom":"KG","order":"WO-%d"}`, i, i),
			fmt.Sprintf(`{"id":"p%d","type":"produce","time":"2026-03-02T09:00:00Z","lot":{"item":"DOUGH","lot":"D-%02d"},"qty":1,"uom":"KG","order":"WO-%d"}`, i, i, i))
	}
	h.ingest(t, lines...)
	ui, err := web.New(web.Options{Auth: testAuth{}, Store: h.Store, Config: config.Defaults(), GraphLimit: 10, PageSize: 5,
		Queries: func() *core.Queries { return &core.Queries{Store: h.Store} },
		Monitor: func() *core.Monitor { return h.Srv.Monitor },
		Report:  func() report.Options { return report.Options{} },
		Log:     slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(ui)
	defer ts.Close()
	c := &client{t: t, base: ts.URL, user: "v:viewer"}
	st, body := c.get(lotPath("/graph", "SALT", "S-1"))
	if st != http.StatusOK || strings.Contains(body, "<svg") || !strings.Contains(body, "Too many lots to draw") {
		t.Fatalf("graph of 12 lots with a limit of 10: status %d, want the summary and no drawing", st)
	}
	drill := "/graph/level?" + url.Values{"dir": {"forward"}, "item": {"SALT"}, "level": {"1"}, "lot": {"S-1"}, "of": {"DOUGH"}}.Encode()
	if !strings.Contains(body, `<a href="`+strings.ReplaceAll(drill, "&", "&amp;")+`">12</a>`) {
		t.Fatalf("the summary does not count 12 DOUGH lots at level 1 with a drill-down link:\n%s", body)
	}
	_, body = c.get(drill + "&page=3")
	for _, want := range []string{"D-10", "D-11", "11–12 of 12"} {
		if !strings.Contains(body, want) {
			t.Errorf("the drill-down's last page does not show %q", want)
		}
	}
	if strings.Contains(body, "D-09") {
		t.Error("the drill-down's last page shows a lot of an earlier page")
	}
	// With one level fewer than it has, a narrow lot's graph is drawn.
	_, body = c.get(lotPath("/graph", "DOUGH", "D-01"))
	if !strings.Contains(body, "<svg") || !strings.Contains(body, `href="/lot?item=SALT&amp;lot=S-1"`) {
		t.Error("the graph of a narrow lot is not drawn with a link to its parent")
	}
}

// A raw lot consumed by more orders than the lot page reads the
// balances of: its balance is shown, its orders listed by name.
func TestLotOfManyOrders(t *testing.T) {
	h := emptyHub(t)
	lines := []string{`{"id":"r","type":"receive","time":"2026-03-01T08:00:00Z","lot":{"item":"SALT","lot":"S-1"},"qty":1000,"uom":"KG","supplier":{"id":"V","name":"V"}}`}
	for i := range 60 {
		lines = append(lines, fmt.Sprintf(`{"id":"c%d","type":"consume","time":"2026-03-02T08:00:00Z","lot":{"item":"SALT","lot":"S-1"},"qty":2,"uom":"KG","order":"WO-%02d"}`, i, i))
	}
	h.ingest(t, lines...)
	_, body := h.as(t, "v:viewer").get(lotPath("/lot", "SALT", "S-1") + "&orders=2")
	for _, want := range []string{"went through 60 orders", "WO-59", `<td class="r">120</td>`, `<b>880</b>`} {
		if !strings.Contains(body, want) {
			t.Errorf("the lot page of a lot of 60 orders does not show %q", want)
		}
	}
	if strings.Contains(body, "<li>WO-00</li>") {
		t.Error("the second page of orders lists the first order")
	}
}
