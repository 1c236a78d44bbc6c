package mapping

import (
	"fmt"
	"strings"

	"github.com/lothub/lothub/core"
)

// Pos is a position in a mapping or test file. Line and Col count from 1;
// Col counts characters, not bytes.
type Pos struct {
	File      string
	Line, Col int
}

// String returns "file:line:col".
func (p Pos) String() string { return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col) }

// Error is a problem in a mapping (or mapping test) file at a position.
// Msg says what is wrong and, in parentheses, what to do about it.
type Error struct {
	Pos Pos
	Msg string
}

// Error returns "file:line:col: what (what to do)".
func (e *Error) Error() string { return e.Pos.String() + ": " + e.Msg }

// Unwrap makes core.ErrorCode report core.EINVALID for a mapping error.
func (e *Error) Unwrap() error { return &core.Error{Code: core.EINVALID, Message: e.Error()} }

// ErrorList is every problem Compile, Load or LoadTests found, in file
// order. core.ErrorCode reports core.EINVALID for it: its Unwrap returns
// the *Error items, each of which unwraps to an EINVALID *core.Error.
type ErrorList []*Error

// Error joins the problems, one a line.
func (l ErrorList) Error() string {
	msgs := make([]string, len(l))
	for i, e := range l {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

// Unwrap returns the items, so errors.As finds an *Error (and through it
// an EINVALID *core.Error) in an ErrorList.
func (l ErrorList) Unwrap() []error {
	errs := make([]error, len(l))
	for i, e := range l {
		errs[i] = e
	}
	return errs
}

// err returns the list as an error, or nil when it is empty (a nil
// ErrorList in an error interface would not be nil).
func (l ErrorList) err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}

// RecordError is a source record a mapping could not turn into valid
// events: no rule matched it, an expression failed on it, or an event it
// produced is invalid. Pos is the rule, template or expression responsible.
// The hub quarantines the record with Error() as the reason.
// core.ErrorCode reports core.EINVALID for it.
type RecordError struct {
	Pos      Pos
	Kind     string
	RecordID string
	Reason   string
}

// Error returns "record <ID> (kind <Kind>): <file:line:col>: <reason>".
func (e *RecordError) Error() string {
	return fmt.Sprintf("record %s (kind %s): %s: %s", e.RecordID, e.Kind, e.Pos, e.Reason)
}

// Unwrap makes core.ErrorCode report core.EINVALID for a record error.
func (e *RecordError) Unwrap() error { return &core.Error{Code: core.EINVALID, Message: e.Error()} }

// didYouMean returns ` (did you mean "x"?)`-style advice for a misspelt
// name among candidates, or "" when nothing is close.
func didYouMean(name string, candidates []string) string {
	if a, ok := aliases[strings.ToLower(name)]; ok && contains(candidates, a) {
		return a
	}
	best, bestD := "", 1<<30
	for _, c := range candidates {
		if strings.EqualFold(c, name) {
			return c
		}
		d := editDistance(strings.ToLower(name), strings.ToLower(c))
		if d < bestD {
			best, bestD = c, d
		}
	}
	limit := 2
	if n := len([]rune(name)); n <= 3 {
		limit = 1
	} else if n >= 10 {
		limit = 3
	}
	if bestD <= limit {
		return best
	}
	return ""
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// aliases are the names ERP and spreadsheet people reach for first, and
// the canonical names they mean.
var aliases = map[string]string{
	"quantity": "qty", "amount": "qty", "menge": "qty",
	"unit": "uom", "units": "uom", "unit_of_measure": "uom",
	"date": "time", "timestamp": "time", "datetime": "time", "posting_date": "time",
	"batch": "lot", "lot_number": "lot", "charge": "lot",
	"material": "item", "product": "item", "sku": "item", "part": "item",
	"vendor": "supplier", "vendor_lot": "supplier_lot", "supplier_batch": "supplier_lot",
	"purchase_order": "po", "work_order": "order", "production_order": "order",
	"plant": "site", "storage_location": "location", "warehouse": "location",
	"client": "customer", "so": "sales_order", "sales_order_number": "sales_order",
	"reverse": "reverses", "cancels": "reverses",
	"foreach": "for_each", "each": "for_each", "loop": "for_each",
	"if": "when", "condition": "when", "match": "when",
	"ignore": "skip", "events": "emit", "event": "emit",
	"tz": "timezone", "time_zone": "timezone", "variables": "vars", "lookups": "tables",
	"name": "mapping", "kind": "kinds",
}
