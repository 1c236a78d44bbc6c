package postgres

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Planner statistics after bulk writes.
//
// PostgreSQL plans from the statistics ANALYZE gathers; autovacuum
// gathers them in the background, a minute or more after the rows
// arrived, and never when it is off (for the database or per table, as
// some operators set it for bulk loads). With none, the planner guesses:
// on a fresh store filled by one 20,000-event ingest, `hub gaps
// --evaluate` took 4.0 s instead of 0.3 s after ANALYZE (15.8 s on a
// slower machine), and trace hops were planned as hash joins over every
// link. So the store analyses the tables it filled itself, outside the
// ingest transaction, when:
//
//   - a table changed by at least analyzeMin rows and by at least as many
//     rows as its statistics describe (pg_class.reltuples: -1 or 0 when
//     never analysed), three times as many from analyzeLarge rows (growth).
//     Growth is geometric, so a bulk load of n rows costs about
//     log2(n/analyzeMin) ANALYZEs per table up to analyzeLarge rows and
//     log4 beyond, each sampling at most
//     300 × default_statistics_target rows; in between the planner scales
//     the row counts by the table's current size, so statistics gathered
//     when the table was half its size still plan well. The changes are
//     PostgreSQL's own count (pg_stat_user_tables.n_mod_since_analyze,
//     which includes other processes and earlier runs) or, when larger,
//     the rows this process wrote since it last analysed the table (the
//     server's count lags up to a second behind a commit); for the
//     counter tables (counterTables), rows added instead of rows changed;
//   - migrations were applied to a database that had a schema already (a
//     migration may add columns or fill tables): every table below.
//
// The check itself (one catalog query) runs once this process has written
// analyzeMin rows since the last check, so small ingests cost nothing.
// Steady trickles below that are left to autovacuum (docs/operations.md).
const analyzeMin = 1000

// analyzeLarge is the size from which a table's statistics are refreshed
// when it has grown fourfold instead of twofold. Once its rows are past
// the sample ANALYZE reads (300 × default_statistics_target), every
// ANALYZE of a table costs about the same (0.8 s of server CPU for the
// events of the 1M plant), beside a writer on the same cores: a bulk
// load then pays about half as many of them. The planner scales the
// statistics' row counts by the table's current size in between.
const analyzeLarge = 100_000

// growth is how many rows must have changed (been added, for the counter
// tables) since the statistics describing reltuples rows were gathered
// for the table to be analysed again: as many as they describe (the
// table doubled), three times as many (fourfold) from analyzeLarge rows.
func growth(reltuples float64) float64 {
	if reltuples >= analyzeLarge {
		return 3 * reltuples
	}
	return max(reltuples, 0)
}

// filledTables are the tables ingest and gap evaluation fill.
var filledTables = []string{
	"events", "links", "receipts", "shipments", "lot_qty", "lots", "orders",
	"raw_records", "quarantine", "gap_exceptions", "gap_history",
}

// counterTables hold a row per lot (and unit) whose counters most
// batches update in place. Updates change no statistic a plan of theirs
// uses (they are read by lot id, item and lot), so these are refreshed
// when their rows grew, not whenever they changed: the 1M-event plant's
// ingest analysed lots ten times, mostly for updates. Their pending
// counts are rows inserted.
var counterTables = map[string]bool{"lots": true, "lot_qty": true}

// noteWrites records the rows a committed transaction wrote per table
// and refreshes the statistics that it made stale. A failure is logged,
// never returned: the transaction is committed.
//
// The refresh runs beside the next writer, on a connection of its own,
// except a table's first: with no statistics at all the planner guesses
// (see above), so the writer that filled a new table waits for it. A
// refresh of a table that has statistics is not urgent: the planner
// scales the old ones' row counts by the table's current size. When the
// writer waited for every refresh, they took 12.5 s of a 156 s 1M-event
// ingest on a loaded machine (docs/benchmarks.md, branch pgingest).
func (s *DB) noteWrites(ctx context.Context, written map[string]int) {
	s.statsMu.Lock()
	for t, n := range written {
		s.pending[t] += int64(n)
		s.unchecked += int64(n)
	}
	due := s.unchecked >= analyzeMin
	if due {
		s.unchecked = 0
	}
	s.statsMu.Unlock()
	if !due {
		return
	}
	// One analysis at a time: a writer that finds one running leaves its
	// counts for the next check.
	if !s.analyzing.TryLock() {
		return
	}
	stale, first, err := s.staleTables(ctx)
	if err != nil || len(stale) == 0 {
		s.analyzing.Unlock()
		if err != nil {
			s.log().Warn("planner statistics not refreshed after a bulk write; autovacuum or the next bulk write will", "db", s.name, "err", err)
		}
		return
	}
	if first {
		defer s.analyzing.Unlock()
		if err := s.analyze(ctx, stale, "bulk write"); err != nil {
			s.log().Warn("planner statistics not refreshed after a bulk write; autovacuum or the next bulk write will", "db", s.name, "err", err)
		}
		return
	}
	// Close waits for it: a command that ends after a bulk load leaves
	// the statistics fresh for the next one.
	s.background.Add(1)
	go func() {
		defer s.background.Done()
		defer s.analyzing.Unlock()
		if err := s.analyze(context.WithoutCancel(ctx), stale, "bulk write"); err != nil {
			s.log().Warn("planner statistics not refreshed after a bulk write; autovacuum or the next bulk write will", "db", s.name, "err", err)
		}
	}()
}

func (s *DB) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

// staleTables returns the filled tables whose statistics the writes
// since they were gathered have outgrown, and whether one of them has
// never been analysed. The caller holds s.analyzing.
func (s *DB) staleTables(ctx context.Context) (stale []string, first bool, err error) {
	rows, err := s.pool.Query(ctx, `SELECT st.relname, st.n_mod_since_analyze, st.n_live_tup, c.reltuples
		FROM pg_stat_user_tables st JOIN pg_class c ON c.oid = st.relid
		WHERE st.schemaname = current_schema() AND st.relname = ANY($1)`, filledTables)
	if err != nil {
		return nil, false, fmt.Errorf("read table statistics: %w", err)
	}
	type tableStat struct {
		name      string
		modified  int64
		live      int64
		reltuples float64
	}
	stats, err := collect(rows, "read table statistics", func(t *tableStat) []any { return []any{&t.name, &t.modified, &t.live, &t.reltuples} })
	if err != nil {
		return nil, false, err
	}
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	for _, t := range stats {
		mod := max(t.modified, s.pending[t.name])
		if counterTables[t.name] {
			mod = max(t.live-int64(max(t.reltuples, 0)), s.pending[t.name])
		}
		if mod >= analyzeMin && float64(mod) >= growth(t.reltuples) {
			stale = append(stale, t.name)
			// reltuples: -1 never analysed (PostgreSQL 14 on), 0 also
			// before (or analysed empty).
			first = first || t.reltuples <= 0
		}
	}
	return stale, first, nil
}

// analyzeAll analyses every filled table the schema has.
func (s *DB) analyzeAll(ctx context.Context, why string) error {
	s.analyzing.Lock()
	defer s.analyzing.Unlock()
	rows, err := s.pool.Query(ctx, `SELECT relname FROM pg_stat_user_tables
		WHERE schemaname = current_schema() AND relname = ANY($1) ORDER BY relname`, filledTables)
	if err != nil {
		return fmt.Errorf("list tables: %w", err)
	}
	tables, err := collect(rows, "list tables", func(t *string) []any { return []any{t} })
	if err != nil {
		return err
	}
	return s.analyze(ctx, tables, why)
}

// analyze runs ANALYZE on tables and forgets the rows written to them.
func (s *DB) analyze(ctx context.Context, tables []string, why string) error {
	if len(tables) == 0 {
		return nil
	}
	quoted := make([]string, len(tables))
	for i, t := range tables {
		quoted[i] = pgx.Identifier{t}.Sanitize()
	}
	start := time.Now()
	if _, err := s.pool.Exec(ctx, `ANALYZE `+strings.Join(quoted, ", ")); err != nil {
		return fmt.Errorf("analyze %s: %w", strings.Join(tables, ", "), err)
	}
	s.statsMu.Lock()
	for _, t := range tables {
		delete(s.pending, t)
	}
	s.statsMu.Unlock()
	s.log().Info("planner statistics refreshed", "after", why, "tables", strings.Join(tables, ","), "took", time.Since(start).Round(time.Millisecond))
	return nil
}
