// Package e2e_test syncs a fake SAP S/4HANA into a SQLite store through
// the hub's runner and the sap connector as a real plugin process (the hub
// binary serving its built-in, hub plugin sap), with the default mapping,
// and checks the genealogy that comes out.
package e2e_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lothub/lothub/config"
	"github.com/lothub/lothub/connectors/sap/internal/fake"
	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/core/store/sqlite"
	"github.com/lothub/lothub/internal/testbuild"
	"github.com/lothub/lothub/internal/testlog"
	"github.com/lothub/lothub/runner"
)

func TestMain(m *testing.M) { testbuild.Main(m) }

type env struct {
	store  core.Store
	r      *runner.Runner
	logs   *testlog.Buffer
	sleeps []time.Duration
}

// newEnv configures a hub with one connector, s4, reading s; settings
// replace lines of the connector's configuration ("batch_size: 500").
func newEnv(t testing.TB, s *fake.S4, settings ...string) *env {
	t.Helper()
	t.Setenv("LOTHUB_TEST_SAP_PASSWORD", s.Password)
	return newHub(t, "s4", "../mapping.yaml", fmt.Sprintf(`
      system: s4hana
      base_url: %s
      sap_client: "100"
      user: %s
      password: ${env:LOTHUB_TEST_SAP_PASSWORD}
      page_size: "4"`, s.URL, s.User), settings...)
}

// newHub configures a hub with one sap connector called name, with the
// mapping file and the connector's config lines (connector), and a SQLite
// store.
func newHub(t testing.TB, name, mappingFile, connector string, settings ...string) *env {
	t.Helper()
	dir := t.TempDir()
	mapping, err := filepath.Abs(mappingFile)
	if err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`
connectors:
  - name: %s
    plugin: sap
    mapping: %s
    batch_size: 5
    timeout: 30s
    max_retry: 10m
    config:%s
`, name, mapping, connector)
	for _, set := range settings {
		key, _, _ := strings.Cut(set, ":")
		lines := strings.Split(cfg, "\n")
		for i, l := range lines {
			if strings.HasPrefix(strings.TrimSpace(l), key+":") {
				lines[i] = l[:len(l)-len(strings.TrimLeft(l, " "))] + set
			}
		}
		cfg = strings.Join(lines, "\n")
	}
	h, err := config.Parse(filepath.Join(dir, "hub.yaml"), []byte(cfg))
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &env{store: st, logs: &testlog.Buffer{}}
	e.r = &runner.Runner{
		Store: st, Config: h,
		Plugins: &runner.Plugins{Builtins: []string{"sap"}, Self: testbuild.Hub(t)},
		Logger:  slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		// Backoff is recorded, not waited: the test checks Retry-After
		// is honoured without sleeping.
		Sleep: func(ctx context.Context, d time.Duration) error {
			e.sleeps = append(e.sleeps, d)
			return ctx.Err()
		},
	}
	return e
}

func lotNames(lots []core.TracedLot) []string {
	var out []string
	for _, l := range lots {
		out = append(out, l.Item+"/"+l.Lot)
	}
	slices.Sort(out)
	return out
}

func TestSyncS4IntoGenealogy(t *testing.T) {
	ctx := context.Background()
	s := fake.NewS4(t, false)
	s.ServerPage = 3
	s.Add(fake.PlantDocs()...)
	// A rate limit, an outage and a connection cut in the middle of a page,
	// each retried by the runner from the last committed batch.
	s.Fault = func(n int, w http.ResponseWriter, r *http.Request) bool {
		switch n {
		case 3:
			w.Header().Set("Retry-After", "7")
			fake.ODataError(w, http.StatusTooManyRequests, "/IWFND/CM_BEC/026", "Too many requests")
		case 6:
			fake.ODataError(w, http.StatusServiceUnavailable, "/IWFND/CM_BEC/026", "Service unavailable")
		case 9:
			fake.Cut(w)
		default:
			return false
		}
		return true
	}
	e := newEnv(t, s)

	start := time.Now()
	run, err := e.r.Sync(ctx, "s4", "manual")
	elapsed := time.Since(start)
	if err != nil {
		t.Fatalf("sync: %v\nlogs:\n%s", err, e.logs)
	}
	items := fake.ItemCount(fake.PlantDocs())
	if run.Status != core.RunOK || run.Records != items || run.Quarant != 0 || run.Events == 0 {
		t.Fatalf("run = %+v; want ok, %d records, none quarantined", run, items)
	}
	t.Logf("first sync: %d records, %d events in %d batches, %s (%.0f records/s, plugin start included)",
		run.Records, run.Events, run.Batches, elapsed.Round(time.Millisecond), float64(run.Records)/elapsed.Seconds())
	if !slices.Contains(e.sleeps, 7*time.Second) {
		t.Errorf("backoff waits %v; want the 7s the server asked for (Retry-After)", e.sleeps)
	}

	q := &core.Queries{Store: e.store}
	// Recall of flour lot F-A: the bread and bran of orders 1 and 2; not
	// B-3, whose order's consumption of F-A was cancelled (262); Alpha
	// Foods got B-1; Beta Bakeries' shipment of B-2 was cancelled (602).
	rec, err := q.Recall(ctx, core.Selector{Lot: &core.LotRef{Item: "12345", Lot: "F-A"}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := lotNames(rec.Lots), []string{"BRAN/BY-1", "BREAD-WHITE/B-1", "BREAD-WHITE/B-2"}; !slices.Equal(got, want) {
		t.Errorf("recall of 12345/F-A reaches %v, want %v", got, want)
	}
	if rec.Customers == nil || len(*rec.Customers) != 1 || (*rec.Customers)[0].ID != "17100001" || (*rec.Customers)[0].Name != "Alpha Foods" {
		t.Errorf("recall customers = %+v, want only 17100001 Alpha Foods", rec.Customers)
	}
	for _, sh := range rec.Shipments {
		if sh.Customer.ID == "17100002" {
			t.Errorf("the cancelled shipment to Beta Bakeries is in the recall: %+v", sh)
		}
	}

	// Backward from bread B-1: flour F-A and salt S-1, F-A from Mill Co on
	// purchase order 4500000001.
	back, err := q.Trace(ctx, core.Backward, core.Selector{Lot: &core.LotRef{Item: "BREAD-WHITE", Lot: "B-1"}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := lotNames(back.Lots), []string{"12345/F-A", "SALT/S-1"}; !slices.Equal(got, want) {
		t.Errorf("backward trace of B-1 reaches %v, want %v", got, want)
	}
	found := false
	for _, sup := range back.Suppliers {
		if sup.Lot == "F-A" && sup.ID == "17300001" && sup.Name == "Mill Co" && sup.PO == "4500000001" {
			found = true
		}
	}
	if !found {
		t.Errorf("backward trace suppliers = %+v, want Mill Co for F-A on PO 4500000001", back.Suppliers)
	}

	// The receipt of F-C was cancelled (102): nothing of it is on hand.
	fc, err := q.Lot(ctx, core.LotRef{Item: "12345", Lot: "F-C"})
	if err != nil {
		t.Fatal(err)
	}
	for _, oh := range fc.OnHand {
		if oh.Qty != 0 {
			t.Errorf("on hand of the cancelled receipt F-C = %+v, want nothing", fc.OnHand)
		}
	}
	// B-1 went to blocked stock (344).
	b1, err := q.Lot(ctx, core.LotRef{Item: "BREAD-WHITE", Lot: "B-1"})
	if err != nil {
		t.Fatal(err)
	}
	if !b1.OnHold {
		t.Errorf("B-1 is not on hold after movement type 344: %+v", b1.Holds)
	}

	// A document committed late (created 11:30, before the last one read)
	// and a new one: the next sync reads exactly those two.
	s.Fault = nil
	s.Add(
		fake.MatDoc("4900000099", "2026-03-02T11:30:00", fake.MatItem("101", "SUGAR", "SU-1", "10", "KG", "PurchaseOrder", "4500000009", "Supplier", "0017300001")),
		fake.MatDoc("4900000100", "2026-03-02T13:00:00", fake.MatItem("601", "BREAD-WHITE", "B-1", "20", "ST", "Customer", "0017100002", "Delivery", "0080000009")),
	)
	second, err := e.r.Sync(ctx, "s4", "schedule")
	if err != nil || second.Records != 2 || second.Events != 2 {
		t.Errorf("second sync = %+v, %v; want 2 records and 2 events", second, err)
	}
	third, err := e.r.Sync(ctx, "s4", "schedule")
	if err != nil || third.Records != 0 {
		t.Errorf("third sync = %+v, %v; want nothing read", third, err)
	}
	rec, err = q.Recall(ctx, core.Selector{Lot: &core.LotRef{Item: "12345", Lot: "F-A"}})
	if err != nil {
		t.Fatal(err)
	}
	if rec.Customers == nil || len(*rec.Customers) != 2 {
		t.Errorf("after the new shipment the recall reaches customers %+v, want Alpha and Beta", rec.Customers)
	}

	if strings.Contains(e.logs.String(), s.Password) {
		t.Error("the password shows in the hub's logs")
	}
	runs, err := e.store.Runs(ctx, core.RunFilter{Connector: "s4"})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range runs {
		if strings.Contains(r.Error, s.Password) {
			t.Errorf("run %d's error shows the password", r.ID)
		}
	}
}

func TestSyncB1IntoGenealogy(t *testing.T) {
	ctx := context.Background()
	s := fake.NewB1(t, "v1")
	n := fake.B1Plant(s)
	t.Setenv("LOTHUB_TEST_B1_PASSWORD", s.Password)
	e := newHub(t, "b1", "../b1-mapping.yaml", fmt.Sprintf(`
      system: b1
      base_url: %s
      company_db: %s
      user: %s
      password: ${env:LOTHUB_TEST_B1_PASSWORD}
      page_size: "2"`, s.URL, s.CompanyDB, s.User))
	run, err := e.r.Sync(ctx, "b1", "manual")
	if err != nil {
		t.Fatalf("sync: %v\nlogs:\n%s", err, e.logs)
	}
	if run.Records != n || run.Quarant != 0 {
		t.Fatalf("run = %+v, want %d records, none quarantined", run, n)
	}
	q := &core.Queries{Store: e.store}
	// Flour F-A went into order 10 (bread BR-1), delivered to Alpha Foods.
	rec, err := q.Recall(ctx, core.Selector{Lot: &core.LotRef{Item: "FLOUR", Lot: "F-A"}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := lotNames(rec.Lots), []string{"BREAD/BR-1"}; !slices.Equal(got, want) {
		t.Errorf("recall of FLOUR/F-A reaches %v, want %v", got, want)
	}
	if rec.Customers == nil || len(*rec.Customers) != 1 || (*rec.Customers)[0].Name != "Alpha Foods" {
		t.Errorf("recall customers = %+v, want Alpha Foods", rec.Customers)
	}
	// F-B went into order 11 (BR-2), whose delivery to Beta Bakeries was
	// cancelled: no customer.
	rec, err = q.Recall(ctx, core.Selector{Lot: &core.LotRef{Item: "FLOUR", Lot: "F-B"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := lotNames(rec.Lots); !slices.Equal(got, []string{"BREAD/BR-2"}) || rec.Customers == nil || len(*rec.Customers) != 0 {
		t.Errorf("recall of FLOUR/F-B = lots %v, customers %+v; want BR-2 and no customer (the delivery was cancelled)", got, rec.Customers)
	}
	back, err := q.Trace(ctx, core.Backward, core.Selector{Lot: &core.LotRef{Item: "BREAD", Lot: "BR-1"}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := lotNames(back.Lots), []string{"FLOUR/F-A", "SUGAR/S-1"}; !slices.Equal(got, want) {
		t.Errorf("backward trace of BR-1 reaches %v, want %v", got, want)
	}
	found := false
	for _, sup := range back.Suppliers {
		if sup.Lot == "F-A" && sup.ID == "V100" && sup.Name == "Mill Co" && sup.SupplierLot == "M-7781" && sup.PO == "5" {
			found = true
		}
	}
	if !found {
		t.Errorf("suppliers = %+v, want Mill Co for F-A, supplier lot M-7781, PO 5", back.Suppliers)
	}
	// The batch master: BR-2 locked and S-1 not accessible in Business
	// One are on hold in the hub; the released batches are not.
	holds, err := q.Holds(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var held []string
	for _, h := range holds {
		held = append(held, h.Item+"/"+h.Lot+": "+h.Reason)
	}
	if want := []string{"BREAD/BR-2: SAP Business One batch status Locked", "SUGAR/S-1: SAP Business One batch status Not Accessible"}; !slices.Equal(held, want) {
		t.Errorf("holds = %q, want %q", held, want)
	}
	if st, err := q.Lot(ctx, core.LotRef{Item: "FLOUR", Lot: "F-A"}); err != nil || st.OnHold || len(st.Holds) != 0 {
		t.Errorf("FLOUR/F-A (released, never held) = %+v, %v; want no hold or release", st, err)
	}
	if _, logouts, open := s.Counts(); logouts == 0 || open != 0 {
		t.Errorf("after the sync: %d logouts, %d sessions open; want the session logged out", logouts, open)
	}
	if strings.Contains(e.logs.String(), s.Password) {
		t.Error("the password shows in the hub's logs")
	}
}

func TestSyncFailsWithAClearMessage(t *testing.T) {
	s := fake.NewS4(t, false)
	s.Add(fake.PlantDocs()...)
	s.Fault = func(n int, w http.ResponseWriter, r *http.Request) bool {
		fake.ODataError(w, http.StatusForbidden, "/IWFND/MED/011", "No authorization to access service")
		return true
	}
	e := newEnv(t, s)
	run, err := e.r.Sync(context.Background(), "s4", "manual")
	if err == nil || run.Status != core.RunFailed {
		t.Fatalf("sync against a 403 = %+v, %v; want a failed run", run, err)
	}
	for _, want := range []string{"HTTP 403", "communication arrangement SAP_COM_0108"} {
		if !strings.Contains(run.Error, want) {
			t.Errorf("run error %q does not say %q", run.Error, want)
		}
	}
	if strings.Contains(run.Error, s.Password) || strings.Contains(e.logs.String(), s.Password) {
		t.Error("the password shows in the run's error or the logs")
	}
}

// BenchmarkSyncS4 syncs 1000 material documents (about 2,750 items) from
// the fake S/4HANA into a new SQLite store per iteration: the plugin
// process, HTTP, mapping, ingest and commit, with the default batch size.
func BenchmarkSyncS4(b *testing.B) {
	ctx := context.Background()
	docs := fake.Synthetic(1000)
	records := 0
	for b.Loop() {
		b.StopTimer()
		s := fake.NewS4(b, false)
		s.Add(docs...)
		e := newEnv(b, s, "batch_size: 500", `page_size: "200"`)
		b.StartTimer()
		run, err := e.r.Sync(ctx, "s4", "manual")
		if err != nil || run.Quarant != 0 {
			b.Fatalf("sync = %+v, %v", run, err)
		}
		records += run.Records
	}
	b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
}
