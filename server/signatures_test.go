package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/report"
)

func TestApproveReport(t *testing.T) {
	e := newEnv(t)
	if code, body := e.do(t, "POST", "/v1/events", token, []byte(events), nil); code != http.StatusMultiStatus {
		t.Fatalf("post events: %d %s", code, body)
	}
	quality := e.userToken(t, "ann", "quality")
	viewer := e.userToken(t, "vic", "viewer")
	lot := func() report.LotReport {
		code, body := e.do(t, "GET", "/v1/reports/lot?item=BREAD&lot=BR-1&format=json", viewer, nil, nil)
		var r report.LotReport
		if code != 200 || json.Unmarshal(body, &r) != nil {
			t.Fatalf("lot report: %d %s", code, body)
		}
		return r
	}
	hash := lot().Meta.SHA256
	approve := func(tok, pw string) (int, string) {
		b := fmt.Sprintf(`{"sha256":%q,"meaning":"released","reason":"batch record reviewed","password":%q}`, hash, pw)
		code, body := e.do(t, "POST", "/v1/reports/approve", tok, []byte(b), map[string]string{"Content-Type": "application/json"})
		return code, string(body)
	}
	if code, body := approve(viewer, password); code != http.StatusForbidden {
		t.Errorf("a viewer signs: %d %s", code, body)
	}
	if code, body := approve(quality, "wrong password!"); code != http.StatusForbidden || strings.Contains(body, "wrong password!") {
		t.Errorf("wrong password: %d %s", code, body)
	}
	if code, body := approve(quality, quality); code != http.StatusForbidden || !strings.Contains(body, "not an API token") {
		t.Errorf("the token as the password: %d %s", code, body)
	}
	if sigs := lot().Meta.Signatures; len(sigs) != 0 {
		t.Fatalf("refused signings left signatures: %+v", sigs)
	}
	es, err := e.store.AuditLog(t.Context(), core.AuditFilter{Action: "report.sign_refused"})
	if err != nil || len(es) != 2 {
		t.Fatalf("refused signings recorded: %d %v", len(es), err)
	}
	code, body := approve(quality, password)
	if code != http.StatusCreated || !strings.Contains(body, `"signer":"ann"`) || !strings.Contains(body, `"meaning":"released"`) {
		t.Fatalf("approve: %d %s", code, body)
	}
	sigs := lot().Meta.Signatures
	if len(sigs) != 1 || sigs[0].Signer != "ann" || sigs[0].Reason != "batch record reviewed" {
		t.Fatalf("the report's signatures = %+v", sigs)
	}
	if code, body := e.do(t, "GET", "/v1/reports/lot?item=BREAD&lot=BR-1&format=html", viewer, nil, nil); code != 200 || !strings.Contains(string(body), "Electronic signatures") || !strings.Contains(string(body), "batch record reviewed") {
		t.Errorf("the HTML report does not show the signature: %d", code)
	}
	code, b := e.do(t, "GET", "/v1/reports/lot?item=FLOUR&lot=F-A&format=json", viewer, nil, nil)
	var other report.LotReport
	if code != 200 || json.Unmarshal(b, &other) != nil || len(other.Meta.Signatures) != 0 {
		t.Errorf("another report shows the signature: %d %s", code, b)
	}
}

// TestApproveReportGuessing: wrong passwords at signing count with the
// sign-in limits, so a stolen token cannot guess the password.
func TestApproveReportGuessing(t *testing.T) {
	e := newEnv(t)
	quality := e.userToken(t, "ann", "quality")
	hash := strings.Repeat("ab", 32)
	approve := func(pw string) (int, string) {
		b := fmt.Sprintf(`{"sha256":%q,"meaning":"approved","reason":"r","password":%q}`, hash, pw)
		code, body := e.do(t, "POST", "/v1/reports/approve", quality, []byte(b), map[string]string{"Content-Type": "application/json"})
		return code, string(body)
	}
	var code int
	var body string
	for i := range 30 {
		if code, body = approve(fmt.Sprintf("guess number %d", i)); code != http.StatusForbidden {
			break
		}
	}
	if code != http.StatusTooManyRequests {
		t.Fatalf("after many wrong passwords: %d %s, want 429", code, body)
	}
	if code, body := approve(password); code != http.StatusTooManyRequests {
		t.Fatalf("the right password while blocked: %d %s, want 429 (nothing signed)", code, body)
	}
	es, err := e.store.AuditLog(t.Context(), core.AuditFilter{Action: "report.signed"})
	if err != nil || len(es) != 0 {
		t.Fatalf("signatures after guessing: %d %v", len(es), err)
	}
}
