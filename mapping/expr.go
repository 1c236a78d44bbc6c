package mapping

import (
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/types"
	"github.com/expr-lang/expr/vm"
	"go.yaml.in/yaml/v3"
)

// want is what a place in a template needs an expression to give; it
// drives the compile-time type check and the run-time conversion.
type want uint8

const (
	wantAny    want = iota // params: any JSON value
	wantString             // text fields; numbers are written as text
	wantNumber             // qty
	wantBool               // when
	wantTime               // time: RFC 3339 text or a time
	wantList               // for_each
	wantObject             // lot, supplier, customer given as one expression
)

func (w want) String() string {
	switch w {
	case wantString:
		return "text"
	case wantNumber:
		return "a number"
	case wantBool:
		return "true or false"
	case wantTime:
		return "a time (RFC 3339 text, e.g. from datetime(...))"
	case wantList:
		return "a list"
	case wantObject:
		return "an object"
	}
	return "a value"
}

// exprKind says how an expression is evaluated. Most template fields are
// a constant, a record field or a var: those skip the expression VM.
type exprKind uint8

const (
	exprConst exprKind = iota
	exprField
	exprVar
	exprProgram
)

// expression is one compiled value of a mapping file.
type expression struct {
	kind  exprKind
	src   string
	what  string     // what it is for messages: "qty", "lot.item", "var doc"
	node  *yaml.Node // the scalar it was written in, for positions
	pos   Pos
	value any         // exprConst
	name  string      // exprField: record field; exprVar: var or bound name; exprCall: function
	idx   int         // exprVar: index of the var, -1 for a bound name (kind, each, …)
	prog  *vm.Program // the compiled program (run when kind is exprProgram)
	vars  []int       // indexes of the vars it needs, ascending, transitively
	typ   reflect.Type

	// A lowered expression (see lower.go) is a tree of these.
	args []*expression
	fn   func(...any) (any, error)
	set  map[string]struct{}
	loc  file.Location // where the node is in src
}

// scope is what an expression may refer to besides record fields.
type scope struct {
	vars  int  // the first vars declarations are visible
	loop  bool // each and index are bound (inside a for_each)
	outer bool // outer is bound (inside a for_each nested in a rule's for_each)
}

// Names bound in every expression besides the record's fields and vars.
var reservedNames = []string{"record", "kind", "record_id", "each", "index", "outer"}

var (
	mapType  = reflect.TypeOf(map[string]any{})
	timeType = reflect.TypeOf(time.Time{})
)

// disabledBuiltins are expr's functions a mapping may not use. now() would
// make an event differ on every replay, and ids and times must be
// deterministic; date() and timezone() read times in the process's zone,
// where datetime() and at() read them in the mapping's. Leaving them out
// also frees "date" as a var name.
var disabledBuiltins = []string{"now", "date", "timezone"}

// builtinNames are expr's own functions that mappings may use.
var builtinNames = func() map[string]bool {
	m := map[string]bool{}
	for _, b := range builtin.Builtins {
		if !slices.Contains(disabledBuiltins, b.Name) {
			m[b.Name] = true
		}
	}
	return m
}()

// compileExpr compiles the scalar n as a value of kind w in scope sc.
// Non-text YAML scalars (numbers, booleans, null) are constants; text is an
// expression. Problems are recorded and nil returned.
func (c *compiler) compileExpr(n *yaml.Node, w want, what string, sc scope) *expression {
	n = resolve(n)
	if n == nil || n.Kind != yaml.ScalarNode {
		c.errorf(n, "%s must be an expression, not %s (see docs/mapping.md)", what, describe(n))
		return nil
	}
	e := &expression{node: n, pos: c.pos(n), src: n.Value, what: what}
	switch n.ShortTag() {
	case "!!null":
		e.kind = exprConst
		return e
	case "!!bool":
		var b bool
		_ = n.Decode(&b)
		e.kind, e.value, e.typ = exprConst, b, reflect.TypeOf(b)
		if w != wantBool && w != wantAny {
			c.errorf(n, "%s must be %s, not the boolean %s (quote it if you mean the text: '%s')", what, w, n.Value, n.Value)
			return nil
		}
		return e
	case "!!int", "!!float":
		e.kind = exprConst
		switch w {
		case wantString:
			// A number where text is wanted ("po: 4500001234") keeps the
			// digits exactly as written.
			e.value, e.typ = n.Value, reflect.TypeOf("")
			return e
		case wantNumber, wantAny:
			var f float64
			if err := n.Decode(&f); err != nil {
				c.errorf(n, "%s: %q is not a number", what, n.Value)
				return nil
			}
			e.value, e.typ = f, reflect.TypeOf(f)
			return e
		}
		c.errorf(n, "%s must be %s, not the number %s", what, w, n.Value)
		return nil
	case "!!timestamp":
		// A plain 2026-03-01T08:00:00Z is a constant, not arithmetic.
		e.kind, e.value, e.typ = exprConst, n.Value, reflect.TypeOf("")
		return e
	case "!!str":
		if n.Style == yaml.SingleQuotedStyle {
			// 'EA' is text, in YAML as in expressions: a single-quoted
			// value is a constant. Double-quote an expression that needs
			// quoting: "'A' + x".
			e.kind, e.value, e.typ = exprConst, n.Value, reflect.TypeOf("")
			if n.Value == "" {
				e.value = nil
			}
			switch w {
			case wantString, wantTime, wantAny, wantObject:
				return e
			}
			c.errorf(n, "%s must be %s, not the text '%s' (a single-quoted value is text; write an expression without quotes, or in double quotes)", what, w, n.Value)
			return nil
		}
	default:
		c.errorf(n, "%s: YAML tag %s is not supported here", what, n.Tag)
		return nil
	}
	if strings.TrimSpace(n.Value) == "" {
		e.kind = exprConst
		return e
	}

	p := &patcher{c: c, sc: sc}
	opts := make([]expr.Option, 0, len(c.libOpts)+4)
	opts = append(opts, expr.Env(c.envType(sc)), expr.Patch(p))
	for _, b := range disabledBuiltins {
		opts = append(opts, expr.DisableBuiltin(b))
	}
	opts = append(opts, c.libOpts...)
	prog, err := expr.Compile(n.Value, opts...)
	if len(p.errs) > 0 {
		pe := p.errs[0]
		line, col := exprLineCol(n.Value, pe.loc.From)
		c.errorAt(c.exprPos(n, line, col), "%s", pe.msg)
		return nil
	}
	if err != nil {
		c.exprError(n, what, err)
		return nil
	}
	e.prog = prog
	e.typ = prog.Node().Type()
	if !c.typeFits(e, w, what) {
		return nil
	}
	e.vars = c.closure(p.used)
	e.kind = exprProgram
	if low := c.lower(prog.Node(), e, sc); low != nil {
		low.vars, low.typ, low.prog = e.vars, e.typ, prog
		return low
	}
	return e
}

// typeFits checks the static type of e against what its place wants. An
// expression whose type is only known at run time (a record field, a
// lookup) passes and is checked when it runs.
func (c *compiler) typeFits(e *expression, w want, what string) bool {
	t := e.typ
	if t == nil || t.Kind() == reflect.Interface || w == wantAny {
		return true
	}
	k := t.Kind()
	numeric := k >= reflect.Int && k <= reflect.Float64
	ok := true
	hint := ""
	switch w {
	case wantString:
		ok = k == reflect.String || numeric
	case wantNumber:
		ok = numeric
		if k == reflect.String {
			hint = " (convert text with number(...), e.g. number(Qty) or number(Qty, ','))"
		}
	case wantBool:
		ok = k == reflect.Bool
		if k == reflect.String {
			hint = " (compare it, e.g. Direction == 'IN', or test it with empty(...))"
		}
	case wantTime:
		ok = k == reflect.String || t == timeType
	case wantList:
		ok = k == reflect.Slice || k == reflect.Array
	case wantObject:
		ok = k == reflect.Map || k == reflect.String
	}
	if !ok {
		c.errorAt(e.pos, "%s must be %s, but %s gives %s%s", what, w, quoteExpr(e.src), typeName(t), hint)
	}
	return ok
}

func quoteExpr(src string) string {
	src = strings.TrimSpace(src)
	if len(src) > 50 {
		src = src[:47] + "..."
	}
	return "`" + src + "`"
}

func typeName(t reflect.Type) string {
	switch k := t.Kind(); {
	case k == reflect.String:
		return "text"
	case k == reflect.Bool:
		return "a boolean"
	case k >= reflect.Int && k <= reflect.Float64:
		return "a number"
	case k == reflect.Slice || k == reflect.Array:
		return "a list"
	case k == reflect.Map:
		return "an object"
	case t == timeType:
		return "a time"
	}
	return t.String()
}

// exprError records an error of expr's compiler at its position in the
// YAML file.
func (c *compiler) exprError(n *yaml.Node, what string, err error) {
	if fe, ok := err.(*file.Error); ok {
		msg := fe.Message
		switch {
		case strings.Contains(msg, "unexpected token EOF") && c.cutByComma(n):
			msg += " (in YAML's {…} form a comma ends the value: put this expression in double quotes, or write the mapping one key a line)"
		case strings.Contains(msg, "unexpected"):
			msg += " (check the expression's syntax; quote text constants: 'EA')"
		}
		c.errorAt(c.exprPos(n, fe.Line, fe.Column), "%s: %s", what, msg)
		return
	}
	c.errorf(n, "%s: %v", what, err)
}

// cutByComma reports whether plain scalar n is followed by a comma on its
// line: YAML ended it there, as in {item: id(a, b)}.
func (c *compiler) cutByComma(n *yaml.Node) bool {
	if n.Style != 0 {
		return false
	}
	text := c.lineText(n.Line)
	end := runeOffset(text, n.Column-1+len([]rune(n.Value)))
	return strings.HasPrefix(strings.TrimLeft(text[end:], " "), ",")
}

// envType is the static type of the expression environment in a scope.
func (c *compiler) envType(sc scope) types.Map {
	env := types.Map{
		"record":    types.TypeOf(map[string]any{}),
		"kind":      types.String,
		"record_id": types.String,
	}
	for i := 0; i < sc.vars && i < len(c.vars); i++ {
		v := c.vars[i]
		env[v.name] = typeOf(v.e)
	}
	if sc.loop {
		env["each"] = types.Any
		env["index"] = types.Int
	}
	if sc.outer {
		env["outer"] = types.Any
	}
	return env
}

func typeOf(e *expression) types.Type {
	if e == nil || e.typ == nil || e.typ.Kind() == reflect.Interface {
		return types.Any
	}
	if e.typ.Kind() == reflect.Map || e.typ.Kind() == reflect.Slice {
		return types.Any
	}
	return types.TypeOf(reflect.Zero(e.typ).Interface())
}

// closure returns the vars an expression using used needs, with the vars
// those vars need, ascending (declaration order, so each var's own needs
// come first).
func (c *compiler) closure(used []int) []int {
	if len(used) == 0 {
		return nil
	}
	need := map[int]bool{}
	var add func(i int)
	add = func(i int) {
		if need[i] {
			return
		}
		need[i] = true
		if i < len(c.vars) && c.vars[i].e != nil {
			for _, j := range c.vars[i].e.vars {
				add(j)
			}
		}
	}
	for _, i := range used {
		add(i)
	}
	out := make([]int, 0, len(need))
	for i := range len(c.vars) {
		if need[i] {
			out = append(out, i)
		}
	}
	return out
}

// exprLineCol converts a rune offset into an expression to its 1-based
// line and 0-based column, as expr reports them.
func exprLineCol(src string, from int) (line, col int) {
	line = 1
	n := 0
	for _, r := range src {
		if n == from {
			break
		}
		if r == '\n' {
			line++
			col = 0
		} else {
			col++
		}
		n++
	}
	return line, col
}

// exprPos maps a position inside an expression (1-based line, 0-based
// column, counted in the scalar's value) to the file: it skips an opening
// quote, and follows a value folded over several lines back to the line
// the character is written on.
func (c *source) exprPos(n *yaml.Node, line, col int) Pos {
	p := Pos{File: c.file, Line: n.Line, Col: n.Column}
	switch n.Style {
	case yaml.LiteralStyle:
		// Lines are kept: expression line k is the k-th line after the
		// indicator, less the block's indentation.
		indent := 0
		for l := n.Line + 1; l <= len(c.lines); l++ {
			if strings.TrimSpace(c.lineText(l)) != "" {
				indent = indentOf(c.lineText(l))
				break
			}
		}
		p.Line, p.Col = n.Line+line, indent+1+col
		return p
	case yaml.SingleQuotedStyle, yaml.DoubleQuotedStyle:
		p.Col++
	}
	if n.Style == yaml.FoldedStyle {
		p.Line++
		p.Col = indentOf(c.lineText(p.Line)) + 1
	}
	// Plain, quoted and folded values join their lines with a space: walk
	// the written lines until the column falls inside one.
	rest := col
	text := c.lineText(p.Line)
	start := runeOffset(text, p.Col-1)
	for {
		seg := []rune(strings.TrimRight(text[start:], " \t"))
		if rest <= len(seg) || p.Line >= len(c.lines) {
			if n.Style == yaml.SingleQuotedStyle {
				// '' in the file is one ' in the value.
				rest += strings.Count(string(seg[:min(rest, len(seg))]), "'")
			}
			p.Col = utf8.RuneCountInString(text[:start]) + 1 + rest
			return p
		}
		rest -= len(seg) + 1
		p.Line++
		text = c.lineText(p.Line)
		start = indentOf(text)
	}
}

func (c *source) lineText(line int) string {
	if line < 1 || line > len(c.lines) {
		return ""
	}
	return c.lines[line-1]
}

func indentOf(s string) int { return len(s) - len(strings.TrimLeft(s, " ")) }

// runeOffset converts a 0-based character column to a byte offset.
func runeOffset(s string, col int) int {
	i := 0
	for off := range s {
		if i == col {
			return off
		}
		i++
	}
	return len(s)
}

// patcher rewrites an expression's tree before type checking: a name that
// is not a var or a bound name is a record field and becomes record["X"],
// so the environment holds only a few names and a record is never copied.
// It also finds mistakes expr would report less helpfully: unknown
// functions (with did-you-mean), vars used before they are defined, tables
// that do not exist, bad layouts and lot_format patterns.
type patcher struct {
	c       *compiler
	sc      scope
	used    []int
	errs    []patchError
	patched map[*ast.MemberNode]*ast.IdentifierNode
}

type patchError struct {
	loc file.Location
	msg string
}

func (p *patcher) fail(n ast.Node, format string, args ...any) {
	p.errs = append(p.errs, patchError{loc: n.Location(), msg: fmt.Sprintf(format, args...)})
}

func (p *patcher) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.IdentifierNode:
		p.identifier(node, n)
	case *ast.CallNode:
		if m, ok := n.Callee.(*ast.MemberNode); ok {
			if orig := p.patched[m]; orig != nil {
				n.Callee = orig
				delete(p.patched, m)
			}
		}
		if id, ok := n.Callee.(*ast.IdentifierNode); ok {
			p.call(id.Value, n)
		}
	case *ast.VariableDeclaratorNode:
		// let x = ...; x: the x in the body was taken for a record field.
		ast.Walk(&n.Expr, restore{p: p, name: n.Name})
	}
}

type restore struct {
	p    *patcher
	name string
}

func (r restore) Visit(node *ast.Node) {
	if m, ok := (*node).(*ast.MemberNode); ok {
		if orig := r.p.patched[m]; orig != nil && orig.Value == r.name {
			*node = orig
			delete(r.p.patched, m)
		}
	}
}

func (p *patcher) identifier(node *ast.Node, n *ast.IdentifierNode) {
	name := n.Value
	c := p.c
	if i, ok := c.varIndex[name]; ok {
		switch {
		case i == p.sc.vars:
			p.fail(n, "var %s cannot use itself (read the record field as record[%q])", name, name)
		case i > p.sc.vars:
			p.fail(n, "var %s is defined below this one (line %d); a var can only use the vars above it (move it up)", name, c.varLines[name])
		default:
			p.used = append(p.used, i)
		}
		return
	}
	switch name {
	case "$env", "record", "kind", "record_id":
		return
	case "each", "index":
		if !p.sc.loop {
			p.fail(n, "%s is only bound inside a for_each (vars are evaluated once per record, so they cannot use it)", name)
		}
		return
	case "outer":
		if !p.sc.outer {
			p.fail(n, "outer is only bound in an inputs/outputs for_each inside a rule with for_each")
		}
		return
	}
	m := &ast.MemberNode{Node: &ast.IdentifierNode{Value: "record"}, Property: &ast.StringNode{Value: name}}
	m.Node.SetLocation(n.Location())
	m.Property.SetLocation(n.Location())
	ast.Patch(node, m)
	if p.patched == nil {
		p.patched = map[*ast.MemberNode]*ast.IdentifierNode{}
	}
	p.patched[m] = n
}

func (p *patcher) call(name string, n *ast.CallNode) {
	c := p.c
	if !c.funcs[name] {
		all := make([]string, 0, len(c.funcs))
		for f := range c.funcs {
			all = append(all, f)
		}
		sort.Strings(all)
		switch {
		case name == "now":
			p.fail(n.Callee, "now() is not available: mapping the same record twice must give the same events (take the time from the record)")
		case name == "date" || name == "timezone":
			p.fail(n.Callee, "%s() is not available in mappings (use datetime(x) or datetime(x, 'MM/DD/YYYY'): it reads times in the mapping's time zone)", name)
		case didYouMean(name, all) != "":
			p.fail(n.Callee, "unknown function %s (did you mean %s?)", name, didYouMean(name, all))
		default:
			p.fail(n.Callee, "unknown function %s (see the function list in docs/mapping.md)", name)
		}
		return
	}
	arg := func(i int) (string, bool) {
		if i >= len(n.Arguments) {
			return "", false
		}
		s, ok := n.Arguments[i].(*ast.StringNode)
		if !ok {
			return "", false
		}
		return s.Value, true
	}
	switch name {
	case "lookup":
		if len(n.Arguments) == 0 {
			return
		}
		table, ok := arg(0)
		if !ok {
			p.fail(n.Arguments[0], "lookup: the table must be written as a quoted name, e.g. lookup('sites', Plant)")
			return
		}
		if _, ok := c.lib.tables[table]; !ok {
			names := make([]string, 0, len(c.lib.tables))
			for k := range c.lib.tables {
				names = append(names, k)
			}
			if hint := didYouMean(table, names); hint != "" {
				p.fail(n.Arguments[0], "lookup: no table %q (did you mean %q?)", table, hint)
			} else {
				p.fail(n.Arguments[0], "lookup: no table %q (define it under tables:)", table)
			}
		}
	case "datetime", "datefmt":
		if layout, ok := arg(1); ok {
			if _, err := goLayout(layout, true); err != nil {
				p.fail(n.Arguments[1], "%s: %v", name, err)
			}
		}
	case "number":
		if sep, ok := arg(1); ok && sep != "." && sep != "," {
			p.fail(n.Arguments[1], "number: the decimal separator must be '.' or ',', not %q", sep)
		}
	case "lot_format":
		pattern, ok := arg(0)
		if !ok {
			if len(n.Arguments) > 0 {
				p.fail(n.Arguments[0], "lot_format: write the pattern as quoted text, e.g. lot_format('{date:YYYYMMDD}-{product}-{seq:3}', {...})")
			}
			return
		}
		var keys map[string]bool
		if len(n.Arguments) > 1 {
			if m, ok := n.Arguments[1].(*ast.MapNode); ok {
				keys = map[string]bool{}
				for _, pn := range m.Pairs {
					if pair, ok := pn.(*ast.PairNode); ok {
						if k, ok := pair.Key.(*ast.StringNode); ok {
							keys[k.Value] = true
						}
					}
				}
			}
		}
		err := walkPattern(pattern, func(string) {}, func(field, spec string) error {
			if keys != nil && !keys[field] {
				return fmt.Errorf("lot_format: the pattern uses {%s} but the values have no %s (add %s: ... to the object)", field, field, field)
			}
			if spec != "" && !allDigits(spec) {
				if _, err := goLayout(spec, false); err != nil {
					return fmt.Errorf("lot_format: {%s:%s}: %v", field, spec, err)
				}
			}
			return nil
		})
		if err != nil {
			p.fail(n.Arguments[0], "%v", err)
		}
	}
}
