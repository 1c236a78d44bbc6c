package web

import (
	"encoding/json"
	"fmt"
	"html/template"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/lothub/lothub/core"
)

// funcs are the templates' helpers. "when" is replaced per request by
// one in the user's time zone.
var funcs = template.FuncMap{
	"when":   func(v any) string { return when(v, time.UTC) },
	"lotURL": lotURL,
	"qty":    qty,
	"qtys":   qtys,
	"params": params,
	"add":    func(a, b int) int { return a + b },
	"trunc":  truncate,
	"gapURL": func(id string) string { return "/exceptions/" + id },
	"list":   func(s ...string) []string { return s },
}

// when shows a time (a time.Time or an RFC 3339 string) in loc, with the
// zone's abbreviation; "—" for none.
func when(v any, loc *time.Location) string {
	var t time.Time
	switch x := v.(type) {
	case time.Time:
		t = x
	case string:
		if x == "" {
			return "—"
		}
		var err error
		if t, err = time.Parse(time.RFC3339Nano, x); err != nil {
			return x
		}
	default:
		return fmt.Sprint(v)
	}
	if t.IsZero() {
		return "—"
	}
	return t.In(loc).Format("2006-01-02 15:04 MST")
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func qty(q float64, uom string) string { return strings.TrimSpace(num(q) + " " + uom) }

// qtys shows quantities in several units: "40 KG, 3 EA"; "0" for none.
func qtys(qs []core.Qty) string {
	if len(qs) == 0 {
		return "0"
	}
	var parts []string
	for _, q := range qs {
		parts = append(parts, qty(q.Qty, q.UOM))
	}
	return strings.Join(parts, ", ")
}

// params shows a step's or a lot's parameters as "name: value" pairs,
// sorted by name.
func params(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		var v string
		switch x := m[k].(type) {
		case string:
			v = x
		case float64:
			v = num(x)
		default:
			b, _ := json.Marshal(x)
			v = string(b)
		}
		out = append(out, k+": "+v)
	}
	return out
}

// truncate cuts s to n runes, with an ellipsis.
func truncate(n int, s string) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
