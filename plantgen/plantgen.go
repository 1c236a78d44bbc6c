// Package plantgen generates the canonical events of a synthetic plant,
// deterministically from a seed: the benchmark input and demo raw material
// behind `hub gen --events N --seed S`.
//
// The plant buys about forty raw items from twenty suppliers, plus SALT and
// WATER, whose lots are very large and feed thousands of blending orders
// each (the widest recalls). Orders run on four levels: blending (level 1,
// raw items to blends), WIP (level 2, blends to WIP), packing (level 3, WIP
// and packaging to finished goods, sometimes split into several lots) and
// variety packs (level 4, finished goods to packs). Finished lots ship, in
// part, to two hundred customers. Around the orders come quality steps,
// moves, holds and releases, transforms (re-lotting without an order),
// rework (including cycles A→B→A and lots reworked into themselves),
// reversals of consumptions and shipments, and exact duplicate lines, as a
// real ERP/MES feed has them.
//
// Orders are demand-driven: when an order needs an input item and no recent
// lot has enough left, the plant receives a raw lot or runs the order that
// makes the intermediate item first. Only a sliding window of recent lots
// per item is kept, so memory does not grow with the number of events.
//
// Event ids are "gen:<KIND>:<sequence>" (RCV, CON, PRD, TRF, STP, SHP, MOV,
// HLD, REL), a reversal's id is the reversed id plus "-REV", and a
// duplicate repeats one of the last 64 lines byte for byte. Times advance
// by seconds to minutes and never go back (but a duplicate carries its
// original's time); 5 million events span about three years. Lot numbers
// follow YYYYMMDD-ITEM-SEQ.
package plantgen

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/lothub/lothub/core"
)

// Config of a synthetic plant.
type Config struct {
	Events int       // number of JSON lines to write, duplicates included
	Seed   uint64    // same seed (and Start), same bytes
	Start  time.Time // time of the first event; zero: 2026-01-05T06:00:00Z
}

// DefaultStart is the time of the first event when Config.Start is zero.
var DefaultStart = time.Date(2026, 1, 5, 6, 0, 0, 0, time.UTC)

// Stats summarises a generated plant.
type Stats struct {
	Events     int                    // lines written, duplicates included
	ByType     map[core.EventType]int // lines per event type, duplicates included
	Duplicates int                    // lines that repeat an earlier line exactly
	Orders     int                    // work orders started
	Lots       int                    // lots received, produced or transformed
	// WidestRawLot is the raw lot consumed by the most distinct orders
	// (a SALT or WATER lot, in practice): the root of the widest recall.
	WidestRawLot       core.LotRef
	WidestRawLotOrders int
	End                time.Time // time of the last event
}

// Generate writes exactly cfg.Events canonical events as JSON Lines to w,
// one json.Marshal of core.Event a line. Output is byte-identical for the
// same Config. Memory is bounded independently of cfg.Events. It returns
// ctx.Err() if ctx is cancelled before the end.
func Generate(ctx context.Context, w io.Writer, cfg Config) error {
	_, err := GenerateStats(ctx, w, cfg)
	return err
}

// GenerateStats is Generate, returning a summary of what it wrote.
func GenerateStats(ctx context.Context, w io.Writer, cfg Config) (Stats, error) {
	if cfg.Events < 0 {
		return Stats{}, errors.New("plantgen: Events must be ≥ 0")
	}
	g := newGen(w, cfg)
	if err := g.run(ctx); err != nil {
		return g.stats, err
	}
	return g.stats, nil
}

const (
	site        = "P100"
	pcgStream   = 0x6c6f746875622d67 // "lothub-g"
	windowRaw   = 4
	windowMid   = 6
	finishedCap = 64
	recentCap   = 64
	revCap      = 256
	heldCap     = 24
	checkEvery  = 4096
)

// Activity weights of the main loop. Orders of levels 1 and 2 run on
// demand, from inside level-3 and level-4 orders.
var activities = []struct {
	w float64
	a activity
}{
	{10, actPack},
	{1.2, actVariety},
	{26, actShip},
	{3, actMove},
	{0.9, actHold},
	{0.9, actRelease},
	{1.6, actReverse},
	{1.6, actDuplicate},
	{1.7, actTransform},
	{0.55, actRework},
}

type activity int

const (
	actPack activity = iota
	actVariety
	actShip
	actMove
	actHold
	actRelease
	actReverse
	actDuplicate
	actTransform
	actRework
)

type item struct {
	id       string
	level    int // 0 raw, 1 blend, 2 WIP, 3 finished good, 4 variety pack
	uom      string
	unitKG   float64 // kilograms per unit, for EA items
	fifo     bool    // lots used strictly oldest first (silo items)
	min, max float64 // lot size (raw) or order output (made items)
	supplier int
	locs     []string
	recipe   []input
	win      window
	seq      int
}

type input struct {
	it  *item
	per float64 // input units per output unit
}

type parent struct {
	it  *item
	lot string
}

type lot struct {
	ref     core.LotRef
	it      *item
	remain  float64
	held    bool
	loc     string
	parents [2]parent // made (level ≥ 1) parents, for rework
	np      int
	// distinct consuming orders, for raw lots
	lastOrder string
	orders    int
}

// window is a ring of an item's most recent lots, oldest first.
type window struct {
	lots []*lot
	head int
	n    int
}

func (w *window) at(i int) *lot { return w.lots[(w.head+i)%len(w.lots)] }

func (w *window) push(l *lot) {
	if w.n < len(w.lots) {
		w.lots[(w.head+w.n)%len(w.lots)] = l
		w.n++
		return
	}
	w.lots[w.head] = l
	w.head = (w.head + 1) % len(w.lots)
}

func usable(l *lot) bool { return !l.held && l.remain >= 0.001 }

func (w *window) available() int {
	k := 0
	for i := 0; i < w.n; i++ {
		if usable(w.at(i)) {
			k++
		}
	}
	return k
}

// pick returns an available lot: the oldest, or (unless fifo) sometimes a
// random one, so that several lots of an item are in use at once.
func (w *window) pick(r *rand.Rand, fifo bool) *lot {
	k := w.available()
	if k == 0 {
		return nil
	}
	j := 0
	if !fifo && r.Float64() < 0.4 {
		j = r.IntN(k)
	}
	for i := 0; i < w.n; i++ {
		if l := w.at(i); usable(l) {
			if j == 0 {
				return l
			}
			j--
		}
	}
	return nil
}

func (w *window) find(lotNo string) *lot {
	for i := 0; i < w.n; i++ {
		if l := w.at(i); l.ref.Lot == lotNo {
			return l
		}
	}
	return nil
}

type revRec struct {
	id       string
	l        *lot
	qty      float64
	reversed bool
}

type gen struct {
	cfg   Config
	rng   *rand.Rand
	bw    *bufio.Writer
	buf   bytes.Buffer
	enc   *json.Encoder
	stats Stats

	// the event being built and the values its pointers point at
	ev      core.Event
	lotRef  core.LotRef
	qty     float64
	params  map[string]any
	ins     [4]core.LotQty
	outs    [4]core.LotQty
	insQty  [4]float64
	outsQty [4]float64

	now    time.Time
	nowStr string
	day    string // YYYYMMDD of now, for lot numbers

	err     error // the first write error
	seq     int   // event ids issued
	written int
	done    bool

	recent     [recentCap][]byte
	recentN    int
	recentNext int
	rev        [revCap]revRec
	revN       int
	revNext    int
	held       [heldCap]*lot
	heldHead   int
	heldN      int
	finished   window
	cumWeights []float64

	suppliers []core.Party
	supCodes  []string
	customers []core.Party
	shipTo    []string
	raws      []*item
	made      [5][]*item // by level
	salt      *item
	water     *item

	orderSeq, soSeq, poSeq, dlSeq int
	idBuf                         []byte
}

func newGen(w io.Writer, cfg Config) *gen {
	if cfg.Start.IsZero() {
		cfg.Start = DefaultStart
	}
	g := &gen{
		cfg:    cfg,
		rng:    rand.New(rand.NewPCG(cfg.Seed, pcgStream)),
		bw:     bufio.NewWriterSize(w, 1<<16),
		params: make(map[string]any, 4),
		now:    cfg.Start.UTC().Truncate(time.Second),
		stats:  Stats{ByType: make(map[core.EventType]int, 10)},
		idBuf:  make([]byte, 0, 32),
	}
	g.enc = json.NewEncoder(&g.buf)
	g.finished.lots = make([]*lot, finishedCap)
	sum := 0.0
	for _, a := range activities {
		sum += a.w
		g.cumWeights = append(g.cumWeights, sum)
	}
	g.buildPlant()
	return g
}

var supplierNames = []string{
	"Northmill Ingredients", "Sweetfield Foods", "Cacao Verde Trading", "Alpine Ingredients",
	"Golden Grain Trading", "Orchard Valley Foods", "Nutcracker Imports", "Spice Route Ltd",
	"Meadowland Farms", "Sunfield Agri", "Baltic Food AG", "Pure Crystal Salt Works",
	"Riverside Water Utility", "Packright Cartons", "Flexwrap Films", "Blue Isles Export",
	"Heartland Food Supply", "Seedhouse Organics", "Coastline Commodities", "Barley Guild",
}

var supplierCodes = []string{
	"NMI", "SWF", "CVT", "ALI", "GGT", "OVF", "NCI", "SRL", "MLF", "SFA",
	"BFA", "PCS", "RWU", "PRC", "FWF", "BIE", "HFS", "SHO", "CLC", "BGU",
}

var ingredients = []string{
	"FLOUR", "SUGAR", "COCOA", "BUTTER", "MILK-POWDER", "EGG-POWDER", "YEAST", "VANILLA",
	"CINNAMON", "OATS", "RAISINS", "ALMONDS", "HAZELNUTS", "PEANUTS", "HONEY", "MALT",
	"STARCH", "GLUCOSE", "LECITHIN", "PALM-OIL", "SUNFLOWER-OIL", "RICE-FLOUR", "RYE-FLOUR",
	"BAKING-SODA", "CITRIC-ACID", "PECTIN", "WHEY", "CREAM-POWDER", "CARAMEL", "CORN-SYRUP",
	"SESAME", "COCONUT", "CHIA", "FLAX", "STRAWBERRY", "BLUEBERRY", "APPLE", "GINGER",
}

var customerPrefixes = []string{
	"Alpha", "Bright", "Cedar", "Delta", "Evergreen", "Fjord", "Granite", "Harbor", "Iris", "Juniper",
	"Kestrel", "Lakeside", "Maple", "Northstar", "Oakridge", "Pioneer", "Quarry", "Redwood", "Summit", "Tidewater",
}

var customerSuffixes = []string{
	"Foods", "Markets", "Grocers", "Wholesale", "Retail", "Distribution", "Stores", "Trading", "Provisions", "Pantry",
}

var cities = []string{
	"Hamburg", "Lyon", "Milan", "Rotterdam", "Warsaw", "Vienna", "Madrid", "Leeds", "Aarhus", "Brno",
	"Porto", "Ghent", "Graz", "Turin", "Dublin", "Malmo", "Bilbao", "Cork", "Basel", "Krakow",
}

var (
	rawLocs    = []string{"RM-01", "RM-02", "RM-03", "RM-04", "RM-05", "RM-06"}
	siloLocs   = []string{"SILO-01", "SILO-02"}
	tankLocs   = []string{"TANK-W1"}
	wipLocs    = []string{"PROD-01", "PROD-02", "PROD-03", "PROD-04"}
	fgLocs     = []string{"FG-01", "FG-02", "FG-03", "FG-04"}
	dockLocs   = []string{"DOCK-01", "DOCK-02", "DOCK-03"}
	carriers   = []string{"DHL Freight", "DB Schenker", "Kuehne+Nagel", "DSV Road", "Own fleet"}
	holdWhy    = []string{"QC: micro sample pending", "customer complaint investigation", "foreign body suspicion", "label check", "allergen verification", "temperature excursion"}
	mixers     = []string{"MIXER-01", "MIXER-02", "MIXER-03", "MIXER-04"}
	kettles    = []string{"OVEN-01", "OVEN-02", "KETTLE-01", "KETTLE-02"}
	detectors  = []string{"MD-01", "MD-02", "MD-03", "MD-04", "MD-05", "MD-06"}
	weighers   = []string{"CW-01", "CW-02", "CW-03"}
	operators  = makeNames("OP-", 101, 30, 3)
	qaStaff    = makeNames("QA-", 1, 6, 2)
	eventIDPre = map[core.EventType]string{
		core.Receive: "gen:RCV:", core.Consume: "gen:CON:", core.Produce: "gen:PRD:",
		core.Transform: "gen:TRF:", core.Step: "gen:STP:", core.Ship: "gen:SHP:",
		core.Move: "gen:MOV:", core.Hold: "gen:HLD:", core.Release: "gen:REL:",
	}
)

func makeNames(prefix string, first, n, width int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = prefix + pad(first+i, width)
	}
	return out
}

// pad formats n in decimal with at least width digits.
func pad(n, width int) string {
	s := strconv.Itoa(n)
	for len(s) < width {
		s = "0" + s
	}
	return s
}

func (g *gen) uniform(lo, hi float64) float64 { return lo + (hi-lo)*g.rng.Float64() }

func (g *gen) oneOf(s []string) string { return s[g.rng.IntN(len(s))] }

func round(x float64, uom string) float64 {
	if uom == "EA" {
		return math.Round(x)
	}
	return math.Round(x*1000) / 1000
}

func (g *gen) buildPlant() {
	r := g.rng
	for i, name := range supplierNames {
		g.suppliers = append(g.suppliers, core.Party{ID: "V-" + pad(i+1, 3), Name: name})
		g.supCodes = append(g.supCodes, supplierCodes[i])
	}
	for i := 0; i < len(customerPrefixes)*len(customerSuffixes); i++ {
		name := customerPrefixes[i%len(customerPrefixes)] + " " + customerSuffixes[i/len(customerPrefixes)]
		g.customers = append(g.customers, core.Party{ID: "C-" + pad(i+1, 4), Name: name})
		g.shipTo = append(g.shipTo, cities[(i*7+i/20)%len(cities)]+" DC "+pad(i%5+1, 2))
	}
	newItem := func(id string, level int, uom string, lo, hi float64, locs []string, win int) *item {
		it := &item{id: id, level: level, uom: uom, min: lo, max: hi, locs: locs}
		it.win.lots = make([]*lot, win)
		return it
	}
	// Raw items. Suppliers 11 (salt), 12 (water), 13 and 14 (packaging)
	// are dedicated; the others share the ingredients.
	var ingr []*item
	general := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 16, 17, 18, 19}
	for _, id := range ingredients {
		it := newItem(id, 0, "KG", 8000, 24000, rawLocs, windowRaw)
		it.supplier = general[r.IntN(len(general))]
		ingr = append(ingr, it)
	}
	carton := newItem("CARTON", 0, "EA", 20000, 60000, rawLocs, windowRaw)
	carton.supplier = 13
	film := newItem("FILM", 0, "KG", 800, 2400, rawLocs, windowRaw)
	film.supplier = 14
	// SALT: 50-80 t silo lots, ~20 kg per blend or WIP batch: 3 000-5 000
	// orders a lot.
	g.salt = newItem("SALT", 0, "KG", 50000, 80000, siloLocs, windowRaw)
	g.salt.supplier, g.salt.fifo = 11, true
	// WATER: one lot per tank batch, ~800 L per blend: 1 000-1 500 orders
	// a lot, over about as many months as a SALT lot.
	g.water = newItem("WATER", 0, "L", 800000, 1200000, tankLocs, windowRaw)
	g.water.supplier, g.water.fifo = 12, true
	g.raws = append(append(ingr, carton, film), g.salt, g.water)

	// Level 1: blends from 2-5 raw items, ingredients dealt round-robin
	// from a shuffled list so that every ingredient is used.
	perm := r.Perm(len(ingr))
	next := 0
	for i := 0; i < 20; i++ {
		it := newItem("BL-"+pad(i+1, 2), 1, "KG", 2500, 5000, wipLocs, windowMid)
		var fixed []input
		rest := 1.0
		if r.Float64() < 0.85 {
			f := g.uniform(0.003, 0.008)
			fixed = append(fixed, input{g.salt, f})
			rest -= f
		}
		if r.Float64() < 0.6 {
			f := g.uniform(0.15, 0.3)
			fixed = append(fixed, input{g.water, f})
			rest -= f
		}
		n := 2 + r.IntN(4) - len(fixed)
		if n < 1 {
			n = 1
		}
		shares := make([]float64, n)
		tot := 0.0
		for k := range shares {
			shares[k] = g.uniform(0.5, 2)
			tot += shares[k]
		}
		for k := range shares {
			it.recipe = append(it.recipe, input{ingr[perm[next%len(perm)]], rest * shares[k] / tot})
			next++
		}
		it.recipe = append(it.recipe, fixed...)
		g.made[1] = append(g.made[1], it)
	}
	// Level 2: WIP from 1-3 blends, some seasoned with SALT.
	for i := 0; i < 14; i++ {
		it := newItem("WIP-"+pad(i+1, 2), 2, "KG", 1500, 4000, wipLocs, windowMid)
		n := 1 + r.IntN(3)
		rest := 1.0
		var salt []input
		if r.Float64() < 0.3 {
			f := g.uniform(0.002, 0.005)
			salt = append(salt, input{g.salt, f})
			rest -= f
		}
		picks := r.Perm(len(g.made[1]))[:n]
		shares, tot := make([]float64, n), 0.0
		for k := range shares {
			shares[k] = g.uniform(0.5, 2)
			tot += shares[k]
		}
		for k, p := range picks {
			it.recipe = append(it.recipe, input{g.made[1][p], rest * shares[k] / tot})
		}
		it.recipe = append(it.recipe, salt...)
		g.made[2] = append(g.made[2], it)
	}
	// Level 3: finished goods, 1-2 WIP items plus carton and film.
	for i := 0; i < 40; i++ {
		it := newItem("FG-"+pad(1001+i, 4), 3, "EA", 400, 2400, fgLocs, windowMid)
		it.unitKG = float64(1+r.IntN(10)) / 20 // 50 g to 500 g
		n := 1 + r.IntN(2)
		picks := r.Perm(len(g.made[2]))[:n]
		for k, p := range picks {
			share := 1.0
			if n == 2 {
				share = []float64{0.6, 0.4}[k]
			}
			it.recipe = append(it.recipe, input{g.made[2][p], it.unitKG * share * 1.01})
		}
		it.recipe = append(it.recipe, input{carton, 1.0 / 12}, input{film, 0.004})
		g.made[3] = append(g.made[3], it)
	}
	// Level 4: variety packs of 2-3 finished goods, one unit of each.
	for i := 0; i < 8; i++ {
		it := newItem("VP-"+pad(i+1, 2), 4, "EA", 200, 800, fgLocs, windowRaw)
		n := 2 + r.IntN(2)
		kg := 0.0
		for _, p := range r.Perm(len(g.made[3]))[:n] {
			fg := g.made[3][p]
			it.recipe = append(it.recipe, input{fg, 1})
			kg += fg.unitKG
		}
		it.unitKG = kg
		it.recipe = append(it.recipe, input{carton, 1.0 / 6})
		g.made[4] = append(g.made[4], it)
	}
}

// ---- emitting ----

func (g *gen) tick(maxSec int) {
	if maxSec > 0 {
		g.now = g.now.Add(time.Duration(g.rng.IntN(maxSec+1)) * time.Second)
		g.nowStr = ""
	}
}

func (g *gen) timeStr() string {
	if g.nowStr == "" {
		g.nowStr = g.now.Format(time.RFC3339)
		g.day = g.now.Format("20060102")
	}
	return g.nowStr
}

// begin resets the event under construction.
func (g *gen) begin(t core.EventType) *core.Event {
	g.ev = core.Event{Type: t, Time: g.timeStr(), Site: site}
	return &g.ev
}

func (g *gen) withLot(e *core.Event, l *lot) {
	g.lotRef = l.ref
	e.Lot = &g.lotRef
}

func (g *gen) withQty(e *core.Event, q float64, uom string) {
	g.qty = q
	e.Qty, e.UOM = &g.qty, uom
}

// emit writes the event under construction, giving it an id if it has
// none, and returns the id ("" once the plant has written all its events).
func (g *gen) emit() string {
	if g.done {
		return ""
	}
	e := &g.ev
	if e.ID == "" {
		g.seq++
		g.idBuf = append(g.idBuf[:0], eventIDPre[e.Type]...)
		g.idBuf = appendPad(g.idBuf, g.seq, 9)
		e.ID = string(g.idBuf)
	}
	g.buf.Reset()
	_ = g.enc.Encode(e) // a core.Event always encodes
	b := g.buf.Bytes()
	slot := &g.recent[g.recentNext]
	*slot = append((*slot)[:0], b...)
	g.recentNext = (g.recentNext + 1) % recentCap
	if g.recentN < recentCap {
		g.recentN++
	}
	g.write(b, e.Type)
	return e.ID
}

func (g *gen) write(b []byte, t core.EventType) {
	if _, err := g.bw.Write(b); err != nil && g.err == nil {
		g.err, g.done = err, true
	}
	g.stats.ByType[t]++
	g.written++
	if g.written >= g.cfg.Events {
		g.done = true
	}
}

func appendPad(b []byte, n, width int) []byte {
	var tmp [20]byte
	d := strconv.AppendInt(tmp[:0], int64(n), 10)
	for i := len(d); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, d...)
}

func (g *gen) run(ctx context.Context) error {
	if g.cfg.Events == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	lastCheck := 0
	for !g.done {
		if g.written-lastCheck >= checkEvery {
			lastCheck = g.written
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		g.tick(6)
		x := g.rng.Float64() * g.cumWeights[len(g.cumWeights)-1]
		a := activities[len(activities)-1].a
		for i, c := range g.cumWeights {
			if x < c {
				a = activities[i].a
				break
			}
		}
		switch a {
		case actPack:
			g.runOrder(g.made[3][g.rng.IntN(len(g.made[3]))])
		case actVariety:
			g.runOrder(g.made[4][g.rng.IntN(len(g.made[4]))])
		case actShip:
			g.ship()
		case actMove:
			g.move()
		case actHold:
			g.hold()
		case actRelease:
			g.release()
		case actReverse:
			g.reverse()
		case actDuplicate:
			g.duplicate()
		case actTransform:
			g.transform()
		case actRework:
			g.rework()
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if g.err != nil {
		return g.err
	}
	if err := g.bw.Flush(); err != nil {
		return err
	}
	g.stats.Events = g.written
	g.stats.End = g.now
	return nil
}

// ---- plant activities ----

func (g *gen) newLot(it *item, qty float64, loc string) *lot {
	it.seq++
	g.timeStr()
	l := &lot{
		ref:    core.LotRef{Item: it.id, Lot: g.day + "-" + it.id + "-" + pad(it.seq, 4)},
		it:     it,
		remain: qty,
		loc:    loc,
	}
	g.stats.Lots++
	return l
}

func (g *gen) receive(it *item) *lot {
	q := round(g.uniform(it.min, it.max), "EA")
	l := g.newLot(it, q, g.oneOf(it.locs))
	it.win.push(l)
	e := g.begin(core.Receive)
	g.withLot(e, l)
	g.withQty(e, q, it.uom)
	e.Supplier = &g.suppliers[it.supplier]
	e.SupplierLot = g.supCodes[it.supplier] + "-" + strconv.Itoa(100000+g.rng.IntN(900000))
	if g.poSeq == 0 || g.rng.Float64() < 0.8 {
		g.poSeq++
	}
	e.PO = "PO-" + strconv.Itoa(4500000000+g.poSeq)
	e.Location = l.loc
	g.emit()
	if g.rng.Float64() < 0.3 {
		g.tick(300)
		g.step(l, "INCOMING-QC", g.oneOf(qaStaff), "LAB", "moisture_pct", math.Round(g.uniform(2, 14)*10)/10)
	}
	return l
}

// step emits a step on lot l; kv are parameter names and values.
func (g *gen) step(l *lot, name, operator, equipment string, kv ...any) {
	e := g.begin(core.Step)
	g.withLot(e, l)
	e.Step, e.Operator, e.Equipment = name, operator, equipment
	if len(kv) > 0 {
		clear(g.params)
		for i := 0; i+1 < len(kv); i += 2 {
			g.params[kv[i].(string)] = kv[i+1]
		}
		e.Params = g.params
	}
	e.Location = l.loc
	g.emit()
}

func (g *gen) consume(l *lot, q float64, order string) {
	e := g.begin(core.Consume)
	g.withLot(e, l)
	g.withQty(e, q, l.it.uom)
	e.Order = order
	e.Location = l.loc
	id := g.emit()
	l.remain -= q
	if l.it.level == 0 && l.lastOrder != order {
		l.lastOrder = order
		l.orders++
		if l.orders > g.stats.WidestRawLotOrders {
			g.stats.WidestRawLotOrders, g.stats.WidestRawLot = l.orders, l.ref
		}
	}
	g.remember(id, l, q)
}

func (g *gen) produce(l *lot, q float64, order string) {
	e := g.begin(core.Produce)
	g.withLot(e, l)
	g.withQty(e, q, l.it.uom)
	e.Order = order
	e.Location = l.loc
	g.emit()
}

// remember keeps a consume or ship id for a later reversal.
func (g *gen) remember(id string, l *lot, q float64) {
	if id == "" {
		return
	}
	g.rev[g.revNext] = revRec{id: id, l: l, qty: q}
	g.revNext = (g.revNext + 1) % revCap
	if g.revN < revCap {
		g.revN++
	}
}

func (g *gen) nextOrder() string {
	g.orderSeq++
	g.stats.Orders++
	return "WO-" + strconv.Itoa(g.orderSeq)
}

type parents struct {
	p [2]parent
	n int
}

func (p *parents) add(l *lot) {
	if l.it.level == 0 || p.n == len(p.p) {
		return
	}
	for i := 0; i < p.n; i++ {
		if p.p[i].lot == l.ref.Lot && p.p[i].it == l.it {
			return
		}
	}
	p.p[p.n] = parent{l.it, l.ref.Lot}
	p.n++
}

// draw consumes need units of item it for order, from its recent lots,
// receiving or making more when they run out.
func (g *gen) draw(it *item, need float64, order string, par *parents) {
	need = round(need, it.uom)
	for tries := 0; need >= 0.001 && tries < 8 && !g.done; tries++ {
		l := it.win.pick(g.rng, it.fifo)
		if l == nil {
			if it.level == 0 {
				g.receive(it)
			} else {
				g.runOrder(it)
			}
			continue
		}
		take := math.Min(need, l.remain)
		// deliberate co-mingling: two lots of the same item
		if take == need && !it.fifo && g.rng.Float64() < 0.1 && it.win.available() > 1 {
			take = round(need*g.uniform(0.3, 0.7), it.uom)
		}
		take = round(take, it.uom)
		if take < 0.001 {
			l.remain = 0
			continue
		}
		g.consume(l, take, order)
		par.add(l)
		need = round(need-take, it.uom)
	}
}

// runOrder runs one work order making item it, and returns its first
// output lot.
func (g *gen) runOrder(it *item) *lot {
	if g.done {
		return nil
	}
	order := g.nextOrder()
	out := round(g.uniform(it.min, it.max), "EA")
	var par parents
	for _, in := range it.recipe {
		g.draw(in.it, in.per*out*g.uniform(0.97, 1.03), order, &par)
		g.tick(10)
	}
	g.tick(240)
	n := 1
	switch {
	case it.level == 3 && g.rng.Float64() < 0.25:
		n = 2 + g.rng.IntN(2)
	case it.level == 2 && g.rng.Float64() < 0.1:
		n = 2
	}
	var first *lot
	left := out
	for k := 0; k < n; k++ {
		q := left
		if k < n-1 {
			q = round(out/float64(n)*g.uniform(0.8, 1.2), it.uom)
		}
		left -= q
		l := g.newLot(it, q, g.oneOf(it.locs))
		l.parents, l.np = par.p, par.n
		it.win.push(l)
		if it.level >= 3 {
			g.finished.push(l)
		}
		g.produce(l, q, order)
		if first == nil {
			first = l
		}
		g.orderSteps(l)
	}
	return first
}

func (g *gen) orderSteps(l *lot) {
	op := g.oneOf(operators)
	switch l.it.level {
	case 1:
		g.step(l, "MIX", op, g.oneOf(mixers), "temp_c", math.Round(g.uniform(18, 32)*10)/10, "minutes", 8+g.rng.IntN(18))
	case 2:
		g.step(l, "COOK", op, g.oneOf(kettles), "temp_c", math.Round(g.uniform(72, 96)*10)/10, "minutes", 10+g.rng.IntN(40))
		if g.rng.Float64() < 0.4 {
			g.step(l, "COOL", op, "TUNNEL-01", "temp_c", math.Round(g.uniform(2, 8)*10)/10)
		}
	case 3:
		g.step(l, "METAL-DETECT", op, g.oneOf(detectors), "fe_mm", 1.5, "nfe_mm", 2.0, "ss_mm", 2.5)
		if g.rng.Float64() < 0.5 {
			g.step(l, "CHECKWEIGH", op, g.oneOf(weighers), "mean_g", math.Round(l.it.unitKG*1000*g.uniform(1.0, 1.02)*10)/10)
		}
		if g.rng.Float64() < 0.6 {
			g.tick(180)
			g.step(l, "QC-RELEASE", g.oneOf(qaStaff), "LAB")
		}
	case 4:
		g.step(l, "QC-RELEASE", g.oneOf(qaStaff), "LAB")
	}
}

// pickFinished returns a finished lot with stock, or nil.
func (g *gen) pickFinished() *lot {
	f := &g.finished
	for try := 0; try < 6 && f.n > 0; try++ {
		l := f.at(f.n - 1 - g.rng.IntN(f.n))
		if !l.held && l.remain >= 1 {
			return l
		}
	}
	return nil
}

func (g *gen) ship() {
	// customers are skewed: a few take most of the volume
	u := g.rng.Float64()
	c := int(u * u * float64(len(g.customers)))
	g.soSeq++
	g.dlSeq++
	so, dl := "SO-"+strconv.Itoa(g.soSeq), "DL-"+strconv.Itoa(800000+g.dlSeq)
	carrier, dock := g.oneOf(carriers), g.oneOf(dockLocs)
	lines := 1
	if g.rng.Float64() < 0.3 {
		lines = 2 + g.rng.IntN(2)
	}
	for i := 0; i < lines && !g.done; i++ {
		l := g.pickFinished()
		if l == nil {
			l = g.runOrder(g.made[3][g.rng.IntN(len(g.made[3]))])
			if l == nil {
				return
			}
		}
		q := l.remain
		if q > 60 {
			q = math.Max(1, math.Floor(q*g.uniform(0.05, 0.4)))
		}
		e := g.begin(core.Ship)
		g.withLot(e, l)
		g.withQty(e, q, "EA")
		e.Customer = &g.customers[c]
		e.SalesOrder, e.Delivery, e.Carrier, e.ShipTo = so, dl, carrier, g.shipTo[c]
		e.Location = dock
		id := g.emit()
		l.remain -= q
		g.remember(id, l, q)
	}
}

// anyLot returns a recent lot of any level with stock, or nil.
func (g *gen) anyLot() *lot {
	var it *item
	switch x := g.rng.Float64(); {
	case x < 0.5:
		return g.pickFinished()
	case x < 0.75:
		lv := 1 + g.rng.IntN(2)
		it = g.made[lv][g.rng.IntN(len(g.made[lv]))]
	default:
		it = g.raws[g.rng.IntN(len(g.raws))]
	}
	return it.win.pick(g.rng, false)
}

func (g *gen) move() {
	l := g.anyLot()
	if l == nil {
		return
	}
	locs := l.it.locs
	if l.it.level >= 3 && g.rng.Float64() < 0.5 {
		locs = dockLocs
	}
	to := g.oneOf(locs)
	if to == l.loc {
		return
	}
	e := g.begin(core.Move)
	g.withLot(e, l)
	e.From, e.To, e.Location = l.loc, to, to
	g.emit()
	l.loc = to
}

func (g *gen) hold() {
	l := g.anyLot()
	if l == nil || l.held {
		return
	}
	if g.heldN == heldCap {
		g.release()
	}
	e := g.begin(core.Hold)
	g.withLot(e, l)
	e.Reason = g.oneOf(holdWhy)
	e.Location = l.loc
	g.emit()
	l.held = true
	g.held[(g.heldHead+g.heldN)%heldCap] = l
	g.heldN++
}

func (g *gen) release() {
	if g.heldN == 0 {
		return
	}
	l := g.held[g.heldHead]
	g.held[g.heldHead] = nil
	g.heldHead = (g.heldHead + 1) % heldCap
	g.heldN--
	e := g.begin(core.Release)
	g.withLot(e, l)
	e.Reason = "QC released: results within specification"
	e.Location = l.loc
	g.emit()
	l.held = false
}

func (g *gen) reverse() {
	for try := 0; try < 4 && g.revN > 0; try++ {
		i := (g.revNext - 1 - g.rng.IntN(g.revN) + 2*revCap) % revCap
		r := &g.rev[i]
		if r.reversed {
			continue
		}
		e := g.begin(core.Reverse)
		e.Site = ""
		e.ID = r.id + "-REV"
		e.Reverses = r.id
		if g.emit() != "" {
			r.reversed = true
			r.l.remain += r.qty
		}
		return
	}
}

func (g *gen) duplicate() {
	if g.recentN == 0 || g.done {
		return
	}
	i := (g.recentNext - 1 - g.rng.IntN(g.recentN) + 2*recentCap) % recentCap
	b := g.recent[i]
	// the type, for the statistics, without decoding the line
	t := core.EventType("")
	if j := bytes.Index(b, []byte(`"type":"`)); j >= 0 {
		rest := b[j+8:]
		if k := bytes.IndexByte(rest, '"'); k >= 0 {
			t = core.EventType(rest[:k])
		}
	}
	g.stats.Duplicates++
	g.write(b, t)
}

// transform re-lots one or two lots of a blend or WIP item into one or two
// new lots (tote consolidation or split), without an order.
func (g *gen) transform() {
	lv := 1 + g.rng.IntN(2)
	it := g.made[lv][g.rng.IntN(len(g.made[lv]))]
	if it.win.available() == 0 {
		return
	}
	e := g.begin(core.Transform)
	nin := 1
	if it.win.available() > 1 && g.rng.Float64() < 0.5 {
		nin = 2
	}
	var srcs [2]*lot
	total := 0.0
	for k := 0; k < nin; k++ {
		var l *lot
		for try := 0; try < 4; try++ {
			l = it.win.pick(g.rng, false)
			if k == 0 || l != srcs[0] {
				break
			}
		}
		if k == 1 && l == srcs[0] {
			nin = 1
			break
		}
		srcs[k] = l
		q := l.remain
		if q > 50 && g.rng.Float64() < 0.5 {
			q = round(q*g.uniform(0.3, 0.9), it.uom)
		}
		g.insQty[k] = q
		g.ins[k] = core.LotQty{Item: it.id, Lot: l.ref.Lot, Qty: &g.insQty[k], UOM: it.uom}
		total += q
	}
	nout := 1 + g.rng.IntN(2)
	var par parents
	for k := 0; k < nin; k++ {
		par.add(srcs[k])
	}
	left := round(total*0.995, it.uom)
	loc := g.oneOf(it.locs)
	for k := 0; k < nout; k++ {
		q := left
		if k < nout-1 {
			q = round(left*g.uniform(0.4, 0.6), it.uom)
		}
		left = round(left-q, it.uom)
		l := g.newLot(it, q, loc)
		l.parents, l.np = par.p, par.n
		it.win.push(l)
		g.outsQty[k] = q
		g.outs[k] = core.LotQty{Item: it.id, Lot: l.ref.Lot, Qty: &g.outsQty[k], UOM: it.uom}
	}
	e.Inputs, e.Outputs = g.ins[:nin], g.outs[:nout]
	e.Location = loc
	if g.emit() != "" {
		for k := 0; k < nin; k++ {
			srcs[k].remain -= g.insQty[k]
		}
	}
}

// rework consumes part of a WIP or finished lot back into one of its
// (lower-level) parent lots, closing a cycle A→B→A, or now and then
// reworks a lot into itself.
func (g *gen) rework() {
	if g.rng.Float64() < 0.25 {
		lv := 1 + g.rng.IntN(2)
		it := g.made[lv][g.rng.IntN(len(g.made[lv]))]
		x := it.win.pick(g.rng, false)
		if x == nil {
			return
		}
		q := round(math.Min(x.remain, g.uniform(50, 300)), it.uom)
		if q < 0.001 {
			return
		}
		order := g.nextOrder()
		g.consume(x, q, order)
		g.tick(180)
		back := round(q*0.98, it.uom)
		g.produce(x, back, order)
		x.remain += back
		g.step(x, "REWORK", g.oneOf(operators), g.oneOf(mixers), "passes", 1+g.rng.IntN(2))
		return
	}
	lv := 2 + g.rng.IntN(2)
	it := g.made[lv][g.rng.IntN(len(g.made[lv]))]
	b := it.win.pick(g.rng, false)
	if b == nil || b.np == 0 {
		return
	}
	p := b.parents[g.rng.IntN(b.np)]
	q := round(math.Max(1, b.remain*g.uniform(0.05, 0.2)), it.uom)
	if q > b.remain {
		q = b.remain
	}
	order := g.nextOrder()
	g.consume(b, q, order)
	g.tick(180)
	back := q
	if it.uom == "EA" {
		back = q * it.unitKG
	}
	back = round(back*0.97, p.it.uom)
	a := p.it.win.find(p.lot)
	if a == nil {
		// the parent lot left the window: a stand-in to name it
		a = &lot{ref: core.LotRef{Item: p.it.id, Lot: p.lot}, it: p.it, loc: g.oneOf(p.it.locs)}
	} else {
		a.remain += back
	}
	g.produce(a, back, order)
	g.step(a, "REWORK", g.oneOf(operators), g.oneOf(kettles), "source_level", lv)
}
