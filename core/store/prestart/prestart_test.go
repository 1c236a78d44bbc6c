package prestart

import (
	"context"
	"sync/atomic"
	"testing"
)

// res is an opened thing that counts its closes.
type res struct{ closed *atomic.Int32 }

func TestSlot(t *testing.T) {
	t.Run("taken by its key once, never closed", func(t *testing.T) {
		var s Slot[string, res]
		var closed atomic.Int32
		s.Start("a.db", func() (res, bool) { return res{&closed}, true }, func(r res) { r.closed.Add(1) })
		if _, ok := s.Take(context.Background(), "b.db"); ok {
			t.Fatal("another key took the open")
		}
		r, ok := s.Take(context.Background(), "a.db")
		if !ok || r.closed != &closed {
			t.Fatalf("Take(a.db) = %v, %v; want the opened value", r, ok)
		}
		if _, ok := s.Take(context.Background(), "a.db"); ok {
			t.Fatal("the open was taken twice")
		}
		s.Close()
		if n := closed.Load(); n != 0 {
			t.Fatalf("a taken value was closed %d times", n)
		}
	})
	t.Run("not taken: closed at the end", func(t *testing.T) {
		var s Slot[string, res]
		var closed atomic.Int32
		s.Start("a.db", func() (res, bool) { return res{&closed}, true }, func(r res) { r.closed.Add(1) })
		s.Close()
		if n := closed.Load(); n != 1 {
			t.Fatalf("closed %d times, want 1", n)
		}
	})
	t.Run("a failed open is not taken and not closed", func(t *testing.T) {
		var s Slot[string, res]
		var closed atomic.Int32
		s.Start("a.db", func() (res, bool) { return res{&closed}, false }, func(r res) { r.closed.Add(1) })
		if _, ok := s.Take(context.Background(), "a.db"); ok {
			t.Fatal("a failed open was taken")
		}
		s.Close()
		if n := closed.Load(); n != 0 {
			t.Fatalf("a failed open was closed %d times", n)
		}
	})
	t.Run("one open at a time", func(t *testing.T) {
		var s Slot[string, res]
		var first, second atomic.Int32
		s.Start("a.db", func() (res, bool) { return res{&first}, true }, func(r res) { r.closed.Add(1) })
		s.Start("a.db", func() (res, bool) { return res{&second}, true }, func(r res) { r.closed.Add(1) })
		r, ok := s.Take(context.Background(), "a.db")
		if !ok || r.closed != &first {
			t.Fatal("the second Start replaced the first")
		}
	})
	t.Run("the caller gives up: closed once open", func(t *testing.T) {
		var s Slot[string, res]
		var closed atomic.Int32
		release := make(chan struct{})
		done := make(chan struct{})
		s.Start("a.db", func() (res, bool) { <-release; return res{&closed}, true },
			func(r res) { r.closed.Add(1); close(done) })
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, ok := s.Take(ctx, "a.db"); ok {
			t.Fatal("Take with an ended context returned a value")
		}
		close(release)
		<-done
		if n := closed.Load(); n != 1 {
			t.Fatalf("closed %d times, want 1", n)
		}
	})
}
