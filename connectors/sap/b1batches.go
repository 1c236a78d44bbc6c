package sap

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Batches of a line that Business One did not send.
//
// A document line of a batch-managed item often comes back from the
// Service Layer with "BatchNumbers": [] (Goods Receipts PO in particular).
// The batch master (BatchNumberDetails, table OBTN) gives a batch's item
// and admission date but no document and no quantity: the link from a
// batch to a document line is in the inventory log, tables OITL (one
// entry per document line and item: DocType, DocEntry, DocLine) and ITL1
// (the entry's batches: SysNumber, Quantity), joined to OBTN for the
// batch number. The Service Layer reaches them only through SQLQueries
// (Business One 10.0 FP 2011 and later: POST SQLQueries to create a
// query, POST SQLQueries('code')/List to run it with parameters; SAP blog
// "SAP Business One Service Layer – SQL Query", 2021-01-08), and only
// for tables in its SQL allowlist (b1s_sqltable.conf), which by default
// does not list OITL and ITL1: the query is then refused with error 702.
//
// So, for a line without batches, the connector asks Items whether the
// item is managed by batch; if it is, it reads the document's batches
// from the log where the administrator has allowed the tables, and
// otherwise marks the line BatchNumbersMissing, with a message naming the
// document and the line, which the default mapping quarantines. It never
// guesses a batch from the item and a date.

// b1BatchQueryCode is the SQLQueries code of the connector's query.
const b1BatchQueryCode = "LOTHUB_BATCH_LOG"

// b1BatchQueryText reads the batches of one document from the inventory
// log. ITL1 quantities are signed (negative for what leaves stock).
const b1BatchQueryText = "SELECT T0.DocLine, T0.ItemCode, T2.DistNumber, T2.MnfSerial, T1.Quantity" +
	" FROM OITL T0" +
	" INNER JOIN ITL1 T1 ON T1.LogEntry = T0.LogEntry" +
	" INNER JOIN OBTN T2 ON T2.ItemCode = T1.ItemCode AND T2.SysNumber = T1.SysNumber" +
	" WHERE T0.DocType = :docType AND T0.DocEntry = :docEntry"

// b1ErrNotAllowed is the Service Layer's error code for a SQL query that
// names a table outside its SQL allowlist.
const b1ErrNotAllowed = "702"

// b1LogBatch is one batch of a line, as the log gives it.
type b1LogBatch struct {
	BatchNumber              string  `json:"BatchNumber"`
	Quantity                 float64 `json:"Quantity"`
	ManufacturerSerialNumber string  `json:"ManufacturerSerialNumber,omitempty"`
}

// fillBatches completes the lines of d that came without batches: from
// the inventory log when it can be read, else it marks them
// BatchNumbersMissing. Lines of items not managed by batch are left as
// they are (they make no event).
func (l *b1Lister) fillBatches(ctx context.Context, d *document) error {
	var log map[string][]b1LogBatch // line → batches; read once per document
	logRead := false
	for i := range d.lines {
		ln := &d.lines[i]
		var f map[string]json.RawMessage
		if err := json.Unmarshal(ln.rec.Payload, &f); err != nil {
			return fmt.Errorf("SAP Business One: %s: %w", ln.rec.ID, err)
		}
		item := text(f["ItemCode"])
		if item == "" || !emptyList(f["BatchNumbers"]) {
			continue
		}
		managed, err := l.batchManaged(ctx, item)
		if err != nil {
			return err
		}
		if !managed {
			continue
		}
		if !logRead {
			if log, err = l.batchLog(ctx, d.key); err != nil {
				return err
			}
			logRead = true
		}
		what := fmt.Sprintf("%s %s (DocNum %s) line %s, item %s", l.set.Name, d.key, text(f["DocNum"]), ln.sub, item)
		switch batches := log[ln.sub]; {
		case len(batches) > 0:
			f["BatchNumbers"], _ = json.Marshal(batches)
			f["BatchNumbersFrom"], _ = json.Marshal("OITL")
		case l.logRefused != "":
			f["BatchNumbersMissing"], _ = json.Marshal(fmt.Sprintf("%s: Business One sent no batches for this line of a batch-managed item, and the batch log could not be read (SQLQueries refused the query on OITL, ITL1, OBTN: %s): add OITL, ITL1 and OBTN to the Service Layer's SQL allowlist (b1s_sqltable.conf, see docs/connectors/sap.md), then read the document again (hub cursor reset); the hub does not guess a batch from the item and the date", what, l.logRefused))
		default:
			f["BatchNumbersMissing"], _ = json.Marshal(fmt.Sprintf("%s: Business One sent no batches for this line of a batch-managed item, and the inventory log (OITL/ITL1) has none for it either: check the line's batches in Business One (Batch Number Transactions Report); the hub does not guess a batch from the item and the date", what))
		}
		ln.rec.Payload, _ = json.Marshal(f) // raw JSON values: cannot fail
	}
	return nil
}

// emptyList reports a missing, null or empty JSON list.
func emptyList(raw json.RawMessage) bool {
	t := strings.TrimSpace(string(raw))
	return t == "" || t == "null" || strings.ReplaceAll(t, " ", "") == "[]"
}

// batchManaged reads Items('code')?$select=ItemCode,ManageBatchNumbers
// (tYES, tNO), once per item and read.
func (l *b1Lister) batchManaged(ctx context.Context, item string) (bool, error) {
	if m, ok := l.managed[item]; ok {
		return m, nil
	}
	u := l.cl.b1URL("Items('"+strings.ReplaceAll(item, "'", "''")+"')", query("$select", "ItemCode,ManageBatchNumbers"))
	body, resp, err := l.cl.b1Get(ctx, l.sess, u)
	if err != nil {
		return false, fmt.Errorf("read item %s to learn whether it is managed by batch (one of its document lines came without batches): %w", item, err)
	}
	var it struct {
		ManageBatchNumbers string `json:"ManageBatchNumbers"`
	}
	if err := l.cl.decodeJSON(resp, body, &it); err != nil {
		return false, err
	}
	if l.managed == nil {
		l.managed = map[string]bool{}
	}
	l.managed[item] = it.ManageBatchNumbers == "tYES"
	return l.managed[item], nil
}

// batchLog reads the batches of document entry from the inventory log,
// by line number. When the Service Layer refuses the query (its SQL
// allowlist), it returns nothing and sets l.logRefused.
func (l *b1Lister) batchLog(ctx context.Context, entry string) (map[string][]b1LogBatch, error) {
	if l.logRefused != "" {
		return nil, nil
	}
	if !digits(entry) || l.set.ObjType == "" {
		return nil, fmt.Errorf("SAP Business One: %s %q: no inventory log key", l.set.Name, entry)
	}
	params, _ := json.Marshal(map[string]string{"ParamList": "docType=" + l.set.ObjType + "&docEntry=" + entry})
	next := l.cl.b1URL("SQLQueries('"+b1BatchQueryCode+"')/List", "")
	out := map[string][]b1LogBatch{}
	for next != nil {
		body, resp, err := l.cl.b1Post(ctx, l.sess, next, params)
		if err != nil && resp != nil && notFound(resp, body) && !l.logReady {
			// The query does not exist yet on this company: create it.
			if err := l.createBatchQuery(ctx); err != nil || l.logRefused != "" {
				return nil, err
			}
			continue
		}
		if err != nil && refused(body) {
			l.logRefused = l.cl.o.redact(odataMessage(body))
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read the batches of %s %s from the inventory log: %w", l.set.Name, entry, err)
		}
		l.logReady = true
		var p struct {
			Value []struct {
				DocLine    json.RawMessage `json:"DocLine"`
				ItemCode   string          `json:"ItemCode"`
				DistNumber string          `json:"DistNumber"`
				MnfSerial  string          `json:"MnfSerial"`
				Quantity   json.Number     `json:"Quantity"`
			} `json:"value"`
			NextV3 string `json:"odata.nextLink"`
			NextV4 string `json:"@odata.nextLink"`
		}
		if err := l.cl.decodeJSON(resp, body, &p); err != nil {
			return nil, err
		}
		for _, r := range p.Value {
			q, err := strconv.ParseFloat(string(r.Quantity), 64)
			if err != nil || r.DistNumber == "" {
				return nil, fmt.Errorf("SAP Business One: the inventory log of %s %s has a row without a batch or quantity (%s %q)", l.set.Name, entry, r.DistNumber, r.Quantity)
			}
			line := text(r.DocLine)
			found := false
			for i := range out[line] {
				if out[line][i].BatchNumber == r.DistNumber {
					out[line][i].Quantity += math.Abs(q)
					found = true
				}
			}
			if !found {
				out[line] = append(out[line], b1LogBatch{BatchNumber: r.DistNumber, Quantity: math.Abs(q), ManufacturerSerialNumber: r.MnfSerial})
			}
		}
		link := p.NextV4
		if link == "" {
			link = p.NextV3
		}
		next = nil
		if link != "" {
			root := *l.cl.o.base
			root.Path += "/"
			if next, err = root.Parse(link); err != nil {
				return nil, fmt.Errorf("SAP Business One: the inventory log's next link %q is not a URL: %w", link, err)
			}
		}
	}
	return out, nil
}

// createBatchQuery creates the connector's SQL query (POST SQLQueries).
func (l *b1Lister) createBatchQuery(ctx context.Context) error {
	def, _ := json.Marshal(map[string]string{"SqlCode": b1BatchQueryCode, "SqlName": "lothub: batches of a document line (OITL, ITL1, OBTN)", "SqlText": b1BatchQueryText})
	body, _, err := l.cl.b1Post(ctx, l.sess, l.cl.b1URL("SQLQueries", ""), def)
	switch {
	case err != nil && refused(body):
		l.logRefused = l.cl.o.redact(odataMessage(body))
		return nil
	case err != nil:
		return fmt.Errorf("create the SQL query %s that reads batches from the inventory log (needed because a document line came without batches): %w", b1BatchQueryCode, err)
	}
	l.logReady = true
	return nil
}

// notFound reports an answer saying the query does not exist: 404, or
// the Service Layer's -2028 (no matching records).
func notFound(resp *http.Response, body []byte) bool {
	var e odataError
	return resp.StatusCode == http.StatusNotFound || json.Unmarshal(body, &e) == nil && text(e.Error.Code) == "-2028"
}

// refused reports the Service Layer's error 702: a SQL query naming a
// table outside the SQL allowlist.
func refused(body []byte) bool {
	var e odataError
	return json.Unmarshal(body, &e) == nil && text(e.Error.Code) == b1ErrNotAllowed
}

// b1Post POSTs a JSON body to u in session *s, logging in again once when
// the session has expired.
func (cl *client) b1Post(ctx context.Context, s **b1Session, u *url.URL, body []byte) ([]byte, *http.Response, error) {
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequest(http.MethodPost, u.String(), bytes.NewReader(body))
		if err != nil {
			return nil, nil, fmt.Errorf("SAP Business One: build request for %s: %w", where("POST", u), err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json")
		for _, c := range (*s).jar.Cookies(u) {
			req.AddCookie(c)
		}
		answer, resp, err := cl.send(ctx, req)
		if err != nil && resp != nil && resp.StatusCode == http.StatusUnauthorized && attempt == 0 {
			ns, lerr := cl.b1Login(ctx)
			if lerr != nil {
				return nil, nil, lerr
			}
			*s = ns
			continue
		}
		if resp != nil {
			(*s).jar.SetCookies(u, resp.Cookies())
		}
		return answer, resp, err
	}
}
