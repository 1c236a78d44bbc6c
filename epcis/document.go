package epcis

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/epcis/schema"
)

// A document is read as a stream: its events one at a time, never the
// whole document in memory (a partner's document may hold a million
// events). JSON is walked token by token down to the eventList, each event
// decoded on its own; XML is walked the same way with encoding/xml, each
// event element converted to its JSON binding (xml.go). Either way every
// event reaches the schema check and the mapping as the same JSON, so the
// two bindings share one mapping.

// rawEvent is one event of a document as the reader gives it.
type rawEvent struct {
	JSON json.RawMessage // the event in the JSON binding (an XML event converted)
	Ptr  string          // JSON pointer of the event in the document ("" for a lone event)
	Line int             // where the event starts in the input (1-based), 0 when unknown
	Col  int
	// locs, for an XML event read to be checked, is where each converted
	// value came from: JSON pointer (relative to the event) → line, column.
	locs map[string][2]int
}

// docInfo is what a read learned of the document besides its events.
type docInfo struct {
	Format string // "json" or "xml"
	Kind   string // "document", "query" (an EPCISQueryDocument) or "event" (one event)
	// Wrapper is the document without its events (the eventList empty),
	// decoded for the schema: the document-level check.
	Wrapper any
	// WrapperLine is where the document starts.
	Context any // the document's @context (JSON), for hash IDs' prefixes
	Events  int
}

// errNotEPCIS is wrapped by a read of something that is no EPCIS document.
var errNotEPCIS = errors.New(`not an EPCIS document: want a JSON object with "type": "EPCISDocument" (or an EPCIS event with its "@context"), or an EPCIS 2.0 XML <EPCISDocument>`)

// readDocument reads a JSON or XML EPCIS document (told apart by its first
// character, not its name) and calls fn with each event in document order.
// Syntax errors are an *InvalidError with the line and column; fn's
// errors are returned as they are. fast reads JSON with fastTokens, which
// gives up (errSlowPath) on anything unusual, after fn may have had some
// of the events: the caller reads the document again without fast.
func readDocument(r io.Reader, where string, fast bool, fn func(rawEvent) error) (*docInfo, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	// Skip a byte-order mark and white space to see the first character.
	for {
		b, err := br.Peek(1)
		if err != nil {
			if err == io.EOF {
				return nil, core.Errorf(core.EINVALID, "%s: empty: %v", where, errNotEPCIS)
			}
			return nil, fmt.Errorf("read %s: %w", where, err)
		}
		switch b[0] {
		case ' ', '\t', '\r', '\n':
			br.ReadByte()
			continue
		case 0xEF:
			if bom, _ := br.Peek(3); bytes.Equal(bom, []byte("\xef\xbb\xbf")) {
				br.Discard(3)
				continue
			}
		case '<':
			return readXML(br, where, fn)
		case '{':
			if fast {
				return readJSON(newFastTokens(br), where, fn)
			}
			return readJSON(newDecoderTokens(br, where), where, fn)
		}
		return nil, core.Errorf(core.EINVALID, "%s: %v", where, errNotEPCIS)
	}
}

// lineCounter tells the line and column of an offset of what was read
// through it, keeping only the bytes not yet counted.
type lineCounter struct {
	r    io.Reader
	buf  []byte // read, not yet counted
	base int64  // offset of buf[0]
	line int    // line at base (1-based)
	col  int    // column at base (1-based, in bytes)
}

func newLineCounter(r io.Reader) *lineCounter { return &lineCounter{r: r, line: 1, col: 1} }

func (c *lineCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.buf = append(c.buf, p[:n]...)
	return n, err
}

// at returns the line and column of offset off, which must not be before
// the last offset asked for.
func (c *lineCounter) at(off int64) (int, int) {
	k := int(off - c.base)
	if k < 0 {
		return c.line, c.col
	}
	if k > len(c.buf) {
		k = len(c.buf)
	}
	for _, b := range c.buf[:k] {
		if b == '\n' {
			c.line++
			c.col = 1
		} else {
			c.col++
		}
	}
	c.buf = append(c.buf[:0], c.buf[k:]...)
	c.base += int64(k)
	return c.line, c.col
}

// jsonSyntax turns a JSON decoding error into a refusal with its place.
func jsonSyntax(where string, lc *lineCounter, dec *json.Decoder, err error) error {
	off := dec.InputOffset()
	var se *json.SyntaxError
	if errors.As(err, &se) {
		off = se.Offset
	}
	line, col := lc.at(off)
	reason := "not JSON: " + err.Error()
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		reason = "not JSON: the document ends too early"
	}
	return &InvalidError{Where: where, Problems: []schema.Problem{{Line: line, Column: col, Reason: reason}}}
}

// jsonTokens is how readJSON reads a JSON document: encoding/json's
// streaming decoder (decoderTokens), or a scanner that finds each event's
// text without decoding it (fastTokens, jsonscan.go), which gives up on
// anything a valid document does not hold.
type jsonTokens interface {
	// open reads the next token and says whether it is the delimiter want.
	open(want json.Delim) (bool, error)
	// more says whether the object or array being read has another member.
	more() bool
	// key reads a member's name.
	key() (string, error)
	// close reads the '}' or ']' that ends the object or array.
	close() error
	// value reads and decodes (numbers as json.Number) a value.
	value() (any, error)
	// event reads a value's text (a copy) and where it starts.
	event() (raw json.RawMessage, line, col int, err error)
	// end reads the end of the input: nothing but white space is left.
	end() error
	// fail turns a reading error into what readJSON returns.
	fail(err error) error
}

// decoderTokens reads with encoding/json's decoder.
type decoderTokens struct {
	where string
	lc    *lineCounter
	dec   *json.Decoder
}

func newDecoderTokens(r io.Reader, where string) *decoderTokens {
	lc := newLineCounter(r)
	dec := json.NewDecoder(lc)
	dec.UseNumber()
	return &decoderTokens{where: where, lc: lc, dec: dec}
}

func (d *decoderTokens) open(want json.Delim) (bool, error) {
	t, err := d.dec.Token()
	if err != nil {
		return false, err
	}
	dl, ok := t.(json.Delim)
	return ok && dl == want, nil
}

func (d *decoderTokens) more() bool { return d.dec.More() }

func (d *decoderTokens) key() (string, error) {
	t, err := d.dec.Token()
	if err != nil {
		return "", err
	}
	k, _ := t.(string)
	return k, nil
}

func (d *decoderTokens) close() error {
	_, err := d.dec.Token()
	return err
}

func (d *decoderTokens) value() (any, error) {
	var v any
	err := d.dec.Decode(&v)
	return v, err
}

func (d *decoderTokens) event() (json.RawMessage, int, int, error) {
	var raw json.RawMessage
	if err := d.dec.Decode(&raw); err != nil {
		return nil, 0, 0, err
	}
	// The event's text is exactly its bytes in the input: it starts
	// len(raw) before where the decoder stands.
	line, col := d.lc.at(d.dec.InputOffset() - int64(len(raw)))
	return raw, line, col, nil
}

func (d *decoderTokens) end() error {
	if _, err := d.dec.Token(); err != io.EOF {
		if err == nil {
			err = fmt.Errorf("more after the document's end")
		}
		return err
	}
	return nil
}

func (d *decoderTokens) fail(err error) error { return jsonSyntax(d.where, d.lc, d.dec, err) }

// readJSON walks a JSON document token by token: each element of
// epcisBody.eventList (or epcisBody.queryResults.resultsBody.eventList) is
// given to fn as its text; everything else is kept as the wrapper. An
// object with no epcisBody is one event.
func readJSON(tok jsonTokens, where string, fn func(rawEvent) error) (*docInfo, error) {
	info := &docInfo{Format: "json"}
	fail := func(err error) (*docInfo, error) { return nil, tok.fail(err) }
	top := map[string]any{}
	// object reads the members of an object whose '{' was read, calling
	// member for each key; member reads the value.
	object := func(member func(key string) error) error {
		for tok.more() {
			key, err := tok.key()
			if err != nil {
				return err
			}
			if err := member(key); err != nil {
				return err
			}
		}
		return tok.close() // '}'
	}
	value := tok.value
	open := tok.open
	var fnErr error
	// events reads an eventList array.
	events := func(base string) error {
		ok, err := open('[')
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("eventList is not an array")
		}
		for tok.more() {
			ev := rawEvent{Ptr: base + strconv.Itoa(info.Events)}
			// The events are given as their text, decoded by whoever
			// reads them (in parallel: Check, Map).
			if ev.JSON, ev.Line, ev.Col, err = tok.event(); err != nil {
				return err
			}
			if fnErr = fn(ev); fnErr != nil {
				return fnErr
			}
			info.Events++
		}
		return tok.close() // ']'
	}
	// container reads an object whose member named key holds the next
	// level (sub), keeping its other members in into.
	container := func(into map[string]any, name string, sub func() error) func(string) error {
		return func(key string) error {
			if key == name {
				return sub()
			}
			v, err := value()
			into[key] = v
			return err
		}
	}
	ok, err := open('{')
	if err != nil {
		return fail(err)
	}
	if !ok {
		return nil, core.Errorf(core.EINVALID, "%s: %v", where, errNotEPCIS)
	}
	sawBody := false
	err = object(func(key string) error {
		if key != "epcisBody" {
			v, err := value()
			top[key] = v
			return err
		}
		sawBody = true
		body := map[string]any{}
		top["epcisBody"] = body
		if ok, err := open('{'); err != nil || !ok {
			if err == nil {
				err = fmt.Errorf("epcisBody is not an object")
			}
			return err
		}
		return object(func(key string) error {
			switch key {
			case "eventList":
				body["eventList"] = []any{}
				return events("/epcisBody/eventList/")
			case "queryResults":
				qr := map[string]any{}
				body["queryResults"] = qr
				if ok, err := open('{'); err != nil || !ok {
					if err == nil {
						err = fmt.Errorf("queryResults is not an object")
					}
					return err
				}
				return object(container(qr, "resultsBody", func() error {
					rb := map[string]any{}
					qr["resultsBody"] = rb
					if ok, err := open('{'); err != nil || !ok {
						if err == nil {
							err = fmt.Errorf("resultsBody is not an object")
						}
						return err
					}
					return object(container(rb, "eventList", func() error {
						rb["eventList"] = []any{}
						return events("/epcisBody/queryResults/resultsBody/eventList/")
					}))
				}))
			}
			v, err := value()
			body[key] = v
			return err
		})
	})
	if fnErr != nil {
		return nil, fnErr
	}
	if err != nil {
		return fail(err)
	}
	if err := tok.end(); err != nil {
		return fail(err)
	}
	info.Context = top["@context"]
	typ, _ := top["type"].(string)
	switch {
	case sawBody && typ == "EPCISQueryDocument":
		info.Kind = "query"
	case sawBody:
		info.Kind = "document"
	case eventTypes[typ]:
		// One event, as POST /epcis/events takes it: small, re-encoded
		// whole.
		info.Kind = "event"
		raw, err := json.Marshal(top)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		if err := fn(rawEvent{JSON: raw, Line: 1, Col: 1}); err != nil {
			return nil, err
		}
		info.Events = 1
		info.Wrapper = nil
		return info, nil
	default:
		return nil, core.Errorf(core.EINVALID, "%s: %v", where, errNotEPCIS)
	}
	info.Wrapper = top
	return info, nil
}
