package sqlq_test

import (
	"testing"

	"github.com/lothub/lothub/core/store/sqlq"
)

// The shared text is PostgreSQL's; SQLite gets numbered ?N parameters
// (so that one argument may stand in several places) and no casts, and
// quoted literals that look like placeholders stay as they are.
func TestSQLiteForm(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`SELECT 1 FROM t WHERE a = $1 AND b = $12`, `SELECT 1 FROM t WHERE a = ?1 AND b = ?12`},
		{`WHERE ($1::text = '' OR x = $1) LIMIT $2`, `WHERE (?1 = '' OR x = ?1) LIMIT ?2`},
		{`cardinality($3::text[]) = 0`, `cardinality(?3) = 0`},
		{`json_extract(body, '$.site') = $1`, `json_extract(body, '$.site') = ?1`},
		{`'it''s $1' || $2`, `'it''s $1' || ?2`},
		{`x::bigint, $`, `x::bigint, $`},
	} {
		if got := sqlq.SQLite.SQL(c.in); got != c.want {
			t.Errorf("SQLite.SQL(%q)\n got %q\nwant %q", c.in, got, c.want)
		}
		if got := sqlq.PostgreSQL.SQL(c.in); got != c.in {
			t.Errorf("PostgreSQL.SQL(%q) = %q, want it unchanged", c.in, got)
		}
	}
}

// A nil list binds as an empty one in both forms, never as NULL, which
// would make "the list is empty" unknown instead of true.
func TestListNeverNull(t *testing.T) {
	if got := sqlq.List[string](sqlq.SQLite, nil); got != "[]" {
		t.Errorf("SQLite list of nil = %#v, want \"[]\"", got)
	}
	if got, ok := sqlq.List[int64](sqlq.PostgreSQL, nil).([]int64); !ok || got == nil || len(got) != 0 {
		t.Errorf("PostgreSQL list of nil = %#v, want an empty []int64", got)
	}
	if got := sqlq.List(sqlq.SQLite, []string{"a", `b"c`}); got != `["a","b\"c"]` {
		t.Errorf("SQLite list = %#v, want JSON text", got)
	}
}
