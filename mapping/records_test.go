package mapping_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/mapping"
)

type readRecord struct {
	ID     string
	Line   int
	Fields string // JSON, sorted keys
}

func readAll(t *testing.T, name, data string) ([]readRecord, error) {
	t.Helper()
	var out []readRecord
	err := mapping.ReadRecords(context.Background(), strings.NewReader(data), name, "k", func(r mapping.Record, line int) error {
		if r.Kind != "k" {
			t.Errorf("Kind = %q, want k", r.Kind)
		}
		b, _ := json.Marshal(r.Fields)
		out = append(out, readRecord{ID: r.ID, Line: line, Fields: string(b)})
		return nil
	})
	return out, err
}

func TestReadRecords(t *testing.T) {
	tests := []struct {
		name, file, data string
		want             []readRecord
	}{
		{
			name: "CSVWithBOMAndCRLF",
			file: "receipts.csv",
			data: "\xef\xbb\xbfItem, Lot ,Qty\r\nFLOUR,F-A,\"1,000\"\r\nSUGAR,S-1,5\r\n",
			want: []readRecord{
				{"receipts.csv:2", 2, `{"Item":"FLOUR","Lot":"F-A","Qty":"1,000"}`},
				{"receipts.csv:3", 3, `{"Item":"SUGAR","Lot":"S-1","Qty":"5"}`},
			},
		},
		{
			name: "CSVSemicolonsBlankRowsQuotedNewline",
			file: "out.CSV",
			data: "Item;Note;Qty\nFLOUR;\"two\nlines\";1,5\n;;\n\nSALT;;2\n",
			want: []readRecord{
				{"out.CSV:2", 2, `{"Item":"FLOUR","Note":"two\nlines","Qty":"1,5"}`},
				{"out.CSV:6", 6, `{"Item":"SALT","Note":"","Qty":"2"}`},
			},
		},
		{
			name: "CSVShortRowAndTrailingDelimiter",
			file: "x.csv",
			data: "A,B,C,\n1,2\n3,4,5,\n",
			want: []readRecord{
				{"x.csv:2", 2, `{"A":"1","B":"2"}`},
				{"x.csv:3", 3, `{"A":"3","B":"4","C":"5"}`},
			},
		},
		{
			name: "JSONLines",
			file: "items.jsonl",
			data: "\xef\xbb\xbf{\"Material\":\"M1\",\"Qty\":1.5}\n\n  {\"Material\":\"M2\",\"n\":{\"a\":[1]}}\r\n",
			want: []readRecord{
				{"items.jsonl:1", 1, `{"Material":"M1","Qty":1.5}`},
				{"items.jsonl:3", 3, `{"Material":"M2","n":{"a":[1]}}`},
			},
		},
		{
			name: "StandardInputIsJSONLines",
			file: "-",
			data: `{"a":"b"}`,
			want: []readRecord{{"-:1", 1, `{"a":"b"}`}},
		},
		{
			name: "JSONArray",
			file: "items.json",
			data: "[\n  {\"a\": 1},\n  {\"a\": 2}\n]\n",
			want: []readRecord{{"items.json:2", 2, `{"a":1}`}, {"items.json:3", 3, `{"a":2}`}},
		},
		{
			name: "ODataV2",
			file: "page.json",
			data: "{\"d\": {\"__count\": \"2\",\n \"results\": [\n  {\"MaterialDocument\": \"4900000001\"},\n\n  {\"MaterialDocument\": \"4900000002\"}]}}",
			want: []readRecord{
				{"page.json:3", 3, `{"MaterialDocument":"4900000001"}`},
				{"page.json:5", 5, `{"MaterialDocument":"4900000002"}`},
			},
		},
		{
			name: "ODataV4",
			file: "page.json",
			data: "{\"@odata.context\": \"x\", \"value\": [{\"id\": \"1\"}]}",
			want: []readRecord{{"page.json:1", 1, `{"id":"1"}`}},
		},
		{
			name: "JSONOneObject",
			file: "one.json",
			data: `{"d": {"MaterialDocument": "1"}}`,
			want: []readRecord{{"one.json:1", 1, `{"MaterialDocument":"1"}`}},
		},
		{
			name: "Empty",
			file: "none.csv",
			data: "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readAll(t, tt.file, tt.data)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d records %+v, want %d %+v", len(got), got, len(tt.want), tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("record %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestReadRecordsErrors(t *testing.T) {
	tests := []struct {
		name, file, data string
		records          int    // delivered before the error
		err              string // the error starts with this
	}{
		{"CSVUnclosedQuote", "a.csv", "A,B\n1,2\n3,\"4\n", 1, "a.csv:3:"},
		{"CSVTooManyCells", "a.csv", "A,B\n1,2,3\n", 0, "a.csv:2:5: the row has 3 cells but the header names 2 columns"},
		{"CSVDuplicateColumn", "a.csv", "A,B,A\n1,2,3\n", 0, `a.csv:1:3: column "A" appears twice`},
		{"JSONLinesBadLine", "a.jsonl", "{\"a\":1}\n{\"a\":}\n", 1, "a.jsonl:2:6: invalid JSON"},
		{"JSONLinesNotObject", "a.jsonl", "[1]\n", 0, "a.jsonl:1:1: a record must be a JSON object"},
		{"JSONSyntax", "a.json", "[\n {\"a\": 1},\n {\"a\" 2}\n]", 0, "a.json:3:7: invalid JSON"},
		{"UnknownFormat", "a.xml", "<a/>", 0, "a.xml: cannot tell the record format"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readAll(t, tt.file, tt.data)
			if err == nil {
				t.Fatalf("no error; records %+v", got)
			}
			if len(got) != tt.records {
				t.Errorf("%d records delivered before the error, want %d", len(got), tt.records)
			}
			if !strings.HasPrefix(err.Error(), tt.err) {
				t.Errorf("error = %q, want it to start with %q", err, tt.err)
			}
			if core.ErrorCode(err) != core.EINVALID {
				t.Errorf("core.ErrorCode = %q, want %q", core.ErrorCode(err), core.EINVALID)
			}
		})
	}
}

func TestReadRecordsStopsOnCallbackError(t *testing.T) {
	stop := errors.New("stop")
	n := 0
	err := mapping.ReadRecords(context.Background(), strings.NewReader("A\n1\n2\n3\n"), "a.csv", "k", func(mapping.Record, int) error {
		n++
		if n == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 2 {
		t.Errorf("ReadRecords = %v after %d records, want the callback's error after 2", err, n)
	}
}
