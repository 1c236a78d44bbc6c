package mapping

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // a hub in a minimal container still knows Europe/Berlin

	"github.com/expr-lang/expr"
	"go.yaml.in/yaml/v3"

	"github.com/lothub/lothub/core"
)

// Mapping is a compiled mapping file. It is immutable and safe for
// concurrent use by many goroutines.
type Mapping struct {
	name, version, description string
	src                        *source
	kinds                      []string
	kindSet                    map[string]bool
	kindsPos, rulesPos         Pos
	lib                        *library
	vars                       []*variable
	rules                      []*rule
	// lotFields are the record fields that carry a lot number, by kind
	// ("" for every kind): a record with one of them non-empty that
	// makes no event is quarantined unless a rule declares it irrelevant
	// (skip_when: with a reason:).
	lotFields map[string][]string
	pool      sync.Pool // *state
}

type variable struct {
	name string
	pos  Pos
	e    *expression
}

type rule struct {
	name  string
	pos   Pos
	kinds map[string]bool // nil: every kind of the mapping
	when  *expression     // nil: always
	skip  bool
	// reason says why the records a skip rule matches carry no
	// genealogy; "" for a legacy skip: true without one (which refuses
	// records that carry a lot number).
	reason  string
	forEach *expression
	emit    []*template
}

// template is one event template of a rule's emit list.
type template struct {
	pos             Pos
	typ             core.EventType
	id, time, qty   *expression
	rework          *expression     // transform only: a declared self-loop
	lot             *objectTemplate // item, lot
	supplier        *objectTemplate // id, name
	customer        *objectTemplate // id, name
	strs            []strField
	params          []param
	inputs, outputs []*lotQtyTemplate
}

// objectTemplate is a lot or party: one expression giving the object, or
// an expression per key.
type objectTemplate struct {
	pos    Pos
	e      *expression
	k1, k2 *expression // item/lot, or id/name
}

type strField struct {
	e   *expression
	ptr func(*core.Event) *string
}

type param struct {
	name string
	e    *expression
}

type lotQtyTemplate struct {
	pos                 Pos
	forEach             *expression
	item, lot, qty, uom *expression
}

// Keys of the file's parts, in the order docs/mapping.md lists them.
var (
	topKeys      = []string{"mapping", "version", "description", "kinds", "lot_fields", "timezone", "tables", "units", "vars", "rules"}
	ruleKeys     = []string{"name", "kind", "when", "skip_when", "skip", "reason", "for_each", "emit"}
	templateKeys = []string{"id", "type", "time", "lot", "qty", "uom", "order", "supplier", "supplier_lot", "po",
		"site", "location", "customer", "sales_order", "delivery", "carrier", "ship_to", "step", "operator",
		"equipment", "params", "inputs", "outputs", "from", "to", "reason", "reverses", "rework"}
	lotKeys    = []string{"item", "lot"}
	partyKeys  = []string{"id", "name"}
	lotQtyKeys = []string{"for_each", "item", "lot", "qty", "uom"}
)

// stringFields are the text fields of a canonical event.
var stringFields = map[string]func(*core.Event) *string{
	"uom":          func(e *core.Event) *string { return &e.UOM },
	"order":        func(e *core.Event) *string { return &e.Order },
	"supplier_lot": func(e *core.Event) *string { return &e.SupplierLot },
	"po":           func(e *core.Event) *string { return &e.PO },
	"site":         func(e *core.Event) *string { return &e.Site },
	"location":     func(e *core.Event) *string { return &e.Location },
	"sales_order":  func(e *core.Event) *string { return &e.SalesOrder },
	"delivery":     func(e *core.Event) *string { return &e.Delivery },
	"carrier":      func(e *core.Event) *string { return &e.Carrier },
	"ship_to":      func(e *core.Event) *string { return &e.ShipTo },
	"step":         func(e *core.Event) *string { return &e.Step },
	"operator":     func(e *core.Event) *string { return &e.Operator },
	"equipment":    func(e *core.Event) *string { return &e.Equipment },
	"from":         func(e *core.Event) *string { return &e.From },
	"to":           func(e *core.Event) *string { return &e.To },
	"reason":       func(e *core.Event) *string { return &e.Reason },
	"reverses":     func(e *core.Event) *string { return &e.Reverses },
}

// eventTypes are the canonical types (shared/design.md), with what each
// needs besides id, type and time, and what it must not have.
var eventTypes = []struct {
	typ       core.EventType
	needs     []string
	forbidden []string
}{
	{core.Receive, []string{"lot", "qty", "uom"}, []string{"inputs", "outputs"}},
	{core.Consume, []string{"lot", "qty", "uom", "order"}, []string{"inputs", "outputs"}},
	{core.Produce, []string{"lot", "qty", "uom", "order"}, []string{"inputs", "outputs"}},
	{core.Transform, []string{"inputs", "outputs"}, []string{"lot"}},
	{core.Step, []string{"lot", "step"}, []string{"inputs", "outputs"}},
	{core.Ship, []string{"lot", "qty", "uom", "customer"}, []string{"inputs", "outputs"}},
	{core.Move, []string{"lot", "to"}, []string{"inputs", "outputs"}},
	{core.Hold, []string{"lot"}, []string{"inputs", "outputs"}},
	{core.Release, []string{"lot"}, []string{"inputs", "outputs"}},
	{core.Reverse, []string{"reverses"}, []string{"lot", "inputs", "outputs"}},
	{core.Adjust, []string{"lot", "qty", "uom"}, []string{"inputs", "outputs"}},
}

func typeNames() []string {
	names := make([]string, len(eventTypes))
	for i, t := range eventTypes {
		names[i] = string(t.typ)
	}
	return names
}

// Load reads and compiles the mapping file at path. Problems in the file
// come back as an ErrorList (core.EINVALID), each with its file:line:col.
func Load(path string) (*Mapping, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, core.Errorf(core.EINVALID, "cannot read mapping %s: %v", path, err)
	}
	return Compile(path, src)
}

// Compile parses the mapping file src (named file in positions), decodes
// it strictly, compiles and type-checks every expression once, and returns
// the mapping, or every problem found as an ErrorList (core.EINVALID).
func Compile(file string, src []byte) (*Mapping, error) {
	c := newCompiler(file, src)
	root := c.parse(src)
	if root == nil {
		return nil, c.errs.err()
	}
	m := c.mapping(root)
	if len(c.errs) > 0 {
		slices.SortStableFunc(c.errs, func(a, b *Error) int {
			if a.Pos.Line != b.Pos.Line {
				return a.Pos.Line - b.Pos.Line
			}
			return a.Pos.Col - b.Pos.Col
		})
		return nil, c.errs
	}
	m.pool.New = func() any { return m.newState() }
	return m, nil
}

// compiler compiles one mapping file.
type compiler struct {
	*source
	lib      *library
	libOpts  []expr.Option
	libFuncs map[string]func(...any) (any, error)
	funcs    map[string]bool
	vars     []*variable
	varIndex map[string]int
	varLines map[string]int
	kinds    []string
}

func newCompiler(file string, src []byte) *compiler {
	c := &compiler{
		source:   newSource(file, src),
		lib:      &library{loc: time.UTC, tables: map[string]map[string]any{}, units: map[string]map[string]float64{}},
		funcs:    map[string]bool{},
		varIndex: map[string]int{},
		varLines: map[string]int{},
	}
	for name := range builtinNames {
		c.funcs[name] = true
	}
	for _, name := range functionNames() {
		c.funcs[name] = true
	}
	return c
}

var identifier = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`) })

// exprKeywords cannot be var names.
var exprKeywords = []string{"in", "not", "and", "or", "matches", "contains", "startsWith", "endsWith",
	"let", "if", "else", "nil", "true", "false"}

func (c *compiler) mapping(root *yaml.Node) *Mapping {
	m := &Mapping{src: c.source, lib: c.lib, kindSet: map[string]bool{}, lotFields: map[string][]string{}}
	top := c.fields(root, "a mapping file", topKeys)
	if top == nil {
		return m
	}
	required := func(key, advice string) (pair, bool) {
		p, ok := top[key]
		if !ok {
			c.errorf(root, "the file has no %s: key (%s)", key, advice)
		}
		return p, ok
	}
	if p, ok := required("mapping", "name the mapping, e.g. mapping: sap-material-documents"); ok {
		m.name, _ = c.str(p.val, "mapping")
	}
	if p, ok := required("version", `version the mapping, e.g. version: "1"`); ok {
		m.version, _ = c.str(p.val, "version")
	}
	if p, ok := top["description"]; ok {
		m.description, _ = c.str(p.val, "description")
	}
	if p, ok := required("kinds", "list the source record kinds it maps, e.g. kinds: [A_MaterialDocumentItem]"); ok {
		m.kindsPos = c.pos(p.key)
		kinds, nodes := c.strList(p.val, "kinds")
		for i, k := range kinds {
			if m.kindSet[k] {
				c.errorf(nodes[i], "kind %q is listed twice (list it once)", k)
				continue
			}
			m.kindSet[k] = true
			m.kinds = append(m.kinds, k)
		}
		if len(kinds) == 0 && len(nodes) == 0 && resolve(p.val) != nil && resolve(p.val).Kind == yaml.SequenceNode {
			c.errorf(p.val, "kinds is empty (list the source record kinds it maps)")
		}
		c.kinds = m.kinds
	}
	if p, ok := top["lot_fields"]; ok {
		c.lotFields(m, p.val)
	}
	if p, ok := top["timezone"]; ok {
		if name, ok := c.str(p.val, "timezone"); ok {
			loc, err := time.LoadLocation(name)
			if err != nil || name == "" || name == "Local" {
				c.errorf(p.val, "unknown time zone %q (use an IANA name such as Europe/Berlin, America/Chicago or UTC)", name)
			} else {
				c.lib.loc = loc
			}
		}
	}
	if p, ok := top["tables"]; ok {
		c.tables(p.val)
	}
	if p, ok := top["units"]; ok {
		c.units(p.val)
	}
	c.libOpts = c.lib.options()
	c.libFuncs = map[string]func(...any) (any, error){}
	for _, f := range c.lib.functions() {
		c.libFuncs[f.name] = f.fn
	}
	if p, ok := top["vars"]; ok {
		c.compileVars(p.val)
	}
	m.vars = c.vars
	if p, ok := required("rules", "list the rules that turn records into events"); ok {
		m.rulesPos = c.pos(p.key)
		c.rules(m, p.val)
	}
	return m
}

// lotFields reads lot_fields: a list of record field names that carry a
// lot number in records of every kind, or a map of kind → such a list.
func (c *compiler) lotFields(m *Mapping, n *yaml.Node) {
	n = resolve(n)
	if n != nil && n.Kind == yaml.MappingNode {
		for _, p := range c.ordered(n, "lot_fields") {
			kind := p.key.Value
			if !m.kindSet[kind] {
				if hint := didYouMean(kind, m.kinds); hint != "" {
					c.errorf(p.key, "kind %q is not one of the mapping's kinds (did you mean %q?)", kind, hint)
				} else {
					c.errorf(p.key, "kind %q is not one of the mapping's kinds (list lot fields under a kind of kinds: %s)", kind, strings.Join(m.kinds, ", "))
				}
				continue
			}
			names, _ := c.strList(p.val, "lot_fields."+kind)
			m.lotFields[kind] = append(m.lotFields[kind], names...)
		}
		return
	}
	names, _ := c.strList(n, "lot_fields")
	m.lotFields[""] = names
}

// tables reads name → {key: value}. Keys are text exactly as written
// (plant 0010 stays "0010"); values are text, or objects of text (for
// {id, name} parties).
func (c *compiler) tables(n *yaml.Node) {
	for _, t := range c.ordered(n, "tables") {
		name := t.key.Value
		if !identifier().MatchString(name) {
			c.errorf(t.key, "table name %q must be a plain name (letters, digits, _)", name)
			continue
		}
		entries := map[string]any{}
		for _, e := range c.ordered(t.val, "table "+name) {
			v := resolve(e.val)
			switch {
			case v != nil && v.Kind == yaml.ScalarNode:
				if v.ShortTag() == "!!null" {
					entries[e.key.Value] = nil
				} else {
					entries[e.key.Value] = v.Value
				}
			case v != nil && v.Kind == yaml.MappingNode:
				obj := map[string]any{}
				for _, f := range c.ordered(v, "an entry of table "+name) {
					if s, ok := c.str(f.val, "a value in table "+name); ok {
						obj[f.key.Value] = s
					}
				}
				entries[e.key.Value] = obj
			default:
				c.errorf(e.val, "a value in table %s must be text or an object of text, not %s", name, describe(e.val))
			}
		}
		c.lib.tables[name] = entries
	}
}

// units reads from → {to: factor}: qty in `from` × factor = qty in `to`.
func (c *compiler) units(n *yaml.Node) {
	for _, u := range c.ordered(n, "units") {
		from := u.key.Value
		row := map[string]float64{}
		for _, t := range c.ordered(u.val, "units."+from) {
			v := resolve(t.val)
			var f float64
			if v == nil || v.Kind != yaml.ScalarNode || (v.ShortTag() != "!!int" && v.ShortTag() != "!!float") || v.Decode(&f) != nil || f <= 0 {
				c.errorf(t.val, "the factor from %s to %s must be a positive number (1 %s = factor %s), not %s", from, t.key.Value, from, t.key.Value, describe(t.val))
				continue
			}
			row[t.key.Value] = f
		}
		c.lib.units[from] = row
	}
}

func (c *compiler) compileVars(n *yaml.Node) {
	pairs := c.ordered(n, "vars")
	for i, p := range pairs {
		name := p.key.Value
		switch {
		case !identifier().MatchString(name):
			c.errorf(p.key, "var name %q must be a plain name (letters, digits, _, not starting with a digit)", name)
		case slices.Contains(reservedNames, name):
			c.errorf(p.key, "var name %q is taken: %s is bound in every expression (choose another name)", name, name)
		case c.funcs[name]:
			c.errorf(p.key, "var name %q is the name of a function (choose another name)", name)
		case slices.Contains(exprKeywords, name):
			c.errorf(p.key, "var name %q is a keyword of the expression language (choose another name)", name)
		}
		c.varIndex[name] = i
		c.varLines[name] = p.key.Line
	}
	for i, p := range pairs {
		v := &variable{name: p.key.Value, pos: c.pos(p.key)}
		c.vars = append(c.vars, v)
		v.e = c.compileExpr(p.val, wantAny, "var "+v.name, scope{vars: i})
	}
}

func (c *compiler) rules(m *Mapping, n *yaml.Node) {
	n = resolve(n)
	if n == nil || n.Kind != yaml.SequenceNode {
		c.errorf(n, "rules must be a list (start each rule with -), not %s", describe(n))
		return
	}
	if len(n.Content) == 0 {
		c.errorf(n, "rules is empty (add at least one rule)")
		return
	}
	names := map[string]int{}
	for i, rn := range n.Content {
		r := c.rule(rn, i)
		if r == nil {
			continue
		}
		if line, dup := names[r.name]; dup {
			c.errorAt(r.pos, "two rules are named %q (the other is at line %d; names must be unique so errors can name the rule)", r.name, line)
		}
		names[r.name] = r.pos.Line
		m.rules = append(m.rules, r)
	}
}

func (c *compiler) rule(n *yaml.Node, i int) *rule {
	f := c.fields(n, "a rule", ruleKeys)
	if f == nil {
		return nil
	}
	r := &rule{name: fmt.Sprintf("rule %d", i+1), pos: c.pos(resolve(n))}
	if p, ok := f["name"]; ok {
		r.name, _ = c.str(p.val, "name")
	}
	if p, ok := f["kind"]; ok {
		kinds, nodes := c.strList(p.val, "kind")
		r.kinds = map[string]bool{}
		for j, k := range kinds {
			if !slices.Contains(c.kinds, k) {
				if hint := didYouMean(k, c.kinds); hint != "" {
					c.errorf(nodes[j], "kind %q is not one of the mapping's kinds (did you mean %q?)", k, hint)
				} else {
					c.errorf(nodes[j], "kind %q is not one of the mapping's kinds (add it to kinds: or fix the name; kinds: %s)", k, strings.Join(c.kinds, ", "))
				}
			}
			r.kinds[k] = true
		}
	}
	all := scope{vars: len(c.vars)}
	if p, ok := f["when"]; ok {
		r.when = c.compileExpr(p.val, wantBool, "when", all)
	}
	if p, ok := f["skip_when"]; ok {
		if _, both := f["when"]; both {
			c.errorf(p.key, "a rule has when: or skip_when:, not both (skip_when: is the when: of a rule that skips; combine them with and)")
		}
		if _, both := f["skip"]; both {
			c.errorf(p.key, "skip_when: already makes the rule skip (remove skip:)")
		}
		r.when = c.compileExpr(p.val, wantBool, "skip_when", all)
		r.skip = true
		if _, ok := f["reason"]; !ok {
			c.errorf(p.key, "skip_when: needs reason: (say why such records carry no genealogy, e.g. reason: 'cost centre issues leave the traced chain'; the reason is counted in every run summary)")
		}
	}
	if p, ok := f["skip"]; ok {
		r.skip = c.boolean(p.val, "skip")
	}
	if p, ok := f["reason"]; ok {
		if s, ok := c.str(p.val, "reason"); ok {
			r.reason = strings.TrimSpace(s)
			if r.reason == "" {
				c.errorf(p.val, "reason is empty (say why such records carry no genealogy)")
			}
		}
		if !r.skip {
			c.errorf(p.key, "reason: goes with skip_when: (a rule that skips records); this rule emits events (remove reason:, or make it skip_when:)")
		}
	}
	if p, ok := f["for_each"]; ok {
		if r.skip {
			c.errorf(p.key, "a skip rule has no for_each (remove for_each or skip)")
		}
		r.forEach = c.compileExpr(p.val, wantList, "for_each", all)
	}
	p, hasEmit := f["emit"]
	switch {
	case r.skip && hasEmit:
		c.errorf(p.key, "a skip rule emits nothing (remove emit:, or the skip)")
	case !r.skip && !hasEmit:
		c.errorAt(r.pos, "rule %q has neither emit: (the events to make) nor skip_when: with a reason: (to declare matching records irrelevant)", r.name)
	case hasEmit:
		list := resolve(p.val)
		if list == nil || list.Kind != yaml.SequenceNode {
			c.errorf(p.val, "emit must be a list of event templates (start each with -), not %s", describe(p.val))
			break
		}
		if len(list.Content) == 0 {
			c.errorf(p.val, "emit is empty (add an event template, or declare such records irrelevant with skip_when: and reason:)")
		}
		sc := all
		sc.loop = r.forEach != nil
		for _, tn := range list.Content {
			if t := c.template(tn, sc); t != nil {
				r.emit = append(r.emit, t)
			}
		}
	}
	return r
}

func (c *compiler) template(n *yaml.Node, sc scope) *template {
	n = resolve(n)
	if n != nil && n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == "source" {
				c.errorf(n.Content[i], "source is set by the hub, not by a mapping (remove it)")
				n = dropKey(n, i)
				break
			}
		}
	}
	f := c.fields(n, "an event template", templateKeys)
	if f == nil {
		return nil
	}
	t := &template{pos: c.pos(n)}
	okType := false
	if p, ok := f["type"]; !ok {
		c.errorAt(t.pos, "the event template has no type: (one of %s)", strings.Join(typeNames(), ", "))
	} else if s, ok := c.str(p.val, "type"); ok {
		if !slices.Contains(typeNames(), s) {
			if hint := didYouMean(s, typeNames()); hint != "" {
				c.errorf(p.val, "unknown event type %q (did you mean %q?)", s, hint)
			} else {
				c.errorf(p.val, "unknown event type %q (one of %s; the type is written as is, not as an expression)", s, strings.Join(typeNames(), ", "))
			}
		} else {
			t.typ = core.EventType(s)
			okType = true
		}
	}
	if p, ok := f["id"]; ok {
		t.id = c.compileExpr(p.val, wantString, "id", sc)
	} else {
		c.errorAt(t.pos, "the event template has no id: (derive it from the record's document keys, e.g. id: id('sap', MaterialDocumentYear, MaterialDocument, MaterialDocumentItem), so re-reading a record gives the same event)")
	}
	if p, ok := f["time"]; ok {
		t.time = c.compileExpr(p.val, wantTime, "time", sc)
	} else {
		c.errorAt(t.pos, "the event template has no time: (when it happened at the source, e.g. time: datetime(PostingDate))")
	}
	if p, ok := f["lot"]; ok {
		t.lot = c.object(p.val, "lot", lotKeys, sc)
	}
	if p, ok := f["qty"]; ok {
		t.qty = c.compileExpr(p.val, wantNumber, "qty", sc)
	}
	for _, key := range templateKeys {
		ptr, ok := stringFields[key]
		if !ok {
			continue
		}
		if p, ok := f[key]; ok {
			if e := c.compileExpr(p.val, wantString, key, sc); e != nil {
				t.strs = append(t.strs, strField{e: e, ptr: ptr})
			}
		}
	}
	if p, ok := f["supplier"]; ok {
		t.supplier = c.object(p.val, "supplier", partyKeys, sc)
	}
	if p, ok := f["customer"]; ok {
		t.customer = c.object(p.val, "customer", partyKeys, sc)
	}
	if p, ok := f["params"]; ok {
		for _, pp := range c.ordered(p.val, "params") {
			if e := c.compileExpr(pp.val, wantAny, "params."+pp.key.Value, sc); e != nil {
				t.params = append(t.params, param{name: pp.key.Value, e: e})
			}
		}
	}
	if p, ok := f["inputs"]; ok {
		t.inputs = c.lotQtys(p.val, "inputs", sc)
	}
	if p, ok := f["rework"]; ok {
		t.rework = c.compileExpr(p.val, wantBool, "rework", sc)
		if okType && t.typ != core.Transform {
			c.errorf(p.key, "rework: declares a transform whose input and output are the same lot; a %s event has none (remove it)", t.typ)
		}
	}
	if p, ok := f["outputs"]; ok {
		t.outputs = c.lotQtys(p.val, "outputs", sc)
	}
	if okType {
		for _, et := range eventTypes {
			if et.typ != t.typ {
				continue
			}
			var missing []string
			for _, need := range et.needs {
				if _, ok := f[need]; !ok {
					missing = append(missing, need+":")
				}
			}
			if len(missing) > 0 {
				c.errorAt(t.pos, "a %s event needs %s (add %s to the template)", t.typ, andList(missing), map[bool]string{true: "it", false: "them"}[len(missing) == 1])
			}
			for _, bad := range et.forbidden {
				if p, ok := f[bad]; ok {
					c.errorf(p.key, "a %s event has no %s (remove it%s)", t.typ, bad, forbiddenAdvice(t.typ, bad))
				}
			}
		}
		if _, hasQty := f["qty"]; hasQty {
			if _, hasUOM := f["uom"]; !hasUOM {
				c.errorAt(t.pos, "qty needs uom: (add the unit, e.g. uom: lookup('units', EntryUnit))")
			}
		}
	}
	return t
}

func forbiddenAdvice(t core.EventType, key string) string {
	switch {
	case t == core.Transform && key == "lot":
		return "; a transform names its lots in inputs and outputs"
	case t == core.Reverse:
		return "; a reverse names only the id it cancels in reverses"
	case key == "inputs" || key == "outputs":
		return "; inputs and outputs are for transform events"
	}
	return ""
}

// dropKey returns a copy of mapping node n without the pair at index i.
func dropKey(n *yaml.Node, i int) *yaml.Node {
	cp := *n
	cp.Content = append(append([]*yaml.Node{}, n.Content[:i]...), n.Content[i+2:]...)
	return &cp
}

// object compiles a lot or a party: either a mapping of its two keys, or
// one expression giving the object (a lookup of {id, name}, say).
func (c *compiler) object(n *yaml.Node, what string, keys []string, sc scope) *objectTemplate {
	n = resolve(n)
	if n != nil && n.Kind == yaml.ScalarNode {
		e := c.compileExpr(n, wantObject, what, sc)
		if e == nil {
			return nil
		}
		return &objectTemplate{pos: c.pos(n), e: e}
	}
	f := c.fields(n, what, keys)
	if f == nil {
		return nil
	}
	o := &objectTemplate{pos: c.pos(n)}
	if p, ok := f[keys[0]]; ok {
		o.k1 = c.compileExpr(p.val, wantString, what+"."+keys[0], sc)
	}
	if p, ok := f[keys[1]]; ok {
		o.k2 = c.compileExpr(p.val, wantString, what+"."+keys[1], sc)
	}
	if what == "lot" && (o.k1 == nil || o.k2 == nil) {
		for _, k := range keys {
			if _, ok := f[k]; !ok {
				c.errorf(n, "lot needs %s: (a lot is identified by item and lot together)", k)
			}
		}
	}
	if what != "lot" {
		if _, ok := f["id"]; !ok {
			c.errorf(n, "%s needs id:", what)
		}
	}
	return o
}

// lotQtys compiles inputs or outputs: a list of {item, lot, qty, uom}
// entries, any of which may carry a for_each that repeats it over a list;
// or one such entry with for_each written without the list.
func (c *compiler) lotQtys(n *yaml.Node, what string, sc scope) []*lotQtyTemplate {
	n = resolve(n)
	var entries []*yaml.Node
	switch {
	case n != nil && n.Kind == yaml.SequenceNode:
		entries = n.Content
		if len(entries) == 0 {
			c.errorf(n, "%s is empty (list at least one lot, or remove the key)", what)
		}
	case n != nil && n.Kind == yaml.MappingNode:
		entries = []*yaml.Node{n}
	default:
		c.errorf(n, "%s must be a list of {item, lot, qty, uom} entries or one entry with for_each, not %s", what, describe(n))
		return nil
	}
	var out []*lotQtyTemplate
	for _, en := range entries {
		f := c.fields(en, "an entry of "+what, lotQtyKeys)
		if f == nil {
			continue
		}
		lq := &lotQtyTemplate{pos: c.pos(resolve(en))}
		esc := sc
		if p, ok := f["for_each"]; ok {
			lq.forEach = c.compileExpr(p.val, wantList, what+".for_each", sc)
			esc = scope{vars: sc.vars, loop: true, outer: sc.loop}
		} else if resolve(en) == n {
			c.errorf(n, "%s without a list needs for_each: (or write it as a list: - {item: ..., lot: ...})", what)
		}
		for _, k := range []string{"item", "lot"} {
			if _, ok := f[k]; !ok {
				c.errorAt(lq.pos, "an entry of %s needs %s: (a lot is identified by item and lot together)", what, k)
			}
		}
		if p, ok := f["item"]; ok {
			lq.item = c.compileExpr(p.val, wantString, what+".item", esc)
		}
		if p, ok := f["lot"]; ok {
			lq.lot = c.compileExpr(p.val, wantString, what+".lot", esc)
		}
		if p, ok := f["qty"]; ok {
			lq.qty = c.compileExpr(p.val, wantNumber, what+".qty", esc)
			if _, ok := f["uom"]; !ok {
				c.errorAt(lq.pos, "an entry of %s with qty needs uom:", what)
			}
		}
		if p, ok := f["uom"]; ok {
			lq.uom = c.compileExpr(p.val, wantString, what+".uom", esc)
		}
		out = append(out, lq)
	}
	return out
}

// Name returns the mapping's name (mapping: in the file).
func (m *Mapping) Name() string { return m.name }

// Version returns the mapping's version (version: in the file).
func (m *Mapping) Version() string { return m.version }

// File returns the file name the mapping was compiled from.
func (m *Mapping) File() string { return m.src.file }

// Kinds returns the source record kinds the mapping applies to, in file
// order.
func (m *Mapping) Kinds() []string { return slices.Clone(m.kinds) }

// Applies reports whether the mapping maps records of kind.
func (m *Mapping) Applies(kind string) bool { return m.kindSet[kind] }

// Rules returns the number of rules.
func (m *Mapping) Rules() int { return len(m.rules) }

// TestFile returns the conventional test file of a mapping: "x.yaml" ->
// "x.test.yaml" beside it.
func TestFile(mappingPath string) string {
	for _, ext := range []string{".yaml", ".yml"} {
		if strings.HasSuffix(mappingPath, ext) {
			return strings.TrimSuffix(mappingPath, ext) + ".test" + ext
		}
	}
	return mappingPath + ".test.yaml"
}

// String describes the mapping: "name version (file)".
func (m *Mapping) String() string {
	return m.name + " " + strconv.Quote(m.version) + " (" + m.src.file + ")"
}

// andList writes "a", "a and b", "a, b and c".
func andList(items []string) string {
	if len(items) <= 1 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}
