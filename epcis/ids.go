package epcis

import (
	"net/url"
	"strings"
)

// Ident is what lothub understands of an EPC, an EPC class or a GS1 Digital
// Link URI.
type Ident struct {
	Kind   string // "instance" (SGTIN), "lot" (LGTIN), "sscc", or "" when not a product lothub traces
	Item   string // for a lothub lot class (urn:lothub:lot:…), which names its item, not a GTIN
	GTIN   string // 14 digits, for instances and lots
	Lot    string // batch/lot number; "" for an instance whose lot is not in its identifier
	Serial string // serial number of an instance
	SSCC   string // 18 digits
}

// ParseID reads an EPC URN (urn:epc:id:sgtin:, urn:epc:id:sscc:), an EPC
// class URN (urn:epc:class:lgtin:) or a GS1 Digital Link URI
// (https://id.gs1.org/01/{GTIN}/10/{lot}[/21/{serial}], /00/{SSCC}) on any
// host. Anything else — a pattern (urn:epc:idpat:), a GIAI, a GSRN, a
// location — is returned with an empty Kind.
func ParseID(s string) Ident {
	switch {
	case strings.HasPrefix(s, "urn:epc:id:sgtin:"):
		parts := strings.SplitN(strings.TrimPrefix(s, "urn:epc:id:sgtin:"), ".", 3)
		if len(parts) != 3 {
			return Ident{}
		}
		gtin := gtinOf(parts[0], parts[1])
		if gtin == "" {
			return Ident{}
		}
		return Ident{Kind: "instance", GTIN: gtin, Serial: unescapeURN(parts[2])}
	case strings.HasPrefix(s, "urn:epc:class:lgtin:"):
		parts := strings.SplitN(strings.TrimPrefix(s, "urn:epc:class:lgtin:"), ".", 3)
		if len(parts) != 3 {
			return Ident{}
		}
		gtin := gtinOf(parts[0], parts[1])
		if gtin == "" || parts[2] == "" {
			return Ident{}
		}
		return Ident{Kind: "lot", GTIN: gtin, Lot: unescapeURN(parts[2])}
	case strings.HasPrefix(s, "urn:lothub:lot:"):
		// lothub's class of a lot whose item has no GTIN (Export).
		item, lot, ok := strings.Cut(strings.TrimPrefix(s, "urn:lothub:lot:"), ":")
		if !ok || item == "" || lot == "" || strings.Contains(lot, ":") {
			return Ident{}
		}
		return Ident{Kind: "lot", Item: unescapeURN(item), Lot: unescapeURN(lot)}
	case strings.HasPrefix(s, "urn:epc:id:sscc:"):
		parts := strings.SplitN(strings.TrimPrefix(s, "urn:epc:id:sscc:"), ".", 2)
		if len(parts) != 2 || !digits(parts[0]) || !digits(parts[1]) || len(parts[0])+len(parts[1]) != 17 || parts[1] == "" {
			return Ident{}
		}
		// The serial reference's first digit is the extension digit, which
		// comes first in the SSCC.
		body := parts[1][:1] + parts[0] + parts[1][1:]
		return Ident{Kind: "sscc", SSCC: body + checkDigit(body)}
	case strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://"):
		return parseDigitalLink(s)
	}
	return Ident{}
}

// parseDigitalLink reads the primary key and key qualifiers of a GS1 Digital
// Link URI's path: /01/{gtin}[/22/{cpv}][/10/{lot}][/21/{serial}] or
// /00/{sscc}, after any path prefix.
func parseDigitalLink(s string) Ident {
	u, err := url.Parse(s)
	if err != nil {
		return Ident{}
	}
	segs := strings.Split(strings.Trim(u.EscapedPath(), "/"), "/")
	for i := 0; i+1 < len(segs); i++ {
		switch segs[i] {
		case "01", "gtin":
			gtin := segs[i+1]
			if !digits(gtin) || len(gtin) < 8 || len(gtin) > 14 {
				return Ident{}
			}
			gtin = strings.Repeat("0", 14-len(gtin)) + gtin
			id := Ident{Kind: "lot", GTIN: gtin}
			for j := i + 2; j+1 < len(segs); j += 2 {
				v, err := url.PathUnescape(segs[j+1])
				if err != nil {
					return Ident{}
				}
				switch segs[j] {
				case "10", "lot":
					id.Lot = v
				case "21", "ser":
					id.Serial = v
				}
			}
			if id.Serial != "" {
				id.Kind = "instance"
			} else if id.Lot == "" {
				return Ident{} // a class without a lot: nothing to trace
			}
			return id
		case "00", "sscc":
			sscc := segs[i+1]
			if !digits(sscc) || len(sscc) != 18 {
				return Ident{}
			}
			return Ident{Kind: "sscc", SSCC: sscc}
		}
	}
	return Ident{}
}

// gtinOf builds the GTIN-14 of a GS1 company prefix and an item reference
// whose first digit is the indicator digit (EPC Tag Data Standard §6.3.1).
func gtinOf(prefix, itemRef string) string {
	if !digits(prefix) || !digits(itemRef) || itemRef == "" || len(prefix)+len(itemRef) != 13 {
		return ""
	}
	body := itemRef[:1] + prefix + itemRef[1:]
	return body + checkDigit(body)
}

// checkDigit is the GS1 mod-10 check digit of the digits before it.
func checkDigit(body string) string {
	sum := 0
	for i := len(body) - 1; i >= 0; i-- {
		d := int(body[i] - '0')
		if (len(body)-1-i)%2 == 0 {
			d *= 3
		}
		sum += d
	}
	return string(rune('0' + (10-sum%10)%10))
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// unescapeURN undoes the %-escaping of an EPC URN's serial or lot.
func unescapeURN(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	if v, err := url.PathUnescape(s); err == nil {
		return v
	}
	return s
}

// Location reads a location identifier: an SGLN URN
// (urn:epc:id:sgln:{company prefix}.{location reference}.{extension}) or a
// GS1 Digital Link /414/{GLN}[/254/{extension}]. It returns the GLN-13 and
// the extension ("" for none: the URN's "0" is none), ok false for
// anything else.
func Location(s string) (gln, ext string, ok bool) {
	if rest, found := strings.CutPrefix(s, "urn:epc:id:sgln:"); found {
		parts := strings.SplitN(rest, ".", 3)
		if len(parts) != 3 || !digits(parts[0]) || !digits(parts[1]) || len(parts[0])+len(parts[1]) != 12 {
			return "", "", false
		}
		body := parts[0] + parts[1]
		ext = unescapeURN(parts[2])
		if ext == "0" {
			ext = ""
		}
		return body + checkDigit(body), ext, true
	}
	if !strings.HasPrefix(s, "https://") && !strings.HasPrefix(s, "http://") {
		return "", "", false
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", "", false
	}
	segs := strings.Split(strings.Trim(u.EscapedPath(), "/"), "/")
	for i := 0; i+1 < len(segs); i++ {
		if segs[i] != "414" {
			continue
		}
		gln = segs[i+1]
		if !digits(gln) || len(gln) != 13 {
			return "", "", false
		}
		if i+3 < len(segs) && segs[i+2] == "254" {
			if ext, err = url.PathUnescape(segs[i+3]); err != nil {
				return "", "", false
			}
		}
		return gln, ext, true
	}
	return "", "", false
}
