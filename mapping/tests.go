package mapping

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/lothub/lothub/core"
)

// TestCase is one case of a mapping's test file: a record and what the
// mapping must make of it — exactly one of the events (Want), an error
// (WantError, a substring of the RecordError's text) or nothing
// (WantSkip: a skip rule, or a for_each over nothing).
type TestCase struct {
	Name      string
	Pos       Pos
	Record    Record
	Want      []*core.Event
	WantError string
	WantSkip  bool
	// WantSkipReason, with WantSkip, is a part of the skip's reason
	// (skip: 'cost centre'); "" for any skip (skip: true).
	WantSkipReason string
}

// TestResult is the outcome of one case. Diff is empty when Pass is true;
// otherwise it shows what differs, "-" for what the test wants and "+" for
// what the mapping gave.
type TestResult struct {
	Name string
	Pos  Pos
	Pass bool
	Diff string
}

var caseKeys = []string{"name", "kind", "record_id", "csv", "fields", "events", "error", "skip"}

// LoadTests reads a mapping test file (see TestFile): a list of cases,
// each with name, kind, record_id, fields (the record's payload, as JSON
// would give it; with csv: true every value is text, as in a CSV row) and
// one of events (the expected events in canonical form), error (a
// substring of the expected error) or skip: true. Problems come back as an
// ErrorList (core.EINVALID).
func LoadTests(path string) ([]TestCase, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, core.Errorf(core.EINVALID, "no test file %s (write one beside the mapping: see docs/mapping.md, Testing)", path)
		}
		return nil, core.Errorf(core.EINVALID, "cannot read test file %s: %v", path, err)
	}
	return ParseTests(path, src)
}

// ParseTests is LoadTests on a file's content; file names it in positions.
func ParseTests(file string, src []byte) ([]TestCase, error) {
	s := newSource(file, src)
	root := s.parse(src)
	if root == nil {
		return nil, s.errs.err()
	}
	root = resolve(root)
	if root.Kind != yaml.SequenceNode {
		s.errorf(root, "a test file is a list of cases (start each with - name: ...), not %s", describe(root))
		return nil, s.errs
	}
	var cases []TestCase
	names := map[string]int{}
	for i, cn := range root.Content {
		f := s.fields(cn, "a test case", caseKeys)
		if f == nil {
			continue
		}
		tc := TestCase{Name: fmt.Sprintf("case %d", i+1), Pos: s.pos(resolve(cn))}
		if p, ok := f["name"]; ok {
			tc.Name, _ = s.str(p.val, "name")
		}
		if line, dup := names[tc.Name]; dup {
			s.errorAt(tc.Pos, "two cases are named %q (the other is at line %d; name each case differently)", tc.Name, line)
		}
		names[tc.Name] = tc.Pos.Line
		if p, ok := f["kind"]; ok {
			tc.Record.Kind, _ = s.str(p.val, "kind")
		}
		tc.Record.ID = fmt.Sprintf("%s:%d", file, tc.Pos.Line)
		if p, ok := f["record_id"]; ok {
			tc.Record.ID, _ = s.str(p.val, "record_id")
		}
		text := false
		if p, ok := f["csv"]; ok {
			text = s.boolean(p.val, "csv")
		}
		tc.Record.Fields = map[string]any{}
		if p, ok := f["fields"]; ok {
			for _, fp := range s.ordered(p.val, "fields") {
				v, _ := s.jsonValue(fp.val, text)
				tc.Record.Fields[fp.key.Value] = v
			}
		}
		outcomes := 0
		if p, ok := f["events"]; ok {
			outcomes++
			tc.Want = s.expectedEvents(p.val)
			if tc.Want == nil {
				tc.Want = []*core.Event{}
			}
		}
		if p, ok := f["error"]; ok {
			outcomes++
			tc.WantError, _ = s.str(p.val, "error")
		}
		if p, ok := f["skip"]; ok {
			outcomes++
			if v := resolve(p.val); v != nil && v.Kind == yaml.ScalarNode && v.ShortTag() == "!!str" {
				tc.WantSkip, tc.WantSkipReason = true, v.Value
			} else if tc.WantSkip = s.boolean(p.val, "skip"); !tc.WantSkip {
				s.errorf(p.val, "skip: false expects nothing (write events: or error: instead)")
			}
		}
		if outcomes != 1 {
			s.errorAt(tc.Pos, "case %q needs exactly one of events:, error: or skip: true (what the mapping must make of the record)", tc.Name)
		}
		cases = append(cases, tc)
	}
	if len(root.Content) == 0 {
		s.errorf(root, "the test file has no cases")
	}
	if len(s.errs) > 0 {
		return nil, s.errs
	}
	return cases, nil
}

// expectedEvents reads the events of a case: canonical events written as
// YAML. Text fields are text whatever they look like (lot: 007 is "007"),
// qty is a number, params keep their YAML types. Each is decoded strictly
// and validated, so a typo in a test is caught here.
func (s *source) expectedEvents(n *yaml.Node) []*core.Event {
	n = resolve(n)
	if n == nil || n.Kind != yaml.SequenceNode {
		s.errorf(n, "events must be a list of canonical events (or [] for none), not %s", describe(n))
		return nil
	}
	var out []*core.Event
	for _, en := range n.Content {
		v := s.eventValue(en, "")
		b, err := json.Marshal(v)
		if err != nil {
			s.errorf(en, "expected event: %v", err)
			continue
		}
		ev, err := core.DecodeEvent(b)
		if err != nil {
			s.errorf(en, "expected event: %v (see docs/events.md)", err)
			continue
		}
		if err := ev.Validate(); err != nil {
			s.errorf(en, "expected event: %v (an event the hub would reject can never be expected)", err)
			continue
		}
		out = append(out, ev)
	}
	return out
}

func (s *source) eventValue(n *yaml.Node, path string) any {
	if !s.spend(n) {
		return nil
	}
	n = resolve(n)
	if strings.HasPrefix(path, "params.") {
		v, _ := s.jsonValue(n, false)
		return v
	}
	switch n.Kind {
	case yaml.MappingNode:
		m := map[string]any{}
		for _, p := range s.ordered(n, "an event") {
			key := p.key.Value
			if path != "" {
				key = path + "." + key
			}
			m[p.key.Value] = s.eventValue(p.val, key)
		}
		return m
	case yaml.SequenceNode:
		l := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			l = append(l, s.eventValue(c, path+"[]"))
		}
		return l
	}
	if n.ShortTag() == "!!null" {
		return nil
	}
	if path == "qty" || path == "inputs[].qty" || path == "outputs[].qty" {
		if n.ShortTag() == "!!int" || n.ShortTag() == "!!float" {
			return json.Number(strings.ReplaceAll(n.Value, "_", ""))
		}
	}
	return n.Value
}

// RunTests maps each case's record and compares the outcome with what the
// case expects; events are compared in canonical JSON. It fails only when
// there are no cases.
func (m *Mapping) RunTests(cases []TestCase) ([]TestResult, error) {
	if len(cases) == 0 {
		return nil, core.Errorf(core.EINVALID, "no test cases for mapping %s", m.name)
	}
	results := make([]TestResult, 0, len(cases))
	for _, tc := range cases {
		res := TestResult{Name: tc.Name, Pos: tc.Pos}
		r := tc.Record
		if r.Kind == "" && len(m.kinds) == 1 {
			r.Kind = m.kinds[0]
		}
		o := m.MapRecord(r)
		got, err := o.Events, o.Err
		res.Diff = compareOutcome(tc, got, err)
		if res.Diff == "" && tc.WantSkipReason != "" && (o.Skip == nil || !strings.Contains(o.Skip.Reason, tc.WantSkipReason)) {
			reason := "none"
			if o.Skip != nil {
				reason = fmt.Sprintf("rule %q: %s", o.Skip.Rule, o.Skip.Reason)
			}
			res.Diff = fmt.Sprintf("- skipped for a reason containing %q\n+ skip reason: %s\n", tc.WantSkipReason, reason)
		}
		res.Pass = res.Diff == ""
		results = append(results, res)
	}
	return results, nil
}

func compareOutcome(tc TestCase, got []*core.Event, err error) string {
	var b strings.Builder
	switch {
	case tc.WantError != "":
		if err == nil {
			fmt.Fprintf(&b, "- error containing %q\n", tc.WantError)
			if len(got) == 0 {
				b.WriteString("+ no events and no error\n")
			}
			for i, ev := range got {
				fmt.Fprintf(&b, "+ event %d: %s\n", i+1, canonical(ev))
			}
		} else if !strings.Contains(err.Error(), tc.WantError) {
			fmt.Fprintf(&b, "- error containing %q\n+ error: %v\n", tc.WantError, err)
		}
	case err != nil:
		if tc.WantSkip {
			b.WriteString("- no events (skipped)\n")
		} else {
			fmt.Fprintf(&b, "- %d event(s)\n", len(tc.Want))
		}
		fmt.Fprintf(&b, "+ error: %v\n", err)
	case tc.WantSkip:
		if len(got) > 0 {
			b.WriteString("- no events (skipped)\n")
			for i, ev := range got {
				fmt.Fprintf(&b, "+ event %d: %s\n", i+1, canonical(ev))
			}
		}
	default:
		for i := 0; i < max(len(got), len(tc.Want)); i++ {
			switch {
			case i >= len(got):
				fmt.Fprintf(&b, "event %d: missing\n- %s\n", i+1, canonical(tc.Want[i]))
			case i >= len(tc.Want):
				fmt.Fprintf(&b, "event %d: not expected\n+ %s\n", i+1, canonical(got[i]))
			default:
				w, g := canonical(tc.Want[i]), canonical(got[i])
				if w == g {
					continue
				}
				fmt.Fprintf(&b, "event %d (id %s):\n", i+1, tc.Want[i].ID)
				for _, l := range diffLines(flatten([]byte(w)), flatten([]byte(g))) {
					b.WriteString("  " + l + "\n")
				}
			}
		}
	}
	return b.String()
}

// canonical is an event's canonical JSON: the field order of core.Event,
// no source.
func canonical(ev *core.Event) string {
	c := *ev
	c.Source = nil
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(&c) // an Event always encodes
	return strings.TrimSpace(buf.String())
}

// flatten lists a JSON object's leaves as "path: value" lines, in the
// order they are written.
func flatten(data []byte) []string {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var out []string
	var walk func(path string) error
	walk = func(path string) error {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		switch t {
		case json.Delim('{'):
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return err
				}
				p := fmt.Sprint(k)
				if path != "" {
					p = path + "." + p
				}
				if err := walk(p); err != nil {
					return err
				}
			}
			_, err = dec.Token()
			return err
		case json.Delim('['):
			for i := 0; dec.More(); i++ {
				if err := walk(fmt.Sprintf("%s[%d]", path, i)); err != nil {
					return err
				}
			}
			_, err = dec.Token()
			return err
		}
		v, _ := json.Marshal(t)
		out = append(out, path+": "+string(v))
		return nil
	}
	_ = walk("")
	return out
}

// diffLines returns the lines only a has ("- ") and only b has ("+ "),
// in order, from a longest common subsequence.
func diffLines(a, b []string) []string {
	lcs := make([][]int, len(a)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out []string
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case i < len(a) && j < len(b) && a[i] == b[j]:
			i++
			j++
		case j < len(b) && (i == len(a) || lcs[i][j+1] > lcs[i+1][j]):
			out = append(out, "+ "+b[j])
			j++
		default:
			out = append(out, "- "+a[i])
			i++
		}
	}
	// Show a changed field as - then +, as people read diffs.
	return groupChanges(out)
}

// groupChanges puts the "+" line of a field right after its "-" line,
// so a changed field reads as a pair.
func groupChanges(lines []string) []string {
	path := func(l string) string {
		p, _, _ := strings.Cut(l[2:], ": ")
		return p
	}
	minus := map[string]bool{}
	for _, l := range lines {
		if strings.HasPrefix(l, "- ") {
			minus[path(l)] = true
		}
	}
	used := make([]bool, len(lines))
	out := make([]string, 0, len(lines))
	for i, l := range lines {
		if used[i] {
			continue
		}
		if strings.HasPrefix(l, "+ ") && minus[path(l)] {
			continue // printed after its "-" line
		}
		used[i] = true
		out = append(out, l)
		if !strings.HasPrefix(l, "- ") {
			continue
		}
		for j := range lines {
			if !used[j] && strings.HasPrefix(lines[j], "+ ") && path(lines[j]) == path(l) {
				used[j] = true
				out = append(out, lines[j])
				break
			}
		}
	}
	for i, l := range lines {
		if !used[i] {
			out = append(out, l)
		}
	}
	return out
}
