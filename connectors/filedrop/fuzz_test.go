package filedrop

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/lothub/lothub/sdk/sdktest"
)

// The file readers on hostile files: a CSV file (any delimiter, quoting,
// encoding, line ends) or an Excel workbook (any bytes, a zip or not)
// becomes rows, bad rows naming the file and line, or an error — never a
// panic, and never an allocation the size of what a zip claims to hold.

func FuzzCSV(f *testing.F) {
	files, _ := filepath.Glob("../../examples/demo-plant/*.csv")
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("id;item;lot\r\n\"R-1\";\"FL\"\"OUR\";L1\r\n\"R-2;x\n"))
	f.Add([]byte("\xef\xbb\xbfid,item\n1,\xff\xfe\n,,,,\n"))
	f.Fuzz(func(t *testing.T, content []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "receive_1.csv"), content, 0o644); err != nil {
			t.Fatal(err)
		}
		c := New()
		defer c.Close()
		sdktest.FuzzReads(t, c, mustConfig(t, localConfig(dir, nil)), nil, 50)
	})
}

func FuzzXLSX(f *testing.F) {
	wb := excelize.NewFile()
	wb.SetSheetRow("Sheet1", "A1", &[]any{"id", "item", "lot", "qty"})
	wb.SetSheetRow("Sheet1", "A2", &[]any{"R-1", "FLOUR", "L1", 100})
	wb.SetSheetRow("Sheet1", "A4", &[]any{"R-2", "SUGAR", "L2"})
	var buf bytes.Buffer
	if err := wb.Write(&buf); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte("PK\x03\x04 this is not a zip file"))
	f.Fuzz(func(t *testing.T, content []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "receive_1.xlsx"), content, 0o644); err != nil {
			t.Fatal(err)
		}
		c := New()
		defer c.Close()
		sdktest.FuzzReads(t, c, mustConfig(t, localConfig(dir, nil)), nil, 50)
	})
}

// A workbook that unpacks to more than maxUnzipped is one bad row saying
// so, and nothing is unpacked into memory.
func TestXLSXUnzipLimit(t *testing.T) {
	old := maxUnzipped
	maxUnzipped = 1 << 20
	defer func() { maxUnzipped = old }()
	dir := t.TempDir()
	wb := excelize.NewFile()
	wb.SetSheetRow("Sheet1", "A1", &[]any{"id", "item", "lot"})
	big := bytes.Repeat([]byte("x"), 30000) // compresses to almost nothing
	for i := 2; i < 80; i++ {
		cell, _ := excelize.CoordinatesToCellName(1, i)
		wb.SetSheetRow("Sheet1", cell, &[]any{i, fmt.Sprint(i) + string(big), "L"}) // one shared string each
	}
	if err := wb.SaveAs(filepath.Join(dir, "receive_1.xlsx")); err != nil {
		t.Fatal(err)
	}
	got, _ := rowsOf(t, localConfig(dir, nil))
	r := got["receive_1.xlsx:1"]
	if r == nil || !strings.Contains(r["error"].(string), "unpacks to more than 1 MiB") {
		t.Fatalf("row 1 = %.300v (%d rows), want one bad row saying the workbook unpacks to too much", r, len(got))
	}
}
