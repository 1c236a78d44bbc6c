package epcis

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Scan is what lothub reads of a GS1 barcode (GS1-128, DataMatrix, QR) or
// a GS1 Digital Link URI: the application identifiers it understands.
type Scan struct {
	GTIN       string   `json:"gtin,omitempty"`        // AI 01, 14 digits, check digit verified
	Lot        string   `json:"lot,omitempty"`         // AI 10
	Serial     string   `json:"serial,omitempty"`      // AI 21
	ProdDate   string   `json:"prod_date,omitempty"`   // AI 11, YYYY-MM-DD
	BestBefore string   `json:"best_before,omitempty"` // AI 15
	Expiry     string   `json:"expiry,omitempty"`      // AI 17
	Count      *int     `json:"count,omitempty"`       // AI 30 (variable count) or 37 (count of trade items)
	NetKG      *float64 `json:"net_kg,omitempty"`      // AI 310n
	SSCC       string   `json:"sscc,omitempty"`        // AI 00, check digit verified
	GLN        string   `json:"gln,omitempty"`         // AI 414, check digit verified
	PO         string   `json:"po,omitempty"`          // AI 400
	// EPC is the pure identity URN of an RFID tag's SGTIN-96
	// (urn:epc:id:sgtin:…), Filter its filter value; empty for barcodes.
	EPC    string `json:"epc,omitempty"`
	Filter *int   `json:"filter,omitempty"`
}

// ScanError is a scan lothub refuses: the AI at fault ("" when the scan
// as a whole is malformed) and why.
type ScanError struct {
	AI     string
	Reason string
}

func (e *ScanError) Error() string {
	if e.AI == "" {
		return "GS1 scan: " + e.Reason
	}
	return fmt.Sprintf("GS1 scan: AI (%s): %s", e.AI, e.Reason)
}

// gs is FNC1 in a transmitted element string (ASCII 29, GS).
const gs = '\x1d'

// aiSpec is one application identifier: a fixed length of data (0 for
// variable, ended by FNC1 or the end) and the most characters it takes.
type aiSpec struct {
	fixed, max int
	numeric    bool
}

var ais = map[string]aiSpec{
	"00": {18, 18, true}, "01": {14, 14, true}, "10": {0, 20, false}, "21": {0, 20, false},
	"11": {6, 6, true}, "15": {6, 6, true}, "17": {6, 6, true},
	"30": {0, 8, true}, "37": {0, 8, true}, "400": {0, 30, false}, "414": {13, 13, true},
}

func aiOf(s string) (string, aiSpec, bool) {
	for n := 2; n <= 4 && n <= len(s); n++ {
		if sp, ok := ais[s[:n]]; ok {
			return s[:n], sp, true
		}
		if n == 4 && strings.HasPrefix(s, "310") && s[3] >= '0' && s[3] <= '5' {
			return s[:4], aiSpec{6, 6, true}, true
		}
	}
	return "", aiSpec{}, false
}

// ParseScan reads a scan: a GS1 element string with FNC1 as ASCII 29
// (optionally after a symbology identifier ]C1, ]d2, ]Q3, ]e0), the human
// readable form (01)09506000134352(10)L42, or a GS1 Digital Link URI
// (https://…/01/{gtin}/10/{lot}?17=YYMMDD), or an RFID tag's SGTIN-96 EPC
// in hexadecimal (ParseSGTIN96: a GTIN and a serial, no lot). Check digits of AIs 00, 01 and
// 414 are verified. An error is a *ScanError naming the AI.
func ParseScan(s string) (*Scan, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return nil, &ScanError{Reason: "empty scan"}
	case strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://"):
		return parseDLScan(s)
	case strings.HasPrefix(s, "("):
		return parseHRI(s)
	case looksSGTIN96(s):
		return ParseSGTIN96(s)
	}
	for _, p := range []string{"]C1", "]d2", "]Q3", "]e0"} {
		s = strings.TrimPrefix(s, p)
	}
	s = strings.TrimLeft(s, string(gs))
	sc := &Scan{}
	for s != "" {
		ai, sp, ok := aiOf(s)
		if !ok {
			return nil, &ScanError{AI: prefixAI(s), Reason: "not an application identifier lothub reads (00, 01, 10, 21, 11, 15, 17, 30, 37, 310n, 400, 414)"}
		}
		s = s[len(ai):]
		var v string
		if sp.fixed > 0 {
			if len(s) < sp.fixed {
				return nil, &ScanError{AI: ai, Reason: fmt.Sprintf("want %d characters, the scan ends after %d", sp.fixed, len(s))}
			}
			v, s = s[:sp.fixed], s[sp.fixed:]
			s = strings.TrimPrefix(s, string(gs)) // a needless FNC1 after a fixed field is tolerated
		} else {
			i := strings.IndexByte(s, gs)
			if i < 0 {
				i = len(s)
			}
			v, s = s[:i], s[i:]
			s = strings.TrimPrefix(s, string(gs))
		}
		if err := sc.set(ai, sp, v); err != nil {
			return nil, err
		}
	}
	return sc, nil
}

func prefixAI(s string) string {
	if len(s) > 4 {
		s = s[:4]
	}
	return strings.Map(func(r rune) rune {
		if r < ' ' || r > '~' {
			return '?'
		}
		return r
	}, s)
}

// parseHRI reads (AI)value(AI)value….
func parseHRI(s string) (*Scan, error) {
	sc := &Scan{}
	for s != "" {
		if s[0] != '(' {
			return nil, &ScanError{Reason: fmt.Sprintf("human-readable scan: want (AI) at %q", prefixAI(s))}
		}
		end := strings.IndexByte(s, ')')
		if end < 0 {
			return nil, &ScanError{Reason: "human-readable scan: ( without )"}
		}
		ai := s[1:end]
		s = s[end+1:]
		next := strings.IndexByte(s, '(')
		if next < 0 {
			next = len(s)
		}
		v := s[:next]
		s = s[next:]
		got, sp, ok := aiOf(ai)
		if !ok || got != ai {
			return nil, &ScanError{AI: prefixAI(ai), Reason: "not an application identifier lothub reads (00, 01, 10, 21, 11, 15, 17, 30, 37, 310n, 400, 414)"}
		}
		if sp.fixed > 0 && len(v) != sp.fixed {
			return nil, &ScanError{AI: ai, Reason: fmt.Sprintf("want %d characters, got %d", sp.fixed, len(v))}
		}
		if err := sc.set(ai, sp, v); err != nil {
			return nil, err
		}
	}
	return sc, nil
}

// parseDLScan reads a Digital Link URI: the path's AI/value pairs after
// the primary key, and the query's AI=value pairs.
func parseDLScan(s string) (*Scan, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, &ScanError{Reason: "not a URL: " + err.Error()}
	}
	segs := strings.Split(strings.Trim(u.EscapedPath(), "/"), "/")
	start := -1
	for i, sg := range segs {
		if sg == "01" || sg == "00" || sg == "414" {
			start = i
			break
		}
	}
	if start < 0 {
		return nil, &ScanError{Reason: "Digital Link without a primary key (/01/ GTIN, /00/ SSCC, /414/ GLN)"}
	}
	sc := &Scan{}
	pairs := segs[start:]
	if len(pairs)%2 != 0 {
		return nil, &ScanError{AI: pairs[len(pairs)-1], Reason: "Digital Link path ends with an AI without a value"}
	}
	do := func(ai, raw string) error {
		v, err := url.PathUnescape(raw)
		if err != nil {
			return &ScanError{AI: ai, Reason: "bad %-escape"}
		}
		got, sp, ok := aiOf(ai)
		if !ok || got != ai {
			return nil // other AIs in a Digital Link (a CPV, a URL) carry nothing lothub traces
		}
		if sp.fixed > 0 && len(v) != sp.fixed && !(ai == "01" && len(v) >= 8 && len(v) < 14) {
			return &ScanError{AI: ai, Reason: fmt.Sprintf("want %d characters, got %d", sp.fixed, len(v))}
		}
		if ai == "01" {
			v = strings.Repeat("0", 14-len(v)) + v
		}
		return sc.set(ai, sp, v)
	}
	for i := 0; i < len(pairs); i += 2 {
		if err := do(pairs[i], pairs[i+1]); err != nil {
			return nil, err
		}
	}
	for k, vs := range u.Query() {
		if len(vs) > 0 {
			if err := do(k, url.PathEscape(vs[0])); err != nil {
				return nil, err
			}
		}
	}
	return sc, nil
}

// set stores one AI's value after checking it.
func (sc *Scan) set(ai string, sp aiSpec, v string) error {
	if v == "" {
		return &ScanError{AI: ai, Reason: "empty value"}
	}
	if len(v) > sp.max {
		return &ScanError{AI: ai, Reason: fmt.Sprintf("at most %d characters, got %d", sp.max, len(v))}
	}
	if sp.numeric && !digits(v) {
		return &ScanError{AI: ai, Reason: fmt.Sprintf("want digits, got %q", v)}
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '!' || v[i] > 'z' { // GS1 AI encodable character set 82, roughly
			return &ScanError{AI: ai, Reason: fmt.Sprintf("character %q is not allowed in a GS1 element", v[i])}
		}
	}
	check := func(what string) error {
		if want := checkDigit(v[:len(v)-1]); v[len(v)-1:] != want {
			return &ScanError{AI: ai, Reason: fmt.Sprintf("%s %s has a wrong check digit: the last digit should be %s (rescan, or key it in)", what, v, want)}
		}
		return nil
	}
	switch {
	case ai == "00":
		sc.SSCC = v
		return check("SSCC")
	case ai == "01":
		sc.GTIN = v
		return check("GTIN")
	case ai == "414":
		sc.GLN = v
		return check("GLN")
	case ai == "10":
		sc.Lot = v
	case ai == "21":
		sc.Serial = v
	case ai == "400":
		sc.PO = v
	case ai == "11" || ai == "15" || ai == "17":
		d, err := gs1Date(v, ai != "11")
		if err != nil {
			return &ScanError{AI: ai, Reason: err.Error()}
		}
		*map[string]*string{"11": &sc.ProdDate, "15": &sc.BestBefore, "17": &sc.Expiry}[ai] = d
	case ai == "30" || ai == "37":
		n, _ := strconv.Atoi(v)
		sc.Count = &n
	case strings.HasPrefix(ai, "310"):
		n, _ := strconv.Atoi(v)
		kg := float64(n)
		for i := 0; i < int(ai[3]-'0'); i++ {
			kg /= 10
		}
		sc.NetKG = &kg
	}
	return nil
}

// gs1Date reads YYMMDD (GS1 General Specifications §7.12: the century is
// the one that puts the year within 49 years back and 50 ahead of now —
// simplified here to 2000–2099, which holds until 2050). DD 00 means the
// month's last day where allowed (best before, expiry).
func gs1Date(v string, dayZero bool) (string, error) {
	y, _ := strconv.Atoi(v[0:2])
	m, _ := strconv.Atoi(v[2:4])
	d, _ := strconv.Atoi(v[4:6])
	if m < 1 || m > 12 {
		return "", fmt.Errorf("month %02d in %s (YYMMDD) is not 01–12", m, v)
	}
	last := time.Date(2000+y, time.Month(m)+1, 0, 0, 0, 0, 0, time.UTC).Day()
	if d == 0 && dayZero {
		d = last
	}
	if d < 1 || d > last {
		return "", fmt.Errorf("day %02d in %s (YYMMDD) does not exist", d, v)
	}
	return fmt.Sprintf("%04d-%02d-%02d", 2000+y, m, d), nil
}
