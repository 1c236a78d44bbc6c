package epcis

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// SGTIN-96, the EPC an RFID tag of a trade item carries (GS1 EPC Tag Data
// Standard 2.x, §14.5.1 "SGTIN-96"): 96 bits, written by readers as 24
// hexadecimal digits —
//
//	header 8 bits (0x30) · filter 3 · partition 3 ·
//	company prefix + item reference 44 bits, split by the partition ·
//	serial 38 bits (an integer, no leading zeros)
//
// The partition table (TDS Table 14-2) gives the bits and digits of the
// GS1 company prefix and of the item reference (whose first digit is the
// GTIN's indicator digit); the two always make 13 digits.
var sgtinPartitions = [7]struct{ cpBits, cpDigits, irBits, irDigits int }{
	{40, 12, 4, 1}, {37, 11, 7, 2}, {34, 10, 10, 3}, {30, 9, 14, 4},
	{27, 8, 17, 5}, {24, 7, 20, 6}, {20, 6, 24, 7},
}

// sgtin96Header is the SGTIN-96 header byte.
const sgtin96Header = 0x30

// looksSGTIN96 says whether a scan is an SGTIN-96 in hexadecimal: 24 hex
// digits starting with its header 30. (An element string of 24 characters
// made of hex digits that starts with AI 30 is thus read as an EPC: AI 30
// takes at most 8 digits, so such a string would need a second AI made of
// digits and A–F only.)
func looksSGTIN96(s string) bool {
	if len(s) != 24 || !strings.HasPrefix(s, "30") {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// bits reads big-endian bit fields.
type bits struct {
	b   []byte
	pos int
}

func (r *bits) read(n int) uint64 {
	var v uint64
	for range n {
		bit := r.b[r.pos/8] >> (7 - r.pos%8) & 1
		v = v<<1 | uint64(bit)
		r.pos++
	}
	return v
}

// ParseSGTIN96 decodes an SGTIN-96 EPC written in hexadecimal: the GTIN
// (check digit computed), the serial and the filter value, and the pure
// identity URN (urn:epc:id:sgtin:…). An SGTIN carries no lot. Errors are
// *ScanError (AI "" , the EPC as a whole).
func ParseSGTIN96(s string) (*Scan, error) {
	raw, err := hex.DecodeString(s)
	if err != nil || len(raw) != 12 {
		return nil, &ScanError{Reason: fmt.Sprintf("EPC %q: an SGTIN-96 is 24 hexadecimal digits", s)}
	}
	r := &bits{b: raw}
	if h := r.read(8); h != sgtin96Header {
		return nil, &ScanError{Reason: fmt.Sprintf("EPC %s: header %02X is not SGTIN-96 (30)", s, h)}
	}
	filter := r.read(3)
	part := r.read(3)
	if part > 6 {
		return nil, &ScanError{Reason: fmt.Sprintf("EPC %s: partition %d does not exist (0–6)", s, part)}
	}
	p := sgtinPartitions[part]
	cp := r.read(p.cpBits)
	ir := r.read(p.irBits)
	serial := r.read(38)
	cps := fmt.Sprintf("%0*d", p.cpDigits, cp)
	irs := fmt.Sprintf("%0*d", p.irDigits, ir)
	if len(cps) != p.cpDigits || len(irs) != p.irDigits {
		return nil, &ScanError{Reason: fmt.Sprintf("EPC %s: company prefix %d or item reference %d has more digits than partition %d allows (%d and %d)", s, cp, ir, part, p.cpDigits, p.irDigits)}
	}
	gtin := gtinOf(cps, irs)
	if gtin == "" {
		return nil, &ScanError{Reason: fmt.Sprintf("EPC %s: no GTIN in company prefix %s and item reference %s", s, cps, irs)}
	}
	ser := strconv.FormatUint(serial, 10)
	f := int(filter)
	return &Scan{GTIN: gtin, Serial: ser, EPC: "urn:epc:id:sgtin:" + cps + "." + irs + "." + ser, Filter: &f}, nil
}

// SerialLot reads what one archived EPCIS event (its JSON as captured)
// says of the lot of a serialised item, the GTIN-14 gtin with serial
// serial: an RFID tag's SGTIN carries no lot, the events that made the
// item do. ok is true, with the lot, when the event is
//
//   - a commissioning (ObjectEvent, action ADD, bizStep commissioning) whose
//     epcList names the item (SGTIN URN or Digital Link) and whose ilmd has
//     a lot number (cbvmda:lotNumber), or
//   - an ObjectEvent or AggregationEvent (packing) with action ADD that
//     names the item as a Digital Link with its lot
//     (https://id.gs1.org/01/{gtin}/10/{lot}/21/{serial}) in epcList,
//     childEPCs or parentID.
//
// An event that carries an errorDeclaration says nothing: it declares the
// event erroneous. evID is the event's eventID ("" when it has none).
func SerialLot(payload []byte, gtin, serial string) (lot, evID string, ok bool) {
	var ev epcisEvent
	if json.Unmarshal(payload, &ev) != nil || ev.ErrorDeclaration != nil || ev.Action != "ADD" {
		return "", "", false
	}
	if ev.Type != "ObjectEvent" && ev.Type != "AggregationEvent" {
		return "", "", false
	}
	names := func(s string) (Ident, bool) {
		id := ParseID(s)
		return id, id.Kind == "instance" && id.GTIN == gtin && id.Serial == serial
	}
	epcs := append(append([]string{}, ev.EPCList...), ev.ChildEPCs...)
	if ev.ParentID != "" {
		epcs = append(epcs, ev.ParentID)
	}
	for _, e := range epcs {
		if id, ok := names(e); ok && id.Lot != "" {
			return id.Lot, ev.EventID, true
		}
	}
	if ev.Type == "ObjectEvent" && Bare(ev.BizStep) == "commissioning" {
		if l := strings.TrimSpace(ev.ilmdLot()); l != "" {
			for _, e := range ev.EPCList {
				if _, ok := names(e); ok {
					return l, ev.EventID, true
				}
			}
		}
	}
	return "", "", false
}
