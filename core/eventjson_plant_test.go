package core_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/plantgen"
)

// TestEventJSONFastPathPlant: every line of a generated plant takes the
// fast path both ways and gives what encoding/json gives.
func TestEventJSONFastPathPlant(t *testing.T) {
	lines := plantLines(t, 20000)
	for _, l := range lines {
		if dec, enc := core.CheckEventJSONFastPath(t, l); !dec || !enc {
			t.Fatalf("a generated event did not take the fast path (decoder %v, encoder %v):\n%s", dec, enc, l)
		}
	}
}

func plantLines(t testing.TB, n int) [][]byte {
	t.Helper()
	var buf bytes.Buffer
	if err := plantgen.Generate(context.Background(), &buf, plantgen.Config{Events: n, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	sc := bufio.NewScanner(&buf)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		out = append(out, append([]byte(nil), sc.Bytes()...))
	}
	return out
}

func BenchmarkDecodeEvent(b *testing.B) {
	lines := plantLines(b, 10000)
	b.Run("fast", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if _, ok := core.DecodeEventFast(lines[i%len(lines)]); !ok {
				b.Fatal("declined")
			}
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if _, err := core.SlowDecodeEvent(lines[i%len(lines)]); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkMarshalEvent(b *testing.B) {
	lines := plantLines(b, 10000)
	events := make([]*core.Event, len(lines))
	for i, l := range lines {
		events[i], _ = core.SlowDecodeEvent(l)
	}
	b.Run("fast", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			core.MarshalEvent(events[i%len(events)])
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			json.Marshal(events[i%len(events)])
		}
	})
}
