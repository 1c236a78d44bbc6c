package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// The formats of each report.
var (
	LotFormats    = []string{"pdf", "html", "json"}
	RecallFormats = []string{"csv", "xlsx", "pdf", "html", "json"}
	FSMAFormats   = []string{"xlsx", "csv", "json"}
)

// CheckFormat returns EINVALID unless format is one of formats.
func CheckFormat(report, format string, formats []string) error {
	if !slices.Contains(formats, format) {
		return coreInvalid("format %q: the %s report is made as %s", format, report, strings.Join(formats, ", "))
	}
	return nil
}

// ContentType is the media type of a format.
func ContentType(format string) string {
	switch format {
	case "pdf":
		return "application/pdf"
	case "html":
		return "text/html; charset=utf-8"
	case "json":
		return "application/json"
	case "csv":
		return "text/csv; charset=utf-8"
	case "xlsx":
		return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	}
	return "application/octet-stream"
}

// Render writes a report (*LotReport, *RecallReport or *FSMAReport) in a
// format; EINVALID when the report is not made in that format.
func Render(w io.Writer, rep any, format string) error {
	if format == "json" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		_, err = w.Write(append(b, '\n'))
		return err
	}
	switch r := rep.(type) {
	case *LotReport:
		switch format {
		case "pdf":
			return WriteLotPDF(w, r)
		case "html":
			return WriteLotHTML(w, r)
		}
		return CheckFormat("lot", format, LotFormats)
	case *RecallReport:
		switch format {
		case "pdf":
			return WriteRecallPDF(w, r)
		case "html":
			return WriteRecallHTML(w, r)
		case "csv":
			return WriteRecallCSV(w, r)
		case "xlsx":
			return WriteRecallXLSX(w, r)
		}
		return CheckFormat("recall", format, RecallFormats)
	case *FSMAReport:
		switch format {
		case "csv":
			return WriteFSMACSV(w, r)
		case "xlsx":
			return WriteFSMAXLSX(w, r)
		}
		return CheckFormat("fsma204", format, FSMAFormats)
	}
	return fmt.Errorf("report: cannot render %T", rep)
}

// WriteFile renders into path. A path that exists is refused (EINVALID)
// unless force is set. The report is written to a temporary file beside
// path and renamed into place only when complete, so a failure never
// leaves an empty or partial report behind.
func WriteFile(path string, force bool, render func(io.Writer) error) error {
	if _, err := os.Stat(path); err == nil && !force {
		return coreInvalid("%s exists: give --force to overwrite it, or another --out", path)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return coreInvalid("cannot write %s: %v", path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return coreInvalid("cannot write %s: %v: check the folder exists and is writable", path, err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if err := render(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
