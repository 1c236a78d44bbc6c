package sap

import (
	"errors"
	"testing"
	"time"

	"github.com/lothub/lothub/sdk"
)

func TestODataValues(t *testing.T) {
	dates := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"/Date(1772323200000)/", time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), true},
		{"/Date(1772323200000+0060)/", time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), true},
		{"2026-03-01", time.Time{}, false},
		{"/Date(abc)/", time.Time{}, false},
		{"", time.Time{}, false},
	}
	for _, tc := range dates {
		got, err := odataDate(tc.in)
		if (err == nil) != tc.ok || !got.Equal(tc.want) {
			t.Errorf("odataDate(%q) = %v, %v; want %v, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
	clocks := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"PT08H15M30S", 8*time.Hour + 15*time.Minute + 30*time.Second, true},
		{"PT00H00M00S", 0, true},
		{"PT8H", 8 * time.Hour, true},
		{"14:05:33", 14*time.Hour + 5*time.Minute + 33*time.Second, true},
		{"14:05", 14*time.Hour + 5*time.Minute, true},
		{"PT25H00M00S", 0, false},
		{"PT", 0, false},
		{"noon", 0, false},
	}
	for _, tc := range clocks {
		got, err := clock(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("clock(%q) = %v, %v; want %v, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
	filters := []struct{ from, want string }{
		{"", ""},
		{"2026-03-02T00:00:00", "CreationDate ge datetime'2026-03-02T00:00:00'"},
		{"2026-03-02T11:00:05", "CreationDate gt datetime'2026-03-02T00:00:00' or (CreationDate eq datetime'2026-03-02T00:00:00' and CreationTime ge time'PT11H00M05S')"},
	}
	for _, tc := range filters {
		if got := creationFilter(tc.from); got != tc.want {
			t.Errorf("creationFilter(%q) = %q, want %q", tc.from, got, tc.want)
		}
	}
	stamps := []struct{ date, at, want string }{
		{"2026-03-01", "09:31:12", "2026-03-01T09:31:12"},
		{"2026-03-01T00:00:00Z", "09:31:12", "2026-03-01T09:31:12"},
		{"2026-03-01", "", "2026-03-01T00:00:00"},
	}
	for _, tc := range stamps {
		got, err := b1Timestamp(tc.date, tc.at)
		if err != nil || got.Format(wallLayout) != tc.want {
			t.Errorf("b1Timestamp(%q, %q) = %v, %v; want %s", tc.date, tc.at, got, err, tc.want)
		}
	}
	if _, err := b1Timestamp("01.03.2026", ""); err == nil {
		t.Error("b1Timestamp accepted 01.03.2026")
	}
	if got := query("$filter", "a eq 'b c'", "$top", "", "$select", "A,to_B/C"); got != "$filter=a%20eq%20'b%20c'&$select=A,to_B/C" {
		t.Errorf("query = %s", got)
	}
}

func TestPositions(t *testing.T) {
	bad := []string{
		`not json`,
		`{"v":2,"system":"s4hana"}`,
		`{"v":1,"system":"s4hana","sets":{"A":{"from":"yesterday"}}}`,
		`{"v":1,"system":"s4hana","sets":{"A":{"seen":{"2026-13-01T00:00:00":["x"]}}}}`,
		`{"v":1,"system":"s4hana","sets":{"A":null}}`,
		`{"v":1,"system":"s4hana","extra":true}`,
		`{"v":1,"system":"b1"}`,
	}
	for _, p := range bad {
		if _, err := decodePosition(sdk.Position(p), SystemS4); !errors.Is(err, sdk.ErrInvalidPosition) {
			t.Errorf("decodePosition(%s) = %v, want sdk.ErrInvalidPosition", p, err)
		}
	}

	// A cursor remembers the documents of the overlap window only.
	c := &cursor{}
	for _, d := range []struct{ key, ts string }{
		{"a", "2026-03-01T08:00:00"}, {"b", "2026-03-01T09:30:00"}, {"c", "2026-03-01T10:00:00"}, {"d", "2026-03-01T10:00:00"},
	} {
		c.done(d.key, d.ts)
		c.trim(time.Hour, exact)
	}
	c.rest(time.Hour, exact)
	if c.From != "2026-03-01T09:00:00" || c.High != "2026-03-01T10:00:00" {
		t.Errorf("at rest: from %s, high %s; want 09:00 and 10:00", c.From, c.High)
	}
	if c.seen("a", "2026-03-01T08:00:00") || !c.seen("b", "2026-03-01T09:30:00") || !c.seen("d", "2026-03-01T10:00:00") {
		t.Errorf("seen = %v; want b, c and d (the last hour)", c.Seen)
	}
	// Filtering by day keeps the whole day.
	c.rest(time.Hour, startOfDay)
	c.Seen["2026-02-28T23:00:00"] = []string{"z"}
	c.trim(time.Hour, startOfDay)
	if c.seen("z", "2026-02-28T23:00:00") || !c.seen("b", "2026-03-01T09:30:00") {
		t.Errorf("seen by day = %v", c.Seen)
	}
}
