package mapping

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/expr-lang/expr"
)

// library is the function library of one mapping: the functions close over
// its time zone, tables and unit factors. Every function is pure.
type library struct {
	loc    *time.Location
	tables map[string]map[string]any
	units  map[string]map[string]float64
}

// function is one function of the library: its implementation and the
// signatures the type checker holds calls to.
type function struct {
	name  string
	fn    func(args ...any) (any, error)
	types []any
}

// functions returns the library. Names are short and lower case; docs in
// docs/mapping.md describe each one with an example.
func (l *library) functions() []function {
	return []function{
		{"trim", l.trim, []any{new(func(any) string), new(func(any, string) string)}},
		{"upper", strFunc(strings.ToUpper), []any{new(func(any) string)}},
		{"lower", strFunc(strings.ToLower), []any{new(func(any) string)}},
		{"pad", l.pad, []any{new(func(any, int) string), new(func(any, int, string) string)}},
		{"unpad", l.unpad, []any{new(func(any) string)}},
		{"split", l.split, []any{new(func(any, string) []any)}},
		{"join", l.join, []any{new(func(any, string) string)}},
		{"replace", l.replace, []any{new(func(any, string, string) string)}},
		{"empty", l.empty, []any{new(func(any) bool)}},
		{"datetime", l.datetime, []any{new(func(any) string), new(func(any, string) string)}},
		{"at", l.at, []any{new(func(any, any) string)}},
		{"datefmt", l.datefmt, []any{new(func(any, string) string)}},
		{"number", l.number, []any{new(func(any) float64), new(func(any, string) float64)}},
		{"convert", l.convert, []any{new(func(any, any, any) float64)}},
		{"lookup", l.lookup, []any{new(func(string, any) any), new(func(string, any, any) any)}},
		{"lot_format", l.lotFormat, []any{new(func(string, map[string]any) string)}},
		{"id", l.id, []any{new(func(...any) string)}},
		{"coalesce", l.coalesce, []any{new(func(...any) any)}},
		{"default", l.defaultValue, []any{new(func(any, any) any)}},
		{"fail", l.fail, []any{new(func(any) any)}},
	}
}

// options returns the expr options that install the library.
func (l *library) options() []expr.Option {
	fs := l.functions()
	opts := make([]expr.Option, 0, len(fs))
	for _, f := range fs {
		opts = append(opts, expr.Function(f.name, f.fn, f.types...))
	}
	return opts
}

// functionNames lists the library's names, sorted.
func functionNames() []string {
	var names []string
	for _, f := range (&library{}).functions() {
		names = append(names, f.name)
	}
	sort.Strings(names)
	return names
}

func strFunc(f func(string) string) func(args ...any) (any, error) {
	return func(args ...any) (any, error) {
		s, err := textArg(args[0])
		if err != nil {
			return nil, err
		}
		return same(args[0], s, f(s)), nil
	}
}

// same returns the argument itself when a text function left its text
// unchanged, which spares boxing the result again.
func same(arg any, in, out string) any {
	if _, isText := arg.(string); isText && in == out {
		return arg
	}
	return out
}

// textArg turns a function's argument into text: nil is "", numbers are
// written in plain decimal ("12345", "12.5"), booleans as true/false.
func textArg(v any) (string, error) {
	s, ok := textOf(v)
	if !ok {
		return "", fmt.Errorf("want text, got %s", describeValue(v))
	}
	return s, nil
}

// textOf converts a scalar to text; ok is false for lists, objects and
// other non-scalar values.
func textOf(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", true
	case string:
		return x, true
	case float64:
		return formatNumber(x), true
	case int:
		return strconv.Itoa(x), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case float32:
		return formatNumber(float64(x)), true
	case json.Number:
		return x.String(), true
	case bool:
		return strconv.FormatBool(x), true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(rv.Int(), 10), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.FormatUint(rv.Uint(), 10), true
	case reflect.String:
		return rv.String(), true
	}
	return "", false
}

func formatNumber(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// numberOf converts a numeric value (not text) to float64.
func numberOf(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case float32:
		return float64(x), true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return float64(rv.Int()), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return float64(rv.Uint()), true
	case reflect.Float32, reflect.Float64:
		return rv.Float(), true
	}
	return 0, false
}

// describeValue names a value for messages: `the text "12,5"`, `the number
// 12`, `a list`.
func describeValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "nothing (nil: the field is missing or empty)"
	case string:
		if len(x) > 60 {
			x = x[:57] + "..."
		}
		return fmt.Sprintf("the text %q", x)
	case bool:
		return fmt.Sprintf("the boolean %v", x)
	case time.Time:
		return "a time"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	if f, ok := numberOf(v); ok {
		return "the number " + formatNumber(f)
	}
	return fmt.Sprintf("a value of type %T", v)
}

// isEmpty is the emptiness of coalesce, default and empty: nil, text that
// is blank, an empty list or object.
func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return strings.TrimSpace(x) == ""
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}

func (l *library) trim(args ...any) (any, error) {
	s, err := textArg(args[0])
	if err != nil {
		return nil, err
	}
	if len(args) == 2 {
		cut, _ := args[1].(string)
		return same(args[0], s, strings.Trim(s, cut)), nil
	}
	return same(args[0], s, strings.TrimFunc(s, unicode.IsSpace)), nil
}

func (l *library) pad(args ...any) (any, error) {
	s, err := textArg(args[0])
	if err != nil {
		return nil, err
	}
	if s == "" {
		return "", nil
	}
	n, ok := numberOf(args[1])
	if !ok || n < 0 || n > 1000 || n != math.Trunc(n) {
		return nil, fmt.Errorf("pad: the width must be a whole number from 0 to 1000, got %s", describeValue(args[1]))
	}
	fill := "0"
	if len(args) == 3 {
		fill, _ = args[2].(string)
		if len([]rune(fill)) != 1 {
			return nil, fmt.Errorf("pad: the fill must be one character, got %q", fill)
		}
	}
	if k := int(n) - len([]rune(s)); k > 0 {
		return strings.Repeat(fill, k) + s, nil
	}
	return s, nil
}

// unpad strips the leading zeros SAP's ALPHA conversion adds to numeric
// material, batch and document numbers ("000000000000012345" -> "12345").
// Like ALPHA, it leaves values with any non-digit alone ("00A1" stays),
// and keeps one zero of an all-zero value.
func (l *library) unpad(args ...any) (any, error) {
	s, err := textArg(args[0])
	if err != nil {
		return nil, err
	}
	in := s
	s = strings.TrimSpace(s)
	if !allDigits(s) {
		return same(args[0], in, s), nil
	}
	t := strings.TrimLeft(s, "0")
	if t == "" {
		return "0", nil
	}
	return same(args[0], in, t), nil
}

func (l *library) split(args ...any) (any, error) {
	s, err := textArg(args[0])
	if err != nil {
		return nil, err
	}
	sep, _ := args[1].(string)
	if s == "" {
		return []any{}, nil
	}
	if sep == "" {
		return nil, fmt.Errorf("split: the separator is empty")
	}
	parts := strings.Split(s, sep)
	out := make([]any, len(parts))
	for i, p := range parts {
		out[i] = p
	}
	return out, nil
}

func (l *library) join(args ...any) (any, error) {
	sep, _ := args[1].(string)
	if args[0] == nil {
		return "", nil
	}
	rv := reflect.ValueOf(args[0])
	if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
		return nil, fmt.Errorf("join: want a list, got %s", describeValue(args[0]))
	}
	parts := make([]string, rv.Len())
	for i := range parts {
		s, ok := textOf(rv.Index(i).Interface())
		if !ok {
			return nil, fmt.Errorf("join: element %d is %s, not text", i, describeValue(rv.Index(i).Interface()))
		}
		parts[i] = s
	}
	return strings.Join(parts, sep), nil
}

func (l *library) replace(args ...any) (any, error) {
	s, err := textArg(args[0])
	if err != nil {
		return nil, err
	}
	old, _ := args[1].(string)
	repl, _ := args[2].(string)
	if old == "" {
		return s, nil
	}
	return strings.ReplaceAll(s, old, repl), nil
}

func (l *library) empty(args ...any) (any, error) { return isEmpty(args[0]), nil }

func (l *library) datetime(args ...any) (any, error) {
	layout := ""
	if len(args) == 2 {
		layout, _ = args[1].(string)
	}
	t, empty, err := l.parseTime(args[0], layout)
	if err != nil {
		return nil, fmt.Errorf("datetime: %w", err)
	}
	if empty {
		return "", nil
	}
	return l.formatTime(t), nil
}

// at combines a date and a time of day into one time, the way SAP keeps
// them in two fields (PostingDate /Date(...)/ and a time PT08H15M00S).
func (l *library) at(args ...any) (any, error) {
	d, emptyDate, err := l.parseTime(args[0], "")
	if err != nil {
		return nil, fmt.Errorf("at: date: %w", err)
	}
	clock, emptyClock, err := parseClock(args[1])
	if err != nil {
		return nil, fmt.Errorf("at: time: %w", err)
	}
	if emptyDate || emptyClock {
		return "", nil
	}
	// A wall clock, not a duration since midnight: 03:30 on the day
	// daylight saving time starts is 03:30.
	h, rest := clock/time.Hour, clock%time.Hour
	m, rest := rest/time.Minute, rest%time.Minute
	sec, ns := rest/time.Second, rest%time.Second
	t := time.Date(d.Year(), d.Month(), d.Day(), int(h), int(m), int(sec), int(ns), l.loc)
	return l.formatTime(t), nil
}

func (l *library) datefmt(args ...any) (any, error) {
	layout, _ := args[1].(string)
	t, empty, err := l.parseTime(args[0], "")
	if err != nil {
		return nil, fmt.Errorf("datefmt: %w", err)
	}
	if empty {
		return "", nil
	}
	gl, err := goLayout(layout, false)
	if err != nil {
		return nil, fmt.Errorf("datefmt: %w", err)
	}
	return t.In(l.loc).Format(gl), nil
}

// number reads a decimal number written as text. Accepted: an optional
// sign (leading, or trailing as SAP writes negatives: "12.5-"), digits, a
// decimal point (or the given decimal separator), thousands separators in
// proper groups of three (",", or "." with a decimal comma, a space, a
// non-breaking space or "'"), and an exponent. Numbers pass through; nil
// and blank text give nil, so an optional quantity is omitted.
func (l *library) number(args ...any) (any, error) {
	dec := "."
	if len(args) == 2 {
		dec, _ = args[1].(string)
		if dec != "." && dec != "," {
			return nil, fmt.Errorf("number: the decimal separator must be '.' or ',', got %q", dec)
		}
	}
	if f, ok := numberOf(args[0]); ok {
		return f, nil
	}
	s, ok := args[0].(string)
	if !ok {
		if args[0] == nil {
			return nil, nil
		}
		return nil, fmt.Errorf("number: want a number or text, got %s", describeValue(args[0]))
	}
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	f, err := parseDecimal(s, dec)
	if err != nil {
		return nil, fmt.Errorf("number: %w", err)
	}
	return f, nil
}

func parseDecimal(s, dec string) (float64, error) {
	if dec == "." && plainDecimal(s) {
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return f, nil
		}
	}
	orig := s
	s = strings.TrimFunc(s, unicode.IsSpace)
	neg := false
	if strings.HasSuffix(s, "-") { // SAP: "12.500-"
		neg, s = true, strings.TrimSpace(strings.TrimSuffix(s, "-"))
	}
	if strings.HasPrefix(s, "-") || strings.HasPrefix(s, "+") {
		if neg {
			return 0, fmt.Errorf("%q has two signs", orig)
		}
		neg, s = s[0] == '-', s[1:]
	}
	group := ","
	if dec == "," {
		group = "."
	}
	intPart, frac, hasFrac := strings.Cut(s, dec)
	exp := ""
	if i := strings.IndexAny(frac, "eE"); hasFrac && i >= 0 {
		frac, exp = frac[:i], frac[i:]
	} else if i := strings.IndexAny(intPart, "eE"); !hasFrac && i >= 0 {
		intPart, exp = intPart[:i], intPart[i:]
	}
	for _, sep := range []string{group, " ", "\u00a0", "\u202f", "'"} {
		if !strings.Contains(intPart, sep) {
			continue
		}
		groups := strings.Split(intPart, sep)
		ok := len(groups[0]) >= 1 && len(groups[0]) <= 3 && allDigits(groups[0])
		for _, g := range groups[1:] {
			ok = ok && len(g) == 3 && allDigits(g)
		}
		if !ok {
			if sep == "," {
				return 0, fmt.Errorf("%q: the comma is not a thousands separator (for a decimal comma write number(x, ','))", orig)
			}
			return 0, fmt.Errorf("%q is not a number (thousands separators must split the digits in groups of three)", orig)
		}
		intPart = strings.Join(groups, "")
	}
	if (intPart != "" && !allDigits(intPart)) || (hasFrac && !allDigits(frac)) || (intPart == "" && frac == "") {
		if dec == "." && strings.Contains(frac, ",") {
			return 0, fmt.Errorf("%q is not a number (for a decimal comma write number(x, ','))", orig)
		}
		return 0, fmt.Errorf("%q is not a number", orig)
	}
	text := intPart
	if text == "" {
		text = "0"
	}
	if hasFrac {
		text += "." + frac
	}
	f, err := strconv.ParseFloat(text+exp, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, fmt.Errorf("%q is not a number", orig)
	}
	if neg {
		f = -f
	}
	return f, nil
}

// convert converts a quantity between units through the mapping's units
// factors; a factor also converts the other way (1/factor).
func (l *library) convert(args ...any) (any, error) {
	if args[0] == nil {
		return nil, nil
	}
	q, ok := numberOf(args[0])
	if !ok {
		s, isText := args[0].(string)
		if !isText {
			return nil, fmt.Errorf("convert: want a quantity, got %s", describeValue(args[0]))
		}
		if strings.TrimSpace(s) == "" {
			return nil, nil
		}
		var err error
		if q, err = parseDecimal(s, "."); err != nil {
			return nil, fmt.Errorf("convert: %w", err)
		}
	}
	from, err1 := textArg(args[1])
	to, err2 := textArg(args[2])
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("convert: units must be text, got %s and %s", describeValue(args[1]), describeValue(args[2]))
	}
	from, to = strings.TrimSpace(from), strings.TrimSpace(to)
	if from == "" || to == "" {
		return nil, fmt.Errorf("convert: a unit is empty (from %q to %q)", from, to)
	}
	if from == to {
		return q, nil
	}
	if f, ok := l.units[from][to]; ok {
		return round12(q * f), nil
	}
	if f, ok := l.units[to][from]; ok && f != 0 {
		return round12(q / f), nil
	}
	return nil, fmt.Errorf("convert: no factor from %q to %q (add one under units: %s: {%s: <factor>})", from, to, from, to)
}

// round12 rounds to 12 significant digits, so 1500 G * 0.001 is 1.5 KG and
// not 1.5000000000000002.
func round12(f float64) float64 {
	r, err := strconv.ParseFloat(strconv.FormatFloat(f, 'g', 12, 64), 64)
	if err != nil {
		return f
	}
	return r
}

func (l *library) lookup(args ...any) (any, error) {
	name, _ := args[0].(string)
	table, ok := l.tables[name]
	if !ok {
		return nil, fmt.Errorf("lookup: no table %q (define it under tables)", name)
	}
	key, ok := textOf(args[1])
	if !ok {
		return nil, fmt.Errorf("lookup: the key must be text, got %s", describeValue(args[1]))
	}
	if v, found := table[key]; found {
		return v, nil
	}
	if len(args) == 3 {
		return args[2], nil
	}
	if args[1] == nil {
		return nil, fmt.Errorf("lookup: the key for table %q is missing (the field is empty; give a default: lookup('%s', key, default))", name, name)
	}
	return nil, fmt.Errorf("lookup: no entry %q in table %q (add it under tables: %s:, or give a default: lookup('%s', key, default))", key, name, name, name)
}

// lotFormat builds a standardised lot number from a pattern such as
// "{date:YYYYMMDD}-{product}-{seq:3}": {name} is the value as text,
// {name:N} the value zero-padded to N digits, {name:LAYOUT} a date in the
// layout. {{ and }} are literal braces.
func (l *library) lotFormat(args ...any) (any, error) {
	pattern, _ := args[0].(string)
	values, ok := args[1].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("lot_format: want an object of values, e.g. {date: PostingDate, product: Material, seq: 1}, got %s", describeValue(args[1]))
	}
	var b strings.Builder
	err := walkPattern(pattern, func(lit string) { b.WriteString(lit) }, func(name, spec string) error {
		v, ok := values[name]
		if !ok {
			return fmt.Errorf("lot_format: the pattern uses {%s} but the values have no %q", name, name)
		}
		if isEmpty(v) {
			return fmt.Errorf("lot_format: the value %q is empty", name)
		}
		switch {
		case spec == "":
			s, ok := textOf(v)
			if !ok {
				if t, isTime := v.(time.Time); isTime {
					s = l.formatTime(t)
				} else {
					return fmt.Errorf("lot_format: the value %q is %s, not text", name, describeValue(v))
				}
			}
			b.WriteString(s)
		case allDigits(spec):
			width, _ := strconv.Atoi(spec)
			s, ok := textOf(v)
			if !ok {
				return fmt.Errorf("lot_format: the value %q is %s, not a number", name, describeValue(v))
			}
			if f, isNum := numberOf(v); isNum && f == math.Trunc(f) {
				s = strconv.FormatInt(int64(f), 10)
			}
			if k := width - len([]rune(s)); k > 0 {
				s = strings.Repeat("0", k) + s
			}
			b.WriteString(s)
		default:
			t, empty, err := l.parseTime(v, "")
			if err != nil || empty {
				return fmt.Errorf("lot_format: {%s:%s}: %v", name, spec, err)
			}
			gl, err := goLayout(spec, false)
			if err != nil {
				return fmt.Errorf("lot_format: %w", err)
			}
			b.WriteString(t.In(l.loc).Format(gl))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return b.String(), nil
}

// walkPattern splits a lot_format pattern into literal text and
// {name[:spec]} placeholders.
func walkPattern(pattern string, lit func(string), field func(name, spec string) error) error {
	for i := 0; i < len(pattern); {
		c := pattern[i]
		switch {
		case c == '{' && strings.HasPrefix(pattern[i:], "{{"):
			lit("{")
			i += 2
		case c == '}' && strings.HasPrefix(pattern[i:], "}}"):
			lit("}")
			i += 2
		case c == '{':
			end := strings.IndexByte(pattern[i:], '}')
			if end < 0 {
				return fmt.Errorf("lot_format: %q has an unclosed { (write {{ for a literal brace)", pattern)
			}
			name, spec, _ := strings.Cut(pattern[i+1:i+end], ":")
			name = strings.TrimSpace(name)
			if name == "" {
				return fmt.Errorf("lot_format: %q has an empty {} (write {name})", pattern)
			}
			if err := field(name, spec); err != nil {
				return err
			}
			i += end + 1
		case c == '}':
			return fmt.Errorf("lot_format: %q has a } without { (write }} for a literal brace)", pattern)
		default:
			j := strings.IndexAny(pattern[i:], "{}")
			if j < 0 {
				j = len(pattern) - i
			}
			lit(pattern[i : i+j])
			i += j
		}
	}
	return nil
}

// id joins document keys into a deterministic event id with ":". Every
// part must be present: an id with a missing key would collide with other
// documents' ids.
func (l *library) id(args ...any) (any, error) {
	if len(args) == 0 {
		return nil, fmt.Errorf("id: give the parts of the id, e.g. id('sap', MaterialDocumentYear, MaterialDocument, MaterialDocumentItem)")
	}
	var b strings.Builder
	for i, a := range args {
		s, ok := textOf(a)
		if !ok {
			return nil, fmt.Errorf("id: part %d is %s, not text", i+1, describeValue(a))
		}
		if strings.TrimSpace(s) == "" {
			return nil, fmt.Errorf("id: part %d is empty (a document key is missing from the record; every part of an id must be present)", i+1)
		}
		if i == 0 {
			b.Grow(len(args) * 12)
		} else {
			b.WriteByte(':')
		}
		b.WriteString(s)
	}
	return b.String(), nil
}

func (l *library) coalesce(args ...any) (any, error) {
	for _, a := range args {
		if !isEmpty(a) {
			return a, nil
		}
	}
	return nil, nil
}

// fail makes the record fail with the given text, so the hub quarantines
// it with that reason, in words the user can act on: for records a
// connector marks as unusable (a batch-managed line without its batches),
// and for a value a function would read wrongly rather than refuse (a
// decimal comma that number() takes for a thousands separator).
func (l *library) fail(args ...any) (any, error) {
	msg, err := textArg(args[0])
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(msg) == "" {
		msg = "the mapping refused this record (fail with no reason)"
	}
	return nil, errors.New(msg)
}

func (l *library) defaultValue(args ...any) (any, error) {
	if isEmpty(args[0]) {
		return args[1], nil
	}
	return args[0], nil
}

// plainDecimal reports whether s is digits with at most one '.', maybe
// after a '-': what ERP APIs send, and what strconv reads as is.
func plainDecimal(s string) bool {
	if s != "" && s[0] == '-' {
		s = s[1:]
	}
	if s == "" {
		return false
	}
	dot := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '.' && !dot:
			dot = true
		case c < '0' || c > '9':
			return false
		}
	}
	return s != "."
}
