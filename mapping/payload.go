package mapping

import (
	"fmt"
	"slices"

	"go.yaml.in/yaml/v3"
)

// Fields are named values computed from one record with the mapping
// language: the same expressions, functions and type checks as a mapping
// file's templates. hub.yaml's actions use them to build an ERP's payload
// from an event (the record is the event's canonical JSON). Fields are
// immutable and safe for concurrent use.
type Fields struct {
	m     *Mapping // the source and function library; no vars, no rules
	names []string
	exprs []*expression
}

// FieldSource is one field as written in a YAML file: its name and the
// scalar node of its expression.
type FieldSource struct {
	Name string
	Node *yaml.Node
}

// CompileFields compiles the fields written in file (src is its text, for
// positions inside expressions). Problems come as an ErrorList with each
// one's file:line:col.
func CompileFields(file string, src []byte, fields []FieldSource) (*Fields, error) {
	c := newCompiler(file, src)
	c.libOpts = c.lib.options()
	c.libFuncs = map[string]func(...any) (any, error){}
	for _, f := range c.lib.functions() {
		c.libFuncs[f.name] = f.fn
	}
	f := &Fields{m: &Mapping{src: c.source, lib: c.lib}}
	for _, fs := range fields {
		e := c.compileExpr(fs.Node, wantAny, fs.Name, scope{})
		f.names = append(f.names, fs.Name)
		f.exprs = append(f.exprs, e)
	}
	if len(c.errs) > 0 {
		return nil, c.errs
	}
	return f, nil
}

// Names lists the fields in the order written.
func (f *Fields) Names() []string { return slices.Clone(f.names) }

// Eval computes every field for the record: JSON values (text, numbers,
// booleans, lists, objects; times as RFC 3339 text). A field that fails is
// an error naming it and its place in the file.
func (f *Fields) Eval(r Record) (map[string]any, error) {
	st := f.m.newState()
	st.begin(r)
	defer st.end()
	out := make(map[string]any, len(f.exprs))
	for i, e := range f.exprs {
		v, err := st.eval(e)
		if err == nil {
			v, err = st.jsonable(v)
		}
		if err != nil {
			if fl, ok := err.(*failure); ok {
				return nil, fmt.Errorf("%s: field %s: %s", fl.pos, f.names[i], fl.msg)
			}
			return nil, fmt.Errorf("%s: field %s: %w", e.pos, f.names[i], err)
		}
		out[f.names[i]] = v
	}
	return out, nil
}
