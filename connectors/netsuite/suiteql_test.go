package netsuite_test

// A small SuiteQL evaluator for the fake account: enough of the language to
// run the connector's queries for real, so that a wrong filter, order or
// limit loses records in tests as it would against NetSuite. It parses
// SELECT … FROM … [WHERE …] [ORDER BY …] with AND, OR, NOT, comparisons,
// IN, IS [NOT] NULL, TO_CHAR, TO_TIMESTAMP and BUILTIN.DF, with SQL's
// three-valued logic (a comparison with NULL is neither true nor false).
// Joins are checked against the ones the fake has computed (fake_test.go)
// rather than executed.

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
)

type tokKind int

const (
	tIdent tokKind = iota
	tNumber
	tString
	tOp
	tLParen
	tRParen
	tComma
	tEOF
)

type token struct {
	kind tokKind
	text string
}

func tokenize(q string) ([]token, error) {
	var out []token
	for i := 0; i < len(q); {
		c := q[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(':
			out = append(out, token{tLParen, "("})
			i++
		case c == ')':
			out = append(out, token{tRParen, ")"})
			i++
		case c == ',':
			out = append(out, token{tComma, ","})
			i++
		case c == '\'':
			var b strings.Builder
			j := i + 1
			for {
				if j >= len(q) {
					return nil, fmt.Errorf("unterminated string at %d", i)
				}
				if q[j] == '\'' {
					if j+1 < len(q) && q[j+1] == '\'' {
						b.WriteByte('\'')
						j += 2
						continue
					}
					break
				}
				b.WriteByte(q[j])
				j++
			}
			out = append(out, token{tString, b.String()})
			i = j + 1
		case c == '-' || c >= '0' && c <= '9':
			j := i + 1
			for j < len(q) && (q[j] >= '0' && q[j] <= '9' || q[j] == '.') {
				j++
			}
			out = append(out, token{tNumber, q[i:j]})
			i = j
		case strings.ContainsRune("=<>!", rune(c)):
			j := i + 1
			if j < len(q) && strings.ContainsRune("=>", rune(q[j])) {
				j++
			}
			out = append(out, token{tOp, q[i:j]})
			i = j
		case c == '_' || unicode.IsLetter(rune(c)):
			j := i + 1
			for j < len(q) && (q[j] == '_' || q[j] == '.' || unicode.IsLetter(rune(q[j])) || unicode.IsDigit(rune(q[j]))) {
				j++
			}
			out = append(out, token{tIdent, q[i:j]})
			i = j
		default:
			return nil, fmt.Errorf("unexpected %q at %d", c, i)
		}
	}
	return append(out, token{tEOF, ""}), nil
}

// node is a parsed expression.
type node struct {
	op    string // "col", "num", "str", "fn", "cmp", "in", "isnull", "and", "or", "not"
	text  string // column name, literal, function name or comparison operator
	num   float64
	neg   bool // IS NOT NULL
	args  []*node
	slot  int // memo slot of a TO_CHAR over a column
	value any // folded constant
}

func (n *node) String() string {
	switch n.op {
	case "col", "num":
		return n.text
	case "str":
		return "'" + n.text + "'"
	case "fn":
		var a []string
		for _, x := range n.args {
			a = append(a, x.String())
		}
		return strings.ToUpper(n.text) + "(" + strings.Join(a, ", ") + ")"
	case "cmp":
		return n.args[0].String() + " " + n.text + " " + n.args[1].String()
	case "and", "or":
		return "(" + n.args[0].String() + " " + strings.ToUpper(n.op) + " " + n.args[1].String() + ")"
	}
	return n.op
}

type selectItem struct {
	expr  *node
	alias string
}

type joinClause struct {
	kind, table, alias, on string
}

type orderItem struct {
	expr *node
	desc bool
}

type query struct {
	selects []selectItem
	from    []joinClause
	where   *node
	order   []orderItem
}

type parser struct {
	toks []token
	i    int
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token { t := p.toks[p.i]; p.i++; return t }

func (p *parser) keyword(k string) bool {
	if t := p.peek(); t.kind == tIdent && strings.EqualFold(t.text, k) {
		p.i++
		return true
	}
	return false
}

func (p *parser) expect(k string) error {
	if !p.keyword(k) {
		return fmt.Errorf("expected %s, found %q", k, p.peek().text)
	}
	return nil
}

var reserved = map[string]bool{"select": true, "from": true, "where": true, "order": true, "by": true, "and": true,
	"or": true, "not": true, "in": true, "as": true, "is": true, "null": true, "inner": true, "left": true,
	"join": true, "on": true, "asc": true, "desc": true}

func parseQuery(q string) (*query, error) {
	toks, err := tokenize(q)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	out := &query{}
	if err := p.expect("SELECT"); err != nil {
		return nil, err
	}
	for {
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		if err := p.expect("AS"); err != nil {
			return nil, fmt.Errorf("select item %s: %w", e, err)
		}
		a := p.next()
		if a.kind != tIdent || reserved[strings.ToLower(a.text)] {
			return nil, fmt.Errorf("bad alias %q", a.text)
		}
		out.selects = append(out.selects, selectItem{e, strings.ToLower(a.text)})
		if p.peek().kind != tComma {
			break
		}
		p.next()
	}
	if err := p.expect("FROM"); err != nil {
		return nil, err
	}
	table, alias := p.next(), p.next()
	out.from = append(out.from, joinClause{"", strings.ToLower(table.text), strings.ToLower(alias.text), ""})
	for {
		kind := ""
		switch {
		case p.keyword("INNER"):
			kind = "INNER"
		case p.keyword("LEFT"):
			kind = "LEFT"
		}
		if kind == "" {
			break
		}
		if err := p.expect("JOIN"); err != nil {
			return nil, err
		}
		table, alias := p.next(), p.next()
		if err := p.expect("ON"); err != nil {
			return nil, err
		}
		on, err := p.expr()
		if err != nil {
			return nil, err
		}
		out.from = append(out.from, joinClause{kind, strings.ToLower(table.text), strings.ToLower(alias.text), on.String()})
	}
	if p.keyword("WHERE") {
		if out.where, err = p.expr(); err != nil {
			return nil, err
		}
	}
	if p.keyword("ORDER") {
		if err := p.expect("BY"); err != nil {
			return nil, err
		}
		for {
			e, err := p.expr()
			if err != nil {
				return nil, err
			}
			it := orderItem{expr: e}
			if p.keyword("DESC") {
				it.desc = true
			} else {
				p.keyword("ASC")
			}
			out.order = append(out.order, it)
			if p.peek().kind != tComma {
				break
			}
			p.next()
		}
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, fmt.Errorf("unexpected %q after the query", t.text)
	}
	return out, nil
}

func (p *parser) expr() (*node, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.keyword("OR") {
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		l = &node{op: "or", args: []*node{l, r}}
	}
	return l, nil
}

func (p *parser) and() (*node, error) {
	l, err := p.not()
	if err != nil {
		return nil, err
	}
	for p.keyword("AND") {
		r, err := p.not()
		if err != nil {
			return nil, err
		}
		l = &node{op: "and", args: []*node{l, r}}
	}
	return l, nil
}

func (p *parser) not() (*node, error) {
	if p.keyword("NOT") {
		x, err := p.not()
		if err != nil {
			return nil, err
		}
		return &node{op: "not", args: []*node{x}}, nil
	}
	return p.comparison()
}

func (p *parser) comparison() (*node, error) {
	l, err := p.primary()
	if err != nil {
		return nil, err
	}
	switch t := p.peek(); {
	case t.kind == tOp:
		p.next()
		r, err := p.primary()
		if err != nil {
			return nil, err
		}
		op := t.text
		if op == "!=" {
			op = "<>"
		}
		return &node{op: "cmp", text: op, args: []*node{l, r}}, nil
	case p.keyword("IN"):
		if p.next().kind != tLParen {
			return nil, fmt.Errorf("expected ( after IN")
		}
		n := &node{op: "in", args: []*node{l}}
		for {
			x, err := p.primary()
			if err != nil {
				return nil, err
			}
			n.args = append(n.args, x)
			t := p.next()
			if t.kind == tRParen {
				return n, nil
			}
			if t.kind != tComma {
				return nil, fmt.Errorf("expected , or ) in IN list, found %q", t.text)
			}
		}
	case p.keyword("IS"):
		n := &node{op: "isnull", args: []*node{l}, neg: p.keyword("NOT")}
		return n, p.expect("NULL")
	}
	return l, nil
}

func (p *parser) primary() (*node, error) {
	t := p.next()
	switch t.kind {
	case tNumber:
		f, err := strconv.ParseFloat(t.text, 64)
		if err != nil {
			return nil, fmt.Errorf("bad number %q", t.text)
		}
		return &node{op: "num", text: t.text, num: f}, nil
	case tString:
		return &node{op: "str", text: t.text}, nil
	case tLParen:
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		if p.next().kind != tRParen {
			return nil, fmt.Errorf("expected )")
		}
		return e, nil
	case tIdent:
		if reserved[strings.ToLower(t.text)] {
			return nil, fmt.Errorf("unexpected keyword %s", t.text)
		}
		if p.peek().kind == tLParen {
			p.next()
			n := &node{op: "fn", text: strings.ToLower(t.text)}
			for p.peek().kind != tRParen {
				a, err := p.expr()
				if err != nil {
					return nil, err
				}
				n.args = append(n.args, a)
				if p.peek().kind == tComma {
					p.next()
				}
			}
			p.next()
			return n, nil
		}
		return &node{op: "col", text: strings.ToLower(t.text)}, nil
	}
	return nil, fmt.Errorf("unexpected %q", t.text)
}

// Evaluation. Values are nil (NULL), string, float64 or time.Time.

type evalFn func(r *frow) any

// compiler turns nodes into evalFns over the fake's rows.
type compiler struct {
	cols    func(col string) (func(r *frow) any, error) // a column reference
	display func(col string) (func(r *frow) any, error) // BUILTIN.DF of a column
	slot    func(key string) int                        // memo slot for an expression
	loc     *time.Location
}

// oracleLayout turns the format models the connector uses into Go layouts.
func oracleLayout(f string) (string, error) {
	switch strings.ToUpper(f) {
	case "YYYY-MM-DD HH24:MI:SS":
		return "2006-01-02 15:04:05", nil
	case "YYYY-MM-DD":
		return "2006-01-02", nil
	}
	return "", fmt.Errorf("format model %q is not supported by the fake", f)
}

func (c *compiler) compile(n *node) (evalFn, error) {
	switch n.op {
	case "num":
		v := any(n.num)
		return func(*frow) any { return v }, nil
	case "str":
		v := any(n.text)
		return func(*frow) any { return v }, nil
	case "col":
		acc, err := c.cols(n.text)
		if err != nil {
			return nil, err
		}
		// A row's columns do not change between queries (rows are made
		// again when the data changes): keep each value once boxed.
		slot := c.slot(n.text)
		return func(row *frow) any { return row.memo(slot, acc) }, nil
	case "fn":
		return c.function(n)
	case "cmp":
		l, err := c.compile(n.args[0])
		if err != nil {
			return nil, err
		}
		r, err := c.compile(n.args[1])
		if err != nil {
			return nil, err
		}
		op := n.text
		return func(row *frow) any {
			cmp, ok := compareValues(l(row), r(row))
			if !ok {
				return nil
			}
			switch op {
			case "=":
				return cmp == 0
			case "<>":
				return cmp != 0
			case "<":
				return cmp < 0
			case "<=":
				return cmp <= 0
			case ">":
				return cmp > 0
			case ">=":
				return cmp >= 0
			}
			return nil
		}, nil
	case "in":
		x, err := c.compile(n.args[0])
		if err != nil {
			return nil, err
		}
		var list []evalFn
		for _, a := range n.args[1:] {
			f, err := c.compile(a)
			if err != nil {
				return nil, err
			}
			list = append(list, f)
		}
		return func(row *frow) any {
			v := x(row)
			if v == nil {
				return nil
			}
			for _, f := range list {
				if cmp, ok := compareValues(v, f(row)); ok && cmp == 0 {
					return true
				}
			}
			return false
		}, nil
	case "isnull":
		x, err := c.compile(n.args[0])
		if err != nil {
			return nil, err
		}
		neg := n.neg
		return func(row *frow) any { return (x(row) == nil) != neg }, nil
	case "not":
		x, err := c.compile(n.args[0])
		if err != nil {
			return nil, err
		}
		return func(row *frow) any {
			if b, ok := x(row).(bool); ok {
				return !b
			}
			return nil
		}, nil
	case "and", "or":
		l, err := c.compile(n.args[0])
		if err != nil {
			return nil, err
		}
		r, err := c.compile(n.args[1])
		if err != nil {
			return nil, err
		}
		and := n.op == "and"
		return func(row *frow) any {
			a := l(row)
			if ab, ok := a.(bool); ok && ab != and {
				return ab // false AND …, true OR …
			}
			b := r(row)
			if bb, ok := b.(bool); ok && bb != and {
				return bb
			}
			if a == nil || b == nil {
				return nil
			}
			return and
		}, nil
	}
	return nil, fmt.Errorf("cannot evaluate %s", n.op)
}

func (c *compiler) function(n *node) (evalFn, error) {
	switch n.text {
	case "to_char":
		if len(n.args) != 2 || n.args[1].op != "str" {
			return nil, fmt.Errorf("TO_CHAR wants (expression, 'format')")
		}
		layout, err := oracleLayout(n.args[1].text)
		if err != nil {
			return nil, err
		}
		x, err := c.compile(n.args[0])
		if err != nil {
			return nil, err
		}
		loc := c.loc
		eval := func(row *frow) any {
			t, ok := x(row).(time.Time)
			if !ok {
				return nil
			}
			return t.In(loc).Format(layout)
		}
		if n.args[0].op != "col" {
			return eval, nil
		}
		// TO_CHAR of a column is the same for a row in every query:
		// keep it, so that sorting 100,000 rows stays quick.
		slot := c.slot(n.String())
		return func(row *frow) any { return row.memo(slot, eval) }, nil
	case "to_timestamp":
		if len(n.args) != 2 || n.args[0].op != "str" || n.args[1].op != "str" {
			return nil, fmt.Errorf("TO_TIMESTAMP wants ('text', 'format')")
		}
		layout, err := oracleLayout(n.args[1].text)
		if err != nil {
			return nil, err
		}
		t, err := latestReading(n.args[0].text, layout, c.loc)
		if err != nil {
			return nil, err
		}
		v := any(t)
		return func(*frow) any { return v }, nil
	case "builtin.df":
		if len(n.args) != 1 || n.args[0].op != "col" {
			return nil, fmt.Errorf("BUILTIN.DF wants a column")
		}
		return c.display(n.args[0].text)
	}
	return nil, fmt.Errorf("function %s is not supported by the fake", strings.ToUpper(n.text))
}

// latestReading reads a wall clock in loc. In a repeated hour it takes the
// later of the two instants: the reading that makes a lower bound skip the
// most, so that a connector that is not careful about it loses records in
// tests.
func latestReading(s, layout string, loc *time.Location) (time.Time, error) {
	naive, err := time.ParseInLocation(layout, s, time.UTC)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q does not match the format", s)
	}
	var best time.Time
	for _, d := range []time.Duration{-26 * time.Hour, 0, 26 * time.Hour} {
		_, off := naive.Add(d).In(loc).Zone()
		t := naive.Add(-time.Duration(off) * time.Second)
		if t.In(loc).Format(layout) == s && t.After(best) {
			best = t
		}
	}
	if best.IsZero() {
		best = time.Date(naive.Year(), naive.Month(), naive.Day(), naive.Hour(), naive.Minute(), naive.Second(), 0, loc)
	}
	return best, nil
}

// compareValues compares two non-NULL values of one type; a number and a
// text compare as numbers when the text is one (Oracle converts).
func compareValues(a, b any) (int, bool) {
	if a == nil || b == nil {
		return 0, false
	}
	switch x := a.(type) {
	case float64:
		y, ok := asNumber(b)
		if !ok {
			return 0, false
		}
		return cmpFloat(x, y), true
	case string:
		switch y := b.(type) {
		case string:
			return strings.Compare(x, y), true
		case float64:
			xf, ok := asNumber(x)
			if !ok {
				return 0, false
			}
			return cmpFloat(xf, y), true
		}
	case time.Time:
		if y, ok := b.(time.Time); ok {
			return x.Compare(y), true
		}
	}
	return 0, false
}

func asNumber(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case string:
		f, err := strconv.ParseFloat(x, 64)
		return f, err == nil
	}
	return 0, false
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
