// Package sqlq holds the query logic the SQLite and PostgreSQL stores
// share: the SQL text both databases run, written once, and the Go around
// it (scanning rows, wrapping errors, the rules of users, audit and
// outbox writes).
//
// The design, in three parts:
//
//   - Shared SQL is written in PostgreSQL's form with numbered
//     placeholders ($1, and $1::text where PostgreSQL needs the type).
//     Dialect.SQL turns it into the other database's form: for SQLite,
//     $N becomes ?N (SQLite's numbered parameter, so that one argument
//     may stand in several places) and a cast on a placeholder is
//     dropped. Nothing else is rewritten: where the two databases really
//     differ (lists bound as JSON text for json_each against arrays for
//     ANY/unnest, INSERT OR IGNORE against ON CONFLICT DO NOTHING,
//     FOR UPDATE, boolean literals, the clock, LIMIT without a limit),
//     the text comes from one of Dialect's hooks, so that a reader sees
//     at the call which part differs.
//   - Times are Unix microseconds in integer columns in both stores
//     (Micros, FromMicros; 0 is "unset" in OptMicros, OptTime).
//   - Queries runs the shared queries through Querier, a three-method
//     view of a database or a transaction that each store adapts from its
//     driver (database/sql for SQLite, pgx for PostgreSQL), and through
//     Hooks for what only the store knows: how it serialises writers and
//     how it opens its ingest transaction. Each store's DB embeds a
//     *Queries, so that its users, audit and outbox methods are these.
//
// What stays in the stores: everything whose SQL or plan differs in more
// than a hook (the ingest write path, bulk loads with COPY, the trace
// reads and their index hints, gap facts built with json_group_array or
// array_agg), and the drivers. sqlq imports neither driver.
package sqlq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/lothub/lothub/core"
)

// Dialect is what differs in the SQL text of the two databases.
type Dialect struct {
	postgres bool
}

var (
	// SQLite: lists are JSON text read with json_each, times are integers,
	// booleans are 0 and 1, one writer at a time.
	SQLite = Dialect{}
	// PostgreSQL: lists are arrays, placeholders carry casts where the
	// type cannot be inferred, several writers lock rows.
	PostgreSQL = Dialect{postgres: true}
)

// SQL returns the shared text q in the dialect's form (see the package
// comment). For SQLite, $N becomes ?N and a cast right after a
// placeholder ($N::type or $N::type[]) is dropped; quoted literals are
// left alone.
func (d Dialect) SQL(q string) string {
	if d.postgres {
		return q
	}
	var b strings.Builder
	b.Grow(len(q))
	quoted := false
	for i := 0; i < len(q); i++ {
		c := q[i]
		if c == '\'' {
			quoted = !quoted
		}
		if quoted || c != '$' || i+1 >= len(q) || !isDigit(q[i+1]) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('?')
		for i+1 < len(q) && isDigit(q[i+1]) {
			i++
			b.WriteByte(q[i])
		}
		if strings.HasPrefix(q[i+1:], "::") { // drop the cast
			i += 2
			for i+1 < len(q) && (isWord(q[i+1]) || q[i+1] == '[' || q[i+1] == ']') {
				i++
			}
		}
	}
	return b.String()
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isWord(c byte) bool {
	return isDigit(c) || c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// List is the argument that binds v as a list for In, Empty and Each:
// JSON text for SQLite's json_each, the slice itself for a PostgreSQL
// array. A nil slice binds as an empty list, never as NULL.
func List[T any](d Dialect, v []T) any {
	if v == nil {
		v = []T{}
	}
	if d.postgres {
		return v
	}
	b, _ := json.Marshal(v) // lists of ints and strings always marshal
	return string(b)
}

// In is the condition "expr is one of the list bound at placeholder ph"
// (ph like "$3", typ the SQL type of the elements: text, bigint).
func (d Dialect) In(expr, ph, typ string) string {
	if d.postgres {
		return expr + " = ANY(" + ph + "::" + typ + "[])"
	}
	return expr + " IN (SELECT value FROM json_each(" + ph + "))"
}

// Empty is the condition "the list bound at ph has no elements".
func (d Dialect) Empty(ph, typ string) string {
	if d.postgres {
		return "cardinality(" + ph + "::" + typ + "[]) = 0"
	}
	return ph + " = '[]'"
}

// Each is a FROM item with one row per element of the list bound at ph;
// the element is alias.value.
func (d Dialect) Each(ph, typ, alias string) string {
	if d.postgres {
		return "unnest(" + ph + "::" + typ + "[]) AS " + alias + "(value)"
	}
	return "json_each(" + ph + ") AS " + alias
}

// Bool is a boolean literal: SQLite stores booleans as 0 and 1.
func (d Dialect) Bool(v bool) string {
	switch {
	case d.postgres && v:
		return "true"
	case d.postgres:
		return "false"
	case v:
		return "1"
	}
	return "0"
}

// NowMicros is the database's clock in Unix microseconds. PostgreSQL's is
// clock_timestamp(), the moment of the statement and not the
// transaction's start, so that audit times follow the order of the chain;
// SQLite's 'now' is the same moment throughout one statement and keeps
// milliseconds.
func (d Dialect) NowMicros() string {
	if d.postgres {
		return `(extract(epoch FROM clock_timestamp()) * 1000000)::bigint`
	}
	return `CAST(strftime('%s', 'now') AS INTEGER) * 1000000 + CAST(substr(strftime('%f', 'now'), 4) AS INTEGER) * 1000`
}

// ForUpdate locks the rows a SELECT reads until the transaction ends.
// SQLite has one writer at a time and needs (and has) no row locks.
func (d Dialect) ForUpdate() string {
	if d.postgres {
		return " FOR UPDATE"
	}
	return ""
}

// SkipLocked is ForUpdate that passes over rows another transaction has
// locked: several PostgreSQL workers claim different rows without waiting
// for each other.
func (d Dialect) SkipLocked() string {
	if d.postgres {
		return " FOR UPDATE SKIP LOCKED"
	}
	return ""
}

// InsertIgnore is an INSERT INTO table that leaves a row whose key is
// stored already as it is: the text before the column list, and the text
// after the values.
func (d Dialect) InsertIgnore(table string) (head, tail string) {
	if d.postgres {
		return "INSERT INTO " + table, " ON CONFLICT DO NOTHING"
	}
	return "INSERT OR IGNORE INTO " + table, ""
}

// HasPrefix is the condition "expr starts with the text bound at ph". On
// SQLite it compares a substring rather than using LIKE, whose wildcards
// lot numbers may contain.
func (d Dialect) HasPrefix(expr, ph string) string {
	if d.postgres {
		return "starts_with(" + expr + ", " + ph + ")"
	}
	return "substr(" + expr + ", 1, length(" + ph + ")) = " + ph
}

// Bytewise follows a text ORDER BY term to sort in byte order, SQLite's
// own; PostgreSQL's default follows the database's locale.
func (d Dialect) Bytewise() string {
	if d.postgres {
		return ` COLLATE "C"`
	}
	return ""
}

// Limit is the argument of a LIMIT placeholder: n when positive, else no
// limit (SQLite's -1, PostgreSQL's NULL).
func (d Dialect) Limit(n int) any {
	switch {
	case n > 0:
		return int64(n)
	case d.postgres:
		return nil
	}
	return int64(-1)
}

// Text makes s storable in a text column. PostgreSQL's refuse NUL and
// invalid UTF-8, which only descriptions of bad input carry (quarantine
// entries, errors, reasons); SQLite stores any bytes.
func (d Dialect) Text(s string) string {
	if !d.postgres || utf8.ValidString(s) && !strings.Contains(s, "\x00") {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// Unique reports whether err is a unique-constraint violation.
func (d Dialect) Unique(err error) bool {
	if err == nil {
		return false
	}
	if d.postgres {
		var pe interface{ SQLState() string } // *pgconn.PgError
		return errors.As(err, &pe) && pe.SQLState() == "23505"
	}
	return strings.Contains(err.Error(), "UNIQUE constraint failed")
}

// Querier is a database or a transaction, adapted by each store from its
// driver. A Row's Scan returns an error that errors.Is sql.ErrNoRows when
// there is no row (pgx's ErrNoRows wraps it).
type Querier interface {
	Query(ctx context.Context, query string, args ...any) (Rows, error)
	QueryRow(ctx context.Context, query string, args ...any) Row
	// Exec runs a statement and returns how many rows it changed.
	Exec(ctx context.Context, query string, args ...any) (int64, error)
}

// Rows is a query's result, read once.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// Row is a one-row result.
type Row interface {
	Scan(dest ...any) error
}

// Micros is t in Unix microseconds, as both stores keep times.
func Micros(t time.Time) int64 { return t.UnixMicro() }

// FromMicros is the UTC time of us Unix microseconds.
func FromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// OptMicros stores the zero time as 0.
func OptMicros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return Micros(t)
}

// OptTime reads 0 as the zero time.
func OptTime(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return FromMicros(us)
}

// Hooks are what only the store knows.
type Hooks struct {
	// Write runs fn, which writes outside a transaction of its own, under
	// the store's rule for writers (SQLite: the process's writer mutex;
	// PostgreSQL: nothing, row locks do it).
	Write func(ctx context.Context, fn func(Querier) error) error
	// Tx runs fn in a write transaction of its own and commits it when fn
	// returns nil. Users, tokens and sessions are not genealogy: on
	// PostgreSQL they do not take the ingest writers' advisory lock.
	Tx func(ctx context.Context, fn func(Querier) error) error
	// Ingest runs fn in the store's ingest transaction (Store.Ingest): the
	// writers' lock, and tx.Audit appends to the audit trail.
	Ingest func(ctx context.Context, fn func(q Querier, tx core.IngestTx) error) error
}

// Queries runs the shared queries on one store.
type Queries struct {
	d     Dialect
	name  string // the database in messages: a path, or a URL without password
	db    Querier
	hooks Hooks
}

// New returns the shared queries of the store named name (for messages),
// reading through db.
func New(d Dialect, name string, db Querier, h Hooks) *Queries {
	return &Queries{d: d, name: name, db: db, hooks: h}
}

// query runs the shared text q on db in the dialect's form.
func (x *Queries) query(ctx context.Context, db Querier, q string, args ...any) (Rows, error) {
	return db.Query(ctx, x.d.SQL(q), args...)
}

func (x *Queries) queryRow(ctx context.Context, db Querier, q string, args ...any) Row {
	return db.QueryRow(ctx, x.d.SQL(q), args...)
}

func (x *Queries) exec(ctx context.Context, db Querier, q string, args ...any) (int64, error) {
	return db.Exec(ctx, x.d.SQL(q), args...)
}

// write runs one statement under the store's rule for writers; what says
// what it does, in errors.
func (x *Queries) write(ctx context.Context, what, q string, args ...any) (int64, error) {
	var n int64
	err := x.hooks.Write(ctx, func(db Querier) error {
		var err error
		n, err = x.exec(ctx, db, q, args...)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("%s in %s: %w", what, x.name, err)
	}
	return n, nil
}

// writeTx runs fn in one write transaction. When ctx carries an audit
// entry (core.WithAudit), the change runs in an ingest transaction
// instead (under the writers' lock, which the audit chain needs) and the
// entry is appended in it. Errors with a code (not found, conflict) come
// back as fn returned them; others say what failed and where.
func (x *Queries) writeTx(ctx context.Context, what string, fn func(Querier) error) error {
	var err error
	if e, ok := core.PendingAudit(ctx); ok {
		err = x.hooks.Ingest(ctx, func(q Querier, tx core.IngestTx) error {
			if err := fn(q); err != nil {
				return err
			}
			_, err := tx.Audit(ctx, e)
			return err
		})
	} else {
		err = x.hooks.Tx(ctx, fn)
	}
	if err != nil && core.ErrorCode(err) == core.EINTERNAL {
		return fmt.Errorf("%s in %s: %w", what, x.name, err)
	}
	return err
}

// collect reads every row with scan; what names the read in errors.
func collect[T any](rows Rows, what string, scan func(Row) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// ListDest is where a list column scans into v: SQLite keeps lists as
// JSON text, PostgreSQL as arrays.
func ListDest(d Dialect, v *[]string) any {
	if d.postgres {
		return v
	}
	return jsonDest{v}
}

// jsonDest scans JSON text into v.
type jsonDest struct{ v any }

func (j jsonDest) Scan(src any) error {
	switch s := src.(type) {
	case string:
		return json.Unmarshal([]byte(s), j.v)
	case []byte:
		return json.Unmarshal(s, j.v)
	}
	return fmt.Errorf("list column holds %T, want JSON text", src)
}

// Greatest is the larger of a and b (SQLite's two-argument max).
func (d Dialect) Greatest(a, b string) string {
	if d.postgres {
		return "greatest(" + a + ", " + b + ")"
	}
	return "max(" + a + ", " + b + ")"
}

// Total is the sum of expr over a group, 0 when it has no non-NULL value
// (SQLite's total).
func (d Dialect) Total(expr string) string {
	if d.postgres {
		return "coalesce(sum(" + expr + "), 0)"
	}
	return "total(" + expr + ")"
}

// JSONText is the text of the top-level field key of the JSON in column
// col, NULL when absent.
func (d Dialect) JSONText(col, key string) string {
	if d.postgres {
		return col + "::jsonb->>'" + key + "'"
	}
	return "json_extract(" + col + ", '$." + key + "')"
}

// IndexedBy makes SQLite read a table through index: without statistics
// its planner can pick a worse one. PostgreSQL has statistics (stats.go)
// and no such hint.
func (d Dialect) IndexedBy(index string) string {
	if d.postgres {
		return ""
	}
	return " INDEXED BY " + index
}
