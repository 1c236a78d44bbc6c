package mapping

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// source is one YAML file being decoded: it turns nodes into positions and
// collects every problem instead of stopping at the first.
type source struct {
	file  string
	lines []string
	errs  ErrorList
	spent int // values converted, see spend
}

// maxValues bounds the values a file's records and expected events may
// hold once aliases are expanded: a few aliases of aliases can expand to
// billions.
const maxValues = 1_000_000

// spend counts one value converted from the file; false (with an error,
// once) when the file holds too many.
func (s *source) spend(n *yaml.Node) bool {
	s.spent++
	if s.spent == maxValues+1 {
		s.errorf(n, "too many values once aliases are expanded (do aliases refer to each other?)")
	}
	return s.spent <= maxValues
}

func newSource(file string, src []byte) *source {
	text := strings.ReplaceAll(string(src), "\r\n", "\n")
	return &source{file: file, lines: strings.Split(text, "\n")}
}

func (s *source) pos(n *yaml.Node) Pos {
	if n == nil {
		return Pos{File: s.file, Line: 1, Col: 1}
	}
	return Pos{File: s.file, Line: n.Line, Col: n.Column}
}

func (s *source) errorAt(p Pos, format string, args ...any) {
	s.errs = append(s.errs, &Error{Pos: p, Msg: fmt.Sprintf(format, args...)})
}

func (s *source) errorf(n *yaml.Node, format string, args ...any) {
	s.errorAt(s.pos(n), format, args...)
}

// parse decodes src into its single document's root node. A syntax error
// is recorded with the best position that can be found for it.
func (s *source) parse(src []byte) *yaml.Node {
	src = bytes.TrimPrefix(src, []byte("\xef\xbb\xbf"))
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			s.errorAt(Pos{File: s.file, Line: 1, Col: 1}, "the file is empty (see docs/mapping.md for the format)")
			return nil
		}
		s.syntaxError(err)
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		s.errorf(&extra, "a second YAML document (---) in the file (put one mapping in each file)")
		return nil
	} else if !errors.Is(err, io.EOF) {
		s.syntaxError(err)
		return nil
	}
	if len(doc.Content) == 0 {
		s.errorAt(Pos{File: s.file, Line: 1, Col: 1}, "the file is empty (see docs/mapping.md for the format)")
		return nil
	}
	return doc.Content[0]
}

var yamlLine = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^yaml: (?:line (\d+): )?`) })

// syntaxError records a YAML syntax error. The YAML library reports only a
// line, and for parser errors the line where the enclosing block began
// (zero-based), so the position is found again here: the problem line is
// the shortest prefix of the file that fails with the same message, and
// the column is where that message's culprit sits on the line.
func (s *source) syntaxError(err error) {
	full := err.Error()
	msg := yamlLine().ReplaceAllString(full, "")
	if strings.HasPrefix(msg, "unknown anchor") {
		name := strings.TrimSuffix(strings.TrimPrefix(msg, "unknown anchor '"), "' referenced")
		for i, l := range s.lines {
			if c := strings.Index(l, "*"+name); c >= 0 {
				s.errorAt(Pos{File: s.file, Line: i + 1, Col: runeCol(l, c)}, "YAML: %s (define the anchor &%s before using it)", msg, name)
				return
			}
		}
	}
	reported := 1
	if m := yamlLine().FindStringSubmatch(full); m != nil && m[1] != "" {
		fmt.Sscan(m[1], &reported)
	}
	reported = min(max(reported, 1), len(s.lines))
	// The problem line is at or after the reported one. A prefix of the
	// file that ends before it parses (or fails differently); one that
	// includes it fails the same way: binary search for the shortest.
	fails := func(k int) bool {
		var n yaml.Node
		err := yaml.Unmarshal([]byte(strings.Join(s.lines[:k], "\n")), &n)
		return err != nil && yamlLine().ReplaceAllString(err.Error(), "") == msg
	}
	line := reported
	if lo, hi := reported, len(s.lines); fails(hi) {
		for lo < hi {
			mid := (lo + hi) / 2
			if fails(mid) {
				hi = mid
			} else {
				lo = mid + 1
			}
		}
		line = lo
	}
	text := s.lines[line-1]
	if col, ok := quotedThenMore(text); ok {
		s.errorAt(Pos{File: s.file, Line: line, Col: col}, "YAML syntax: text after a quoted value (a value that starts with a quote must end with it: quote the whole expression, e.g. when: \"'A' + x == 'AB'\")")
		return
	}
	col := culpritCol(text, msg)
	s.errorAt(Pos{File: s.file, Line: line, Col: col}, "YAML syntax: %s (%s)", msg, syntaxAdvice(msg))
}

func syntaxAdvice(msg string) string {
	switch {
	case strings.Contains(msg, "mapping values are not allowed"):
		return `a value containing ": " must be quoted, e.g. when: 'a: b' or when: "x == 'a'"`
	case strings.Contains(msg, "tab"):
		return "indent with spaces, not tabs"
	case strings.Contains(msg, "end of stream"):
		return "close the quote or bracket opened here"
	case strings.Contains(msg, "expected ',' or"):
		return "close the bracket, and quote expressions that contain commas"
	case strings.Contains(msg, "cannot start any token"):
		return "quote the value: @ and ` cannot start a plain YAML value"
	case strings.Contains(msg, "did not find expected"):
		return "check the indentation of this line against the lines above"
	}
	return "see the YAML specification or docs/mapping.md"
}

// culpritCol guesses the 1-based column on text that a YAML error message
// is about.
func culpritCol(text, msg string) int {
	first := len(text) - len(strings.TrimLeft(text, " \t"))
	switch {
	case strings.Contains(msg, "mapping values are not allowed"):
		seen := 0
		for i := 0; i < len(text); i++ {
			if text[i] == ':' && (i+1 == len(text) || text[i+1] == ' ') {
				seen++
				if seen == 2 {
					return runeCol(text, i)
				}
			}
		}
	case strings.Contains(msg, "tab"):
		if i := strings.IndexByte(text, '\t'); i >= 0 {
			return runeCol(text, i)
		}
	case strings.Contains(msg, "cannot start any token"):
		if i := strings.IndexAny(text, "@`\t"); i >= 0 {
			return runeCol(text, i)
		}
	case strings.Contains(msg, "escape"):
		if i := strings.IndexByte(text, '\\'); i >= 0 {
			return runeCol(text, i)
		}
	case strings.Contains(msg, "end of stream"), strings.Contains(msg, "expected ',' or"):
		if i := unclosed(text); i >= 0 {
			return runeCol(text, i)
		}
	}
	return runeCol(text, first)
}

// unclosed returns the byte offset of the quote or bracket text opens and
// does not close, or -1.
func unclosed(text string) int {
	var stack []int
	quote := byte(0)
	qAt := -1
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case quote != 0:
			if c == quote {
				if quote == '\'' && i+1 < len(text) && text[i+1] == '\'' {
					i++
					continue
				}
				quote = 0
			} else if c == '\\' && quote == '"' {
				i++
			}
		case c == '\'' || c == '"':
			quote, qAt = c, i
		case c == '[' || c == '{':
			stack = append(stack, i)
		case (c == ']' || c == '}') && len(stack) > 0:
			stack = stack[:len(stack)-1]
		case c == '#' && (i == 0 || text[i-1] == ' '):
			i = len(text)
		}
	}
	if quote != 0 {
		return qAt
	}
	if len(stack) > 0 {
		return stack[len(stack)-1]
	}
	return -1
}

// runeCol converts a byte offset on a line to a 1-based character column.
func runeCol(text string, off int) int {
	off = min(max(off, 0), len(text))
	return utf8.RuneCountInString(text[:off]) + 1
}

// pair is one key and its value in a YAML mapping.
type pair struct {
	key, val *yaml.Node
}

// fields returns the pairs of mapping node n, checking that every key is
// one of allowed (with did-you-mean advice when not) and appears once.
// what names the thing n is ("an event template") for messages. It returns
// nil and records an error when n is not a mapping. YAML merge keys (<<)
// are expanded.
func (s *source) fields(n *yaml.Node, what string, allowed []string) map[string]pair {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		s.errorf(n, "%s must be a mapping (key: value lines), not %s", what, describe(n))
		return nil
	}
	out := map[string]pair{}
	var merged []pair
	misspelt := map[string]pair{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			s.errorf(k, "a key in %s must be a plain name", what)
			continue
		}
		if k.Tag == "!!merge" {
			merged = append(merged, s.mergeFrom(v)...)
			continue
		}
		name := k.Value
		if prev, dup := out[name]; dup {
			s.errorf(k, "key %q appears twice in %s (the first is at line %d; keep one)", name, what, prev.key.Line)
			continue
		}
		if allowed != nil && !contains(allowed, name) {
			if hint := didYouMean(name, allowed); hint != "" {
				s.errorf(k, "unknown key %q in %s (did you mean %q?)", name, what, hint)
				misspelt[hint] = pair{key: k, val: v}
			} else {
				s.errorf(k, "unknown key %q in %s (allowed: %s)", name, what, strings.Join(allowed, ", "))
			}
			continue
		}
		out[name] = pair{key: k, val: v}
	}
	for _, p := range merged {
		if _, set := out[p.key.Value]; !set && (allowed == nil || contains(allowed, p.key.Value)) {
			out[p.key.Value] = p
		}
	}
	// A misspelt key is reported once, then read as the key it resembles,
	// so its absence does not cause more errors ("needs qty:").
	for key, p := range misspelt {
		if _, set := out[key]; !set {
			out[key] = p
		}
	}
	return out
}

// ordered returns the pairs of a mapping node in file order, checking for
// duplicate keys; it is for user-named keys (vars, tables, params).
func (s *source) ordered(n *yaml.Node, what string) []pair {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		s.errorf(n, "%s must be a mapping (name: value lines), not %s", what, describe(n))
		return nil
	}
	var out, merged []pair
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			s.errorf(k, "a key in %s must be a plain name", what)
			continue
		}
		if k.Tag == "!!merge" {
			merged = append(merged, s.mergeFrom(v)...)
			continue
		}
		if line, dup := seen[k.Value]; dup {
			s.errorf(k, "key %q appears twice in %s (the first is at line %d; keep one)", k.Value, what, line)
			continue
		}
		seen[k.Value] = k.Line
		out = append(out, pair{key: k, val: v})
	}
	// Keys written here override the ones merged in with <<.
	for _, p := range merged {
		if _, set := seen[p.key.Value]; !set {
			seen[p.key.Value] = p.key.Line
			out = append(out, p)
		}
	}
	return out
}

func (s *source) mergeFrom(v *yaml.Node) []pair {
	v = resolve(v)
	var srcs []*yaml.Node
	switch {
	case v != nil && v.Kind == yaml.MappingNode:
		srcs = []*yaml.Node{v}
	case v != nil && v.Kind == yaml.SequenceNode:
		for _, c := range v.Content {
			srcs = append(srcs, resolve(c))
		}
	}
	var out []pair
	for _, m := range srcs {
		if m == nil || m.Kind != yaml.MappingNode {
			s.errorf(v, "a merge key (<<) needs a mapping or a list of mappings")
			return nil
		}
		for i := 0; i+1 < len(m.Content); i += 2 {
			out = append(out, pair{key: m.Content[i], val: m.Content[i+1]})
		}
	}
	return out
}

// resolve follows an alias to the node it names.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// describe names a node's kind for messages.
func describe(n *yaml.Node) string {
	n = resolve(n)
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.ShortTag() == "!!null" {
			return "empty"
		}
		return fmt.Sprintf("the value %q", n.Value)
	}
	return "an unexpected YAML node"
}

// str returns a scalar's text, recording an error if n is not a scalar.
func (s *source) str(n *yaml.Node, what string) (string, bool) {
	n = resolve(n)
	if n == nil || n.Kind != yaml.ScalarNode || n.ShortTag() == "!!null" {
		s.errorf(n, "%s must be a single value, not %s", what, describe(n))
		return "", false
	}
	return n.Value, true
}

// strList accepts one scalar or a list of scalars.
func (s *source) strList(n *yaml.Node, what string) ([]string, []*yaml.Node) {
	n = resolve(n)
	if n != nil && n.Kind == yaml.ScalarNode {
		v, ok := s.str(n, what)
		if !ok {
			return nil, nil
		}
		return []string{v}, []*yaml.Node{n}
	}
	if n == nil || n.Kind != yaml.SequenceNode {
		s.errorf(n, "%s must be a name or a list of names, not %s", what, describe(n))
		return nil, nil
	}
	var out []string
	var nodes []*yaml.Node
	for _, c := range n.Content {
		if v, ok := s.str(c, what); ok {
			out = append(out, v)
			nodes = append(nodes, resolve(c))
		}
	}
	return out, nodes
}

// boolean reads a YAML true/false.
func (s *source) boolean(n *yaml.Node, what string) bool {
	n = resolve(n)
	if n == nil || n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
		s.errorf(n, "%s must be true or false, not %s", what, describe(n))
		return false
	}
	var b bool
	if err := n.Decode(&b); err != nil {
		s.errorf(n, "%s must be true or false, not %s", what, describe(n))
	}
	return b
}

// jsonValue converts a YAML node into the value encoding/json would give
// for the same data: strings, float64 numbers, bools, nil, []any and
// map[string]any. Keys are always text as written. With text set, every
// scalar is its text as written (a CSV row).
func (s *source) jsonValue(n *yaml.Node, text bool) (any, bool) {
	if !s.spend(n) {
		return nil, false
	}
	n = resolve(n)
	if n == nil {
		return nil, true
	}
	switch n.Kind {
	case yaml.ScalarNode:
		if text {
			if n.ShortTag() == "!!null" && n.Style == 0 && (n.Value == "" || n.Value == "~" || n.Value == "null") {
				return "", true
			}
			return n.Value, true
		}
		switch n.ShortTag() {
		case "!!null":
			return nil, true
		case "!!bool":
			var b bool
			err := n.Decode(&b)
			return b, err == nil
		case "!!int", "!!float":
			var f float64
			if err := n.Decode(&f); err != nil {
				s.errorf(n, "%q is not a number (quote it to make it text)", n.Value)
				return nil, false
			}
			return f, true
		}
		return n.Value, true
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		ok := true
		for _, c := range n.Content {
			v, cok := s.jsonValue(c, text)
			ok = ok && cok
			out = append(out, v)
		}
		return out, ok
	case yaml.MappingNode:
		out := map[string]any{}
		ok := true
		for _, p := range s.ordered(n, "an object") {
			v, cok := s.jsonValue(p.val, text)
			ok = ok && cok
			out[p.key.Value] = v
		}
		return out, ok
	}
	s.errorf(n, "unexpected YAML node")
	return nil, false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// quotedThenMore finds the classic mistake of writing an expression that
// starts with a quoted constant as a plain YAML value (key: 'A' + x): YAML
// reads 'A' as the whole value and fails on what follows. It returns the
// column of what follows.
func quotedThenMore(text string) (int, bool) {
	rest := strings.TrimLeft(text, " ")
	rest = strings.TrimPrefix(rest, "- ")
	k := strings.Index(rest, ": ")
	if k < 0 {
		return 0, false
	}
	off := len(text) - len(rest) + k + 2
	for off < len(text) && text[off] == ' ' {
		off++
	}
	if off >= len(text) || (text[off] != '\'' && text[off] != '"') {
		return 0, false
	}
	q := text[off]
	for i := off + 1; i < len(text); i++ {
		switch {
		case q == '"' && text[i] == '\\':
			i++
		case text[i] == q && q == '\'' && i+1 < len(text) && text[i+1] == '\'':
			i++
		case text[i] == q:
			after := strings.TrimLeft(text[i+1:], " ")
			if after == "" || strings.HasPrefix(after, "#") {
				return 0, false
			}
			return runeCol(text, len(text)-len(after)), true
		}
	}
	return 0, false
}
