package fake

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// An OData $filter evaluator for the fake servers: comparisons (eq ne gt
// ge lt le) joined by and, or, not and parentheses, over properties and
// literals: 'text', datetime'2026-03-01T00:00:00', time'PT10H15M00S',
// numbers, and OData v4 dates (2026-03-01, 2026-03-01T00:00:00Z). A value
// compares with a literal of its type: /Date(ms)/ with datetime, PT..H..M..S
// with time, text with text (dates as text compare by their date).

type filterExpr func(get func(string) any) (bool, error)

type filterParser struct {
	toks []string
	i    int
}

func parseFilter(s string) (filterExpr, error) {
	toks, err := tokenize(s)
	if err != nil {
		return nil, err
	}
	p := &filterParser{toks: toks}
	e, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.i != len(p.toks) {
		return nil, fmt.Errorf("unexpected %q at token %d", p.toks[p.i], p.i)
	}
	return e, nil
}

func tokenize(s string) ([]string, error) {
	var toks []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ':
			i++
		case c == '(' || c == ')':
			toks = append(toks, string(c))
			i++
		case c == '\'' || unicode.IsLetter(rune(c)) || c == '_' || c == '-' || (c >= '0' && c <= '9'):
			j := i
			for j < len(s) && s[j] != ' ' && s[j] != '(' && s[j] != ')' {
				if s[j] == '\'' { // a quoted part, '' is a quote inside
					j++
					for j < len(s) {
						if s[j] == '\'' {
							if j+1 < len(s) && s[j+1] == '\'' {
								j += 2
								continue
							}
							break
						}
						j++
					}
					if j >= len(s) {
						return nil, fmt.Errorf("unterminated literal in %q", s)
					}
				}
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		default:
			return nil, fmt.Errorf("unexpected %q in %q", c, s)
		}
	}
	return toks, nil
}

func (p *filterParser) peek() string {
	if p.i < len(p.toks) {
		return p.toks[p.i]
	}
	return ""
}

func (p *filterParser) or() (filterExpr, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.peek() == "or" {
		p.i++
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		a, b := l, r
		l = func(get func(string) any) (bool, error) {
			x, err := a(get)
			if err != nil || x {
				return x, err
			}
			return b(get)
		}
	}
	return l, nil
}

func (p *filterParser) and() (filterExpr, error) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for p.peek() == "and" {
		p.i++
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		a, b := l, r
		l = func(get func(string) any) (bool, error) {
			x, err := a(get)
			if err != nil || !x {
				return x, err
			}
			return b(get)
		}
	}
	return l, nil
}

func (p *filterParser) unary() (filterExpr, error) {
	switch p.peek() {
	case "not":
		p.i++
		e, err := p.unary()
		if err != nil {
			return nil, err
		}
		return func(get func(string) any) (bool, error) {
			x, err := e(get)
			return !x, err
		}, nil
	case "(":
		p.i++
		e, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.peek() != ")" {
			return nil, fmt.Errorf("missing )")
		}
		p.i++
		return e, nil
	}
	if p.i+3 > len(p.toks) {
		return nil, fmt.Errorf("incomplete comparison at token %d", p.i)
	}
	left, op, right := p.toks[p.i], p.toks[p.i+1], p.toks[p.i+2]
	p.i += 3
	switch op {
	case "eq", "ne", "gt", "ge", "lt", "le":
	default:
		return nil, fmt.Errorf("unknown operator %q", op)
	}
	lit, err := literal(right)
	if err != nil {
		return nil, err
	}
	return func(get func(string) any) (bool, error) {
		c, err := compare(get(left), lit)
		if err != nil {
			return false, fmt.Errorf("%s: %v", left, err)
		}
		switch op {
		case "eq":
			return c == 0, nil
		case "ne":
			return c != 0, nil
		case "gt":
			return c > 0, nil
		case "ge":
			return c >= 0, nil
		case "lt":
			return c < 0, nil
		}
		return c <= 0, nil
	}, nil
}

type timeOfDay time.Duration

func literal(tok string) (any, error) {
	unquote := func(s string) (string, bool) {
		if len(s) < 2 || s[0] != '\'' || s[len(s)-1] != '\'' {
			return "", false
		}
		return strings.ReplaceAll(s[1:len(s)-1], "''", "'"), true
	}
	switch {
	case strings.HasPrefix(tok, "datetime'"):
		s, ok := unquote(tok[len("datetime"):])
		if !ok {
			return nil, fmt.Errorf("bad literal %s", tok)
		}
		return time.Parse("2006-01-02T15:04:05", s)
	case strings.HasPrefix(tok, "time'"):
		s, ok := unquote(tok[len("time"):])
		if !ok {
			return nil, fmt.Errorf("bad literal %s", tok)
		}
		d, err := isoClock(s)
		return timeOfDay(d), err
	case strings.HasPrefix(tok, "'"):
		s, ok := unquote(tok)
		if !ok {
			return nil, fmt.Errorf("bad literal %s", tok)
		}
		return s, nil
	case len(tok) >= 10 && tok[4] == '-' && tok[7] == '-':
		return tok[:10], nil // an OData v4 date: compared by its date
	}
	if f, err := strconv.ParseFloat(tok, 64); err == nil {
		return f, nil
	}
	return nil, fmt.Errorf("unknown literal %q (a property on the right is not supported)", tok)
}

// compare compares a property's value with a literal.
func compare(v, lit any) (int, error) {
	switch l := lit.(type) {
	case time.Time:
		s, _ := v.(string)
		ms, ok := strings.CutPrefix(strings.TrimSuffix(s, ")/"), "/Date(")
		n, err := strconv.ParseInt(ms, 10, 64)
		if !ok || err != nil {
			return 0, fmt.Errorf("%v is not an Edm.DateTime", v)
		}
		return time.UnixMilli(n).UTC().Compare(l), nil
	case timeOfDay:
		s, _ := v.(string)
		d, err := isoClock(s)
		if err != nil {
			return 0, err
		}
		return cmp(d, time.Duration(l)), nil
	case float64:
		f, ok := v.(float64)
		if i, isInt := v.(int); isInt {
			f, ok = float64(i), true
		}
		if !ok {
			return 0, fmt.Errorf("%v is not a number", v)
		}
		return cmp(f, l), nil
	case string:
		s, ok := v.(string)
		if !ok {
			return 0, fmt.Errorf("%v is not text", v)
		}
		if len(l) == 10 && len(s) > 10 && s[4] == '-' { // a date against a date with a time part
			s = s[:10]
		}
		return strings.Compare(s, l), nil
	}
	return 0, fmt.Errorf("cannot compare %v", v)
}

func cmp[T ~int | ~int64 | ~float64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func isoClock(s string) (time.Duration, error) {
	var h, m, sec int
	if _, err := fmt.Sscanf(s, "PT%02dH%02dM%02dS", &h, &m, &sec); err != nil {
		return 0, fmt.Errorf("%q is not an Edm.Time", s)
	}
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(sec)*time.Second, nil
}
