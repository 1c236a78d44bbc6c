package report

import (
	"embed"
	"fmt"
	"html/template"
	"io"
	"sync"
	"time"

	"github.com/lothub/lothub/core"
)

//go:embed templates/*.tmpl
var templateFS embed.FS

// templates are parsed on first use, not in the package's init: every hub
// command links this package, few render HTML (docs/benchmarks.md,
// start-up).
var templates = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("").Funcs(template.FuncMap{
		"dash":    orDash,
		"qtys":    qtyText,
		"num":     num,
		"day":     day,
		"date":    func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04") },
		"join":    func(parts ...string) string { return joinNonEmpty(" / ", parts...) },
		"party":   func(id, name string) string { return partyText(&core.Party{ID: id, Name: name}) },
		"params":  paramsText,
		"indent":  func(depth int) float64 { return 0.3 + 1.2*float64(depth-1) },
		"deref":   func(q *[]core.Qty) []core.Qty { return *q },
		"summary": exceptionSummary,
	}).ParseFS(templateFS, "templates/*.tmpl"))
})

// WriteLotHTML renders the lot audit report as one self-contained HTML
// page (print it from a browser; table headers repeat on every page).
func WriteLotHTML(w io.Writer, r *LotReport) error {
	if err := templates().ExecuteTemplate(w, "lot.html.tmpl", r); err != nil {
		return fmt.Errorf("render the lot report as HTML: %w", err)
	}
	return nil
}

// WriteRecallHTML renders the recall list as one HTML page.
func WriteRecallHTML(w io.Writer, r *RecallReport) error {
	if err := templates().ExecuteTemplate(w, "recall.html.tmpl", r); err != nil {
		return fmt.Errorf("render the recall list as HTML: %w", err)
	}
	return nil
}
