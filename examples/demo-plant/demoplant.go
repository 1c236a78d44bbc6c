// Package demoplant generates the demo plant of hub demo: the exports of a
// small bakery, in the filedrop connector's canonical CSV layout
// (connectors/filedrop/mapping.yaml), deterministically from a seed.
//
// The bakery buys flour, sugar, butter, eggs, yeast, salt and sesame from
// seven suppliers, mixes three doughs (work orders that consume raw lots,
// co-mingling two lots when one runs out), bakes white bread, sesame buns
// and butter cookies from them (splitting big batches into two lots), checks
// every finished lot (metal detection, core temperature) and ships them to
// twelve customers over the next days. One metal-detection check fails and
// its lot is put on hold. The second flour delivery, supplier lot PM-2291,
// is the one the mill later recalls; one shipment row has a typo in its
// quantity, so the demo shows a row quarantined with its file:line.
//
// The files in this folder are Generate(Config{}) written by Write; a test
// keeps them so.
package demoplant

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Config of a demo plant.
type Config struct {
	Days  int       // production days; 10 when 0
	Start time.Time // the first day; 2026-03-02 when zero
	Seed  uint64    // 1 when 0
}

// Lot names a lot.
type Lot struct{ Item, Lot string }

// Plant is a generated demo plant.
type Plant struct {
	// Files maps file names to their content.
	Files map[string][]byte
	// Rows is the number of data rows, header rows excepted.
	Rows int
	// Contaminated is the raw lot the supplier recalls, with its supplier
	// and supplier lot.
	Contaminated                      Lot
	ContaminatedSupplier, SupplierLot string
	// Complaint is a customer's complaint: the sales order it is about.
	ComplaintCustomer, ComplaintCustName string
	ComplaintOrder                       string
	ComplaintLot                         Lot
	// BadRow is the file:line of the row with a typo.
	BadRow string
}

type item struct {
	name, uom string
	supplier  int // index in suppliers, -1 for made items
	lotSize   float64
}

var suppliers = []struct{ id, name, prefix string }{
	{"V-MILL", "Prairie Mills", "PM"},
	{"V-SWEET", "Sweet Co", "SW"},
	{"V-DAIRY", "Valley Dairy", "VD"},
	{"V-EGG", "Sunny Farms", "SF"},
	{"V-YEAST", "Levure & Cie", "LY"},
	{"V-SALT", "Saline Works", "SA"},
	{"V-SEED", "Seed & Grain", "SG"},
}

var raws = map[string]item{
	"FLOUR":  {"FLOUR", "KG", 0, 1000},
	"SUGAR":  {"SUGAR", "KG", 1, 500},
	"BUTTER": {"BUTTER", "KG", 2, 400},
	"EGGS":   {"EGGS", "KG", 3, 200},
	"YEAST":  {"YEAST", "KG", 4, 40},
	"SALT":   {"SALT", "KG", 5, 100},
	"SESAME": {"SESAME", "KG", 6, 80},
}

type need struct {
	item string
	qty  float64
}

// products: a dough mixed from raw items, then baked into a finished
// good.
var products = []struct {
	dough, good, goodUOM string
	recipe               []need
	doughQty, goodQty    float64
	packs                int // customers per lot
}{
	{"DOUGH-WHITE", "BREAD-WHITE", "EA", []need{{"FLOUR", 300}, {"YEAST", 3}, {"SALT", 5}}, 320, 600, 3},
	{"DOUGH-SESAME", "BUN-SESAME", "EA", []need{{"FLOUR", 250}, {"YEAST", 3}, {"SALT", 4}, {"SESAME", 12}}, 270, 900, 3},
	{"COOKIE-DOUGH", "COOKIE-BUTTER", "CS", []need{{"FLOUR", 150}, {"SUGAR", 60}, {"BUTTER", 60}, {"EGGS", 30}}, 300, 100, 2},
}

var customers = []struct{ id, name string }{
	{"C-001", "Harbor Grocers"}, {"C-002", "Green Basket Market"}, {"C-003", "Northside School District"},
	{"C-004", "Sunrise Cafe"}, {"C-005", "Metro Foodservice"}, {"C-006", "Hilltop Hospital"},
	{"C-007", "Corner Deli"}, {"C-008", "Lakeside Hotel"}, {"C-009", "Fresh Mart #12"},
	{"C-010", "Campus Dining"}, {"C-011", "Riverside Diner"}, {"C-012", "Valley Co-op"},
}

type stock struct {
	lot    string
	remain float64
}

type gen struct {
	cfg  Config
	rng  *rand.Rand
	rows map[string]*bytes.Buffer
	n    map[string]int // data rows per file
	seq  map[string]int // id sequences
	lots map[string]int // lot sequence per item and day
	inv  map[string][]*stock
	p    *Plant
	// finished lots waiting to ship: lot, qty left, customers left
	toShip  []*shipLot
	held    map[string]bool
	shipped []shipment
	order   int
	so      int
}

type shipment struct {
	customer int
	so       string
	lot      Lot
	day      time.Time
}

type shipLot struct {
	item, lot, uom string
	left           float64
	parts          int
	ready          time.Time
}

var headers = map[string]string{
	"receive.csv": "id,time,item,lot,qty,uom,supplier_id,supplier_name,supplier_lot,po,location",
	"consume.csv": "id,time,item,lot,qty,uom,order",
	"produce.csv": "id,time,item,lot,qty,uom,order,location",
	"step.csv":    "id,time,item,lot,step,operator,equipment,result,value",
	"ship.csv":    "id,time,item,lot,qty,uom,customer_id,customer_name,sales_order,carrier",
	"hold.csv":    "id,time,item,lot,reason",
}

// Generate makes the plant. The same Config gives the same bytes.
func Generate(cfg Config) *Plant {
	if cfg.Days <= 0 {
		cfg.Days = 10
	}
	if cfg.Start.IsZero() {
		cfg.Start = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	}
	if cfg.Seed == 0 {
		cfg.Seed = 1
	}
	g := &gen{
		cfg:  cfg,
		rng:  rand.New(rand.NewPCG(cfg.Seed, 0x5eed)),
		rows: map[string]*bytes.Buffer{},
		n:    map[string]int{},
		seq:  map[string]int{},
		lots: map[string]int{},
		inv:  map[string][]*stock{},
		held: map[string]bool{},
		p:    &Plant{Files: map[string][]byte{}},
	}
	for name, h := range headers {
		g.rows[name] = bytes.NewBufferString(h + "\n")
	}
	for d := 0; d < cfg.Days; d++ {
		g.day(cfg.Start.AddDate(0, 0, d))
	}
	// What is left ships on the last day's evening.
	g.ship(cfg.Start.AddDate(0, 0, cfg.Days+3))
	g.complaint()
	for name, b := range g.rows {
		g.p.Files[name] = b.Bytes()
		g.p.Rows += g.n[name]
	}
	return g.p
}

func (g *gen) next(kind string) int {
	g.seq[kind]++
	return g.seq[kind]
}

func (g *gen) row(file string, fields ...string) int {
	b := g.rows[file]
	for i, f := range fields {
		if i > 0 {
			b.WriteByte(',')
		}
		if strings.ContainsAny(f, ",\"\n") {
			f = `"` + strings.ReplaceAll(f, `"`, `""`) + `"`
		}
		b.WriteString(f)
	}
	b.WriteByte('\n')
	g.n[file]++
	return g.n[file] + 1 // its line: the header is line 1
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func num(f float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.3f", f), "0"), ".")
}

func (g *gen) newLot(item string, day time.Time) string {
	key := item + day.Format("20060102")
	g.lots[key]++
	return fmt.Sprintf("%s-%s-%03d", day.Format("20060102"), item, g.lots[key])
}

func (g *gen) at(day time.Time, hour, spread int) time.Time {
	return day.Add(time.Duration(hour)*time.Hour + time.Duration(g.rng.IntN(spread*60))*time.Minute)
}

// receive buys a lot of a raw item.
func (g *gen) receive(name string, day time.Time) {
	it := raws[name]
	s := suppliers[it.supplier]
	lot := g.newLot(name, day)
	supLot := fmt.Sprintf("%s-%04d", s.prefix, 1000+g.rng.IntN(9000))
	n := g.next("R")
	if name == "FLOUR" && g.seq["FLOUR"] == 1 {
		// The second flour delivery is the one the mill recalls.
		supLot = "PM-2291"
		g.p.Contaminated = Lot{name, lot}
		g.p.ContaminatedSupplier, g.p.SupplierLot = s.name, supLot
	}
	if name == "FLOUR" {
		g.seq["FLOUR"]++
	}
	g.row("receive.csv", fmt.Sprintf("R-%04d", n), stamp(g.at(day, 6, 1)), name, lot, num(it.lotSize), it.uom,
		s.id, s.name, supLot, fmt.Sprintf("PO-%04d", 5500+n), "DRY-"+fmt.Sprint(1+it.supplier%3))
	g.inv[name] = append(g.inv[name], &stock{lot: lot, remain: it.lotSize})
}

// draw consumes qty of item for an order, oldest lot first; a lot that
// runs out is topped up from the next (co-mingled inputs).
func (g *gen) draw(item string, qty float64, order string, t time.Time) {
	for qty > 0.0005 {
		if len(g.inv[item]) == 0 {
			g.receive(item, t.Truncate(24*time.Hour))
		}
		s := g.inv[item][0]
		take := min(qty, s.remain)
		uom := "KG"
		g.row("consume.csv", fmt.Sprintf("C-%05d", g.next("C")), stamp(t), item, s.lot, num(take), uom, order)
		s.remain -= take
		qty -= take
		if s.remain < 0.0005 {
			g.inv[item] = g.inv[item][1:]
		}
	}
}

var operators = []string{"J. Doe", "M. Rossi", "A. Nguyen", "K. Schmidt"}

func (g *gen) day(day time.Time) {
	// Deliveries arrive early, before stock runs low.
	for _, name := range []string{"FLOUR", "SUGAR", "BUTTER", "EGGS", "YEAST", "SALT", "SESAME"} {
		left := 0.0
		for _, s := range g.inv[name] {
			left += s.remain
		}
		if (name == "FLOUR" && left < 700) || (name != "FLOUR" && left < raws[name].lotSize/2) {
			g.receive(name, day)
		}
	}
	for i, p := range products {
		g.order++
		mix := fmt.Sprintf("WO-%05d", 26000+g.order)
		t := g.at(day, 8+i, 1)
		for _, nd := range p.recipe {
			g.draw(nd.item, nd.qty, mix, t)
		}
		dough := g.newLot(p.dough, day)
		g.row("produce.csv", fmt.Sprintf("P-%05d", g.next("P")), stamp(t.Add(40*time.Minute)), p.dough, dough, num(p.doughQty), "KG", mix, "MIX-1")

		g.order++
		bake := fmt.Sprintf("WO-%05d", 26000+g.order)
		tb := t.Add(2 * time.Hour)
		g.row("consume.csv", fmt.Sprintf("C-%05d", g.next("C")), stamp(tb), p.dough, dough, num(p.doughQty), "KG", bake)
		// Big days split the output into two lots (two pallets, two labels).
		parts := 1 + g.rng.IntN(2)
		for k := 0; k < parts; k++ {
			lot := g.newLot(p.good, day)
			qty := p.goodQty / float64(parts)
			done := tb.Add(time.Duration(90+20*k) * time.Minute)
			g.row("produce.csv", fmt.Sprintf("P-%05d", g.next("P")), stamp(done), p.good, lot, num(qty), p.goodUOM, bake, "FG-1")
			g.checks(p.good, lot, done)
			g.toShip = append(g.toShip, &shipLot{item: p.good, lot: lot, uom: p.goodUOM, left: qty, parts: p.packs, ready: done})
		}
	}
	g.ship(day.AddDate(0, 0, 1))
}

// checks records the quality steps of a finished lot; one metal
// detection fails, and the lot goes on hold.
func (g *gen) checks(item, lot string, t time.Time) {
	op := operators[g.rng.IntN(len(operators))]
	result := "pass"
	if g.seq["Q"] == 40 {
		result = "fail"
	}
	g.row("step.csv", fmt.Sprintf("Q-%05d", g.next("Q")), stamp(t.Add(10*time.Minute)), item, lot, "metal detection", op, "MD-2", result, "")
	if result == "fail" {
		g.row("hold.csv", fmt.Sprintf("H-%04d", g.next("H")), stamp(t.Add(12*time.Minute)), item, lot, "metal detector reject at MD-2")
		g.held[lot] = true
	}
	if strings.HasPrefix(item, "BREAD") || strings.HasPrefix(item, "BUN") {
		temp := 96 + g.rng.Float64()*4
		g.row("step.csv", fmt.Sprintf("Q-%05d", g.next("Q")), stamp(t.Add(15*time.Minute)), item, lot, "core temperature", op, "PROBE-1", "pass", fmt.Sprintf("%.1f", temp))
	}
}

// ship sends finished lots that are ready to a few customers each.
func (g *gen) ship(day time.Time) {
	var keep []*shipLot
	byCustomer := map[int][]*shipLot{}
	var order []int
	for _, s := range g.toShip {
		if s.ready.After(day) {
			keep = append(keep, s)
			continue
		}
		if g.held[s.lot] {
			continue // on hold: not shipped
		}
		for _, c := range g.rng.Perm(len(customers))[:s.parts] {
			if _, ok := byCustomer[c]; !ok {
				order = append(order, c)
			}
			byCustomer[c] = append(byCustomer[c], s)
		}
	}
	g.toShip = keep
	sort.Ints(order)
	for _, c := range order {
		g.so++
		so := fmt.Sprintf("SO-%04d", 1000+g.so)
		t := g.at(day, 5, 2)
		for _, s := range byCustomer[c] {
			qty := s.left / float64(s.parts)
			if s.uom == "EA" {
				qty = float64(int(qty))
			}
			s.left -= qty
			s.parts--
			qtyText := num(qty)
			if g.seq["S"] == 60 {
				qtyText = strings.Replace(qtyText, "0", "O", 1) // a typo the mapping refuses
				if !strings.Contains(qtyText, "O") {
					qtyText += "O"
				}
			}
			line := g.row("ship.csv", fmt.Sprintf("S-%05d", g.next("S")), stamp(t), s.item, s.lot, qtyText, s.uom,
				customers[c].id, customers[c].name, so, "ACME Freight")
			if strings.Contains(qtyText, "O") {
				g.p.BadRow = fmt.Sprintf("ship.csv:%d", line)
			}
			g.shipped = append(g.shipped, shipment{customer: c, so: so, lot: Lot{s.item, s.lot}, day: day})
		}
	}
}

// complaint picks the shipment a customer complains about: sesame buns
// that reached Corner Deli after the first days, or the closest there is.
func (g *gen) complaint() {
	if len(g.shipped) == 0 {
		return
	}
	pick := g.shipped[0]
	score := func(s shipment) int {
		n := 0
		if s.lot.Item == "BUN-SESAME" {
			n += 2
		}
		if customers[s.customer].id == "C-007" {
			n += 1
		}
		if !s.day.After(g.cfg.Start.AddDate(0, 0, 3)) {
			n -= 4
		}
		return n
	}
	for _, s := range g.shipped {
		if score(s) > score(pick) {
			pick = s
		}
	}
	g.p.ComplaintCustomer, g.p.ComplaintCustName = customers[pick.customer].id, customers[pick.customer].name
	g.p.ComplaintOrder, g.p.ComplaintLot = pick.so, pick.lot
}

// Write writes the plant's files into dir, creating it. A file whose
// content is already there is left alone (its modification time too); the
// others are written under a temporary name and renamed, so a reader never
// sees half a file.
func (p *Plant) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create demo plant folder: %w", err)
	}
	names := make([]string, 0, len(p.Files))
	for n := range p.Files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		path := filepath.Join(dir, name)
		if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, p.Files[name]) {
			continue
		}
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, p.Files[name], 0o644); err != nil {
			return fmt.Errorf("write demo plant: %w", err)
		}
		if err := os.Rename(tmp, path); err != nil {
			return fmt.Errorf("write demo plant: %w", err)
		}
	}
	return nil
}

// Names returns the plant's file names, sorted.
func (p *Plant) Names() []string {
	names := make([]string, 0, len(p.Files))
	for n := range p.Files {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
