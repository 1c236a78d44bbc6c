package epcis

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/lothub/lothub/internal/jsonobject"
)

// HashID computes the event hash ID of an EPCIS event that has no eventID
// (CBV 2.0 §8.9, "ni:///sha-256;…?ver=CBV2.0"): a SHA-256 of the event's
// pre-hash string, its fields in the order the standard fixes, identifiers
// normalised to canonical GS1 Digital Link URIs, CBV values to Web URIs,
// times to UTC milliseconds; eventID, recordTime and errorDeclaration left
// out (so an error declaration has the identity of the event it declares).
//
// It follows the reference implementation
// (github.com/RalphTro/epcis-event-hash-generator) and reproduces all 43 of
// its published example hashes (hash_test.go): the standard fields of the
// five event types; bizTransactionList, sourceList and destinationList as
// one entry each, their elements sorted; extensions inside readPoint and
// bizLocation kept with them; sensor data; CURIE values (cbv:Comp-…,
// gs1:Angle) expanded through the document's @context; the GS1 keys' URNs
// and class patterns (SGTIN, SSCC, SGLN, PGLN, LGTIN, GIAI, GRAI, GDTI,
// GSRN, GSRNP, GSIN, GINC, SGCN, ITIP, UPUI, CPI) and Digital Link URIs on
// any domain as canonical id.gs1.org URIs; and the fields a document names
// in its ignoreFields (ignore) left out. Not covered by the published
// examples: ilmd ordering and other EPC classes; for such events the ID is
// still stable (the same event always gets the same ID) but may differ
// from the one another system computes.
//
// prefixes maps the namespace prefixes of the document's @context to their
// IRIs (ContextPrefixes), for user extensions; nil reads the event's own.
// ignore names top-level fields (prefixed or {IRI}local) the document says
// are not part of the event's identity (IgnoreFields).
func HashID(event json.RawMessage, prefixes map[string]string, ignore ...string) (string, error) {
	var scratch [1024]byte
	pre, err := appendPreHash(scratch[:0], event, prefixes, ignore)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(pre)
	const head, tail = "ni:///sha-256;", "?ver=CBV2.0"
	var id [len(head) + 2*sha256.Size + len(tail)]byte
	copy(id[:], head)
	hex.Encode(id[len(head):], sum[:])
	copy(id[len(head)+2*sha256.Size:], tail)
	return string(id[:]), nil
}

// PreHash returns the pre-hash string of an event; prefixes maps the
// namespace prefixes of the document's @context to their IRIs, ignore
// names top-level fields left out.
func PreHash(event json.RawMessage, prefixes map[string]string, ignore ...string) (string, error) {
	pre, err := appendPreHash(nil, event, prefixes, ignore)
	return string(pre), err
}

// standardField says whether a top-level member is one the pre-hash
// writes in the standard's order (or leaves out), not among "the rest";
// v is its value (persistentDisposition and sensorElementList are
// standard only in their usual shapes).
func standardField(k string, v any) bool {
	switch k {
	case "type", "eventID", "recordTime", "errorDeclaration", "@context", "comment", "rdfs:comment",
		"eventTime", "eventTimeZoneOffset", "certificationInfo", "parentID",
		"epcList", "inputEPCList", "childEPCs", "outputEPCList",
		"quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList",
		"action", "transformationID", "bizStep", "disposition", "readPoint", "bizLocation",
		"bizTransactionList", "sourceList", "destinationList":
		return true
	case "persistentDisposition":
		_, ok := v.(map[string]any)
		return ok
	case "sensorElementList":
		_, ok := v.([]any)
		return ok
	}
	return false
}

// appendPreHash appends the pre-hash string of an event to b: written in
// place, the standard fields' values sorted without building an entry
// string for each (TestEpcisPreHashSameAsReference keeps it the same as
// the first, simpler construction).
func appendPreHash(b []byte, event json.RawMessage, prefixes map[string]string, ignore []string) ([]byte, error) {
	// jsonobject decodes an object exactly as the decoder below, faster;
	// what it does not decode exactly (or at all) goes to the decoder.
	ev, ok := jsonobject.Decode(event, true)
	if !ok {
		dec := json.NewDecoder(bytes.NewReader(event))
		dec.UseNumber()
		if err := dec.Decode(&ev); err != nil {
			return nil, fmt.Errorf("event is not a JSON object: %v", err)
		}
	}
	if prefixes == nil {
		prefixes = ContextPrefixes(ev["@context"])
	}
	h := prehasher{prefixes: prefixes}
	typ, _ := ev["type"].(string)
	b = append(b, "eventType="...)
	b = append(b, typ...)
	var ignored map[string]bool
	if len(ignore) > 0 {
		skip := map[string]bool{}
		for _, f := range ignore {
			skip[expand(f, prefixes)] = true
		}
		for k := range ev {
			if skip[expand(k, prefixes)] {
				if ignored == nil {
					ignored = map[string]bool{}
				}
				ignored[k] = true
			}
		}
	}
	scalar := func(k string) {
		if v, ok := ev[k]; ok {
			if s := h.canon(k, v); s != "" {
				b = append(b, k...)
				b = append(b, '=')
				b = append(b, s...)
			}
		}
	}
	// list writes k, then elem=value for each value sorted: the entries
	// share their "elem=", so the values sort as the entries do.
	var vals []string
	list := func(k, elem string) {
		arr, _ := ev[k].([]any)
		vals = vals[:0]
		for _, v := range arr {
			if s := h.canon(elem, v); s != "" {
				vals = append(vals, s)
			}
		}
		if len(vals) > 0 {
			slices.Sort(vals)
			b = append(b, k...)
			for _, s := range vals {
				b = append(b, elem...)
				b = append(b, '=')
				b = append(b, s...)
			}
		}
	}
	var elems []string
	quantities := func(k string) {
		arr, _ := ev[k].([]any)
		elems = elems[:0]
		var e []byte
		for _, v := range arr {
			q, _ := v.(map[string]any)
			e = e[:0]
			for _, f := range [...]string{"epcClass", "quantity", "uom"} {
				if x, ok := q[f]; ok {
					if c := h.canon(f, x); c != "" {
						e = append(e, f...)
						e = append(e, '=')
						e = append(e, c...)
					}
				}
			}
			if len(e) > 0 {
				elems = append(elems, string(e))
			}
		}
		if len(elems) > 0 {
			// Every entry is "quantityElement" and its fields: sorted
			// by their fields.
			slices.Sort(elems)
			b = append(b, k...)
			for _, s := range elems {
				b = append(b, "quantityElement"...)
				b = append(b, s...)
			}
		}
	}
	// readPoint and bizLocation: the id, then any extension fields inside
	// them, sorted (the reference keeps an extension with the element that
	// encloses it).
	idOf := func(k string) {
		m, ok := ev[k].(map[string]any)
		if !ok {
			return
		}
		id := h.canon("id", m["id"])
		var ext []string
		n := len(id)
		for ck, cv := range m {
			if ck != "id" {
				ext = append(ext, h.generic(expand(ck, prefixes), cv)...)
			}
		}
		for _, s := range ext {
			n += len(s)
		}
		if n == 0 {
			return
		}
		slices.Sort(ext)
		b = append(b, k...)
		if id != "" {
			b = append(b, "id="...)
			b = append(b, id...)
		}
		for _, s := range ext {
			b = append(b, s...)
		}
	}
	scalar("eventTime")
	scalar("eventTimeZoneOffset")
	scalar("certificationInfo")
	scalar("parentID")
	list("epcList", "epc")
	list("inputEPCList", "epc")
	list("childEPCs", "epc")
	quantities("quantityList")
	quantities("childQuantityList")
	quantities("inputQuantityList")
	list("outputEPCList", "epc")
	quantities("outputQuantityList")
	scalar("action")
	scalar("transformationID")
	scalar("bizStep")
	scalar("disposition")
	if pd, ok := ev["persistentDisposition"].(map[string]any); ok {
		var vals []string
		for _, k := range []string{"set", "unset"} {
			arr, _ := pd[k].([]any)
			var kv []string
			for _, v := range arr {
				kv = append(kv, k+"="+h.canon("disposition", v))
			}
			sort.Strings(kv)
			vals = append(vals, strings.Join(kv, ""))
		}
		if s := strings.Join(vals, ""); s != "" {
			b = append(b, "persistentDisposition"...)
			b = append(b, s...)
		}
	}
	idOf("readPoint")
	idOf("bizLocation")

	// The rest, as the reference implementation writes it:
	// bizTransactionList, sourceList and destinationList each as one entry,
	// the list's name then its elements (type first) sorted; then
	// everything else; the entries sorted.
	var rest []string
	for _, k := range [...]string{"bizTransactionList", "sourceList", "destinationList"} {
		arr, _ := ev[k].([]any)
		if len(arr) == 0 {
			continue
		}
		val := "bizTransaction"
		switch k {
		case "sourceList":
			val = "source"
		case "destinationList":
			val = "destination"
		}
		elems = elems[:0]
		var e []byte
		for _, v := range arr {
			m, _ := v.(map[string]any)
			e = e[:0]
			if t, ok := m["type"]; ok {
				e = append(e, "type="...)
				e = append(e, h.canon(val+"Type", t)...)
			}
			if x, ok := m[val]; ok {
				e = append(e, val...)
				e = append(e, '=')
				e = append(e, h.canon(val, x)...)
			}
			if len(e) > 0 {
				elems = append(elems, string(e))
			}
		}
		if len(elems) > 0 {
			slices.Sort(elems)
			n := len(k)
			for _, s := range elems {
				n += len(s)
			}
			entry := make([]byte, 0, n)
			entry = append(entry, k...)
			for _, s := range elems {
				entry = append(entry, s...)
			}
			rest = append(rest, string(entry))
		}
	}
	if arr, ok := ev["sensorElementList"].([]any); ok {
		if s := h.sensorElements(arr); s != "" {
			rest = append(rest, "sensorElementList"+s)
		}
	}
	for k, v := range ev {
		if !standardField(k, v) && !ignored[k] {
			rest = append(rest, h.generic(expand(k, prefixes), v)...)
		}
	}
	slices.Sort(rest)
	for _, s := range rest {
		b = append(b, s...)
	}
	return b, nil
}

// prehasher holds what normalising an event's values needs besides the
// values: the namespace prefixes of its document.
type prehasher struct {
	prefixes map[string]string
}

// generic writes a field the standard's order does not name: key=value,
// or the key followed by its children sorted.
func (h prehasher) generic(k string, v any) []string {
	prefixes := h.prefixes
	switch x := v.(type) {
	case map[string]any:
		var kids []string
		for ck, cv := range x {
			if ck == "@context" {
				continue
			}
			kids = append(kids, h.generic(expand(ck, prefixes), cv)...)
		}
		sort.Strings(kids)
		return []string{k + strings.Join(kids, "")}
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, h.generic(k, e)...)
		}
		return out
	}
	s := h.canon(k, v)
	if s == "" {
		return []string{k}
	}
	return []string{k + "=" + s}
}

// expand turns a prefixed name (example:myField) into {IRI}myField.
func expand(k string, prefixes map[string]string) string {
	if p, local, ok := strings.Cut(k, ":"); ok {
		if iri, ok := prefixes[p]; ok {
			return "{" + iri + "}" + local
		}
	}
	return k
}

// IgnoreFields reads the fields a document says are not part of its
// events' identity: a member named ignoreFields in any namespace
// ("repository-x:ignoreFields": ["repository-x:hash", "example:captureID"]),
// at the document's top level or in an EPCISQueryDocument's queryResults,
// as the reference implementation reads it (a repository adds such fields
// to the events it returns; leaving them out keeps each event's hash the
// one it had when captured). doc is the document decoded without its
// events.
func IgnoreFields(doc any) []string {
	var out []string
	read := func(m map[string]any) {
		for k, v := range m {
			if k != "ignoreFields" && !strings.HasSuffix(k, ":ignoreFields") && !strings.HasSuffix(k, "}ignoreFields") {
				continue
			}
			arr, _ := v.([]any)
			for _, f := range arr {
				if s, ok := f.(string); ok && s != "" {
					out = append(out, s)
				}
			}
		}
	}
	top, _ := doc.(map[string]any)
	read(top)
	if body, ok := top["epcisBody"].(map[string]any); ok {
		if qr, ok := body["queryResults"].(map[string]any); ok {
			read(qr)
		}
	}
	sort.Strings(out)
	return out
}

// ContextPrefixes reads the namespace prefixes of a JSON-LD @context.
func ContextPrefixes(ctx any) map[string]string {
	out := map[string]string{}
	var walk func(any)
	walk = func(c any) {
		switch x := c.(type) {
		case []any:
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			for k, v := range x {
				if s, ok := v.(string); ok {
					out[k] = s
				}
			}
		}
	}
	walk(ctx)
	return out
}

// cbvPrefix is the Web URI stem of each CBV vocabulary, by the field that
// holds it.
var cbvPrefix = map[string]string{
	"bizStep": "https://ref.gs1.org/cbv/BizStep-", "disposition": "https://ref.gs1.org/cbv/Disp-",
	"bizTransactionType": "https://ref.gs1.org/cbv/BTT-", "sourceType": "https://ref.gs1.org/cbv/SDT-",
	"destinationType": "https://ref.gs1.org/cbv/SDT-",
}

var urnPrefix = strings.NewReplacer(
	"urn:epcglobal:cbv:bizstep:", "https://ref.gs1.org/cbv/BizStep-",
	"urn:epcglobal:cbv:disp:", "https://ref.gs1.org/cbv/Disp-",
	"urn:epcglobal:cbv:btt:", "https://ref.gs1.org/cbv/BTT-",
	"urn:epcglobal:cbv:sdt:", "https://ref.gs1.org/cbv/SDT-",
	"urn:epcglobal:cbv:er:", "https://ref.gs1.org/cbv/ER-",
)

// canon is the pre-hash form of the value v of the field k.
func (h prehasher) canon(k string, v any) string {
	var s string
	switch x := v.(type) {
	case string:
		s = strings.TrimSpace(x)
	case json.Number:
		s = x.String()
	case bool:
		s = strconv.FormatBool(x)
	case nil:
		return ""
	default:
		return ""
	}
	if s == "" {
		return ""
	}
	// A CURIE value (cbv:Comp-latitude, gs1:Angle) whose prefix the
	// document's @context declares is its full IRI.
	if p, local, ok := strings.Cut(s, ":"); ok {
		if iri, ok := h.prefixes[p]; ok && !strings.HasPrefix(local, "//") {
			s = iri + local
		}
	}
	if timeField(k) {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return t.UTC().Round(time.Millisecond).Format("2006-01-02T15:04:05.000Z")
		}
		return s
	}
	if p, ok := cbvPrefix[k]; ok && !strings.Contains(s, ":") {
		return p + s
	}
	if strings.Contains(s, "urn:epcglobal:cbv:") { // in every pattern of urnPrefix
		s = urnPrefix.Replace(s)
	}
	// A number ParseFloat reads without x, X, n or N (hexadecimal,
	// infinities, NaN) begins with a sign, a digit or a point.
	if c := s[0]; (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.' {
		if f, err := strconv.ParseFloat(s, 64); err == nil && !strings.ContainsAny(s, "xXnN") {
			if f == float64(int64(f)) {
				s = strconv.FormatInt(int64(f), 10)
			} else {
				s = strconv.FormatFloat(f, 'f', -1, 64)
			}
		}
	}
	if dl := digitalLink(s); dl != "" {
		return dl
	}
	return s
}

// timeField says whether the field k holds a time: its name has "time"
// and not "offset" in it, in any case (as strings.ToLower lowers them).
func timeField(k string) bool {
	for i := 0; i < len(k); i++ {
		if k[i] >= utf8.RuneSelf {
			lk := strings.ToLower(k)
			return strings.Contains(lk, "time") && !strings.Contains(lk, "offset")
		}
	}
	return containsFold(k, "time") && !containsFold(k, "offset")
}

// containsFold says whether the ASCII text s holds the lower-case ASCII
// word sub in any case.
func containsFold(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		j := 0
		for ; j < len(sub); j++ {
			c := s[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != sub[j] {
				break
			}
		}
		if j == len(sub) {
			return true
		}
	}
	return false
}

// dlEscape percent-escapes the characters a Digital Link path segment
// escapes (built once: a Replacer is costly to build).
var dlEscape = strings.NewReplacer("!", "%21", "(", "%28", ")", "%29", "*", "%2A", "+", "%2B", ",", "%2C", ":", "%3A")

// digitalLink is the canonical GS1 Digital Link URI of an identifier, ""
// when it has none here.
func digitalLink(s string) string {
	if !strings.HasPrefix(s, "urn:epc:") && !strings.HasPrefix(s, "http") {
		return ""
	}
	pct := dlEscape
	switch {
	case strings.HasPrefix(s, "urn:epc:id:sgtin:"):
		parts := strings.SplitN(strings.TrimPrefix(s, "urn:epc:id:sgtin:"), ".", 3)
		if len(parts) == 3 {
			if g := gtinOf(parts[0], parts[1]); g != "" {
				return "https://id.gs1.org/01/" + g + "/21/" + pct.Replace(parts[2])
			}
		}
	case strings.HasPrefix(s, "urn:epc:class:lgtin:"):
		parts := strings.SplitN(strings.TrimPrefix(s, "urn:epc:class:lgtin:"), ".", 3)
		if len(parts) == 3 {
			if g := gtinOf(parts[0], parts[1]); g != "" {
				return "https://id.gs1.org/01/" + g + "/10/" + pct.Replace(parts[2])
			}
		}
	case strings.HasPrefix(s, "urn:epc:idpat:"):
		return classPattern(s, pct)
	case strings.HasPrefix(s, "urn:epc:id:sgcn:"):
		// SGCN (255): company prefix and coupon reference, 12 digits,
		// their check digit, then the serial component.
		parts := strings.SplitN(strings.TrimPrefix(s, "urn:epc:id:sgcn:"), ".", 3)
		if len(parts) == 3 && digits(parts[0]) && (parts[1] == "" || digits(parts[1])) && len(parts[0])+len(parts[1]) == 12 && digits(parts[2]) {
			body := parts[0] + parts[1]
			return "https://id.gs1.org/255/" + body + checkDigit(body) + parts[2]
		}
	case strings.HasPrefix(s, "urn:epc:id:sscc:"):
		if id := ParseID(s); id.Kind == "sscc" {
			return "https://id.gs1.org/00/" + id.SSCC
		}
	case strings.HasPrefix(s, "urn:epc:id:sgln:"):
		parts := strings.SplitN(strings.TrimPrefix(s, "urn:epc:id:sgln:"), ".", 3)
		if len(parts) == 3 && digits(parts[0]) && (parts[1] == "" || digits(parts[1])) && len(parts[0])+len(parts[1]) == 12 {
			gln := parts[0] + parts[1]
			gln += checkDigit(gln)
			if parts[2] == "0" {
				return "https://id.gs1.org/414/" + gln
			}
			return "https://id.gs1.org/414/" + gln + "/254/" + pct.Replace(parts[2])
		}
	case strings.HasPrefix(s, "urn:epc:id:pgln:"):
		parts := strings.SplitN(strings.TrimPrefix(s, "urn:epc:id:pgln:"), ".", 2)
		if len(parts) == 2 && digits(parts[0]) && (parts[1] == "" || digits(parts[1])) && len(parts[0])+len(parts[1]) == 12 {
			return "https://id.gs1.org/417/" + parts[0] + parts[1] + checkDigit(parts[0]+parts[1])
		}
	case strings.HasPrefix(s, "urn:epc:id:giai:"):
		// GIAI: company prefix and asset reference (TDS §6.3.6).
		if cp, ref, ok := strings.Cut(strings.TrimPrefix(s, "urn:epc:id:giai:"), "."); ok && digits(cp) {
			return "https://id.gs1.org/8004/" + cp + pct.Replace(ref)
		}
	case strings.HasPrefix(s, "urn:epc:id:grai:"), strings.HasPrefix(s, "urn:epc:id:gdti:"):
		// GRAI (8003: "0", 13 digits with check digit, serial) and GDTI
		// (253: 13 digits with check digit, serial).
		grai := strings.HasPrefix(s, "urn:epc:id:grai:")
		parts := strings.SplitN(s[len("urn:epc:id:grai:"):], ".", 3)
		if len(parts) == 3 && digits(parts[0]) && (parts[1] == "" || digits(parts[1])) && len(parts[0])+len(parts[1]) == 12 {
			body := parts[0] + parts[1]
			if grai {
				return "https://id.gs1.org/8003/0" + body + checkDigit(body) + pct.Replace(parts[2])
			}
			return "https://id.gs1.org/253/" + body + checkDigit(body) + pct.Replace(parts[2])
		}
	case strings.HasPrefix(s, "urn:epc:id:gsrn:"), strings.HasPrefix(s, "urn:epc:id:gsrnp:"), strings.HasPrefix(s, "urn:epc:id:gsin:"):
		// GSRN (8018), GSRNP (8017): 17 digits and check digit; GSIN
		// (402): 16 digits and check digit.
		key, rest := "8018", strings.TrimPrefix(s, "urn:epc:id:gsrn:")
		switch {
		case strings.HasPrefix(s, "urn:epc:id:gsrnp:"):
			key, rest = "8017", strings.TrimPrefix(s, "urn:epc:id:gsrnp:")
		case strings.HasPrefix(s, "urn:epc:id:gsin:"):
			key, rest = "402", strings.TrimPrefix(s, "urn:epc:id:gsin:")
		}
		if cp, ref, ok := strings.Cut(rest, "."); ok && digits(cp) && digits(ref) {
			body := cp + ref
			if (key == "402" && len(body) == 16) || (key != "402" && len(body) == 17) {
				return "https://id.gs1.org/" + key + "/" + body + checkDigit(body)
			}
		}
	case strings.HasPrefix(s, "urn:epc:id:ginc:"):
		if cp, ref, ok := strings.Cut(strings.TrimPrefix(s, "urn:epc:id:ginc:"), "."); ok && digits(cp) {
			return "https://id.gs1.org/401/" + cp + pct.Replace(ref)
		}
	case strings.HasPrefix(s, "urn:epc:id:itip:"):
		// ITIP (8006): GTIN, piece and total, then the serial (21).
		parts := strings.SplitN(strings.TrimPrefix(s, "urn:epc:id:itip:"), ".", 5)
		if len(parts) == 5 && digits(parts[2]) && digits(parts[3]) {
			if g := gtinOf(parts[0], parts[1]); g != "" {
				return "https://id.gs1.org/8006/" + g + parts[2] + parts[3] + "/21/" + pct.Replace(parts[4])
			}
		}
	case strings.HasPrefix(s, "urn:epc:id:upui:"):
		// UPUI: GTIN (01) and third-party controlled serial (235).
		parts := strings.SplitN(strings.TrimPrefix(s, "urn:epc:id:upui:"), ".", 3)
		if len(parts) == 3 {
			if g := gtinOf(parts[0], parts[1]); g != "" {
				return "https://id.gs1.org/01/" + g + "/235/" + pct.Replace(parts[2])
			}
		}
	case strings.HasPrefix(s, "urn:epc:id:cpi:"):
		// CPI (8010) and its serial (8011).
		parts := strings.SplitN(strings.TrimPrefix(s, "urn:epc:id:cpi:"), ".", 3)
		if len(parts) == 3 && digits(parts[0]) {
			return "https://id.gs1.org/8010/" + parts[0] + parts[1] + "/8011/" + parts[2]
		}
	case strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://"):
		// The short name /gtin/ of a GTIN alone (no lot, no serial).
		if i := strings.Index(s, "/gtin/"); i >= 0 && digits(s[i+6:]) && len(s[i+6:]) == 14 {
			return "https://id.gs1.org/01/" + s[i+6:]
		}
		// Other primary keys on any domain: the same path on id.gs1.org,
		// without the query.
		for _, key := range []string{"/414/", "/417/", "/253/", "/255/", "/401/", "/402/", "/8003/", "/8004/", "/8006/", "/8010/", "/8017/", "/8018/"} {
			if i := strings.Index(s, key); i >= 0 && i+len(key) < len(s) && !strings.HasPrefix(s, "https://id.gs1.org/") {
				rest := s[i:]
				if j := strings.IndexAny(rest, "?#"); j >= 0 {
					rest = rest[:j]
				}
				return "https://id.gs1.org" + rest
			}
		}
		switch id := parseDigitalLink(s); id.Kind {
		case "instance":
			return "https://id.gs1.org/01/" + id.GTIN + "/21/" + pct.Replace(id.Serial)
		case "lot":
			return "https://id.gs1.org/01/" + id.GTIN + "/10/" + pct.Replace(id.Lot)
		case "sscc":
			return "https://id.gs1.org/00/" + id.SSCC
		}
	}
	return ""
}

// classPattern is the Digital Link URI of an EPC pattern that names a class
// of objects (every serial of it, TDS §8: urn:epc:idpat:KIND:….*): the
// primary key without its serial.
func classPattern(s string, pct *strings.Replacer) string {
	kind, rest, ok := strings.Cut(strings.TrimPrefix(s, "urn:epc:idpat:"), ":")
	if !ok || !strings.HasSuffix(rest, ".*") {
		return ""
	}
	parts := strings.Split(strings.TrimSuffix(rest, ".*"), ".")
	// body12 is a company prefix and a reference of 12 digits together.
	body12 := func() (string, bool) {
		if len(parts) != 2 || !digits(parts[0]) || !digits(parts[1]) || len(parts[0])+len(parts[1]) != 12 {
			return "", false
		}
		return parts[0] + parts[1], true
	}
	switch kind {
	case "sgtin":
		if len(parts) == 2 {
			if g := gtinOf(parts[0], parts[1]); g != "" {
				return "https://id.gs1.org/01/" + g
			}
		}
	case "grai":
		if b, ok := body12(); ok {
			return "https://id.gs1.org/8003/0" + b + checkDigit(b)
		}
	case "gdti":
		if b, ok := body12(); ok {
			return "https://id.gs1.org/253/" + b + checkDigit(b)
		}
	case "sgcn":
		if b, ok := body12(); ok {
			return "https://id.gs1.org/255/" + b + checkDigit(b)
		}
	case "cpi":
		if len(parts) == 2 && digits(parts[0]) {
			return "https://id.gs1.org/8010/" + parts[0] + pct.Replace(parts[1])
		}
	case "itip":
		if len(parts) == 4 && digits(parts[2]) && digits(parts[3]) {
			if g := gtinOf(parts[0], parts[1]); g != "" {
				return "https://id.gs1.org/8006/" + g + parts[2] + parts[3]
			}
		}
	}
	return ""
}

// The fields of sensor metadata and of a sensor report in the order of the
// standard (EPCIS 2.0 §7.3.7), which the pre-hash keeps.
var (
	sensorMetadataOrder = []string{"time", "startTime", "endTime", "deviceID", "deviceMetadata", "rawData", "dataProcessingMethod", "bizRules"}
	sensorReportOrder   = []string{"type", "exception", "deviceID", "deviceMetadata", "rawData", "dataProcessingMethod", "time",
		"microorganism", "chemicalSubstance", "value", "component", "stringValue", "booleanValue", "hexBinaryValue", "uriValue",
		"minValue", "maxValue", "meanValue", "sDev", "percRank", "percValue", "uom", "coordinateReferenceSystem"}
)

// sensorElements is the pre-hash of a sensorElementList: each element as
// "sensorElement", its metadata's fields in the standard's order, then its
// reports, each with its fields in the standard's order; reports and
// elements sorted. Measurement types and alert types that are bare words
// are GS1 Web vocabulary (https://gs1.org/voc/…).
func (h prehasher) sensorElements(arr []any) string {
	prefixes := h.prefixes
	fields := func(m map[string]any, order []string) string {
		var b strings.Builder
		seen := map[string]bool{}
		for _, k := range order {
			seen[k] = true
			v, ok := m[k]
			if !ok {
				continue
			}
			c := h.canon(k, v)
			if (k == "type" || k == "exception") && c != "" && !strings.Contains(c, ":") {
				c = "https://gs1.org/voc/" + c
			}
			if c != "" {
				b.WriteString(k + "=" + c)
			}
		}
		var ext []string
		for k, v := range m {
			if !seen[k] {
				ext = append(ext, h.generic(expand(k, prefixes), v)...)
			}
		}
		sort.Strings(ext)
		return b.String() + strings.Join(ext, "")
	}
	var elems []string
	for _, e := range arr {
		m, _ := e.(map[string]any)
		if m == nil {
			continue
		}
		s := "sensorElement"
		if md, ok := m["sensorMetadata"].(map[string]any); ok {
			s += "sensorMetadata" + fields(md, sensorMetadataOrder)
		}
		var reps []string
		if rs, ok := m["sensorReport"].([]any); ok {
			for _, r := range rs {
				if rm, ok := r.(map[string]any); ok {
					reps = append(reps, "sensorReport"+fields(rm, sensorReportOrder))
				}
			}
		}
		sort.Strings(reps)
		s += strings.Join(reps, "")
		var ext []string
		for k, v := range m {
			if k != "sensorMetadata" && k != "sensorReport" {
				ext = append(ext, h.generic(expand(k, prefixes), v)...)
			}
		}
		sort.Strings(ext)
		elems = append(elems, s+strings.Join(ext, ""))
	}
	sort.Strings(elems)
	return strings.Join(elems, "")
}
