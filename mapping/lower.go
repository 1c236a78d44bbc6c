package mapping

import (
	"errors"
	"fmt"
	"reflect"
	"unicode/utf8"

	"github.com/expr-lang/expr/ast"
	exprrt "github.com/expr-lang/expr/vm/runtime"
)

// Most expressions in a mapping are small: a field, a var, a function of
// fields (unpad(Batch), lookup('sites', Plant), id('sap', Year, Doc, Item)),
// a comparison (mvt == '101', mvt in ['102', '262']) joined by and/or/not.
// lower turns the checked tree of such an expression into a tree the
// mapping evaluates itself, without the expression VM: no per-run setup,
// no argument buffers, no reflection to read a record field. Everything
// else runs in the VM. Both give the same values: comparisons and + use
// expr's own runtime functions.

// Node kinds of a lowered expression, after exprConst, exprField, exprVar.
const (
	exprCall     exprKind = iota + exprProgram + 1 // fn(args...)
	exprEqual                                      // args[0] == args[1]
	exprNotEqual                                   // args[0] != args[1]
	exprInSet                                      // args[0] in set (constant text)
	exprInList                                     // args[0] in args[1:]
	exprAnd                                        // args[0] and args[1]
	exprOr                                         // args[0] or args[1]
	exprNot                                        // not args[0]
	exprCond                                       // args[0] ? args[1] : args[2]
	exprNilElse                                    // args[0] ?? args[1]
	exprAdd                                        // args[0] + args[1]
	exprMember                                     // args[0].name: a field of each, outer, a var
	exprLen                                        // len(args[0])
)

// errUseVM is what a lowered node answers for a value it leaves to the
// VM (a member of something that is not an object, len of something that
// is not a list, an object or text): eval then runs the whole expression
// in the VM, so that its value or its error, with the place it names,
// are the VM's own.
var errUseVM = errors.New("mapping: evaluate in the VM")

// lower returns the lowered form of n, or nil when n (or a part of it) is
// not something lower knows: then the expression runs in the VM.
func (c *compiler) lower(n ast.Node, top *expression, sc scope) *expression {
	sub := func(kind exprKind, args ...*expression) *expression {
		for _, a := range args {
			if a == nil {
				return nil
			}
		}
		return &expression{kind: kind, args: args, loc: n.Location(), node: top.node, pos: top.pos, src: top.src, what: top.what}
	}
	constant := func(v any) *expression {
		return &expression{kind: exprConst, value: v, node: top.node, pos: top.pos, src: top.src, what: top.what}
	}
	switch n := n.(type) {
	case *ast.StringNode:
		return constant(n.Value)
	case *ast.BoolNode:
		return constant(n.Value)
	case *ast.NilNode:
		return constant(nil)
	case *ast.IntegerNode:
		if t := n.Type(); t != nil && t.Kind() == reflect.Float64 {
			return constant(float64(n.Value))
		}
		return constant(n.Value)
	case *ast.FloatNode:
		return constant(n.Value)
	case *ast.ConstantNode:
		if set, ok := n.Value.(map[string]struct{}); ok {
			e := sub(exprInSet)
			e.set = set
			return e
		}
		switch n.Value.(type) {
		case string, bool, float64, int, nil:
			return constant(n.Value)
		}
	case *ast.MemberNode:
		if id, ok := n.Node.(*ast.IdentifierNode); ok && id.Value == "record" && !n.Optional && !n.Method {
			if prop, ok := n.Property.(*ast.StringNode); ok {
				e := sub(exprField)
				e.name = prop.Value
				return e
			}
		}
		// each.LotNumber, outer.Batch, a var's field: read from the
		// object; anything else the VM reads (and fails on).
		if prop, ok := n.Property.(*ast.StringNode); ok && !n.Optional && !n.Method {
			e := sub(exprMember, c.lower(n.Node, top, sc))
			if e != nil {
				e.name = prop.Value
			}
			return e
		}
	case *ast.BuiltinNode:
		if n.Name == "len" && len(n.Arguments) == 1 {
			return sub(exprLen, c.lower(n.Arguments[0], top, sc))
		}
	case *ast.IdentifierNode:
		_, isVar := c.varIndex[n.Value]
		switch {
		case isVar, n.Value == "kind", n.Value == "record_id", n.Value == "each", n.Value == "index", n.Value == "outer":
			e := sub(exprVar)
			e.name, e.idx = n.Value, -1
			if isVar {
				e.idx = c.varIndex[n.Value]
			}
			return e
		}
	case *ast.CallNode:
		id, ok := n.Callee.(*ast.IdentifierNode)
		if !ok {
			return nil
		}
		fn, ok := c.libFuncs[id.Value]
		if !ok {
			return nil
		}
		args := make([]*expression, len(n.Arguments))
		for i, a := range n.Arguments {
			if args[i] = c.lower(a, top, sc); args[i] == nil {
				return nil
			}
		}
		e := sub(exprCall, args...)
		if e != nil {
			e.fn, e.name = fn, id.Value
		}
		return e
	case *ast.UnaryNode:
		if n.Operator == "not" || n.Operator == "!" {
			return sub(exprNot, c.lower(n.Node, top, sc))
		}
	case *ast.ConditionalNode:
		return sub(exprCond, c.lower(n.Cond, top, sc), c.lower(n.Exp1, top, sc), c.lower(n.Exp2, top, sc))
	case *ast.BinaryNode:
		var kind exprKind
		switch n.Operator {
		case "==":
			kind = exprEqual
		case "!=":
			kind = exprNotEqual
		case "and", "&&":
			kind = exprAnd
		case "or", "||":
			kind = exprOr
		case "??":
			kind = exprNilElse
		case "+":
			kind = exprAdd
		case "in":
			left := c.lower(n.Left, top, sc)
			switch right := n.Right.(type) {
			case *ast.ConstantNode:
				set, ok := right.Value.(map[string]struct{})
				if !ok {
					return nil
				}
				e := sub(exprInSet, left)
				if e != nil {
					e.set = set
				}
				return e
			case *ast.ArrayNode:
				args := []*expression{left}
				for _, el := range right.Nodes {
					args = append(args, c.lower(el, top, sc))
				}
				return sub(exprInList, args...)
			}
			return nil
		default:
			return nil
		}
		return sub(kind, c.lower(n.Left, top, sc), c.lower(n.Right, top, sc))
	}
	return nil
}

// evalNode evaluates a lowered expression; the vars it needs are computed.
func (st *state) evalNode(e *expression) (any, error) {
	switch e.kind {
	case exprConst:
		return e.value, nil
	case exprField:
		return st.rec.Fields[e.name], nil
	case exprVar:
		if e.idx >= 0 {
			return st.vals[e.idx], nil
		}
		return st.bound(e.name), nil
	case exprCall:
		base := len(st.args)
		for _, a := range e.args {
			v, err := st.evalNode(a)
			if err != nil {
				st.args = st.args[:base]
				return nil, err
			}
			st.args = append(st.args, v)
		}
		v, err := e.fn(st.args[base:]...)
		clear(st.args[base:])
		st.args = st.args[:base]
		if err != nil {
			return nil, st.nodeFailure(e, err.Error())
		}
		return v, nil
	case exprEqual, exprNotEqual:
		a, err := st.evalNode(e.args[0])
		if err != nil {
			return nil, err
		}
		b, err := st.evalNode(e.args[1])
		if err != nil {
			return nil, err
		}
		var eq bool
		if sa, ok := a.(string); ok {
			sb, ok := b.(string)
			eq = ok && sa == sb
		} else if eq, err = st.equal(e, a, b); err != nil {
			return nil, err
		}
		return eq == (e.kind == exprEqual), nil
	case exprInSet:
		v, err := st.evalNode(e.args[0])
		if err != nil {
			return nil, err
		}
		switch x := v.(type) {
		case string:
			_, in := e.set[x]
			return in, nil
		case nil:
			_, in := e.set[""]
			return in, nil
		}
		return nil, st.nodeFailure(e, fmt.Sprintf("in: the list holds text, the value is %s (convert it with string(...))", describeValue(v)))
	case exprInList:
		v, err := st.evalNode(e.args[0])
		if err != nil {
			return nil, err
		}
		for _, a := range e.args[1:] {
			w, err := st.evalNode(a)
			if err != nil {
				return nil, err
			}
			eq, err := st.equal(e, w, v)
			if err != nil {
				return nil, err
			}
			if eq {
				return true, nil
			}
		}
		return false, nil
	case exprAnd, exprOr:
		a, err := st.boolNode(e, e.args[0])
		if err != nil {
			return nil, err
		}
		if a == (e.kind == exprOr) {
			return a, nil // short circuit
		}
		return st.boolNode(e, e.args[1])
	case exprNot:
		a, err := st.boolNode(e, e.args[0])
		if err != nil {
			return nil, err
		}
		return !a, nil
	case exprCond:
		c, err := st.boolNode(e, e.args[0])
		if err != nil {
			return nil, err
		}
		if c {
			return st.evalNode(e.args[1])
		}
		return st.evalNode(e.args[2])
	case exprNilElse:
		a, err := st.evalNode(e.args[0])
		if err != nil || a != nil {
			return a, err
		}
		return st.evalNode(e.args[1])
	case exprMember:
		v, err := st.evalNode(e.args[0])
		if err != nil {
			return nil, err
		}
		// As the VM's fetch: a missing field is nil.
		if m, ok := v.(map[string]any); ok {
			return m[e.name], nil
		}
		return nil, errUseVM
	case exprLen:
		v, err := st.evalNode(e.args[0])
		if err != nil {
			return nil, err
		}
		// As expr's len: elements, fields, characters.
		switch x := v.(type) {
		case []any:
			return len(x), nil
		case map[string]any:
			return len(x), nil
		case string:
			return utf8.RuneCountInString(x), nil
		}
		return nil, errUseVM
	case exprAdd:
		a, err := st.evalNode(e.args[0])
		if err != nil {
			return nil, err
		}
		b, err := st.evalNode(e.args[1])
		if err != nil {
			return nil, err
		}
		if sa, ok := a.(string); ok {
			if sb, ok := b.(string); ok {
				return sa + sb, nil
			}
		}
		return st.add(e, a, b)
	}
	return nil, st.nodeFailure(e, fmt.Sprintf("internal error: cannot evaluate node kind %d", e.kind))
}

func (st *state) boolNode(parent, e *expression) (bool, error) {
	v, err := st.evalNode(e)
	if err != nil {
		return false, err
	}
	b, ok := v.(bool)
	if !ok {
		return false, st.nodeFailure(parent, fmt.Sprintf("want true or false, got %s", describeValue(v)))
	}
	return b, nil
}

// equal and add are expr's own == and +, which panic on operands they do
// not take.
func (st *state) equal(e *expression, a, b any) (eq bool, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = st.nodeFailure(e, fmt.Sprint(p))
		}
	}()
	return exprrt.Equal(a, b), nil
}

func (st *state) add(e *expression, a, b any) (sum any, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = st.nodeFailure(e, fmt.Sprint(p))
		}
	}()
	return exprrt.Add(a, b), nil
}

// nodeFailure is a failure at the place in the expression where node e is
// written.
func (st *state) nodeFailure(e *expression, msg string) error {
	line, col := exprLineCol(e.src, e.loc.From)
	return &failure{pos: st.m.src.exprPos(e.node, line, col), msg: e.what + ": " + msg}
}
