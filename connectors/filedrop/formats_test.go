package filedrop

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
)

func TestSplitFields(t *testing.T) {
	tests := []struct {
		name, rec string
		delim     byte
		want      []string
		wantErr   string
	}{
		{"Plain", "a,b,c", ',', []string{"a", "b", "c"}, ""},
		{"Empty fields", ",,", ',', []string{"", "", ""}, ""},
		{"Quoted delimiter", `a,"b,c",d`, ',', []string{"a", "b,c", "d"}, ""},
		{"Doubled quote", `"say ""hi""",x`, ',', []string{`say "hi"`, "x"}, ""},
		{"Line break in quotes", "\"two\r\nlines\",x", ',', []string{"two\nlines", "x"}, ""},
		{"Quote inside a field is literal", `5" pipe,x`, ',', []string{`5" pipe`, "x"}, ""},
		{"Text after closing quote kept", `"a"b,c`, ',', []string{"ab", "c"}, ""},
		{"Semicolon", `1;"2;3";4`, ';', []string{"1", "2;3", "4"}, ""},
		{"Tab", "a\tb", '\t', []string{"a", "b"}, ""},
		{"Unclosed quote", `a,"b`, ',', nil, "not closed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := splitFields(tt.rec, tt.delim, '"', nil)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Errorf("splitFields(%q) = %q, %v; want %q", tt.rec, got, err, tt.want)
			}
		})
	}
}

// rowsOf reads the whole local folder with cfg and returns id → payload.
func rowsOf(t *testing.T, raw map[string]string) (map[string]map[string]any, []string) {
	t.Helper()
	c := New()
	defer c.Close()
	recs, _ := readAll(t, c, mustConfig(t, raw), nil, 1000)
	out := map[string]map[string]any{}
	var kinds []string
	for _, r := range recs {
		var m map[string]any
		if err := json.Unmarshal(r.Payload, &m); err != nil {
			t.Fatalf("record %s: payload %s: %v", r.ID, r.Payload, err)
		}
		out[r.ID] = m
		kinds = append(kinds, r.ID+"="+r.Kind)
	}
	return out, kinds
}

func TestFormats(t *testing.T) {
	dir := t.TempDir()
	// UTF-8 with a byte order mark, CRLF, a quoted field over two lines,
	// a blank line and a last line without a line break.
	write(t, dir, "receive_bom.csv", "\uFEFFid,item,note\r\nR-1,FLOUR,\"first\r\nsecond\"\r\n\r\nR-2,SUGAR,\"said \"\"ok\"\"\"")
	// Windows-1252: ü is 0xFC, € is 0x80.
	write(t, dir, "cp/ship_1252.csv", "id;customer;price\nS-1;M\xfcller GmbH;5 \x80\n")
	write(t, dir, "step_1.jsonl", "{\"id\":\"Q-1\",\"result\":\"pass\"}\n[1,2]\n  \n{\"id\":\"Q-2\",\"n\":2}")
	write(t, dir, "move_bad.csv", "id,id\nM-1,M-2\n")

	rows, kinds := rowsOf(t, localConfig(dir, map[string]string{"kinds": "receive=receive*,step=step*,move=move*"}))
	want := map[string]map[string]any{
		"receive_bom.csv:2": {"id": "R-1", "item": "FLOUR", "note": "first\nsecond"},
		"receive_bom.csv:5": {"id": "R-2", "item": "SUGAR", "note": `said "ok"`},
		"step_1.jsonl:1":    {"id": "Q-1", "result": "pass"},
		"step_1.jsonl:4":    {"id": "Q-2", "n": float64(2)},
	}
	for id, w := range want {
		if got := rows[id]; !equalJSON(got, w) {
			t.Errorf("%s = %v, want %v", id, got, w)
		}
	}
	if got := rows["step_1.jsonl:2"]; got == nil || !strings.Contains(got["error"].(string), "not a JSON object") {
		t.Errorf("step_1.jsonl:2 = %v, want a bad row", got)
	}
	if got := rows["move_bad.csv:1"]; got == nil || !strings.Contains(got["error"].(string), `names column "id" twice`) {
		t.Errorf("move_bad.csv:1 = %v, want a bad header row", got)
	}
	if !slices.Contains(kinds, "step_1.jsonl:2=bad-row") || !slices.Contains(kinds, "step_1.jsonl:1=step") {
		t.Errorf("kinds = %v", kinds)
	}
	if len(rows) != 6 {
		t.Errorf("read %d records, want 6: %v", len(rows), kinds)
	}

	// The Windows-1252 file, in a subfolder.
	rows, _ = rowsOf(t, localConfig(dir, map[string]string{"kinds": "ship=cp/ship_*", "recursive": "true", "delimiter": ";", "encoding": "windows-1252"}))
	if got, w := rows["cp/ship_1252.csv:2"], map[string]any{"id": "S-1", "customer": "Müller GmbH", "price": "5 €"}; !equalJSON(got, w) {
		t.Errorf("windows-1252 row = %v, want %v", got, w)
	}
}

func TestXLSX(t *testing.T) {
	dir := t.TempDir()
	f := excelize.NewFile()
	f.NewSheet("Receipts")
	rows := [][]any{
		{"id", "item", "lot", "qty"},
		{"R-1", "FLOUR", "L1", 100},
		nil,                    // an empty row
		{"R-2", "SUGAR", "L2"}, // no qty cell
	}
	for i, r := range rows {
		if r == nil {
			continue
		}
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := f.SetSheetRow("Receipts", cell, &r); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.SaveAs(filepath.Join(dir, "receive_1.xlsx")); err != nil {
		t.Fatal(err)
	}
	cfg := localConfig(dir, map[string]string{"sheet": "Receipts"})
	got, _ := rowsOf(t, cfg)
	want := map[string]map[string]any{
		"receive_1.xlsx:2": {"id": "R-1", "item": "FLOUR", "lot": "L1", "qty": "100"},
		"receive_1.xlsx:4": {"id": "R-2", "item": "SUGAR", "lot": "L2", "qty": ""},
	}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for id, w := range want {
		if !equalJSON(got[id], w) {
			t.Errorf("%s = %v, want %v", id, got[id], w)
		}
	}
	// Resuming row by row gives the same records.
	c := New()
	defer c.Close()
	recs, _ := readAll(t, c, mustConfig(t, cfg), nil, 1)
	if g := ids(recs); !slices.Equal(g, []string{"receive_1.xlsx:2", "receive_1.xlsx:4"}) {
		t.Errorf("read one by one: %v", g)
	}
	// A file that is not a workbook is one bad row.
	write(t, dir, "receive_2.xlsx", "PK\x03\x04 this is not a zip file")
	got, _ = rowsOf(t, cfg)
	if r := got["receive_2.xlsx:1"]; r == nil || !strings.Contains(r["error"].(string), "not a readable Excel workbook") {
		t.Errorf("garbage workbook: %v", got)
	}
	os.Remove(filepath.Join(dir, "receive_2.xlsx"))
	// A missing sheet is one bad row naming the sheets there are.
	got, _ = rowsOf(t, localConfig(dir, map[string]string{"sheet": "Nope"}))
	if r := got["receive_1.xlsx:1"]; r == nil || !strings.Contains(r["error"].(string), "Receipts") {
		t.Errorf("missing sheet: %v", got)
	}
}

func equalJSON(a, b map[string]any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return a != nil && string(x) == string(y)
}

// The quote and encoding options change what a row's values are.
func TestQuoteAndEncodingOptions(t *testing.T) {
	tests := []struct {
		name    string
		file    string // name below the folder
		content string // bytes as the exporter wrote them
		cfg     map[string]string
		want    map[string]map[string]any // id → payload; every record read
	}{
		{
			name:    "SingleQuote",
			file:    "receive_1.csv",
			content: "id,note\nA-1,'x, y'\nA-2,'it''s'\nA-3,\"plain\"\nA-4,'two\nlines'\n",
			cfg:     map[string]string{"quote": "'"},
			want: map[string]map[string]any{
				"receive_1.csv:2": {"id": "A-1", "note": "x, y"},
				"receive_1.csv:3": {"id": "A-2", "note": "it's"},
				"receive_1.csv:4": {"id": "A-3", "note": `"plain"`}, // the default quote is an ordinary character
				"receive_1.csv:5": {"id": "A-4", "note": "two\nlines"},
			},
		},
		{
			name:    "PipeQuoteWithSemicolons",
			file:    "receive_1.csv",
			content: "id;note\nB-1;|a;b|\nB-2;|say ||hi|||\n",
			cfg:     map[string]string{"quote": "|", "delimiter": ";"},
			want: map[string]map[string]any{
				"receive_1.csv:2": {"id": "B-1", "note": "a;b"},
				"receive_1.csv:3": {"id": "B-2", "note": "say |hi|"},
			},
		},
		{
			// With the default quote, line 2 would open a quoted field
			// that swallows the rest of the file.
			name:    "NoQuote",
			file:    "receive_1.csv",
			content: "id,note,qty\nN-1,\"unclosed,1\nN-2,5\" pipe,2\nN-3,'x',3\n",
			cfg:     map[string]string{"quote": "none"},
			want: map[string]map[string]any{
				"receive_1.csv:2": {"id": "N-1", "note": `"unclosed`, "qty": "1"},
				"receive_1.csv:3": {"id": "N-2", "note": `5" pipe`, "qty": "2"},
				"receive_1.csv:4": {"id": "N-3", "note": "'x'", "qty": "3"},
			},
		},
		{
			// é is 0xE9; 0xA4 is the currency sign ¤ in Latin-1.
			name:    "ISO-8859-1",
			file:    "receive_1.csv",
			content: "id;supplier;note\r\nL-1;Caf\xe9 Dupr\xe9 SARL;\xa4 \xbd\xb0\r\n",
			cfg:     map[string]string{"delimiter": ";", "encoding": "iso-8859-1"},
			want: map[string]map[string]any{
				"receive_1.csv:2": {"id": "L-1", "supplier": "Café Dupré SARL", "note": "¤ ½°"},
			},
		},
		{
			name:    "Latin1Alias",
			file:    "receive_1.csv",
			content: "id,supplier\nL-2,Gr\xfcn\xe9\n",
			cfg:     map[string]string{"encoding": "latin1"},
			want: map[string]map[string]any{
				"receive_1.csv:2": {"id": "L-2", "supplier": "Grüné"},
			},
		},
		{
			// The same byte 0xA4 is € in Latin-9; Š is 0xA6, œ 0xBD.
			name:    "ISO-8859-15",
			file:    "receive_1.csv",
			content: "id;supplier;price\nE-1;\xa6koda \xbduvre;12,50 \xa4\nE-2;C\xe9cile;\xa4\n",
			cfg:     map[string]string{"delimiter": ";", "encoding": "iso-8859-15"},
			want: map[string]map[string]any{
				"receive_1.csv:2": {"id": "E-1", "supplier": "Škoda œuvre", "price": "12,50 €"},
				"receive_1.csv:3": {"id": "E-2", "supplier": "Cécile", "price": "€"},
			},
		},
		{
			name:    "ISO-8859-15JSONLines",
			file:    "receive_1.jsonl",
			content: "{\"id\":\"J-1\",\"supplier\":\"\xbduvre \xe9t\xe9\",\"price\":\"3 \xa4\"}\n",
			cfg:     map[string]string{"encoding": "iso-8859-15"},
			want: map[string]map[string]any{
				"receive_1.jsonl:1": {"id": "J-1", "supplier": "œuvre été", "price": "3 €"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, tt.file, tt.content)
			got, kinds := rowsOf(t, localConfig(dir, tt.cfg))
			if len(got) != len(tt.want) {
				t.Errorf("read %d records, want %d: %v", len(got), len(tt.want), kinds)
			}
			for id, w := range tt.want {
				if !equalJSON(got[id], w) {
					t.Errorf("%s = %v, want %v", id, got[id], w)
				}
			}
		})
	}
}

// A header that is one column holding another delimiter is refused with
// the delimiter to set; one column without any is an ordinary file.
func TestDelimiterMismatch(t *testing.T) {
	tests := []struct {
		name   string
		header []string
		delim  byte
		want   string
	}{
		{"Semicolon file read with comma", []string{"id;time;item;lot;qty;uom"}, ',', `looks ";"-separated, but the delimiter is ","; set delimiter: ";"`},
		{"Comma file read with semicolon", []string{"id,time,qty"}, ';', `set delimiter: ","`},
		{"Tab file", []string{"id\ttime\tqty"}, ',', `set delimiter: "tab"`},
		{"Pipe file", []string{"id|qty"}, ',', `set delimiter: "|"`},
		{"One column", []string{"id"}, ',', ""},
		{"Several columns", []string{"id;x", "qty"}, ',', ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := delimiterMismatch(tt.header, tt.delim)
			if tt.want == "" {
				if err != nil {
					t.Errorf("err = %v, want none", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}
