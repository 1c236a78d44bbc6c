package schema

import (
	"encoding/json"
	"math"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// A proof is a cheap evaluation of a compiled schema that answers only
// "valid", "invalid" or "cannot tell", without the validator's error
// values, instance locations and scopes — most of the check's cost for an
// event the schema accepts, which a partner's document is made of.
//
// It reads the schema the validator compiled (jsonschema.Schema's fields),
// not a transcription of it, and evaluates each keyword as the
// validator's own code does (jsonschema v6 validator.go, draft-07 and
// before), calling the same format functions and the same regexp engine.
// A keyword it does not evaluate, or a value it is not sure of, makes it
// answer "cannot tell". The check uses a proof only when it says "valid":
// anything else is validated by the validator, which gives the problems —
// so an invalid event is refused with exactly the validator's pointers and
// reasons, and a proof can only ever save work
// (TestEpcisProofNeverAcceptsWhatTheSchemaRefuses, FuzzEpcisProof).

// verdict is a proof's answer.
type verdict int8

const (
	unknown verdict = iota
	valid
	invalid
)

// typeBits are JSON types, as the validator tells them apart.
type typeBits uint8

const (
	tNull typeBits = 1 << iota
	tBool
	tNumber
	tInteger
	tString
	tArray
	tObject
)

var typeNames = map[string]typeBits{
	"null": tNull, "boolean": tBool, "number": tNumber, "integer": tInteger,
	"string": tString, "array": tArray, "object": tObject,
}

// node is one compiled schema, prepared for proofs.
type node struct {
	// opaque: the schema has a keyword proofs do not evaluate, whatever
	// the value (oneOf, a vocabulary extension, dynamic references).
	opaque bool
	// boolean schema (true or false), when not nil.
	boolean *bool

	types    typeBits // 0: any
	enum     bool
	enumStr  map[string]bool
	enumRest bool // the enum has values that are not strings
	hasConst bool
	format   func(any) error
	ref      *node
	refOnly  bool // draft-07 and before: $ref alone decides (its siblings are ignored)

	not          *node
	allOf, anyOf []*node
	ifS          *node
	thenS, elseS *node

	// object keywords
	objOpaque bool // minProperties, patternProperties, dependencies, …
	required  []string
	props     map[string]*node
	addl      int // 0 none, 1 false, 2 a schema
	addlNode  *node
	names     *node
	known     sync.Map // property name → verdict of names
	nknown    atomic.Int64

	// array keywords
	arrOpaque bool // tuple items, additionalItems, contains, …
	minItems  int  // -1: none
	maxItems  int  // -1: none
	unique    bool
	items     *node

	// string keywords
	strOpaque bool // content encoding / media type / schema
	minLen    int  // -1: none
	maxLen    int  // -1: none
	pattern   jsonschema.Regexp

	// number keywords: any makes a number "cannot tell"
	numOpaque bool
}

// prover holds the nodes of one compiled schema graph.
type prover struct {
	nodes map[*jsonschema.Schema]*node
}

func newProver() *prover { return &prover{nodes: map[*jsonschema.Schema]*node{}} }

// node prepares a compiled schema (and what it refers to), once.
func (p *prover) node(s *jsonschema.Schema) *node {
	if s == nil {
		return nil
	}
	if n, ok := p.nodes[s]; ok {
		return n
	}
	n := &node{minItems: -1, maxItems: -1, minLen: -1, maxLen: -1}
	p.nodes[s] = n // before its children: references may cycle
	n.boolean = s.Bool
	if s.RecursiveRef != nil || s.DynamicRef != nil || len(s.OneOf) > 0 || len(s.Extensions) > 0 ||
		s.UnevaluatedProperties != nil || s.UnevaluatedItems != nil {
		n.opaque = true
	}
	if s.Types != nil {
		for _, t := range s.Types.ToStrings() {
			n.types |= typeNames[t]
		}
	}
	if s.Const != nil {
		n.hasConst = true
	}
	if s.Enum != nil {
		n.enum = true
		n.enumStr = map[string]bool{}
		for _, v := range s.Enum.Values {
			if str, ok := v.(string); ok {
				n.enumStr[str] = true
			} else {
				n.enumRest = true
			}
		}
	}
	if s.Format != nil {
		if s.Format.Name == "regex" || s.Format.Validate == nil {
			// The validator may use its own regexp engine for "regex".
			n.opaque = true
		} else {
			n.format = s.Format.Validate
		}
	}
	n.ref = p.node(s.Ref)
	n.refOnly = s.Ref != nil && s.DraftVersion < 2019
	if s.Ref != nil && s.DraftVersion >= 2019 {
		n.opaque = true // $ref beside other keywords, and unevaluated*: not evaluated here
	}
	n.not = p.node(s.Not)
	for _, c := range s.AllOf {
		n.allOf = append(n.allOf, p.node(c))
	}
	for _, c := range s.AnyOf {
		n.anyOf = append(n.anyOf, p.node(c))
	}
	n.ifS, n.thenS, n.elseS = p.node(s.If), p.node(s.Then), p.node(s.Else)

	if s.MinProperties != nil || s.MaxProperties != nil || len(s.PatternProperties) > 0 ||
		len(s.Dependencies) > 0 || len(s.DependentRequired) > 0 || len(s.DependentSchemas) > 0 ||
		s.DraftVersion == 4 {
		n.objOpaque = true
	}
	n.required = s.Required
	if len(s.Properties) > 0 {
		n.props = map[string]*node{}
		for k, c := range s.Properties {
			n.props[k] = p.node(c)
		}
	}
	switch a := s.AdditionalProperties.(type) {
	case nil:
	case bool:
		if a {
			n.addl = 0 // true: every other member passes
		} else {
			n.addl = 1
		}
	case *jsonschema.Schema:
		n.addl, n.addlNode = 2, p.node(a)
	default:
		n.objOpaque = true
	}
	n.names = p.node(s.PropertyNames)

	if s.Contains != nil || s.MinContains != nil || s.MaxContains != nil || s.AdditionalItems != nil ||
		len(s.PrefixItems) > 0 || s.Items2020 != nil || s.DraftVersion >= 2020 {
		n.arrOpaque = true
	}
	if s.MinItems != nil {
		n.minItems = *s.MinItems
	}
	if s.MaxItems != nil {
		n.maxItems = *s.MaxItems
	}
	n.unique = s.UniqueItems
	switch it := s.Items.(type) {
	case nil:
	case *jsonschema.Schema:
		n.items = p.node(it)
	default: // a tuple
		n.arrOpaque = true
	}

	if s.ContentEncoding != nil || s.ContentMediaType != nil || s.ContentSchema != nil {
		n.strOpaque = true
	}
	if s.MinLength != nil {
		n.minLen = *s.MinLength
	}
	if s.MaxLength != nil {
		n.maxLen = *s.MaxLength
	}
	n.pattern = s.Pattern

	if s.Minimum != nil || s.Maximum != nil || s.ExclusiveMinimum != nil || s.ExclusiveMaximum != nil || s.MultipleOf != nil {
		n.numOpaque = true
	}
	return n
}

// maxDepth bounds a proof's recursion (a schema that refers to itself
// without descending into the value; the validator reports such cycles).
const maxDepth = 200

// typeOfValue is the JSON type of a decoded value, as the validator's
// typeOf tells them (a json.Number is a number, whatever its digits); 0 for
// a value the validator refuses (NaN, infinities, other Go types).
func typeOfValue(v any) typeBits {
	switch x := v.(type) {
	case nil:
		return tNull
	case bool:
		return tBool
	case json.Number:
		return tNumber
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return 0
		}
		return tNumber
	case string:
		return tString
	case []any:
		return tArray
	case map[string]any:
		return tObject
	}
	return 0
}

// and combines verdicts that must all be valid.
func and(a, b verdict) verdict {
	switch {
	case a == invalid || b == invalid:
		return invalid
	case a == valid && b == valid:
		return valid
	}
	return unknown
}

// prove evaluates v against n, in the validator's order (validator.go,
// validate): boolean, type, const, enum, format, $ref (alone before
// 2019), the keywords of v's type, then not, allOf, anyOf, if/then/else.
// The validator collects every error but its verdict is their
// conjunction, which is what this computes.
func (n *node) prove(v any, depth int) verdict {
	if n == nil {
		return valid
	}
	if depth > maxDepth {
		return unknown
	}
	if n.boolean != nil {
		if *n.boolean {
			return valid
		}
		return invalid
	}
	if n.opaque {
		return unknown
	}
	t := typeOfValue(v)
	if t == 0 {
		return invalid // the validator: "invalid JSON value"
	}
	if n.types != 0 && n.types&t == 0 {
		if t == tNumber && n.types&tInteger != 0 {
			return unknown // an integer? (not evaluated here)
		}
		return invalid
	}
	if n.hasConst {
		return unknown
	}
	if n.enum {
		s, isStr := v.(string)
		switch {
		case isStr && n.enumStr[s]:
		case isStr || !n.enumRest:
			// A string equals no string value, and the validator's
			// equals never makes a string equal a non-string (nor a
			// non-string a string).
			return invalid
		default:
			return unknown
		}
	}
	if n.format != nil && n.format(v) != nil {
		return invalid
	}
	if n.refOnly {
		return n.ref.prove(v, depth+1)
	}
	res := valid
	switch x := v.(type) {
	case map[string]any:
		res = n.object(x, depth)
	case []any:
		res = n.array(x, depth)
	case string:
		res = n.str(x)
	case json.Number, float64:
		if n.numOpaque {
			res = unknown
		}
	}
	if res == invalid {
		return invalid
	}
	if n.not != nil {
		switch n.not.prove(v, depth+1) {
		case valid:
			return invalid
		case unknown:
			res = unknown
		}
	}
	for _, c := range n.allOf {
		if res = and(res, c.prove(v, depth+1)); res == invalid {
			return invalid
		}
	}
	if len(n.anyOf) > 0 {
		any := invalid
		for _, c := range n.anyOf {
			r := c.prove(v, depth+1)
			if r == valid {
				any = valid
				break
			}
			if r == unknown {
				any = unknown
			}
		}
		if res = and(res, any); res == invalid {
			return invalid
		}
	}
	if n.ifS != nil {
		switch n.ifS.prove(v, depth+1) {
		case valid:
			if n.thenS != nil {
				res = and(res, n.thenS.prove(v, depth+1))
			}
		case invalid:
			if n.elseS != nil {
				res = and(res, n.elseS.prove(v, depth+1))
			}
		default:
			res = unknown
		}
	}
	return res
}

func (n *node) object(obj map[string]any, depth int) verdict {
	if n.objOpaque {
		return unknown
	}
	for _, k := range n.required {
		if _, ok := obj[k]; !ok {
			return invalid
		}
	}
	res := valid
	for k, c := range obj {
		if sub, ok := n.props[k]; ok {
			if res = and(res, sub.prove(c, depth+1)); res == invalid {
				return invalid
			}
			continue
		}
		switch n.addl {
		case 1:
			return invalid
		case 2:
			if res = and(res, n.addlNode.prove(c, depth+1)); res == invalid {
				return invalid
			}
		}
	}
	if n.names != nil {
		for k := range obj {
			if res = and(res, n.name(k, depth)); res == invalid {
				return invalid
			}
		}
	}
	return res
}

// maxKnownNames bounds the names a node remembers (extension names are
// the document's own; a document inventing a name per event must not grow
// the map without end).
const maxNamesKnown = 4096

// name is the verdict of propertyNames on one name: a function of the name
// alone, and events carry the same few names, so it is remembered.
func (n *node) name(k string, depth int) verdict {
	if r, ok := n.known.Load(k); ok {
		return r.(verdict)
	}
	r := n.names.prove(k, depth+1)
	if n.nknown.Load() < maxNamesKnown {
		if _, loaded := n.known.LoadOrStore(k, r); !loaded {
			n.nknown.Add(1)
		}
	}
	return r
}

func (n *node) array(arr []any, depth int) verdict {
	if n.arrOpaque {
		return unknown
	}
	if n.minItems >= 0 && len(arr) < n.minItems {
		return invalid
	}
	if n.maxItems >= 0 && len(arr) > n.maxItems {
		return invalid
	}
	res := valid
	if n.unique && len(arr) > 1 {
		res = uniqueStrings(arr)
		if res == invalid {
			return invalid
		}
	}
	if n.items != nil {
		for _, c := range arr {
			if res = and(res, n.items.prove(c, depth+1)); res == invalid {
				return invalid
			}
		}
	}
	return res
}

// uniqueStrings decides uniqueItems for an array of strings (two strings
// are equal when they are the same string); other arrays cannot be told
// here.
func uniqueStrings(arr []any) verdict {
	if len(arr) <= 8 {
		for i, a := range arr {
			s, ok := a.(string)
			if !ok {
				return unknown
			}
			for _, b := range arr[:i] {
				if b.(string) == s {
					return invalid
				}
			}
		}
		return valid
	}
	seen := make(map[string]struct{}, len(arr))
	for _, a := range arr {
		s, ok := a.(string)
		if !ok {
			return unknown
		}
		if _, dup := seen[s]; dup {
			return invalid
		}
		seen[s] = struct{}{}
	}
	return valid
}

func (n *node) str(s string) verdict {
	if n.strOpaque {
		return unknown
	}
	if n.minLen >= 0 || n.maxLen >= 0 {
		l := utf8.RuneCountInString(s)
		if (n.minLen >= 0 && l < n.minLen) || (n.maxLen >= 0 && l > n.maxLen) {
			return invalid
		}
	}
	if n.pattern != nil && !n.pattern.MatchString(s) {
		return invalid
	}
	return valid
}
