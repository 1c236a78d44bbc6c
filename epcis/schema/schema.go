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
	// events are the schema's definitions of each event type, to check
	// one event of a document on its own (ValidateEvent).
	events  map[string]*jsonschema.Schema
	errLoad error
)

// ecmaRegexp adapts regexp2 in ECMAScript mode: the schema's patterns use
// negative lookahead (?!…), which Go's regexp cannot compile (errata to
// issue 19), and JSON Schema specifies ECMA-262 regular expressions.
type ecmaRegexp regexp2.Regexp

func (re *ecmaRegexp) MatchString(s string) bool {
	ok, err := (*regexp2.Regexp)(re).MatchString(s)
	return err == nil && ok
}

func (re *ecmaRegexp) String() string { return (*regexp2.Regexp)(re).String() }

func compileECMA(s string) (jsonschema.Regexp, error) {
	re, err := regexp2.Compile(s, regexp2.ECMAScript)
	if err != nil {
		return nil, err
	}
	return (*ecmaRegexp)(re), nil
}

func load() (*jsonschema.Schema, error) {
	once.Do(func() {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schemaJSON))
		if err != nil {
			errLoad = fmt.Errorf("epcis schema: %w", err)
			return
		}
		c := jsonschema.NewCompiler()
		c.UseRegexpEngine(compileECMA)
		if err := c.AddResource(URL, doc); err != nil {
			errLoad = fmt.Errorf("epcis schema: %w", err)
			return
		}
		compiled, errLoad = c.Compile(URL)
		if errLoad != nil {
			return
		}
		events = map[string]*jsonschema.Schema{}
		for _, t := range []string{"ObjectEvent", "AggregationEvent", "TransactionEvent", "TransformationEvent", "AssociationEvent", "EPCIS-Document-Event"} {
			if events[t], errLoad = c.Compile(URL + "#/definitions/" + t); errLoad != nil {
				return
			}
		}
	})
	return compiled, errLoad
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
	sch := events["EPCIS-Document-Event"]
	if m, ok := v.(map[string]any); ok {
		if t, ok := m["type"].(string); ok && events[t] != nil {
			sch = events[t]
		}
	}
	return problemsOf(sch.Validate(v)), nil
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
