package mapping

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// SAP OData v2 serialises Edm.DateTime as /Date(<ms since epoch>)/ (JSON
// escapes the slashes: "\/Date(...)\/") and Edm.DateTimeOffset as
// /Date(<ms>+<offset minutes>)/. Edm.DateTime has no zone: SAP puts the
// wall-clock reading (for a date, midnight) in the milliseconds as if it
// were UTC, so it is read as a wall clock in the mapping's time zone.
//
// parseODataDate reads one; ok is false when s is not in that form.
func parseODataDate(s string) (ms int64, offset bool, ok bool) {
	s = strings.TrimPrefix(s, "\\")
	if !strings.HasPrefix(s, "/Date(") {
		return 0, false, false
	}
	s = strings.TrimSuffix(strings.TrimSuffix(s, "/"), "\\")
	if !strings.HasSuffix(s, ")") {
		return 0, false, false
	}
	body := s[len("/Date(") : len(s)-1]
	digits := body
	if i := strings.LastIndexAny(body, "+-"); i > 0 {
		off := body[i+1:]
		if len(off) != 4 || !allDigits(off) {
			return 0, false, false
		}
		digits, offset = body[:i], true
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return 0, false, false
	}
	return n, offset, true
}

// Edm.Time is an ISO 8601 duration used as a time of day: PT08H15M00S.
var isoTimeOfDay = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?$`) })

// autoLayouts are the zone-less formats datetime() recognises without a
// layout, read in the mapping's time zone. Slash dates are left out on
// purpose: 03/01/2026 is March 1 in the US and January 3 in Europe, so
// they need an explicit layout.
var autoLayouts = []string{
	"2006-01-02T15:04:05",
	"2006-01-02T15:04",
	"2006-01-02 15:04:05",
	"2006-01-02 15:04",
	"2006-01-02",
	"20060102150405",
	"20060102",
	"2.1.2006 15:04:05",
	"2.1.2006 15:04",
	"2.1.2006",
}

// parseTime reads a date or date-time value. empty reports a nil or blank
// input (which gives an empty result, so an optional field is omitted).
func (l *library) parseTime(v any, layout string) (t time.Time, empty bool, err error) {
	switch x := v.(type) {
	case nil:
		return time.Time{}, true, nil
	case time.Time:
		return x, false, nil
	}
	s, ok := v.(string)
	if !ok {
		return time.Time{}, false, fmt.Errorf("want a date as text, got %s (numbers are not dates: give the field as text)", describeValue(v))
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, true, nil
	}
	if layout != "" {
		gl, err := goLayout(layout, true)
		if err != nil {
			return time.Time{}, false, err
		}
		t, err := time.ParseInLocation(gl, s, l.loc)
		if err != nil {
			return time.Time{}, false, fmt.Errorf("%q does not match the layout %q", s, layout)
		}
		return t, false, nil
	}
	if ms, offset, ok := parseODataDate(s); ok {
		t := time.UnixMilli(ms).UTC()
		if !offset {
			// Edm.DateTime: a wall clock, not an instant.
			y, mo, d := t.Date()
			h, mi, sec := t.Clock()
			return time.Date(y, mo, d, h, mi, sec, t.Nanosecond(), l.loc), false, nil
		}
		// Edm.DateTimeOffset: the milliseconds are the instant (UTC); the
		// offset (minutes) only says which zone the source showed it in.
		return t, false, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, false, nil
	}
	for _, gl := range autoLayouts {
		if t, err := time.ParseInLocation(gl, s, l.loc); err == nil {
			return t, false, nil
		}
	}
	return time.Time{}, false, fmt.Errorf("%q is not a date this function recognises (give its layout, e.g. datetime(x, 'MM/DD/YYYY'); recognised without one: /Date(ms)/, RFC 3339, YYYY-MM-DD[ HH:mm[:ss]], YYYYMMDD[HHmmss], DD.MM.YYYY[ HH:mm[:ss]])", s)
}

// parseClock reads a time of day: PT08H15M00S (SAP Edm.Time), 08:15,
// 08:15:00, 081500, 0815, or the clock of a time value.
func parseClock(v any) (d time.Duration, empty bool, err error) {
	switch x := v.(type) {
	case nil:
		return 0, true, nil
	case time.Time:
		return time.Duration(x.Hour())*time.Hour + time.Duration(x.Minute())*time.Minute +
			time.Duration(x.Second())*time.Second + time.Duration(x.Nanosecond()), false, nil
	}
	s, ok := v.(string)
	if !ok {
		return 0, false, fmt.Errorf("want a time of day as text, got %s", describeValue(v))
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, true, nil
	}
	bad := fmt.Errorf("%q is not a time of day (want PT08H15M00S, 08:15, 08:15:00, 0815 or 081500)", s)
	var h, m int
	var sec float64
	switch {
	case isoTimeOfDay().MatchString(s) && s != "PT":
		p := isoTimeOfDay().FindStringSubmatch(s)
		h, _ = strconv.Atoi(p[1])
		m, _ = strconv.Atoi(p[2])
		if p[3] != "" {
			sec, _ = strconv.ParseFloat(p[3], 64)
		}
	case strings.Contains(s, ":"):
		parts := strings.Split(s, ":")
		if len(parts) > 3 {
			return 0, false, bad
		}
		var err1, err2 error
		h, err1 = strconv.Atoi(parts[0])
		m, err2 = strconv.Atoi(parts[1])
		if err1 != nil || err2 != nil {
			return 0, false, bad
		}
		if len(parts) == 3 {
			var err error
			if sec, err = strconv.ParseFloat(parts[2], 64); err != nil {
				return 0, false, bad
			}
		}
	case (len(s) == 4 || len(s) == 6) && allDigits(s):
		h, _ = strconv.Atoi(s[0:2])
		m, _ = strconv.Atoi(s[2:4])
		if len(s) == 6 {
			sec, _ = strconv.ParseFloat(s[4:6], 64)
		}
	default:
		return 0, false, bad
	}
	if h > 24 || m > 59 || sec >= 60 || h < 0 || m < 0 || sec < 0 || (h == 24 && (m > 0 || sec > 0)) {
		return 0, false, bad
	}
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(sec*float64(time.Second)), false, nil
}

// formatTime renders t as RFC 3339 in the mapping's time zone.
func (l *library) formatTime(t time.Time) string {
	t = t.In(l.loc)
	y, mo, d := t.Date()
	if t.Nanosecond() != 0 || y < 1000 || y > 9999 {
		return t.Format(time.RFC3339Nano)
	}
	// The common case, written directly: it is on every event's time.
	h, mi, s := t.Clock()
	_, off := t.Zone()
	var b [25]byte
	put2 := func(i, v int) { b[i], b[i+1] = byte('0'+v/10), byte('0'+v%10) }
	put2(0, y/100)
	put2(2, y%100)
	b[4] = '-'
	put2(5, int(mo))
	b[7] = '-'
	put2(8, d)
	b[10] = 'T'
	put2(11, h)
	b[13] = ':'
	put2(14, mi)
	b[16] = ':'
	put2(17, s)
	if off == 0 {
		b[19] = 'Z'
		return string(b[:20])
	}
	b[19] = '+'
	if off < 0 {
		b[19], off = '-', -off
	}
	if off%60 != 0 {
		return t.Format(time.RFC3339Nano)
	}
	put2(20, off/3600)
	b[22] = ':'
	put2(23, off/60%60)
	return string(b[:])
}

// layoutTokens are the layout letters datetime(), datefmt() and
// lot_format() understand, longest first. Each maps to the Go reference
// layout for parsing (lenient: one or two digits) and for formatting
// (zero padded).
var layoutTokens = []struct{ tok, parse, format string }{
	{"YYYY", "2006", "2006"},
	{"MMMM", "January", "January"},
	{"MMM", "Jan", "Jan"},
	{".SSS", ".000", ".000"},
	{",SSS", ",000", ",000"},
	{"YY", "06", "06"},
	{"MM", "1", "01"},
	{"DD", "2", "02"},
	{"HH", "15", "15"},
	{"hh", "3", "03"},
	{"mm", "4", "04"},
	{"ss", "5", "05"},
	{"A", "PM", "PM"},
	{"Z", "Z07:00", "Z07:00"},
}

// goLayout turns a layout such as "MM/DD/YYYY HH:mm" into a Go reference
// layout. A layout that already contains "2006" is a Go layout and used as
// is. For parsing, a token written next to another token ("YYYYMMDD") is
// read with a fixed width, one next to a separator ("M/D/YYYY") with one or
// two digits, as spreadsheets write "3/1/2026".
func goLayout(layout string, parse bool) (string, error) {
	if strings.Contains(layout, "2006") {
		return layout, nil
	}
	type piece struct {
		tok, parse, format string
		literal            bool
	}
	var pieces []piece
	for i := 0; i < len(layout); {
		matched := false
		for _, t := range layoutTokens {
			if strings.HasPrefix(layout[i:], t.tok) {
				pieces = append(pieces, piece{tok: t.tok, parse: t.parse, format: t.format})
				i += len(t.tok)
				matched = true
				break
			}
		}
		if matched {
			continue
		}
		c := layout[i]
		if c >= '0' && c <= '9' {
			return "", fmt.Errorf("layout %q: digits are not allowed in a layout (use YYYY, YY, MM, MMM, DD, HH, hh, mm, ss, .SSS, A, Z and separators)", layout)
		}
		if (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') {
			if c != 'T' {
				return "", fmt.Errorf("layout %q: unknown letter %q (use YYYY, YY, MM, MMM, DD, HH, hh, mm, ss, .SSS, A, Z; T and punctuation are kept as written)", layout, string(c))
			}
		}
		pieces = append(pieces, piece{parse: string(c), format: string(c), literal: true})
		i++
	}
	var b strings.Builder
	numeric := func(p piece) bool {
		return !p.literal && p.parse != "Jan" && p.parse != "January" && p.parse != "PM" && p.parse != "Z07:00"
	}
	for i, p := range pieces {
		if !parse || p.literal {
			b.WriteString(p.format)
			continue
		}
		adjacent := (i > 0 && numeric(pieces[i-1])) || (i+1 < len(pieces) && numeric(pieces[i+1]))
		if adjacent && numeric(p) {
			b.WriteString(p.format)
		} else {
			b.WriteString(p.parse)
		}
	}
	return b.String(), nil
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
