package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/core/store/asof"
)

// asOfFlag is --as-of on the commands that read the genealogy (trace,
// recall, lot, report): answer as the store would have at that time
// (docs/as-of.md).
type asOfFlag struct {
	value string
	at    time.Time
}

func (f *asOfFlag) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.value, "as-of", "", "answer as the store would have at this time (what it had recorded by then): RFC 3339, a date (its end, UTC), or -24h, -7d (docs/as-of.md)")
}

// parse checks the flag before the store is opened: a bad value is bad
// usage (exit 2).
func (f *asOfFlag) parse() error {
	if f.value == "" {
		return nil
	}
	t, err := core.ParseAsOf("--as-of", f.value, time.Now())
	if err != nil {
		return usageError{err}
	}
	f.at = t
	return nil
}

// withStoreAsOf runs fn with the store, or, with --as-of, with the store
// as it stood then (a scratch copy rebuilt from the event versions
// recorded by that time, removed after).
func (a *app) withStoreAsOf(ctx context.Context, f *asOfFlag, fn func(core.Store) error) error {
	return a.withStoresAsOf(ctx, f, func(v, _ core.Store) error { return fn(v) })
}

// withStoresAsOf is withStoreAsOf that also gives fn the live store (for
// what the as-of copy does not hold: the audit trail).
func (a *app) withStoresAsOf(ctx context.Context, f *asOfFlag, fn func(view, live core.Store) error) error {
	if err := f.parse(); err != nil {
		return err
	}
	return a.withStore(ctx, func(s core.Store) error {
		if f.value == "" {
			return fn(s, s)
		}
		v, err := asof.Open(ctx, s, f.at, asof.Options{})
		if err != nil {
			return err
		}
		defer v.Close()
		fmt.Fprintf(a.stderr, "as of %s: the store as it stood then (%d event versions recorded by that time, replayed in %s)\n",
			f.at.Format(time.RFC3339Nano), v.Versions, v.Took.Round(time.Millisecond))
		if err := fn(v, s); err != nil {
			return fmt.Errorf("as of %s: %w", f.at.Format(time.RFC3339Nano), err)
		}
		return nil
	})
}
