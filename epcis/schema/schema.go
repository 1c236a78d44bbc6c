// Package schema validates EPCIS 2.0 JSON / JSON-LD documents and events
// against GS1's ratified JSON schema, vendored beside this file
// (EPCIS-JSON-Schema.json, see SOURCE.md). It reads nothing but the
// embedded schema.
package schema

import (
	"bytes"
	_ "embed"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/dlclark/regexp2"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

var printer = message.NewPrinter(language.English)

//go:embed EPCIS-JSON-Schema.json
var schemaJSON []byte

// URL is the schema's $id.
const URL = "https://gs1.github.io/EPCIS/EPCIS-JSON-Schema.json"

// Problem is one way a document breaks the schema.
type Problem struct {
	Pointer string `json:"pointer"` // JSON pointer of the value at fault ("" is the document)
	Reason  string `json:"reason"`
	// Line and Column place the problem in the document's text when known
	// (1-based; 0 when not): the event's start in JSON, the element in XML.
	Line   int `json:"line,omitempty"`
	Column int `json:"column,omitempty"`
}

func (p Problem) String() string {
	ptr := p.Pointer
	if ptr == "" && p.Line == 0 {
		ptr = "(the document)"
	}
	s := p.Reason
	if ptr != "" {
		s = ptr + ": " + s
	}
	if p.Line > 0 {
		s = fmt.Sprintf("line %d:%d: %s", p.Line, p.Column, s)
	}
	return s
}

var (
	once     sync.Once
	compiled *jsonschema.Schema
	// whole is compiled, for proofs of validity (prove.go).
	whole *node
	// events are the schema's definitions of each event type, to check
	// one event of a document on its own (ValidateEvent).
	events  map[string]*eventSchema
	errLoad error
)

// eventSchema is the schema's definition of one event type, compiled twice.
//
// The definition restricts the event's property names (propertyNames: the
// standard's fields, or a URI for an extension), and the validator checks
// each name of each event as a whole new validation — a third of the
// check's cost. A name's answer depends on the name alone, and events
// carry the same few names: so each name is checked once against the
// definition's own propertyNames (names, compiled from the same schema)
// and its answer remembered; an event whose names all pass is checked
// against the definition without its propertyNames (fast), which then
// means exactly what the whole definition (full) means. An event with a
// name that fails is checked against full, so its problems are the
// validator's own.
type eventSchema struct {
	full, fast, names *jsonschema.Schema
	proof             *node    // full, for proofs of validity (prove.go)
	known             sync.Map // name → bool: passes names
	nknown            atomic.Int64
}

// maxKnownNames bounds the names an eventSchema remembers (extension names
// are the document's own; a document inventing a name per event must not
// grow the map without end).
const maxKnownNames = 4096

// namesPass says whether every property name of the event m passes the
// definition's propertyNames.
func (es *eventSchema) namesPass(m map[string]any) bool {
	for k := range m {
		if ok, hit := es.known.Load(k); hit {
			if !ok.(bool) {
				return false
			}
			continue
		}
		ok := es.names.Validate(k) == nil
		if es.nknown.Load() < maxKnownNames {
			if _, loaded := es.known.LoadOrStore(k, ok); !loaded {
				es.nknown.Add(1)
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// withoutNamesURL is the $id of the copy of the schema whose event types
// have no propertyNames (eventSchema.fast).
const withoutNamesURL = "https://lothub.invalid/epcis/EPCIS-JSON-Schema-without-event-propertyNames.json"

// eventTypes are the event types the schema defines, and the definition an
// event of none of them is checked against.
var eventTypes = []string{"ObjectEvent", "AggregationEvent", "TransactionEvent", "TransformationEvent", "AssociationEvent"}

const otherEvent = "EPCIS-Document-Event"

// namesAt is the JSON pointer, within an event type's definition, of the
// member of its allOf that has propertyNames ("" when none), and that
// member; the schema's own layout, read rather than assumed.
func namesAt(def map[string]any) (string, map[string]any) {
	all, _ := def["allOf"].([]any)
	for i, a := range all {
		if m, ok := a.(map[string]any); ok {
			if _, ok := m["propertyNames"]; ok {
				return fmt.Sprintf("/allOf/%d", i), m
			}
		}
	}
	return "", nil
}

// ecmaRegexp adapts regexp2 in ECMAScript mode: the schema's patterns use
// negative lookahead (?!…), which Go's regexp cannot compile (errata to
// issue 19), and JSON Schema specifies ECMA-262 regular expressions.
//
// A match is a pure function of the string, and the strings the schema's
// patterns see repeat from event to event (time zone offsets, units,
// vocabulary URIs): each pattern remembers the answers for short strings,
// up to memoSize of them (then it starts over), so regexp2's backtracking
// matcher runs once per distinct value rather than once per event.
type ecmaRegexp struct {
	re   *regexp2.Regexp
	mu   sync.Mutex
	memo map[string]bool
}

const (
	memoSize   = 4096
	memoMaxLen = 128
)

func (re *ecmaRegexp) MatchString(s string) bool {
	if len(s) <= memoMaxLen {
		re.mu.Lock()
		ok, hit := re.memo[s]
		re.mu.Unlock()
		if hit {
			return ok
		}
	}
	ok, err := re.re.MatchString(s)
	ok = err == nil && ok
	if len(s) <= memoMaxLen {
		re.mu.Lock()
		if len(re.memo) >= memoSize {
			clear(re.memo)
		}
		re.memo[s] = ok
		re.mu.Unlock()
	}
	return ok
}

func (re *ecmaRegexp) String() string { return re.re.String() }

func compileECMA(s string) (jsonschema.Regexp, error) {
	re, err := regexp2.Compile(s, regexp2.ECMAScript)
	if err != nil {
		return nil, err
	}
	return &ecmaRegexp{re: re, memo: map[string]bool{}}, nil
}

func load() (*jsonschema.Schema, error) {
	once.Do(func() {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schemaJSON))
		if err != nil {
			errLoad = fmt.Errorf("epcis schema: %w", err)
			return
		}
		cheapFirst(doc)
		c := jsonschema.NewCompiler()
		c.UseRegexpEngine(compileECMA)
		if err := c.AddResource(URL, doc); err != nil {
			errLoad = fmt.Errorf("epcis schema: %w", err)
			return
		}
		// The copy without the event types' propertyNames (eventSchema).
		bare, err := jsonschema.UnmarshalJSON(bytes.NewReader(schemaJSON))
		if err != nil {
			errLoad = fmt.Errorf("epcis schema: %w", err)
			return
		}
		cheapFirst(bare)
		bareDoc, _ := bare.(map[string]any)
		bareDefs, _ := bareDoc["definitions"].(map[string]any)
		bareDoc["$id"] = withoutNamesURL
		ptrs := map[string]string{}
		for _, t := range eventTypes {
			def, _ := bareDefs[t].(map[string]any)
			ptr, member := namesAt(def)
			if member == nil {
				continue // no propertyNames: checked whole
			}
			delete(member, "propertyNames")
			ptrs[t] = ptr
		}
		if err := c.AddResource(withoutNamesURL, bare); err != nil {
			errLoad = fmt.Errorf("epcis schema: %w", err)
			return
		}
		compiled, errLoad = c.Compile(URL)
		if errLoad != nil {
			return
		}
		proofs := newProver()
		whole = proofs.node(compiled)
		events = map[string]*eventSchema{}
		for _, t := range append(eventTypes, otherEvent) {
			es := &eventSchema{}
			if es.full, errLoad = c.Compile(URL + "#/definitions/" + t); errLoad != nil {
				return
			}
			es.proof = proofs.node(es.full)
			if ptr, ok := ptrs[t]; ok {
				if es.fast, errLoad = c.Compile(withoutNamesURL + "#/definitions/" + t); errLoad != nil {
					return
				}
				if es.names, errLoad = c.Compile(URL + "#/definitions/" + t + ptr + "/propertyNames"); errLoad != nil {
					return
				}
			}
			events[t] = es
		}
	})
	return compiled, errLoad
}

// cheapFirst puts, in every anyOf of the schema, the alternatives that are
// a plain enum before the others. anyOf holds when any alternative does,
// whatever their order, so the schema means the same; but the validator
// tries them in order and stops at the first that holds (the schema has no
// unevaluated* keywords that would make it try them all), and an
// alternative that fails costs an error value. Event property names
// ("action", "bizStep", …) and CBV bare words (bizStep "receiving") are
// what events mostly carry: in the schema as GS1 writes it they are tried
// against a URI format and an ECMAScript lookahead pattern first, and
// fail, before their enum holds.
func cheapFirst(v any) {
	switch x := v.(type) {
	case map[string]any:
		if alts, ok := x["anyOf"].([]any); ok {
			sort.SliceStable(alts, func(i, j int) bool { return isEnum(alts[i]) && !isEnum(alts[j]) })
		}
		for _, c := range x {
			cheapFirst(c)
		}
	case []any:
		for _, c := range x {
			cheapFirst(c)
		}
	}
}

// isEnum says whether a schema is an enum and a type at most.
func isEnum(v any) bool {
	m, ok := v.(map[string]any)
	if !ok {
		return false
	}
	if _, ok := m["enum"]; !ok {
		return false
	}
	for k := range m {
		if k != "enum" && k != "type" {
			return false
		}
	}
	return true
}

// Validate checks a decoded JSON value (as jsonschema.UnmarshalJSON or
// encoding/json with UseNumber decodes it) against the schema. It returns
// the problems, most specific first, sorted by pointer; none when the value
// is valid. The error is for a schema that does not compile, never for the
// value.
func Validate(v any) ([]Problem, error) {
	sch, err := load()
	if err != nil {
		return nil, err
	}
	if whole.prove(v, 0) == valid {
		return nil, nil
	}
	return problemsOf(sch.Validate(v)), nil
}

func problemsOf(verr error) []Problem {
	if verr == nil {
		return nil
	}
	ve, ok := verr.(*jsonschema.ValidationError)
	if !ok {
		return []Problem{{Reason: verr.Error()}}
	}
	var out []Problem
	seen := map[Problem]bool{}
	collect(ve, &out, seen)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Pointer < out[j].Pointer })
	return out
}

// ValidateEvent checks one event of a document (decoded as for Validate)
// against the schema's definition of its type — what the schema checks of
// each element of a document's eventList, without the document around it.
// Pointers are relative to the event.
func ValidateEvent(v any) ([]Problem, error) {
	if _, err := load(); err != nil {
		return nil, err
	}
	es := events[otherEvent]
	m, isObj := v.(map[string]any)
	if isObj {
		if t, ok := m["type"].(string); ok && events[t] != nil {
			es = events[t]
		}
	}
	// Most events are valid: a proof of it is much cheaper than the
	// validator. Anything else is the validator's to judge and describe.
	if es.proof.prove(v, 0) == valid {
		return nil, nil
	}
	if es.fast != nil && isObj && es.namesPass(m) {
		return problemsOf(es.fast.Validate(v)), nil
	}
	return problemsOf(es.full.Validate(v)), nil
}

// ValidateJSON is Validate of a JSON text.
func ValidateJSON(data []byte) ([]Problem, error) {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return []Problem{{Reason: "not JSON: " + err.Error()}}, nil
	}
	return Validate(v)
}

// collect keeps the leaves of the error tree: the causes, which say what is
// wrong where. The "if/then" and "allOf" wrappers above them say nothing a
// user can act on.
func collect(e *jsonschema.ValidationError, out *[]Problem, seen map[Problem]bool) {
	if len(e.Causes) > 0 {
		for _, c := range e.Causes {
			collect(c, out, seen)
		}
		return
	}
	p := Problem{Pointer: pointer(e.InstanceLocation), Reason: e.ErrorKind.LocalizedString(printer)}
	if !seen[p] {
		seen[p] = true
		*out = append(*out, p)
	}
}

func pointer(loc []string) string {
	var b strings.Builder
	for _, s := range loc {
		b.WriteByte('/')
		s = strings.ReplaceAll(s, "~", "~0")
		b.WriteString(strings.ReplaceAll(s, "/", "~1"))
	}
	return b.String()
}
