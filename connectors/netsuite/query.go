package netsuite

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lothub/lothub/sdk"
)

// maxPageSize is the most rows SuiteQL over REST returns per request (the
// limit query parameter). A query also stops at 100,000 rows whatever the
// offset (NetSuite: "Collection Paging"), which is why the connector never
// pages with offsets but with a keyset: each request starts right after
// the last row it has, at offset 0.
const maxPageSize = 1000

// SuiteQL returns datetime columns formatted with the user's date format
// preference, usually without the time (3/14/2026): an incremental read
// built on that loses whatever changed later the same day. Every time is
// therefore read and compared as TO_CHAR text with seconds, in the time
// zone of the user's preferences (the timezone parameter).
const (
	sqlTimestamp = "YYYY-MM-DD HH24:MI:SS" // SuiteQL (Oracle) format model
	goTimestamp  = "2006-01-02 15:04:05"   // the same, as a Go layout
)

func toChar(expr string) string { return "TO_CHAR(" + expr + ", '" + sqlTimestamp + "')" }

// column is one selected column: a SuiteQL expression and the field name
// it gets in the record (SuiteQL returns column names in lower case).
type column struct{ expr, name string }

// transactionColumns are the fields of a transaction record: the
// transaction, its line, the inventory assignment (one lot or serial
// number on the line, with its quantity) and what they refer to. Names are
// SuiteQL's, from NetSuite's Records Catalog.
var transactionColumns = []column{
	{"t.id", "tran_id"},
	{"t.tranid", "tran_number"},
	{"t.type", "tran_type"},
	{"TO_CHAR(t.trandate, 'YYYY-MM-DD')", "tran_date"},
	{toChar("t.lastmodifieddate"), "last_modified"},
	{"t.voided", "voided"},
	{"t.entity", "entity_id"},
	{"e.entityid", "entity_number"},
	{"BUILTIN.DF(t.entity)", "entity_name"},
	// Created From (the purchase, sales, transfer or work order a receipt,
	// fulfillment or issue was made from) is a column of transactionline
	// in SuiteQL, not of transaction: a query naming t.createdfrom is
	// refused with "Field 'createdfrom' for record 'transaction' was not
	// found" (NetSuite Records Catalog, Transaction Line; SuiteQL has no
	// body-level createdfrom).
	{"tl.createdfrom", "created_from_id"},
	{"cf.tranid", "created_from_number"},
	{"cf.type", "created_from_type"},
	{"BUILTIN.DF(t.transferlocation)", "transfer_location"},
	{"tl.id", "line_id"},
	{"tl.quantity", "line_quantity"},
	{"BUILTIN.DF(tl.location)", "location"},
	{"tl.item", "item_id"},
	{"i.itemid", "item"},
	{"ia.id", "assignment_id"},
	// Inventory assignment quantities are in the item's base unit.
	{"ia.quantity", "quantity"},
	{"bu.abbreviation", "base_unit"},
	{"inv.inventorynumber", "lot"},
	{"TO_CHAR(inv.expirationdate, 'YYYY-MM-DD')", "expiration_date"},
}

// transactionFrom joins a transaction's lines to their inventory detail.
// inventoryassignment is keyed by (transaction, transactionline) and holds
// one row per lot (or serial) number of a line, with its quantity in base
// units and a reference to inventorynumber (NetSuite help, "Inventory
// Detail" subrecord, InventoryAssignmentList; the SuiteQL join is the one
// described in netsuitediagnostics.com/posts/inventory-assignment). Both
// joins are LEFT joins, so that a line whose inventory detail is missing
// comes back too, once, with ia and inv null: lines imported or posted by
// an integration without inventory detail, or before lot numbering was
// turned on for the item. transactionWhere keeps which of them are read.
// The base unit comes from the item's units type when the Multiple Units
// of Measure feature is on.
const transactionFrom = " FROM transaction t" +
	" INNER JOIN transactionline tl ON tl.transaction = t.id" +
	" LEFT JOIN inventoryassignment ia ON ia.transaction = tl.transaction AND ia.transactionline = tl.id" +
	" LEFT JOIN inventorynumber inv ON inv.id = ia.inventorynumber" +
	" INNER JOIN item i ON i.id = tl.item" +
	" LEFT JOIN transaction cf ON cf.id = tl.createdfrom" +
	" LEFT JOIN entity e ON e.id = t.entity" +
	" LEFT JOIN unitstypeuom bu ON bu.unitstype = i.unitstype AND bu.baseunit = 'T'"

// transactionWhere is which joined rows are records:
//
//   - every inventory assignment with a lot (or serial) number, as the
//     inner joins read before (the same rows, ids and order);
//   - a line of a lot- or serial-numbered item (item.islotitem,
//     item.isserialitem: the Lot Numbered / Serialized kinds of inventory
//     and assembly items, NetSuite help "Lot and Serial Numbering Subtab")
//     that moves a quantity but has no lot number: no inventory detail at
//     all (one row, ia null) or an assignment without a number. These make
//     no event; the default mapping quarantines them, so that a lot-bearing
//     line never vanishes without a trace.
//
// Lines of other items without a number (no inventory detail, or bins
// only) are not lots and are not read: reading them would add a record for
// every line of every untracked item.
const transactionWhere = "(inv.id IS NOT NULL OR ((i.islotitem = 'T' OR i.isserialitem = 'T') AND tl.quantity <> 0))"

// noAssignment stands for the assignment id of a line read without
// inventory detail, in its record id (ItemRcpt:12345:3:0) and its keyset
// key. NetSuite's internal ids start at 1. SuiteQL sorts the null
// assignment id last (Oracle's ascending default) and compares it with
// nothing, so such a line's only row is passed by the keyset condition
// "ia.id > 0" on the same line, and every other row is ordered by its
// transaction and line as before.
const noAssignment = "0"

// keyPart is one column of a keyset after the timestamp.
type keyPart struct {
	expr    string
	numeric bool
}

var (
	transactionKey = []keyPart{{"t.id", true}, {"tl.id", true}, {"ia.id", true}}
	deletedKey     = []keyPart{{"d.recordid", true}, {"d.type", false}}
)

// transactionQuery is the SuiteQL that reads the transaction stream from s.
// Rows come in keyset order: last modified (as text, to the second), then
// transaction, line and assignment id.
func transactionQuery(o *options, s streamPos) string {
	var b strings.Builder
	b.WriteString("SELECT ")
	for i, c := range append(transactionColumns[:len(transactionColumns):len(transactionColumns)], o.extra...) {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(c.expr + " AS " + c.name)
	}
	b.WriteString(transactionFrom)
	quoted := make([]string, len(o.types))
	for i, t := range o.types {
		quoted[i] = sqlString(t)
	}
	conds := []string{"t.type IN (" + strings.Join(quoted, ", ") + ")", transactionWhere}
	conds = append(conds, s.conditions(o.loc, "t.lastmodifieddate", transactionKey)...)
	b.WriteString(" WHERE " + strings.Join(conds, " AND "))
	b.WriteString(" ORDER BY " + toChar("t.lastmodifieddate") + ", t.id, tl.id, ia.id")
	return b.String()
}

// deletedQuery reads the deletedrecord table: every record type, since the
// type names it holds are not documented as a stable list; rows of other
// types are skipped by the connector after they move the keyset on.
// recordid is unique only within a record type, so the type is part of
// the key.
func deletedQuery(o *options, s streamPos) string {
	q := "SELECT d.recordid AS record_id, d.type AS record_type, d.name AS name, " +
		toChar("d.deleteddate") + " AS deleted_at FROM deletedrecord d"
	if conds := s.conditions(o.loc, "d.deleteddate", deletedKey); len(conds) > 0 {
		q += " WHERE " + strings.Join(conds, " AND ")
	}
	return q + " ORDER BY " + toChar("d.deleteddate") + ", d.recordid, d.type"
}

// conditions are the WHERE conditions that read a stream from s: a lower
// bound on the timestamp column, which lets NetSuite use its index, and
// the keyset condition that starts right after the last row read.
func (s streamPos) conditions(loc *time.Location, col string, parts []keyPart) []string {
	var conds []string
	var lo time.Time
	if s.From != "" {
		lo, _ = time.Parse(time.RFC3339, s.From) // validated when decoded
	}
	if s.After != nil {
		// Every row after the key has a wall-clock text at or after the
		// key's, so its instant is at or after the key's earliest reading.
		if at, err := earliestInstant(s.After.At, loc); err == nil && at.After(lo) {
			lo = at
		}
	}
	if !lo.IsZero() {
		conds = append(conds, col+" >= TO_TIMESTAMP("+sqlString(wallClockNotAfter(lo, loc))+", '"+sqlTimestamp+"')")
	}
	if s.After != nil {
		conds = append(conds, keysetCondition(toChar(col), parts, *s.After))
	}
	return conds
}

// keysetCondition is (at, parts...) > (k.At, k.IDs...) written out, since
// SuiteQL has no row-value comparison:
//
//	(at > 'A' OR (at = 'A' AND (p1 > v1 OR (p1 = v1 AND p2 > v2))))
func keysetCondition(at string, parts []keyPart, k key) string {
	cond := ""
	for i := len(parts) - 1; i >= 0; i-- {
		p, v := parts[i].expr, k.IDs[i]
		if !parts[i].numeric {
			v = sqlString(v)
		}
		if cond == "" {
			cond = p + " > " + v
		} else {
			cond = "(" + p + " > " + v + " OR (" + p + " = " + v + " AND " + cond + "))"
		}
	}
	a := sqlString(k.At)
	return "(" + at + " > " + a + " OR (" + at + " = " + a + " AND " + cond + "))"
}

// sqlString quotes s as a SuiteQL string literal.
func sqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// extraColumnRE is what extra_columns accepts: a field of one of the
// query's tables, or its display value (BUILTIN.DF), with a name. Nothing
// else reaches the query text.
var extraColumnRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?i)^(?:(t|tl|ia|inv|i|e)\.([a-z][a-z0-9_]*)|builtin\.df\(\s*(t|tl|ia|inv|i|e)\.([a-z][a-z0-9_]*)\s*\))\s+as\s+([a-z][a-z0-9_]*)$`)
})

func parseExtraColumns(s string) ([]column, error) {
	var out []column
	names := map[string]bool{}
	for _, c := range transactionColumns {
		names[c.name] = true
	}
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		m := extraColumnRE().FindStringSubmatch(item)
		if m == nil {
			return nil, sdk.InvalidConfig("extra_columns", "%q is not 'alias.field AS name' (aliases: t transaction, tl transactionline, ia inventoryassignment, inv inventorynumber, i item, e entity), e.g. 't.custbody_vendor_lot AS supplier_lot' or 'BUILTIN.DF(t.custbody_site) AS site'", item)
		}
		name := strings.ToLower(m[5])
		if names[name] {
			return nil, sdk.InvalidConfig("extra_columns", "the name %q is taken (by a standard column or another extra column); choose another", name)
		}
		names[name] = true
		expr := strings.ToLower(m[1]) + "." + strings.ToLower(m[2])
		if m[3] != "" {
			expr = "BUILTIN.DF(" + strings.ToLower(m[3]) + "." + strings.ToLower(m[4]) + ")"
		}
		out = append(out, column{expr, name})
	}
	return out, nil
}

// row is one item of a SuiteQL response: column name → value as text.
// SuiteQL sends values as JSON strings (and sometimes numbers or booleans)
// and leaves null columns out of the item altogether; a missing key is a
// null.
type row map[string]string

func (r *row) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return err
	}
	out := make(row, len(m))
	for k, v := range m {
		switch x := v.(type) {
		case string:
			out[k] = x
		case json.Number:
			out[k] = x.String()
		case bool:
			out[k] = map[bool]string{true: "T", false: "F"}[x]
		case nil:
		default: // links: HATEOAS references, not data
		}
	}
	*r = out
	return nil
}

// get returns the value of column name, or nil when it is null.
func (r row) get(name string) any {
	if v, ok := r[name]; ok {
		return v
	}
	return nil
}

// stream is one keyset-ordered source of records: its query, how a row's
// key and identity are found, and how a row becomes a record.
type stream struct {
	what   string
	parts  []keyPart
	query  func(o *options, s streamPos) string
	key    func(r row) (key, error)
	record func(o *options, r row, at time.Time) (sdk.Record, bool, error)
}

var transactions = stream{
	what:  "transactions",
	parts: transactionKey,
	query: transactionQuery,
	key: func(r row) (key, error) {
		if _, ok := r["assignment_id"]; !ok { // a line without inventory detail
			k, err := rowKey(r, "last_modified", "tran_id", "line_id")
			if err == nil {
				k.IDs = append(k.IDs, noAssignment)
			}
			return k, err
		}
		return rowKey(r, "last_modified", "tran_id", "line_id", "assignment_id")
	},
	record: transactionRecord,
}

var deletions = stream{
	what:  "deleted records",
	parts: deletedKey,
	query: deletedQuery,
	key: func(r row) (key, error) {
		k, err := rowKey(r, "deleted_at", "record_id")
		if err == nil {
			k.IDs = append(k.IDs, r["record_type"])
		}
		return k, err
	},
	record: deletedRecord,
}

// rowKey reads a row's keyset key: its timestamp text and numeric ids.
func rowKey(r row, at string, ids ...string) (key, error) {
	k := key{At: r[at]}
	if _, err := time.Parse(goTimestamp, k.At); err != nil {
		return key{}, fmt.Errorf("NetSuite returned %s %q, not a YYYY-MM-DD HH24:MI:SS time (row %v)", at, k.At, describeRow(r, ids))
	}
	for _, name := range ids {
		v := r[name]
		if _, err := strconv.ParseInt(v, 10, 64); err != nil {
			return key{}, fmt.Errorf("NetSuite returned %s %q, not an internal id (row %v)", name, v, describeRow(r, ids))
		}
		k.IDs = append(k.IDs, v)
	}
	return k, nil
}

func describeRow(r row, ids []string) string {
	var parts []string
	for _, n := range ids {
		parts = append(parts, n+"="+r[n])
	}
	return strings.Join(parts, " ")
}

// transactionRecord turns one transaction row into a record. Its id is
// type:transaction:line:assignment (ItemRcpt:12345:3:7): internal ids, so
// renumbering a document (tranid) does not change it. A line read without
// inventory detail has assignment 0 (ItemRcpt:12345:3:0) and a null
// assignment_id in its payload; the ids of lines with an assignment are
// the ones they always had.
func transactionRecord(o *options, r row, at time.Time) (sdk.Record, bool, error) {
	kind, ok := tranTypes[r["tran_type"]]
	if !ok {
		return sdk.Record{}, false, fmt.Errorf("transaction %s has type %q, which the query did not ask for", r["tran_id"], r["tran_type"])
	}
	fields := make(map[string]any, len(transactionColumns)+len(o.extra)+2)
	for _, c := range transactionColumns {
		fields[c.name] = r.get(c.name)
	}
	for _, c := range o.extra {
		fields[c.name] = r.get(c.name)
	}
	fields["last_modified_utc"] = at.UTC().Format(time.RFC3339)
	fields["account"] = o.account
	payload, err := json.Marshal(fields)
	if err != nil {
		return sdk.Record{}, false, fmt.Errorf("encode transaction %s: %w", r["tran_id"], err)
	}
	assignment := r["assignment_id"]
	if assignment == "" {
		assignment = noAssignment
	}
	id := strings.Join([]string{r["tran_type"], r["tran_id"], r["line_id"], assignment}, ":")
	return sdk.Record{Kind: kind, ID: id, Payload: payload, Time: at}, true, nil
}

// deletedTypes maps the record types of deletedrecord that the connector
// reads to transaction types. Both spellings NetSuite uses for a record
// type are accepted: its script id (itemreceipt) and its name (Item
// Receipt), compared without case and spaces.
var deletedTypes = map[string]string{
	"itemreceipt": "ItemRcpt", "itemfulfillment": "ItemShip",
	"workorderissue": "WOIssue", "workordercompletion": "WOCompl",
	"assemblybuild": "Build", "assemblyunbuild": "Unbuild",
	"inventorytransfer": "InvTrnfr", "inventoryadjustment": "InvAdjst",
}

func deletedTranType(recordType string) string {
	t := strings.ToLower(strings.ReplaceAll(recordType, " ", ""))
	if tt, ok := deletedTypes[t]; ok {
		return tt
	}
	for _, tt := range deletedTypes { // the type code itself (ItemRcpt)
		if strings.EqualFold(tt, t) {
			return tt
		}
	}
	return ""
}

// deletedRecord turns a deletedrecord row of one of the transaction types
// read into a record; rows of other record types are not records.
func deletedRecord(o *options, r row, at time.Time) (sdk.Record, bool, error) {
	tt := deletedTranType(r["record_type"])
	if tt == "" || !slices.Contains(o.types, tt) {
		return sdk.Record{}, false, nil
	}
	payload, err := json.Marshal(map[string]any{
		"record_id":      r.get("record_id"),
		"record_type":    r.get("record_type"),
		"tran_type":      tt,
		"name":           r.get("name"),
		"deleted_at":     r.get("deleted_at"),
		"deleted_at_utc": at.UTC().Format(time.RFC3339),
		"account":        o.account,
	})
	if err != nil {
		return sdk.Record{}, false, fmt.Errorf("encode deleted record %s: %w", r["record_id"], err)
	}
	// NetSuite keeps only the id of a deleted transaction, not its lines:
	// the hub reverses the events of every line record read from it
	// (record ids TYPE:ID:LINE:ASSIGNMENT).
	return sdk.Record{Kind: KindDeletedTransaction, ID: "deleted:" + tt + ":" + r["record_id"], Payload: payload, Time: at,
		Deletes: []string{tt + ":" + r["record_id"] + ":"}}, true, nil
}
