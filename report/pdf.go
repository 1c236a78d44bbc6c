package report

import (
	_ "embed"
	"fmt"
	"io"
	"strings"
	"time"

	"codeberg.org/go-pdf/fpdf"

	"github.com/lothub/lothub/core"
)

// The PDF fonts. DejaVu Sans (Bitstream Vera licence, fonts/LICENSE-DejaVu.txt)
// is the report's font, embedded so that lot, supplier and customer names
// print whatever their script: the 14 core PDF fonts only know Latin-1 in
// WinAnsi encoding and print ü, é, ß badly or not at all. DejaVu Sans covers
// Latin (with Latin Extended), Greek and Cyrillic but has no CJK glyphs, so
// Droid Sans Fallback (Apache 2.0, fonts/LICENSE-DroidSansFallback.txt) is
// the fallback: each text run is split by glyph coverage (pdftext.go) and a
// rune DejaVu has no glyph for is set in the fallback if the fallback has
// one. The fallback is registered with fpdf only when a report first needs
// it, so a report without such a rune neither parses nor embeds it; fpdf
// embeds a subset of each font (the glyphs used), so a few CJK names add
// kilobytes, not the file's 4 MB.
var (
	//go:embed fonts/DejaVuSans.ttf
	fontRegular []byte
	//go:embed fonts/DejaVuSans-Bold.ttf
	fontBold []byte
	//go:embed fonts/DroidSansFallbackFull.ttf
	fontFallback []byte
)

const (
	fontFamily   = "dejavu"
	fallbackFont = "droidsansfallback" // regular only: bold CJK prints regular
	lineH        = 4.2                 // mm per line of 8 pt text
	cellPad      = 1.2
)

// pdfDoc is a landscape A4 document with the report footer on every page.
type pdfDoc struct {
	f      *fpdf.Fpdf
	meta   Meta
	width  float64 // printable width
	bottom float64 // y where content must end

	fallbackAdded bool // fallbackFont is registered with f
}

func newPDF(kind string, meta Meta) *pdfDoc {
	f := fpdf.New("L", "mm", "A4", "")
	f.SetMargins(12, 12, 12)
	f.AddUTF8FontFromBytes(fontFamily, "", fontRegular)
	f.AddUTF8FontFromBytes(fontFamily, "B", fontBold)
	f.SetTitle(meta.Title, true)
	f.SetCreator("lothub "+meta.HubVersion, true)
	f.SetProducer("lothub", true)
	if meta.SHA256 != "" {
		f.SetKeywords(pdfKeywords(kind, meta), false)
	}
	// The same data and generation time give the same bytes.
	if t, err := time.Parse(time.RFC3339, meta.Generated); err == nil {
		f.SetCreationDate(t)
		f.SetModificationDate(t)
	}
	f.SetCatalogSort(true)
	f.AliasNbPages("{nb}")
	p := &pdfDoc{f: f, meta: meta}
	f.SetFooterFunc(p.footer)
	f.SetAutoPageBreak(false, 0)
	w, h := f.GetPageSize()
	l, _, r, _ := f.GetMargins()
	p.width = w - l - r
	p.bottom = h - 20
	f.AddPage()
	return p
}

// footer: generation time, hub version, the store's "as of", page N of M
// and the SHA-256 of the report's data, on every page.
func (p *pdfDoc) footer() {
	f := p.f
	_, h := f.GetPageSize()
	f.SetY(h - 16)
	f.SetDrawColor(150, 150, 150)
	l, _, _, _ := f.GetMargins()
	f.Line(l, h-16.5, l+p.width, h-16.5)
	f.SetFont(fontFamily, "", 7)
	f.SetTextColor(60, 60, 60)
	asOf := p.meta.AsOf
	if asOf == "" {
		asOf = "no events read"
	}
	left := fmt.Sprintf("Generated %s · lothub %s · store as of %s (data version %d)", p.meta.Generated, p.meta.HubVersion, asOf, p.meta.DataVersion)
	if p.meta.AsOfRequested != "" {
		left = fmt.Sprintf("Generated %s · lothub %s · AS OF %s: the store as it stood then, newest event %s (data version %d)", p.meta.Generated, p.meta.HubVersion, p.meta.AsOfRequested, asOf, p.meta.DataVersion)
	}
	p.cell(p.width*0.8, 3.5, left, "", 0, "L", false)
	p.cell(p.width*0.2, 3.5, fmt.Sprintf("Page %d of {nb}", f.PageNo()), "", 1, "R", false)
	p.cell(p.width, 3.5, "SHA-256 of the report data: "+p.meta.SHA256, "", 1, "L", false)
	f.SetTextColor(0, 0, 0)
}

func (p *pdfDoc) need(h float64) {
	if p.f.GetY()+h > p.bottom {
		p.f.AddPage()
	}
}

func (p *pdfDoc) title(title, subtitle string) {
	f := p.f
	f.SetFont(fontFamily, "B", 16)
	p.cell(p.width, 8, title, "", 1, "L", false)
	if subtitle != "" {
		f.SetFont(fontFamily, "", 10)
		p.cell(p.width, 5.5, subtitle, "", 1, "L", false)
	}
	f.Ln(2)
}

func (p *pdfDoc) heading(s string) {
	p.need(30) // the heading, a table header and a row or two
	f := p.f
	f.Ln(2)
	f.SetFont(fontFamily, "B", 11)
	f.SetFillColor(225, 230, 238)
	p.cell(p.width, 6.5, s, "", 1, "L", true)
	f.Ln(1)
}

func (p *pdfDoc) para(s string) {
	f := p.f
	f.SetFont(fontFamily, "", 8.5)
	for _, line := range p.split(s, p.width) {
		p.need(lineH)
		p.cell(p.width, lineH, line, "", 1, "L", false)
	}
}

// alert prints a framed, tinted box: what must not be missed.
func (p *pdfDoc) alert(lines []string, bad bool) {
	f := p.f
	f.SetFont(fontFamily, "B", 9)
	var all []string
	for _, l := range lines {
		all = append(all, p.split(l, p.width-4)...)
	}
	h := float64(len(all))*lineH + 3
	p.need(h)
	if bad {
		f.SetFillColor(253, 226, 222)
		f.SetDrawColor(190, 40, 30)
	} else {
		f.SetFillColor(228, 242, 228)
		f.SetDrawColor(60, 130, 60)
	}
	x, y := f.GetX(), f.GetY()
	f.Rect(x, y, p.width, h, "FD")
	f.SetXY(x+2, y+1.5)
	for _, l := range all {
		p.cell(p.width-4, lineH, l, "", 2, "L", false)
	}
	f.SetXY(x, y+h+1.5)
	f.SetDrawColor(0, 0, 0)
}

// kv prints label: value pairs in two columns.
func (p *pdfDoc) kv(pairs [][2]string) {
	f := p.f
	for _, kv := range pairs {
		f.SetFont(fontFamily, "", 9)
		lines := p.split(kv[1], p.width-55)
		if len(lines) == 0 {
			lines = []string{"—"}
		}
		p.need(float64(len(lines)) * 4.8)
		f.SetFont(fontFamily, "B", 9)
		p.cell(55, 4.8, kv[0], "", 0, "L", false)
		f.SetFont(fontFamily, "", 9)
		for i, l := range lines {
			if i > 0 {
				f.SetX(f.GetX() + 55)
			}
			p.cell(p.width-55, 4.8, l, "", 1, "L", false)
		}
	}
}

// col is a table column: its header and relative width.
type col struct {
	title string
	w     float64
	right bool
}

// table prints rows under a header that is repeated on every page the
// table reaches. Cells wrap; a row never splits across pages.
func (p *pdfDoc) table(cols []col, rows [][]string, empty string) {
	f := p.f
	var total float64
	for _, c := range cols {
		total += c.w
	}
	ws := make([]float64, len(cols))
	for i, c := range cols {
		ws[i] = c.w / total * p.width
	}
	header := func() {
		f.SetFont(fontFamily, "B", 7.5)
		var hl [][]string
		n := 1
		for i, c := range cols {
			ls := p.split(c.title, ws[i]-2*cellPad+0.5)
			hl = append(hl, ls)
			n = max(n, len(ls))
		}
		h := float64(n)*3.6 + 1.5
		x, y := f.GetX(), f.GetY()
		f.SetFillColor(210, 216, 226)
		for i := range cols {
			f.Rect(x, y, ws[i], h, "FD")
			for j, l := range hl[i] {
				f.SetXY(x+cellPad-0.3, y+0.8+float64(j)*3.6)
				p.cell(ws[i]-2*cellPad, 3.6, l, "", 0, "L", false)
			}
			x += ws[i]
		}
		l, _, _, _ := f.GetMargins()
		f.SetXY(l, y+h)
	}
	p.need(14)
	header()
	if len(rows) == 0 {
		f.SetFont(fontFamily, "", 8)
		p.cell(p.width, 5, empty, "1", 1, "L", false)
		f.Ln(1)
		return
	}
	f.SetFont(fontFamily, "", 7.5)
	for ri, row := range rows {
		var cl [][]string
		n := 1
		for i := range cols {
			txt := ""
			if i < len(row) {
				txt = row[i]
			}
			ls := p.split(txt, ws[i]-2*cellPad+0.5)
			cl = append(cl, ls)
			n = max(n, len(ls))
		}
		const rowLine = 3.5
		h := float64(n)*rowLine + 1.4
		if f.GetY()+h > p.bottom {
			f.AddPage()
			header()
			f.SetFont(fontFamily, "", 7.5)
		}
		l, _, _, _ := f.GetMargins()
		x, y := l, f.GetY()
		fill := ri%2 == 1
		f.SetFillColor(244, 246, 250)
		for i, c := range cols {
			style := "D"
			if fill {
				style = "FD"
			}
			f.Rect(x, y, ws[i], h, style)
			align := "L"
			if c.right {
				align = "R"
			}
			for j, line := range cl[i] {
				f.SetXY(x+cellPad-0.3, y+0.7+float64(j)*rowLine)
				p.cell(ws[i]-2*cellPad+0.6, rowLine, line, "", 0, align, false)
			}
			x += ws[i]
		}
		f.SetXY(l, y+h)
	}
	f.Ln(1.5)
}

// signatures prints the electronic signatures of the report (hub report
// approve), if any.
func (p *pdfDoc) signatures() {
	if len(p.meta.Signatures) == 0 {
		return
	}
	f := p.f
	p.need(14)
	f.Ln(6)
	f.SetFont(fontFamily, "B", 10)
	p.cell(p.width, 6, "Electronic signatures", "", 1, "L", false)
	var rows [][]string
	for _, s := range p.meta.Signatures {
		rows = append(rows, []string{SignatureMeaningText(s.Meaning), s.FullName + " (" + s.Signer + ", " + s.Role + ")", s.Time, s.Reason, fmt.Sprintf("#%d", s.AuditSeq)})
	}
	p.table([]col{{"Meaning", 10, false}, {"Signed by", 25, false}, {"Date and time (UTC)", 17, false}, {"Reason", 38, false}, {"Audit entry", 10, false}}, rows, "")
	f.SetFont(fontFamily, "", 7)
	p.cell(p.width, 4, "Each signature is an entry of the hub's audit trail for the SHA-256 below: check it with hub report verify.", "", 1, "L", false)
}

// signature prints the electronic signatures, and the block a quality
// manager signs by hand when there are none.
func (p *pdfDoc) signature() {
	f := p.f
	if len(p.meta.Signatures) > 0 {
		p.signatures()
		return
	}
	p.need(34)
	f.Ln(6)
	f.SetFont(fontFamily, "B", 10)
	p.cell(p.width, 6, "Review and approval", "", 1, "L", false)
	f.SetFont(fontFamily, "", 9)
	w := p.width / 3
	for range 3 {
		p.cell(w-6, 12, "", "B", 0, "L", false)
		p.cell(6, 12, "", "", 0, "L", false)
	}
	f.Ln(12)
	for _, label := range []string{"Reviewed by (name, title)", "Signature", "Date"} {
		p.cell(w, 5, label, "", 0, "L", false)
	}
	f.Ln(5)
}

func (p *pdfDoc) write(w io.Writer) error {
	if err := p.f.Error(); err != nil {
		return fmt.Errorf("make the PDF: %w", err)
	}
	return p.f.Output(w)
}

// WriteLotPDF renders the lot audit report as a PDF.
func WriteLotPDF(w io.Writer, r *LotReport) error {
	d := r.Lot
	id := d.Identity
	p := newPDF("lot", r.Meta)
	p.title("Lot audit report", id.Item+" / "+id.Lot)

	// Identity.
	p.heading("1. Identity and current status")
	status := "released (not on hold)"
	if id.OnHold {
		status = "ON HOLD"
	}
	var stock []string
	for _, s := range id.OnHand {
		stock = append(stock, fmt.Sprintf("%s %s at %s", num(s.Qty), s.UOM, orDash(joinNonEmpty(" / ", s.Site, s.Location))))
	}
	p.kv([][2]string{
		{"Item", id.Item},
		{"Lot", id.Lot},
		{"Description", orDash(id.Description)},
		{"Site", orDash(id.Site)},
		{"Quantity received", orDash(qtyText(id.Received))},
		{"Quantity produced", orDash(qtyText(id.Produced))},
		{"Manufactured", orDash(day(id.Manufactured))},
		{"Expiry", orDash(id.Expiry)},
		{"On hand", orDash(strings.Join(stock, "; "))},
		{"Status", status},
	})
	p.f.Ln(2)
	p.alert(exceptionSummary(d), len(d.Exceptions) > 0 || len(d.Holds) > 0)

	// Backward genealogy.
	p.heading("2. Backward genealogy: every input lot down to the raw materials")
	p.para(fmt.Sprintf("%d lot(s) went into %s at any depth. Each lot is listed once, under the first lot it went into; the tree is cut at depth %d.", d.Ancestors, id.Item+"/"+id.Lot, d.DepthLimit))
	var rows [][]string
	for _, t := range d.Genealogy {
		via := t.Via
		if t.Transform {
			via = "transform " + via
		}
		if t.Confirmed {
			via += " (confirmed by hand)"
		}
		qty := ""
		if t.UOM != "" {
			qty = num(t.Qty) + " " + t.UOM
		}
		rows = append(rows, []string{fmt.Sprint(t.Depth), strings.Repeat("   ", t.Depth-1) + "└ " + t.Item + " / " + t.Lot, t.Into, via, qty,
			t.Supplier, t.SupplierLot, t.PO, day(t.Received)})
	}
	p.table([]col{{"Depth", 7, true}, {"Input lot (item / lot)", 30, false}, {"Went into", 24, false}, {"Order", 10, false}, {"Qty consumed", 10, true},
		{"Supplier", 17, false}, {"Supplier lot", 11, false}, {"PO", 9, false}, {"Received", 11, false}}, rows, "No input lot is recorded: the lot was received, not made.")
	if len(d.Beyond) > 0 {
		var parts []string
		n := 0
		for _, b := range d.Beyond {
			parts = append(parts, fmt.Sprintf("depth %d: %d lot(s)", b.Depth, b.Lots))
			n += b.Lots
		}
		p.alert([]string{fmt.Sprintf("%d lot(s) beyond depth %d are summarised, not listed: %s. The JSON form of this report counts them too; 'hub trace backward %s %s --json' lists every one.", n, d.DepthLimit, strings.Join(parts, ", "), id.Item, id.Lot)}, false)
	}
	p.heading("Receipts of the lots above (supplier, supplier lot, PO)")
	rows = nil
	for _, s := range d.Suppliers {
		rows = append(rows, []string{s.Item + " / " + s.Lot, partyText(&core.Party{ID: s.ID, Name: s.Name}), s.SupplierLot, s.PO, num(s.Qty) + " " + s.UOM, day(s.Time)})
	}
	p.table([]col{{"Lot", 30, false}, {"Supplier", 25, false}, {"Supplier lot", 14, false}, {"PO", 12, false}, {"Quantity", 10, true}, {"Received", 12, false}}, rows, "No receipt is recorded.")

	// Process.
	p.heading("3. Process: the orders and steps that made it")
	rows = nil
	for _, o := range d.Process {
		rows = append(rows, []string{o.Order, day(o.Start), day(o.End), lotQtys(o.Inputs), lotQtys(o.Outputs)})
	}
	p.table([]col{{"Order", 12, false}, {"Start", 12, false}, {"End", 12, false}, {"Inputs (lot: quantity)", 45, false}, {"Outputs", 35, false}}, rows, "No order made this lot.")
	rows = nil
	for _, s := range d.Steps {
		rows = append(rows, []string{s.Item + " / " + s.Lot, s.Step, day(s.Time), s.Operator, s.Equipment, paramsText(s.Params)})
	}
	p.table([]col{{"Lot", 28, false}, {"Step", 16, false}, {"Time", 12, false}, {"Operator", 12, false}, {"Equipment", 11, false}, {"Recorded parameters", 30, false}}, rows, "No process or quality step is recorded for this lot or its listed inputs.")

	// Forward.
	p.heading("4. Forward: every lot it went into, and every shipment")
	p.para(fmt.Sprintf("%d lot(s) were made from %s at any depth; %d shipment(s) to %d customer(s).", d.Forward.Descendants, id.Item+"/"+id.Lot, len(d.Forward.Shipments), len(d.Forward.Customers)))
	rows = nil
	for _, l := range d.Forward.Lots {
		oh := ""
		if l.OnHand != nil {
			oh = qtyText(*l.OnHand)
		}
		hold := ""
		if l.OnHold {
			hold = "ON HOLD"
		}
		rows = append(rows, []string{fmt.Sprint(l.Depth), l.Item + " / " + l.Lot, oh, hold})
	}
	p.table([]col{{"Depth", 6, true}, {"Lot made from it", 50, false}, {"On hand", 20, false}, {"Hold", 10, false}}, rows, "No lot was made from it.")
	if len(d.Forward.Beyond) > 0 {
		var parts []string
		for _, b := range d.Forward.Beyond {
			parts = append(parts, fmt.Sprintf("depth %d: %d lot(s)", b.Depth, b.Lots))
		}
		p.alert([]string{fmt.Sprintf("Lots beyond depth %d are summarised, not listed: %s. Their shipments are all listed below.", d.DepthLimit, strings.Join(parts, ", "))}, false)
	}
	rows = nil
	for _, s := range d.Forward.Shipments {
		rows = append(rows, []string{partyText(&s.Customer), s.SalesOrder, s.Delivery, day(s.Time), s.Item + " / " + s.Lot, num(s.Qty) + " " + s.UOM})
	}
	p.table([]col{{"Customer", 30, false}, {"Sales order", 12, false}, {"Delivery", 12, false}, {"Date", 12, false}, {"Lot shipped", 30, false}, {"Quantity", 10, true}}, rows, "Nothing made from this lot has been shipped.")

	// Mass balance, exceptions, holds.
	p.heading("5. Mass balance, exceptions and holds")
	rows = nil
	for _, u := range d.Balance.Units {
		ok := "yes"
		if !u.WithinTolerance {
			ok = "NO"
		}
		rows = append(rows, []string{u.UOM, num(u.Received), num(u.Produced), num(u.Consumed), num(u.Shipped), num(u.Adjusted), num(u.OnHand), num(u.Difference), ok})
	}
	p.table([]col{{"Unit", 6, false}, {"Received", 10, true}, {"Produced", 10, true}, {"Consumed", 10, true}, {"Shipped", 10, true}, {"Adjusted", 10, true}, {"On hand", 10, true}, {"In − out", 10, true}, {"Within tolerance", 10, false}}, rows, "No quantity is recorded.")
	rows = nil
	for _, u := range d.Forward.Uses {
		to := u.Order
		if u.Customer != nil {
			to = partyText(u.Customer)
		}
		rows = append(rows, []string{string(u.Type), to, num(u.Qty) + " " + u.UOM, day(u.Time), u.Event})
	}
	p.table([]col{{"Use", 10, false}, {"Order or customer", 30, false}, {"Quantity", 12, true}, {"Time", 14, false}, {"Event", 24, false}}, rows, "The lot was neither consumed nor shipped.")
	rows = nil
	for _, e := range d.Exceptions {
		rows = append(rows, []string{e.ID, string(e.Status), e.Severity, e.Kind, e.Touches, joinNonEmpty(" / ", e.Item, e.Lot, e.Order), day(e.Since), e.Detail})
	}
	p.table([]col{{"Gap", 7, false}, {"Status", 9, false}, {"Severity", 7, false}, {"Kind", 13, false}, {"Touches", 10, false}, {"Lot / order", 18, false}, {"Since", 11, false}, {"Detail", 45, false}}, rows, "No exception (gap), open or closed, touches this lot, its inputs, what was made from it or its orders.")
	rows = nil
	for _, h := range d.Holds {
		force := ""
		if h.InForce {
			force = "IN FORCE"
		}
		rows = append(rows, []string{h.Item + " / " + h.Lot, h.Touches, h.Type, day(h.Time), h.Reason, force, h.Event})
	}
	p.table([]col{{"Lot", 26, false}, {"Touches", 10, false}, {"Hold / release", 9, false}, {"Time", 11, false}, {"Reason", 30, false}, {"", 8, false}, {"Event", 18, false}}, rows, "No hold or release concerns this lot, and no lot of its genealogy is on hold.")

	// Provenance.
	p.heading("6. Provenance: where each link came from")
	rows = nil
	for _, pv := range d.Provenance {
		rows = append(rows, []string{pv.Link, pv.Type, pv.Event, pv.Connector, pv.Record})
	}
	p.table([]col{{"Fact", 40, false}, {"Event type", 9, false}, {"Event", 22, false}, {"Connector", 12, false}, {"Source record", 22, false}}, rows, "No event is recorded.")

	p.signature()
	return p.write(w)
}

func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "—"
	}
	return s
}

// lotQtys renders an order's inputs or outputs, one a line.
func lotQtys(xs []core.OrderLotQty) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprintf("%s/%s: %s %s", x.Item, x.Lot, num(x.Qty), x.UOM)
	}
	return strings.Join(parts, "\n")
}

// exceptionSummary is the box on page 1: gaps and holds, never omitted.
func exceptionSummary(d LotData) []string {
	open, closed := 0, 0
	for _, e := range d.Exceptions {
		if e.Status.Closed() {
			closed++
		} else {
			open++
		}
	}
	inForce := 0
	for _, h := range d.Holds {
		if h.InForce {
			inForce++
		}
	}
	out := []string{fmt.Sprintf("Exceptions (gaps) touching this lot: %d open, %d closed. Holds in force: %d (this lot %s).", open, closed, inForce, map[bool]string{true: "ON HOLD", false: "not on hold"}[d.Identity.OnHold])}
	for _, e := range d.Exceptions {
		out = append(out, fmt.Sprintf("%s [%s, %s] %s (%s): %s", e.ID, e.Status, e.Severity, e.Kind, e.Touches, e.Detail))
	}
	for _, h := range d.Holds {
		if h.InForce {
			out = append(out, fmt.Sprintf("HOLD on %s/%s (%s) since %s: %s", h.Item, h.Lot, h.Touches, day(h.Time), h.Reason))
		}
	}
	if len(out) == 1 && open+closed+inForce == 0 {
		out[0] = "No exception (gap), open or closed, and no hold touches this lot."
	}
	return out
}
