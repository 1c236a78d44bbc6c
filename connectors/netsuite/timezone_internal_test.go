package netsuite

import (
	"testing"
	"time"
)

func TestWallClocks(t *testing.T) {
	la, err := time.LoadLocation("America/Los_Angeles")
	if err != nil {
		t.Fatal(err)
	}
	utc := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		name     string
		wall     string
		instants []string
	}{
		{"ordinary", "2026-03-14 23:59:59", []string{"2026-03-15T06:59:59Z"}},
		{"fall back: the hour happens twice", "2026-11-01 01:30:00", []string{"2026-11-01T08:30:00Z", "2026-11-01T09:30:00Z"}},
		{"spring forward: the hour never happens", "2026-03-08 02:30:00", nil},
		{"just after spring forward", "2026-03-08 03:00:00", []string{"2026-03-08T10:00:00Z"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := instants(tt.wall, la)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.instants) {
				t.Fatalf("instants(%s) = %v, want %v", tt.wall, got, tt.instants)
			}
			for i := range got {
				if !got[i].Equal(utc(tt.instants[i])) {
					t.Errorf("instants(%s)[%d] = %v, want %s", tt.wall, i, got[i], tt.instants[i])
				}
			}
			e, err := earliestInstant(tt.wall, la)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) > 0 && !e.Equal(got[0]) {
				t.Errorf("earliestInstant = %v, want %v", e, got[0])
			}
			if len(got) == 0 && e.In(la).Format(goTimestamp) >= tt.wall {
				t.Errorf("earliestInstant in the gap = %v (%s), want an instant before the gap", e, e.In(la).Format(goTimestamp))
			}
		})
	}

	bounds := []struct {
		name string
		t    string
		want string
	}{
		{"ordinary", "2026-03-15T06:59:59Z", "2026-03-14 23:59:59"},
		// 01:25 PDT reads back as 01:25 PST, an hour later: step back.
		{"first 01:25 of a fall-back night", "2026-11-01T08:25:00Z", "2026-11-01 00:25:00"},
		// 01:25 PST reads back as 01:25 PDT at the latest… or PST: both ≤ t.
		{"second 01:25 of a fall-back night", "2026-11-01T09:25:00Z", "2026-11-01 01:25:00"},
	}
	for _, tt := range bounds {
		t.Run("bound "+tt.name, func(t *testing.T) {
			if got := wallClockNotAfter(utc(tt.t), la); got != tt.want {
				t.Errorf("wallClockNotAfter(%s) = %s, want %s", tt.t, got, tt.want)
			}
		})
	}
}

func TestKeysetCondition(t *testing.T) {
	got := keysetCondition("TO_CHAR(t.lastmodifieddate, 'YYYY-MM-DD HH24:MI:SS')", transactionKey,
		key{At: "2026-03-14 09:15:00", IDs: []string{"5001", "1", "9002"}})
	want := "(TO_CHAR(t.lastmodifieddate, 'YYYY-MM-DD HH24:MI:SS') > '2026-03-14 09:15:00' OR " +
		"(TO_CHAR(t.lastmodifieddate, 'YYYY-MM-DD HH24:MI:SS') = '2026-03-14 09:15:00' AND " +
		"(t.id > 5001 OR (t.id = 5001 AND (tl.id > 1 OR (tl.id = 1 AND ia.id > 9002))))))"
	if got != want {
		t.Errorf("keyset condition\n got %s\nwant %s", got, want)
	}
}

func TestAccountHost(t *testing.T) {
	tests := map[string]string{
		"1234567":       "1234567.suitetalk.api.netsuite.com",
		"1234567_SB1":   "1234567-sb1.suitetalk.api.netsuite.com",
		"TSTDRV1234567": "tstdrv1234567.suitetalk.api.netsuite.com",
		"1234567_RP":    "1234567-rp.suitetalk.api.netsuite.com",
	}
	for account, want := range tests {
		if got := accountHost(account); got != want {
			t.Errorf("accountHost(%s) = %s, want %s", account, got, want)
		}
	}
}
