// Package prestart holds one store open begun before the command that
// wants it runs — a command-line trace's store, opened while the process
// initialises its packages — for that command to take over, or for the
// process to close when the command ended without it. Both stores use it
// (sqlite.PrestartReads, postgres.Prestart).
package prestart

import (
	"context"
	"sync"
)

// Slot holds at most one open at a time, identified by a key (the path or
// URL and options the command would open).
type Slot[K comparable, T any] struct {
	mu sync.Mutex
	o  *open[K, T]
}

type open[K comparable, T any] struct {
	key     K
	done    chan struct{}
	val     T    // set before done is closed
	ok      bool // val is usable
	release func(T)
}

// Start runs fn in the background for key, unless an open is already held.
// fn returns the opened value and whether it is usable; release closes a
// usable value that nobody takes.
func (s *Slot[K, T]) Start(key K, fn func() (T, bool), release func(T)) {
	o := &open[K, T]{key: key, done: make(chan struct{}), release: release}
	s.mu.Lock()
	if s.o != nil {
		s.mu.Unlock()
		return
	}
	s.o = o
	s.mu.Unlock()
	go func() {
		defer close(o.done)
		o.val, o.ok = fn()
	}()
}

// Take returns the value opened for key, waiting for its open to end. It
// returns false when no open was started for key, when the open failed,
// or when ctx ended first (the value is then closed once it is open).
// An open is taken once.
func (s *Slot[K, T]) Take(ctx context.Context, key K) (T, bool) {
	var zero T
	s.mu.Lock()
	o := s.o
	if o == nil || o.key != key {
		s.mu.Unlock()
		return zero, false
	}
	s.o = nil
	s.mu.Unlock()
	select {
	case <-o.done:
		return o.val, o.ok
	case <-ctx.Done():
		go o.discard()
		return zero, false
	}
}

// Close closes what an open nobody took opened, once it has ended.
func (s *Slot[K, T]) Close() {
	s.mu.Lock()
	o := s.o
	s.o = nil
	s.mu.Unlock()
	if o != nil {
		o.discard()
	}
}

func (o *open[K, T]) discard() {
	<-o.done
	if o.ok {
		o.release(o.val)
	}
}
