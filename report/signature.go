package report

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/lothub/lothub/core"
)

// Signature is one electronic signature of a report, as the audit trail
// holds it (an entry "report.signed" about "report:SHA256", package
// esign): who signed, when (the store's clock), what the signature means
// and why. A signature belongs to the report's content hash (Meta.SHA256)
// only, so it is shown on every copy of the same data, in any format, and
// on no other report (21 CFR Part 11 §11.70).
type Signature struct {
	Signer   string `json:"signer"`    // the user's sign-in name
	FullName string `json:"full_name"` // the user's printed name (§11.50(a)(1))
	Role     string `json:"role"`
	Time     string `json:"time"`    // RFC 3339, the audit entry's time
	Meaning  string `json:"meaning"` // reviewed, approved or released
	Reason   string `json:"reason"`
	// AuditSeq and AuditHash name the audit entry that records it.
	AuditSeq  int64  `json:"audit_seq"`
	AuditHash string `json:"audit_hash"`
}

// Params are what a report was asked about: with Meta.AsOfRequested and
// the report's kind, enough to make it again (hub report verify).
type Params struct {
	Item        string `json:"item,omitempty"`
	Lot         string `json:"lot,omitempty"`
	Depth       int    `json:"depth,omitempty"`
	SupplierLot string `json:"supplier_lot,omitempty"`
	SalesOrder  string `json:"sales_order,omitempty"`
	Customer    string `json:"customer,omitempty"`
	From        string `json:"from,omitempty"` // RFC 3339
	To          string `json:"to,omitempty"`   // RFC 3339
}

// Selector is the recall selector the params name.
func (p Params) Selector() core.Selector {
	s := core.Selector{SupplierLot: p.SupplierLot, SalesOrder: p.SalesOrder, CustomerID: p.Customer}
	switch {
	case p.SupplierLot != "" || p.SalesOrder != "" || p.Customer != "":
	case p.Item != "" && p.Lot != "":
		s.Lot = &core.LotRef{Item: p.Item, Lot: p.Lot}
	default:
		s.Item = p.Item
		s.From, s.To = parseTime(p.From), parseTime(p.To)
	}
	return s
}

func selectorParams(s core.Selector) *Params {
	p := &Params{SupplierLot: s.SupplierLot, SalesOrder: s.SalesOrder, Customer: s.CustomerID, Item: s.Item}
	if s.Lot != nil {
		p.Item, p.Lot = s.Lot.Item, s.Lot.Lot
	}
	if !s.From.IsZero() {
		p.From = s.From.UTC().Format(time.RFC3339Nano)
	}
	if !s.To.IsZero() {
		p.To = s.To.UTC().Format(time.RFC3339Nano)
	}
	return p
}

// Subject is what a report is about, for a signature record: "ITEM/LOT"
// for a lot report, the recall's scope, the FSMA spreadsheet's item.
func (m Meta) Subject() string {
	_, s, _ := strings.Cut(m.Title, ": ")
	return s
}

// MetaOf returns the meta of a *LotReport, *RecallReport or *FSMAReport
// (nil for anything else), for callers that add signatures.
func MetaOf(rep any) *Meta {
	switch r := rep.(type) {
	case *LotReport:
		return &r.Meta
	case *RecallReport:
		return &r.Meta
	case *FSMAReport:
		return &r.Meta
	}
	return nil
}

// pdfKeywords is what a PDF report keeps in its document information
// (/Keywords), in ASCII, so that hub report verify reads it back without
// a PDF library: the content hash and, base64 JSON, the kind, params and
// as-of time.
func pdfKeywords(kind string, m Meta) string {
	b, _ := json.Marshal(fileMeta{Kind: kind, Meta: m})
	return "lothub-report-sha256=" + m.SHA256 + " lothub-report-meta=" + base64.StdEncoding.EncodeToString(b)
}

// fileMeta is what a PDF's keywords carry: the kind and the meta, with
// the signatures the PDF shows (hub report verify checks that the store
// holds each of them for the hash).
type fileMeta struct {
	Kind string `json:"kind"`
	Meta
}

var (
	pdfHashRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`lothub-report-sha256=([0-9a-f]{64})`) })
	pdfMetaRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`lothub-report-meta=([A-Za-z0-9+/=]+)`) })
)

// FileCheck is what a report file says about itself and what its content
// hashes to (ReadReportFile).
type FileCheck struct {
	Format string `json:"format"` // json or pdf
	Kind   string `json:"kind"`   // lot, recall, fsma204 ("" when the file does not say)
	Meta   Meta   `json:"meta"`
	// Claimed is the content hash the file states (Meta.SHA256).
	Claimed string `json:"claimed_sha256"`
	// Computed is the hash of the file's data, recomputed (JSON only;
	// "" for a PDF, whose data cannot be read back from the pages).
	Computed string `json:"computed_sha256,omitempty"`
}

// Intact reports whether the file's data still hashes to what it claims
// (always true for a PDF: nothing to recompute).
func (c FileCheck) Intact() bool { return c.Computed == "" || c.Computed == c.Claimed }

// ReadReportFile reads a report as hub report or GET /v1/reports/* wrote
// it, in JSON or PDF: its meta and content hash, and for JSON the hash
// recomputed from its data. EINVALID for anything else.
func ReadReportFile(b []byte) (FileCheck, error) {
	if bytes.HasPrefix(b, []byte("%PDF-")) {
		c := FileCheck{Format: "pdf"}
		if m := pdfMetaRE().FindSubmatch(b); m != nil {
			raw, err := base64.StdEncoding.DecodeString(string(m[1]))
			var fm fileMeta
			if err == nil && json.Unmarshal(raw, &fm) == nil {
				c.Kind, c.Meta = fm.Kind, fm.Meta
			}
		}
		m := pdfHashRE().FindSubmatch(b)
		if m == nil {
			return c, coreInvalid("the PDF carries no lothub report hash in its document information: it was not made by hub report (or by a version before signatures); sign or verify its JSON form, or give the hash printed in its footer")
		}
		c.Claimed = string(m[1])
		c.Meta.SHA256 = c.Claimed
		return c, nil
	}
	var head struct {
		Report string `json:"report"`
		Meta   Meta   `json:"meta"`
	}
	if err := json.Unmarshal(b, &head); err != nil || head.Report == "" || head.Meta.SHA256 == "" {
		return FileCheck{}, coreInvalid("not a lothub report: want the JSON (with \"report\" and \"meta.sha256\") or the PDF that hub report wrote")
	}
	c := FileCheck{Format: "json", Kind: head.Report, Meta: head.Meta, Claimed: head.Meta.SHA256}
	var err error
	switch head.Report {
	case "lot":
		c.Computed, err = rehash[LotReport](b, func(r *LotReport) any { return r.Lot })
	case "recall":
		c.Computed, err = rehash[RecallReport](b, func(r *RecallReport) any { return r.Recall })
	case "fsma204":
		c.Computed, err = rehash[FSMAReport](b, func(r *FSMAReport) any { return r.FSMA })
	default:
		return c, coreInvalid("unknown report kind %q: want lot, recall or fsma204", head.Report)
	}
	return c, err
}

// rehash decodes a report strictly (a field added to the data is a
// change too) and hashes its data as the report package did.
func rehash[T any](b []byte, data func(*T) any) (string, error) {
	var r T
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return "", fmt.Errorf("%w: the report's JSON no longer reads as a lothub report: %v", core.Errorf(core.EINVALID, "report changed"), err)
	}
	return hashOf(data(&r))
}

// SignatureMeaningText is how a report prints a signature's meaning.
func SignatureMeaningText(m string) string {
	switch m {
	case "reviewed":
		return "Reviewed"
	case "approved":
		return "Approved"
	case "released":
		return "Released"
	}
	return m
}
