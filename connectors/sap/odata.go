package sap

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// query builds a query string with OData's system options readable: "$"
// and the characters of filter literals stay as they are, spaces become
// %20 (SAP Gateway does not read "+" as a space in every release).
func query(pairs ...string) string {
	var b strings.Builder
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(pairs[i])
		b.WriteByte('=')
		b.WriteString(escape(pairs[i+1]))
	}
	return b.String()
}

func escape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9',
			strings.IndexByte("-_.~'(),:/$*", c) >= 0:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// withParam returns u with the query parameter name set to value when u
// does not have it: a __next or nextLink the server wrote may leave out
// sap-client.
func withParam(u *url.URL, name, value string) *url.URL {
	if value == "" || u.Query().Has(name) {
		return u
	}
	v := *u
	if v.RawQuery != "" {
		v.RawQuery += "&"
	}
	v.RawQuery += query(name, value)
	return &v
}

// odataDate reads an OData v2 Edm.DateTime, /Date(<ms>)/ or
// /Date(<ms>+<minutes>)/. SAP puts the wall-clock reading in the
// milliseconds as if it were UTC (a date is midnight), so the result is
// that wall clock, in UTC.
func odataDate(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	body, ok := strings.CutPrefix(s, "/Date(")
	if !ok {
		return time.Time{}, fmt.Errorf("%q is not an OData date (/Date(ms)/)", s)
	}
	body, ok = strings.CutSuffix(body, ")/")
	if !ok {
		return time.Time{}, fmt.Errorf("%q is not an OData date (/Date(ms)/)", s)
	}
	if i := strings.LastIndexAny(body, "+-"); i > 0 {
		body = body[:i]
	}
	ms, err := strconv.ParseInt(body, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an OData date (/Date(ms)/)", s)
	}
	return time.UnixMilli(ms).UTC(), nil
}

// Edm.Time in OData v2 JSON is an ISO 8601 duration: PT10H15M30S.
var edmTime = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)(?:\.\d+)?S)?$`) })

// clock reads a time of day: OData v2 Edm.Time (PT10H15M30S) or
// HH:MM[:SS] (OData v4 Edm.TimeOfDay, Business One's UpdateTime).
func clock(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if m := edmTime().FindStringSubmatch(s); m != nil && s != "PT" {
		h, _ := strconv.Atoi(m[1])
		mi, _ := strconv.Atoi(m[2])
		sec, _ := strconv.Atoi(m[3])
		return hms(h, mi, sec, s)
	}
	parts := strings.Split(s, ":")
	if len(parts) == 2 || len(parts) == 3 {
		n := make([]int, 3)
		for i, p := range parts {
			if i == 2 {
				p, _, _ = strings.Cut(p, ".")
			}
			v, err := strconv.Atoi(p)
			if err != nil {
				return 0, fmt.Errorf("%q is not a time of day", s)
			}
			n[i] = v
		}
		return hms(n[0], n[1], n[2], s)
	}
	return 0, fmt.Errorf("%q is not a time of day (want PT10H15M30S or 10:15:30)", s)
}

func hms(h, m, s int, text string) (time.Duration, error) {
	if h < 0 || h > 23 || m < 0 || m > 59 || s < 0 || s > 59 {
		return 0, fmt.Errorf("%q is not a time of day", text)
	}
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(s)*time.Second, nil
}

// edmTimeLiteral writes a wall clock's time of day as an OData v2 Edm.Time
// literal value: PT10H15M30S.
func edmTimeLiteral(t time.Time) string {
	return fmt.Sprintf("PT%02dH%02dM%02dS", t.Hour(), t.Minute(), t.Second())
}

// text returns a JSON value's text: a string as is, a number as written, ""
// for null or anything else.
func text(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}
