package mapping

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"

	"github.com/lothub/lothub/core"
)

// Record is one source record as a connector or file reader delivers it.
type Record struct {
	Kind   string         // e.g. "A_MaterialDocumentItem", "receipt"
	ID     string         // stable record id, e.g. "receipts.csv:12" or "2026/4900001234/0001"
	Fields map[string]any // JSON object as encoding/json decodes it (float64 numbers), or a CSV row (all strings)
}

// state is what mapping one record needs besides the compiled mapping: an
// expression VM, the environment (record, vars, loop variables) and which
// vars are computed. States are pooled, so mapping a record allocates only
// the events it returns and what the expressions themselves allocate.
type state struct {
	m    *Mapping
	rec  Record
	vals []any  // values of the vars, by index
	done []bool // which vars are computed

	// Bound by a for_each: each and index (loop), outer (nested loop).
	each, outer    any
	index          int
	loop, hasOuter bool

	vm      vm.VM
	env     map[string]any // the VM's environment, filled when a program first runs
	envInit bool
	evs     []built
	args    []any // argument stack of lowered function calls
}

// built is an event and the template that made it, for error positions.
type built struct {
	ev  *core.Event
	t   *template
	blk *eventBlock
}

func (m *Mapping) newState() *state {
	return &state{m: m, env: make(map[string]any, 8+len(m.vars)), vals: make([]any, len(m.vars)), done: make([]bool, len(m.vars))}
}

// failure is a run-time problem at a position in the mapping file.
type failure struct {
	pos Pos
	msg string
}

func (f *failure) Error() string { return f.msg }

// Outcome is what a mapping made of one record: events, a declared skip,
// or an error that quarantines it. Exactly one of them is set, so every
// record is accounted for once.
type Outcome struct {
	Events []*core.Event
	// Rule names the rule that matched; "" when none did.
	Rule string
	// Skip is set when the record made no event on purpose: a rule
	// declared such records irrelevant (skip_when: with reason:), or the
	// record carries no lot number and made nothing.
	Skip *core.Skip
	// Err is a *RecordError: the hub quarantines the record.
	Err error
}

// Map turns one record into events. Every event is checked with
// (*core.Event).Validate. A record no rule matches, an expression failing
// on it, an invalid event, or a record that carries a lot number (see
// lot_fields:) and makes no event without a declared reason gives a
// *RecordError naming the rule, field or template responsible; a skip, or
// a for_each over an empty list of a record with no lot, gives (nil,
// nil). Use MapRecord to learn which rule skipped it and why. Event.Source
// is left nil: the hub sets it. Map never panics.
func (m *Mapping) Map(r Record) (events []*core.Event, err error) {
	o := m.MapRecord(r)
	return o.Events, o.Err
}

// MapRecord turns one record into its Outcome. It never panics.
func (m *Mapping) MapRecord(r Record) Outcome { return m.mapRecord(r, nil) }

// mapRecord is MapRecord; when trace is not nil, it appends to it each
// rule it tries and why it did or did not apply (Explain), in the same
// pass.
func (m *Mapping) mapRecord(r Record, trace *[]RuleTrial) (o Outcome) {
	if !m.kindSet[r.Kind] {
		o.Err = &RecordError{Pos: m.kindsPos, Kind: r.Kind, RecordID: r.ID,
			Reason: fmt.Sprintf("mapping %s does not map kind %q (it maps %s; use the mapping written for %q, or add the kind to kinds:)", m.name, r.Kind, strings.Join(m.kinds, ", "), r.Kind)}
		return o
	}
	st := m.pool.Get().(*state)
	st.begin(r)
	var current *rule
	defer func() {
		if p := recover(); p != nil {
			pos, name := m.rulesPos, ""
			if current != nil {
				pos, name = current.pos, fmt.Sprintf("rule %q: ", current.name)
			}
			o = Outcome{Err: &RecordError{Pos: pos, Kind: r.Kind, RecordID: r.ID,
				Reason: fmt.Sprintf("%sinternal error while mapping: %v (please report it with the record)", name, p)}}
			if trace != nil {
				*trace = append(*trace, RuleTrial{Result: fmt.Sprintf("internal error: %v", p)})
			}
		}
		st.end()
		m.pool.Put(st)
	}()
	for _, ru := range m.rules {
		if ru.kinds != nil && !ru.kinds[r.Kind] {
			if trace != nil {
				*trace = append(*trace, RuleTrial{Rule: ru.name, Pos: ru.pos, Where: ru.pos.String(), Result: fmt.Sprintf("not for kind %s", r.Kind)})
			}
			continue
		}
		current = ru
		ok, err := st.matches(ru)
		if trace != nil {
			*trace = append(*trace, trial(ru, ok, err, st))
		}
		if err != nil {
			return Outcome{Err: st.recordError(ru, err)}
		}
		if !ok {
			continue
		}
		o.Rule = ru.name
		if ru.skip {
			if ru.reason != "" {
				o.Skip = &core.Skip{Rule: ru.name, Reason: ru.reason}
				return o
			}
			// A legacy skip: true says nothing about why: it may not
			// swallow a record that carries a lot number.
			if field, lot := m.carriedLot(r); field != "" {
				o.Err = st.recordError(ru, &failure{ru.pos, fmt.Sprintf("the rule skips this record without a reason, but it carries lot number %s in field %s (if such records carry no genealogy, declare it: skip_when: with reason:; otherwise emit its events)", lotText(lot), field)})
				return o
			}
			o.Skip = &core.Skip{Rule: ru.name, Reason: NoReason}
			return o
		}
		events, err := st.emit(ru)
		if err != nil {
			return Outcome{Rule: ru.name, Err: st.recordError(ru, err)}
		}
		if len(events) == 0 {
			// A for_each over an empty list made nothing.
			if field, lot := m.carriedLot(r); field != "" {
				pos := ru.pos
				if ru.forEach != nil {
					pos = ru.forEach.pos
				}
				o.Err = st.recordError(ru, &failure{pos, fmt.Sprintf("for_each gave no elements, so the record makes no event, but it carries lot number %s in field %s (fix the for_each, or add a skip_when: rule with a reason: before this one if such records carry no genealogy)", lotText(lot), field)})
				return o
			}
			o.Skip = &core.Skip{Rule: ru.name, Reason: EmptyForEach}
			return o
		}
		o.Events = events
		return o
	}
	reason := fmt.Sprintf("no rule matches this record (%d rules tried; add a rule for it, or a skip_when: rule with a reason: to declare such records irrelevant)", len(m.rules))
	if field, lot := m.carriedLot(r); field != "" {
		reason = fmt.Sprintf("no rule matches this record, which carries lot number %s in field %s (%d rules tried; add a rule for it, or a skip_when: rule with a reason: to declare such records irrelevant)", lotText(lot), field, len(m.rules))
	}
	o.Err = &RecordError{Pos: m.rulesPos, Kind: r.Kind, RecordID: r.ID, Reason: reason}
	return o
}

// trial says why rule ru did or did not apply, from what its when (or
// skip_when) gave.
func trial(ru *rule, ok bool, err error, st *state) RuleTrial {
	t := RuleTrial{Rule: ru.name, Pos: ru.pos, Where: ru.pos.String()}
	switch {
	case err != nil:
		t.Result = "failed: " + st.recordError(ru, err).Reason
	case !ok:
		t.Result = ru.when.what + " is false"
	case ru.skip && ru.reason != "":
		t.Result = "matched: skipped, " + ru.reason
	case ru.skip:
		t.Result = "matched: skip: true without a reason"
	default:
		t.Result = "matched"
	}
	return t
}

// Reasons of skips that no rule declared.
const (
	// NoReason: a legacy skip: true rule without reason: skipped a record
	// that carries no lot number.
	NoReason = "no reason given (skip: true without reason:)"
	// EmptyForEach: a rule's for_each gave an empty list for a record
	// that carries no lot number.
	EmptyForEach = "for_each gave no elements"
)

// matches evaluates a rule's when (or skip_when) for the record.
func (st *state) matches(ru *rule) (bool, error) {
	if ru.when == nil {
		return true, nil
	}
	v, err := st.eval(ru.when)
	if err != nil {
		return false, err
	}
	b, ok := v.(bool)
	if !ok {
		return false, &failure{ru.when.pos, fmt.Sprintf("%s must give true or false, got %s (compare the value, e.g. X == 'A', or use empty(X))", ru.when.what, describeValue(v))}
	}
	return b, nil
}

// carriedLot returns the first of the record's lot fields (lot_fields:)
// that is not empty, and its value; "" when the record carries no lot
// number.
func (m *Mapping) carriedLot(r Record) (string, any) {
	for _, names := range [2][]string{m.lotFields[""], m.lotFields[r.Kind]} {
		for _, name := range names {
			if v, ok := r.Fields[name]; ok && !isEmpty(v) {
				return name, v
			}
		}
	}
	return "", nil
}

// CarriesLot reports whether the record carries a lot number: one of the
// fields lot_fields: names for its kind is not empty. It returns the
// field and its value.
func (m *Mapping) CarriesLot(r Record) (field string, value any, ok bool) {
	field, value = m.carriedLot(r)
	return field, value, field != ""
}

func (st *state) begin(r Record) {
	st.rec = r
	clear(st.done)
	st.envInit = false
	st.loop, st.hasOuter = false, false
	st.evs = st.evs[:0]
}

// end drops the references to the record, so a pooled state keeps nothing
// alive.
func (st *state) end() {
	st.rec = Record{}
	clear(st.vals)
	st.each, st.outer = nil, nil
	if st.envInit {
		clear(st.env)
	}
	clear(st.evs)
	st.evs = st.evs[:0]
}

// bound returns the value of a name every expression may use.
func (st *state) bound(name string) any {
	switch name {
	case "kind":
		return st.rec.Kind
	case "record_id":
		return st.rec.ID
	case "each":
		return st.each
	case "index":
		return st.index
	case "outer":
		return st.outer
	}
	return nil
}

// run runs e's program in the VM, with the environment it needs: the
// record, its bound names and the vars it uses.
func (st *state) run(e *expression) (any, error) {
	env := st.env
	if !st.envInit {
		clear(env)
		env["record"] = st.rec.Fields
		env["kind"] = st.rec.Kind
		env["record_id"] = st.rec.ID
		st.envInit = true
	}
	for _, i := range e.vars {
		env[st.m.vars[i].name] = st.vals[i]
	}
	if st.loop {
		env["each"] = st.each
		env["index"] = st.index
	}
	if st.hasOuter {
		env["outer"] = st.outer
	}
	v, err := st.vm.Run(e.prog, env)
	if err != nil {
		return nil, st.runFailure(e, err)
	}
	return v, nil
}

func (st *state) recordError(ru *rule, err error) *RecordError {
	var f *failure
	if !errors.As(err, &f) {
		f = &failure{pos: ru.pos, msg: err.Error()}
	}
	return &RecordError{Pos: f.pos, Kind: st.rec.Kind, RecordID: st.rec.ID,
		Reason: fmt.Sprintf("rule %q: %s", ru.name, f.msg)}
}

// eval computes e for the current record (and loop element).
func (st *state) eval(e *expression) (any, error) {
	switch e.kind {
	case exprConst:
		return e.value, nil
	case exprField:
		return st.rec.Fields[e.name], nil
	}
	if len(e.vars) > 0 {
		if err := st.needVars(e.vars); err != nil {
			return nil, err
		}
	}
	if e.kind != exprProgram {
		v, err := st.evalNode(e)
		if err != errUseVM {
			return v, err
		}
	}
	return st.run(e)
}

// needVars computes the vars an expression needs that this record has not
// computed yet. Vars are computed when first needed, so a record a skip
// rule ignores never runs the vars only the emitting rules use.
func (st *state) needVars(idx []int) error {
	for _, i := range idx {
		if st.done[i] {
			continue
		}
		v := st.m.vars[i]
		val, err := st.eval(v.e)
		if err != nil {
			return err
		}
		st.vals[i] = val
		st.done[i] = true
	}
	return nil
}

// runFailure turns an expression's run-time error into a failure at the
// character of the mapping file where it happened.
func (st *state) runFailure(e *expression, err error) error {
	var fe *file.Error
	if errors.As(err, &fe) {
		msg := fe.Message
		if prev := fe.Unwrap(); prev != nil {
			msg = prev.Error()
		}
		return &failure{pos: st.m.src.exprPos(e.node, fe.Line, fe.Column), msg: e.what + ": " + msg}
	}
	return &failure{pos: e.pos, msg: e.what + ": " + err.Error()}
}

func (st *state) emit(ru *rule) ([]*core.Event, error) {
	if ru.forEach == nil {
		for _, t := range ru.emit {
			if err := st.build(t); err != nil {
				return nil, err
			}
		}
	} else {
		v, err := st.eval(ru.forEach)
		if err != nil {
			return nil, err
		}
		list, ok := asList(v)
		if !ok {
			return nil, &failure{ru.forEach.pos, fmt.Sprintf("for_each must give a list, got %s", describeValue(v))}
		}
		st.loop = true
		for i, el := range list {
			st.each, st.index = el, i
			for _, t := range ru.emit {
				if err := st.build(t); err != nil {
					return nil, err
				}
			}
		}
		st.loop, st.each = false, nil
	}
	if len(st.evs) == 0 {
		return nil, nil
	}
	var out []*core.Event
	if len(st.evs) == 1 {
		out = st.evs[0].blk.one[:]
	} else {
		out = make([]*core.Event, len(st.evs))
	}
	for i, b := range st.evs {
		for j := range i {
			if st.evs[j].ev.ID == b.ev.ID {
				return nil, &failure{b.t.pos, fmt.Sprintf("two events of this record have the id %q (ids must differ: add what tells them apart, e.g. id(..., index) or id(..., 'in'))", b.ev.ID)}
			}
		}
		if err := b.ev.Validate(); err != nil {
			return nil, &failure{b.t.pos, fmt.Sprintf("the %s event made here is invalid: %v (check the template against the record)", b.ev.Type, err)}
		}
		out[i] = b.ev
	}
	return out, nil
}

// asList accepts any slice; nil is the empty list.
func asList(v any) ([]any, bool) {
	switch x := v.(type) {
	case nil:
		return nil, true
	case []any:
		return x, true
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
		return nil, false
	}
	out := make([]any, rv.Len())
	for i := range out {
		out[i] = rv.Index(i).Interface()
	}
	return out, true
}

// eventBlock holds an event and the lot and quantity it points to, so an
// event is one allocation instead of three.
type eventBlock struct {
	ev  core.Event
	lot core.LotRef
	qty float64
	one [1]*core.Event // the slice Map returns when a record makes one event
}

// build makes one event from template t and appends it to st.evs.
func (st *state) build(t *template) error {
	blk := &eventBlock{}
	ev := &blk.ev
	ev.Type = t.typ
	var err error
	if ev.ID, err = st.text(t.id); err != nil {
		return err
	}
	if ev.Time, err = st.timeText(t.time); err != nil {
		return err
	}
	if t.lot != nil {
		item, lot, err := st.object(t.lot, "item", "lot")
		if err != nil {
			return err
		}
		if item != "" || lot != "" {
			blk.lot = core.LotRef{Item: item, Lot: lot}
			ev.Lot = &blk.lot
		}
	}
	if t.qty != nil {
		q, ok, err := st.number(t.qty)
		if err != nil {
			return err
		}
		if ok {
			blk.qty = q
			ev.Qty = &blk.qty
		}
	}
	for _, f := range t.strs {
		s, err := st.text(f.e)
		if err != nil {
			return err
		}
		*f.ptr(ev) = s
	}
	if ev.Supplier, err = st.party(t.supplier); err != nil {
		return err
	}
	if ev.Customer, err = st.party(t.customer); err != nil {
		return err
	}
	for _, p := range t.params {
		v, err := st.eval(p.e)
		if err != nil {
			return err
		}
		if isEmpty(v) {
			continue
		}
		jv, err := st.jsonable(v)
		if err != nil {
			return &failure{p.e.pos, p.e.what + ": " + err.Error()}
		}
		if ev.Params == nil {
			ev.Params = make(map[string]any, len(t.params))
		}
		ev.Params[p.name] = jv
	}
	if ev.Inputs, err = st.lotQtys(t.inputs); err != nil {
		return err
	}
	if t.rework != nil {
		v, err := st.eval(t.rework)
		if err != nil {
			return err
		}
		b, ok := v.(bool)
		if !ok && v != nil {
			return &failure{t.rework.pos, fmt.Sprintf("rework must give true or false, got %s", describeValue(v))}
		}
		ev.Rework = b
	}
	if ev.Outputs, err = st.lotQtys(t.outputs); err != nil {
		return err
	}
	st.evs = append(st.evs, built{ev: ev, t: t, blk: blk})
	return nil
}

// text evaluates a text field: nil is "" (omitted), numbers are written
// in plain decimal.
func (st *state) text(e *expression) (string, error) {
	if e == nil {
		return "", nil
	}
	v, err := st.eval(e)
	if err != nil {
		return "", err
	}
	if s, ok := v.(string); ok {
		return s, nil
	}
	if _, isBool := v.(bool); !isBool {
		if s, ok := textOf(v); ok {
			return s, nil
		}
	}
	return "", &failure{e.pos, fmt.Sprintf("%s must be text, got %s", e.what, describeValue(v))}
}

func (st *state) timeText(e *expression) (string, error) {
	if e == nil {
		return "", nil
	}
	v, err := st.eval(e)
	if err != nil {
		return "", err
	}
	switch x := v.(type) {
	case nil:
		return "", nil
	case string:
		return x, nil
	case time.Time:
		return st.m.lib.formatTime(x), nil
	}
	return "", &failure{e.pos, fmt.Sprintf("time must be RFC 3339 text or a time, got %s (convert it with datetime(...))", describeValue(v))}
}

// number evaluates a quantity; ok is false when it is absent (nil or
// blank), so the field is omitted.
func (st *state) number(e *expression) (f float64, ok bool, err error) {
	if e == nil {
		return 0, false, nil
	}
	v, err := st.eval(e)
	if err != nil || v == nil {
		return 0, false, err
	}
	if f, ok := numberOf(v); ok {
		return f, true, nil
	}
	if s, ok := v.(string); ok && strings.TrimSpace(s) == "" {
		return 0, false, nil
	}
	return 0, false, &failure{e.pos, fmt.Sprintf("%s must be a number, got %s (convert text with number(...))", e.what, describeValue(v))}
}

// object evaluates a lot ({item, lot}) or a party ({id, name}).
func (st *state) object(o *objectTemplate, k1, k2 string) (string, string, error) {
	if o.e == nil {
		a, err := st.text(o.k1)
		if err != nil {
			return "", "", err
		}
		b, err := st.text(o.k2)
		return a, b, err
	}
	v, err := st.eval(o.e)
	if err != nil {
		return "", "", err
	}
	switch x := v.(type) {
	case nil:
		return "", "", nil
	case string:
		if k1 == "id" {
			return x, "", nil
		}
	case map[string]any:
		a, ok1 := textOf(x[k1])
		b, ok2 := textOf(x[k2])
		if ok1 && ok2 {
			return a, b, nil
		}
	}
	return "", "", &failure{o.e.pos, fmt.Sprintf("%s must give an object {%s, %s}, got %s", o.e.what, k1, k2, describeValue(v))}
}

func (st *state) party(o *objectTemplate) (*core.Party, error) {
	if o == nil {
		return nil, nil
	}
	id, name, err := st.object(o, "id", "name")
	if err != nil || (id == "" && name == "") {
		return nil, err
	}
	return &core.Party{ID: id, Name: name}, nil
}

func (st *state) lotQtys(ts []*lotQtyTemplate) ([]core.LotQty, error) {
	if len(ts) == 0 {
		return nil, nil
	}
	var out []core.LotQty
	one := func(t *lotQtyTemplate) error {
		item, err := st.text(t.item)
		if err != nil {
			return err
		}
		lot, err := st.text(t.lot)
		if err != nil {
			return err
		}
		q, hasQty, err := st.number(t.qty)
		if err != nil {
			return err
		}
		var qty *float64
		if hasQty {
			qty = &q
		}
		uom, err := st.text(t.uom)
		if err != nil {
			return err
		}
		if item == "" && lot == "" && qty == nil {
			return nil // an optional entry with nothing in it
		}
		out = append(out, core.LotQty{Item: item, Lot: lot, Qty: qty, UOM: uom})
		return nil
	}
	for _, t := range ts {
		if t.forEach == nil {
			if err := one(t); err != nil {
				return nil, err
			}
			continue
		}
		v, err := st.eval(t.forEach)
		if err != nil {
			return nil, err
		}
		list, ok := asList(v)
		if !ok {
			return nil, &failure{t.forEach.pos, fmt.Sprintf("%s must give a list, got %s", t.forEach.what, describeValue(v))}
		}
		each, index, loop := st.each, st.index, st.loop
		st.outer, st.hasOuter = each, loop
		st.loop = true
		for i, el := range list {
			st.each, st.index = el, i
			if err := one(t); err != nil {
				return nil, err
			}
		}
		st.each, st.index, st.loop = each, index, loop
		st.outer, st.hasOuter = nil, false
	}
	return out, nil
}

// jsonable turns a param value into what encoding/json gives back for it,
// so an event compares equal after a round trip through JSON.
func (st *state) jsonable(v any) (any, error) {
	switch x := v.(type) {
	case nil, string, bool:
		return x, nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("%v is not a number JSON can hold", x)
		}
		return x, nil
	case time.Time:
		return st.m.lib.formatTime(x), nil
	case []any:
		out := make([]any, len(x))
		for i, el := range x {
			j, err := st.jsonable(el)
			if err != nil {
				return nil, err
			}
			out[i] = j
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, el := range x {
			j, err := st.jsonable(el)
			if err != nil {
				return nil, err
			}
			out[k] = j
		}
		return out, nil
	}
	if f, ok := numberOf(v); ok {
		return st.jsonable(f)
	}
	if s, ok := textOf(v); ok {
		return s, nil
	}
	return nil, fmt.Errorf("a param must be text, a number, a boolean, a list or an object, got %s", describeValue(v))
}

// Explanation is how a mapping treats one record, rule by rule: what
// hub mapping run --explain shows.
type Explanation struct {
	RecordID string `json:"record"`
	Kind     string `json:"kind"`
	// LotField and Lot are the lot number the record carries (the first
	// non-empty field of lot_fields:); LotField is "" when it carries
	// none.
	LotField string `json:"lot_field,omitempty"`
	Lot      any    `json:"lot,omitempty"`
	// Rules are the rules tried, in order, up to the one that matched.
	Rules []RuleTrial `json:"rules"`
	// Outcome is what MapRecord makes of the record.
	Outcome Outcome `json:"-"`
}

// RuleTrial is one rule tried on a record.
type RuleTrial struct {
	Rule   string `json:"rule"`
	Pos    Pos    `json:"-"`
	Where  string `json:"where"`  // file:line:col of the rule
	Result string `json:"result"` // "matched", "not for kind K", "when is false", …
}

// Explain tries the mapping's rules on a record as MapRecord does, and
// says for each rule why it did or did not apply: one pass, so the
// Outcome is the one the rules tried gave. It never panics.
func (m *Mapping) Explain(r Record) (x Explanation) {
	x = Explanation{RecordID: r.ID, Kind: r.Kind}
	if f, v := m.carriedLot(r); f != "" {
		x.LotField, x.Lot = f, v
	}
	x.Outcome = m.mapRecord(r, &x.Rules)
	return x
}

// lotText writes a lot number for a message: quoted text, or what the
// value is when it is not text.
func lotText(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	return describeValue(v)
}
