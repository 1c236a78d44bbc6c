// Package esign records and reads the electronic signatures of reports
// (hub report approve, POST /v1/reports/approve): a named hub user, with
// a role that may approve (core.PermQuality), re-enters their password at
// each signing; the signature (signer's name and full name, role, the
// store's time, meaning, reason) is appended to the audit trail as an
// entry "report.signed" about "report:SHA256", the report's content hash.
// A report shows the signatures of its own hash and no other's, so a
// signature cannot be copied to another report (21 CFR Part 11 §11.70),
// and the audit trail's hash chain makes a removed or edited signature
// show in hub audit verify. See docs/audit.md.
package esign

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lothub/lothub/access"
	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/report"
)

// The audit actions of signing.
const (
	ActionSigned  = "report.signed"
	ActionRefused = "report.sign_refused"
)

// Meanings a signature may have (§11.50(a)(3)).
var Meanings = []string{"reviewed", "approved", "released"}

// Request is one signing.
type Request struct {
	User     string // the signer's sign-in name
	Password string // re-entered now; never stored or logged
	Hash     string // the report's content hash (report.Meta.SHA256)
	Meaning  string // reviewed, approved or released
	Reason   string
	// Kind and Subject say which report it is (lot and ITEM/LOT), when
	// known; with a bare hash they are taken from an earlier signature of
	// the same hash, if any.
	Kind    string
	Subject string
}

// details is the JSON of a signature's audit entry.
type details struct {
	Signer   string `json:"signer"`
	FullName string `json:"full_name"`
	Role     string `json:"role"`
	Meaning  string `json:"meaning"`
	Hash     string `json:"sha256"`
	Kind     string `json:"kind,omitempty"`
	Subject  string `json:"subject,omitempty"`
	// Refused is why a signing was refused (report.sign_refused).
	Refused string `json:"refused,omitempty"`
}

// Object is the audit object of a report's signatures.
func Object(hash string) string { return "report:" + hash }

// CheckHash checks a content hash: 64 hex digits.
func CheckHash(h string) (string, error) {
	h = strings.ToLower(strings.TrimSpace(h))
	if _, err := hex.DecodeString(h); err != nil || len(h) != 64 {
		return "", core.Errorf(core.EINVALID, "%q is not a report's SHA-256: want the 64 hex digits printed in the report's footer (or give the report's file)", h)
	}
	return h, nil
}

// ErrNotAllowed is a signer whose role may not approve reports.
var ErrNotAllowed = errors.New("may not sign reports")

// Sign checks the request and the signer's password and appends the
// signature to the audit trail. A wrong password, a disabled user or a
// role that may not approve is refused (an EINVALID error for which
// Refusal is true) and recorded as
// report.sign_refused, naming the user and never the password; nothing is
// signed then.
func Sign(ctx context.Context, st core.Store, users *access.Users, r Request) (report.Signature, error) {
	hash, err := CheckHash(r.Hash)
	if err != nil {
		return report.Signature{}, err
	}
	if !validMeaning(r.Meaning) {
		return report.Signature{}, core.Errorf(core.EINVALID, "meaning %q: want one of %s", r.Meaning, strings.Join(Meanings, ", "))
	}
	if strings.TrimSpace(r.Reason) == "" {
		return report.Signature{}, core.Errorf(core.EINVALID, "a signature needs a reason (--reason): say what was checked or why it is approved")
	}
	if strings.TrimSpace(r.User) == "" {
		return report.Signature{}, core.Errorf(core.EINVALID, "a signature needs the signer's user name (--user)")
	}
	if r.Kind == "" && r.Subject == "" {
		if prev, err := find(ctx, st, hash); err == nil && len(prev) > 0 {
			r.Kind, r.Subject = prev[0].kind, prev[0].subject
		}
	}
	d := details{Signer: r.User, Meaning: r.Meaning, Hash: hash, Kind: r.Kind, Subject: r.Subject}
	refuse := func(why string, err error) (report.Signature, error) {
		d.Refused = why
		b, _ := json.Marshal(d)
		actor := core.Actor{Kind: "user", Name: r.User}
		if _, aerr := st.Audit(ctx, core.AuditEntry{Actor: actor, Action: ActionRefused, Object: Object(hash), Reason: r.Reason, Details: b}); aerr != nil {
			return report.Signature{}, fmt.Errorf("record the refused signing: %w (refused: %v)", aerr, err)
		}
		return report.Signature{}, err
	}
	if access.IsUserToken(r.Password) {
		return refuse("a token is not a signature", notSigned(fmt.Errorf("a signature needs %s's password, not an API token: %w", r.User, errToken)))
	}
	usr, err := users.Login(ctx, r.User, r.Password)
	if err != nil {
		var ref *access.Refused
		switch {
		case errors.Is(err, access.ErrBadCredentials):
			return refuse("wrong user name or password", notSigned(err))
		case errors.As(err, &ref):
			return refuse(ref.Reason, notSigned(err))
		}
		return report.Signature{}, err
	}
	if !usr.Role.Can(core.PermQuality) {
		return refuse("role "+string(usr.Role)+" may not approve reports",
			notSigned(fmt.Errorf("user %s has role %s, which %w; a quality or admin user signs (hub user add --role quality)", usr.Name, usr.Role, ErrNotAllowed)))
	}
	d.FullName, d.Role = usr.FullName, string(usr.Role)
	if d.FullName == "" {
		d.FullName = usr.Name
	}
	b, err := json.Marshal(d)
	if err != nil {
		return report.Signature{}, err
	}
	e, err := st.Audit(ctx, core.AuditEntry{Actor: core.Actor{Kind: "user", Name: usr.Name, Role: usr.Role}, Action: ActionSigned, Object: Object(hash), Reason: r.Reason, Details: b})
	if err != nil {
		return report.Signature{}, fmt.Errorf("record the signature of report %s: %w", hash, err)
	}
	s, _ := fromEntry(e)
	return s.Signature, nil
}

// notSigned is a refused signing: EINVALID for the CLI's exit status,
// still errors.Is the cause (access.ErrBadCredentials, ErrNotAllowed).
func notSigned(cause error) error {
	return fmt.Errorf("%w: %w", core.Errorf(core.EINVALID, "not signed"), cause)
}

// Refusal reports whether err is a refused signing (wrong password,
// disabled user, a role that may not sign, a token given as password).
func Refusal(err error) bool {
	var r *access.Refused
	return errors.Is(err, access.ErrBadCredentials) || errors.As(err, &r) || errors.Is(err, ErrNotAllowed) || errors.Is(err, errToken)
}

var errToken = errors.New("tokens alone are not a signature")

func validMeaning(m string) bool {
	for _, x := range Meanings {
		if m == x {
			return true
		}
	}
	return false
}

type found struct {
	report.Signature
	kind, subject string
}

func fromEntry(e core.AuditEntry) (found, bool) {
	var d details
	if e.Action != ActionSigned || json.Unmarshal(e.Details, &d) != nil || Object(d.Hash) != e.Object {
		return found{}, false
	}
	return found{Signature: report.Signature{Signer: e.Actor.Name, FullName: d.FullName, Role: string(e.Actor.Role),
		Time: e.Time.UTC().Format(time.RFC3339), Meaning: d.Meaning, Reason: e.Reason, AuditSeq: e.Seq, AuditHash: e.Hash},
		kind: d.Kind, subject: d.Subject}, true
}

// find returns the signatures the audit trail holds for a content hash,
// oldest first.
func find(ctx context.Context, st core.Store, hash string) ([]found, error) {
	es, err := st.AuditLog(ctx, core.AuditFilter{Action: ActionSigned, Objects: []string{Object(hash)}})
	if err != nil {
		return nil, fmt.Errorf("read the signatures of report %s: %w", hash, err)
	}
	var out []found
	for i := len(es) - 1; i >= 0; i-- { // AuditLog is newest first
		if f, ok := fromEntry(es[i]); ok {
			out = append(out, f)
		}
	}
	return out, nil
}

// Signatures returns the signatures of a content hash, oldest first.
func Signatures(ctx context.Context, st core.Store, hash string) ([]report.Signature, error) {
	fs, err := find(ctx, st, hash)
	if err != nil {
		return nil, err
	}
	out := make([]report.Signature, len(fs))
	for i, f := range fs {
		out[i] = f.Signature
	}
	return out, nil
}

// Attach reads the signatures of a report (*report.LotReport,
// *report.RecallReport or *report.FSMAReport) into its meta.
func Attach(ctx context.Context, st core.Store, rep any) error {
	m := report.MetaOf(rep)
	if m == nil || m.SHA256 == "" {
		return nil
	}
	sigs, err := Signatures(ctx, st, m.SHA256)
	if err != nil {
		return err
	}
	m.Signatures = sigs
	return nil
}
