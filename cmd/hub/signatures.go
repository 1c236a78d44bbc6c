package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/lothub/lothub/access"
	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/core/store/asof"
	"github.com/lothub/lothub/esign"
	"github.com/lothub/lothub/report"
)

// hub report approve and hub report verify: electronic signatures of
// reports, kept in the audit trail (package esign, docs/audit.md).

// readSigningPassword reads the signer's password once: the first line of
// stdin with fromStdin, else from the terminal without echo.
func (a *app) readSigningPassword(fromStdin bool, who string) (string, error) {
	if fromStdin {
		line, err := bufio.NewReader(a.stdin).ReadString('\n')
		if err != nil && err != io.EOF {
			return "", fmt.Errorf("read the password from stdin: %w", err)
		}
		pw := strings.TrimRight(line, "\r\n")
		if pw == "" {
			return "", core.Errorf(core.EINVALID, "no password on stdin: a signature needs %s's password (printf '%%s\\n' \"$PW\" | hub report approve … --password-stdin)", who)
		}
		return pw, nil
	}
	f, ok := a.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return "", usageError{fmt.Errorf("no terminal to ask the password of %s in: give --password-stdin and the password on stdin", who)}
	}
	fmt.Fprintf(a.stderr, "Password of %s, to sign: ", who)
	pw, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(a.stderr)
	if err != nil {
		return "", fmt.Errorf("read the password: %w", err)
	}
	return string(pw), nil
}

// reportTarget reads FILE_OR_REPORT_HASH: a report file (JSON or PDF)
// or the 64 hex digits of a content hash.
func reportTarget(arg string) (report.FileCheck, error) {
	if h, err := esign.CheckHash(arg); err == nil {
		if _, serr := os.Stat(arg); serr != nil {
			return report.FileCheck{Claimed: h, Meta: report.Meta{SHA256: h}}, nil
		}
	}
	b, err := os.ReadFile(arg)
	if err != nil {
		return report.FileCheck{}, core.Errorf(core.EINVALID, "cannot read %s: %v: give a report file (JSON or PDF made by hub report) or the report's SHA-256", arg, err)
	}
	c, err := report.ReadReportFile(b)
	if err != nil {
		return c, fmt.Errorf("%s: %w", arg, err)
	}
	return c, nil
}

func (a *app) reportApproveCommand() *cobra.Command {
	var meaning, reason, user string
	var pwStdin bool
	cmd := &cobra.Command{
		Use:   "approve FILE_OR_REPORT_HASH --meaning reviewed|approved|released --reason TEXT --user NAME",
		Short: "Sign a report electronically: the signer re-enters their password; the signature goes into the audit trail",
		Long: `Signs the report (a JSON or PDF file made by hub report, or its SHA-256)
as USER, who must have a role that approves reports (quality or admin) and
re-enters their password now (asked without echo, or --password-stdin; an
API token is not a signature). The signature (name, full name, role, the
store's time, meaning, reason, the report's content hash) is appended to the
audit trail as report.signed; every copy of the report made from the same
data shows it. A refused signing is recorded as report.sign_refused and
exits 2. See docs/audit.md.`,
		Args: exactArgs(1, "FILE_OR_REPORT_HASH"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if user == "" || meaning == "" || strings.TrimSpace(reason) == "" {
				return usageError{fmt.Errorf("hub report approve needs --user, --meaning (reviewed, approved or released) and --reason")}
			}
			t, err := reportTarget(args[0])
			if err != nil {
				return err
			}
			if !t.Intact() {
				return core.Errorf(core.ECONFLICT, "%s was changed after it was made: its data hashes to %s, not the %s it states; not signed", args[0], t.Computed, t.Claimed)
			}
			pw, err := a.readSigningPassword(pwStdin, user)
			if err != nil {
				return err
			}
			return a.withUsers(cmd, func(u *access.Users, s core.Store) error {
				sig, err := esign.Sign(cmd.Context(), s, u, esign.Request{User: user, Password: pw, Hash: t.Claimed,
					Meaning: meaning, Reason: reason, Kind: t.Kind, Subject: t.Meta.Subject()})
				if err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "signed report %s: %s by %s (%s, %s) at %s; audit entry %d\n",
					t.Claimed, sig.Meaning, sig.FullName, sig.Signer, sig.Role, sig.Time, sig.AuditSeq)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&meaning, "meaning", "", "what the signature means: reviewed, approved or released")
	cmd.Flags().StringVar(&reason, "reason", "", "why (what was checked); recorded with the signature")
	cmd.Flags().StringVar(&user, "user", "", "the signer's hub user name")
	cmd.Flags().BoolVar(&pwStdin, "password-stdin", false, "read the signer's password from the first line of stdin")
	return cmd
}

// verification is what hub report verify found (--json).
type verification struct {
	OK     bool   `json:"ok"`
	File   string `json:"file"`
	Format string `json:"format"`
	Kind   string `json:"kind,omitempty"`
	SHA256 string `json:"sha256"`
	// Computed is the hash of the file's data, recomputed (JSON only).
	Computed string `json:"computed_sha256,omitempty"`
	Intact   bool   `json:"intact"`
	// Regenerated: "match", "differs", or why it could not be made again.
	Regenerated string             `json:"regenerated"`
	Signatures  []report.Signature `json:"signatures"`
	// Missing are signatures the file shows that the store does not hold.
	Missing    []report.Signature `json:"missing_signatures,omitempty"`
	AuditOK    bool               `json:"audit_ok"`
	AuditHead  core.AuditHead     `json:"audit_head"`
	AuditIssue string             `json:"audit_problem,omitempty"`
	Problems   []string           `json:"problems"`
}

func (a *app) reportVerifyCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "verify FILE [--json]",
		Short: "Check a report file (JSON or PDF) against the store: its content hash, the report made again, its signatures, the audit chain",
		Long: `Checks a report made by hub report (or GET /v1/reports/*):
  - JSON: recomputes the hash of the report's data and compares it with the
    hash the report states (a changed byte fails); a PDF states its hash in
    its document information (its pages cannot be read back);
  - makes the report again with the parameters the file records: as of the
    time it was asked (--as-of), or now when the store's data version is
    the one the report was made at; otherwise says it cannot;
  - lists the signatures the audit trail holds for that hash, and any the
    file shows that the store does not hold;
  - verifies the audit trail's hash chain.
Exits 0 when every check that could be made passed, 4 when one failed.`,
		Args: exactArgs(1, "FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			b, err := os.ReadFile(args[0])
			if err != nil {
				return core.Errorf(core.EINVALID, "cannot read %s: %v", args[0], err)
			}
			t, err := report.ReadReportFile(b)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			v := verification{File: args[0], Format: t.Format, Kind: t.Kind, SHA256: t.Claimed, Computed: t.Computed, Intact: t.Intact(), Problems: []string{}}
			if !v.Intact {
				v.Problems = append(v.Problems, fmt.Sprintf("the report was changed after it was made: its data hashes to %s, not the %s it states", t.Computed, t.Claimed))
			}
			err = a.withStore(ctx, func(s core.Store) error {
				if v.Signatures, err = esign.Signatures(ctx, s, t.Claimed); err != nil {
					return err
				}
				held := map[int64]bool{}
				for _, sig := range v.Signatures {
					held[sig.AuditSeq] = true
				}
				for _, sig := range t.Meta.Signatures {
					if !held[sig.AuditSeq] {
						v.Missing = append(v.Missing, sig)
						v.Problems = append(v.Problems, fmt.Sprintf("the file shows a signature (%s by %s, audit entry %d) that the store does not hold for this report", sig.Meaning, sig.FullName, sig.AuditSeq))
					}
				}
				v.Regenerated, err = a.regenerate(ctx, s, t)
				if err != nil {
					return err
				}
				if v.Regenerated == "differs" {
					v.Problems = append(v.Problems, "the report made again from the store with the same parameters has a different content hash: the file does not show what the store holds")
				}
				av, err := core.VerifyAudit(ctx, s, nil)
				if err != nil {
					return err
				}
				v.AuditOK, v.AuditHead = av.OK, av.Head
				if !av.OK {
					v.AuditIssue = av.Problems[0].Detail
					v.Problems = append(v.Problems, "the audit trail does not verify: "+v.AuditIssue)
				}
				return nil
			})
			if err != nil {
				return err
			}
			v.OK = len(v.Problems) == 0
			if v.Signatures == nil {
				v.Signatures = []report.Signature{}
			}
			if asJSON {
				if err := writeJSON(a.stdout, v); err != nil {
					return err
				}
			} else {
				a.printVerification(v)
			}
			if !v.OK {
				return core.Errorf(core.ECONFLICT, "%s does not verify: %s", args[0], v.Problems[0])
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the verification as JSON")
	return cmd
}

func (a *app) printVerification(v verification) {
	w := a.stdout
	fmt.Fprintf(w, "%s: %s report %s, SHA-256 %s\n", v.File, v.Format, orDash(v.Kind), v.SHA256)
	switch {
	case v.Computed == "":
		fmt.Fprintf(w, "  content: a PDF states its hash in its document information; its pages cannot be recomputed (verify the JSON form to check the data itself)\n")
	case v.Intact:
		fmt.Fprintf(w, "  content: intact (the data hashes to the hash the report states)\n")
	default:
		fmt.Fprintf(w, "  content: CHANGED after it was made (the data hashes to %s)\n", v.Computed)
	}
	fmt.Fprintf(w, "  made again from the store: %s\n", v.Regenerated)
	if len(v.Signatures) == 0 {
		fmt.Fprintf(w, "  signatures: none in the audit trail for this hash\n")
	}
	for _, s := range v.Signatures {
		fmt.Fprintf(w, "  signed: %s by %s (%s, %s) at %s: %s (audit entry %d)\n", s.Meaning, s.FullName, s.Signer, s.Role, s.Time, s.Reason, s.AuditSeq)
	}
	if v.AuditOK {
		fmt.Fprintf(w, "  audit trail: verified, head %s\n", v.AuditHead)
	}
	if v.OK {
		fmt.Fprintf(w, "verified\n")
		return
	}
	fmt.Fprintf(w, "DOES NOT VERIFY:\n")
	for _, p := range v.Problems {
		fmt.Fprintf(w, "  - %s\n", p)
	}
}

// regenerate makes the report again with the parameters the file
// records and says whether its content hash matches: "match", "differs",
// or why it could not.
func (a *app) regenerate(ctx context.Context, s core.Store, t report.FileCheck) (string, error) {
	m := t.Meta
	if t.Kind == "" || m.Params == nil {
		return "not possible: the file does not record what the report was asked about (made by a hub before signatures)", nil
	}
	st := s
	if m.AsOfRequested != "" {
		at, err := time.Parse(time.RFC3339Nano, m.AsOfRequested)
		if err != nil {
			return "not possible: the file's as_of_requested is not a time", nil
		}
		v, err := asof.Open(ctx, s, at, asof.Options{})
		if err != nil {
			return "", err
		}
		defer v.Close()
		st = v
	} else {
		mark, err := s.EvaluationMark(ctx)
		if err != nil {
			return "", err
		}
		if mark.Version != m.DataVersion {
			return fmt.Sprintf("not possible: the store changed since the report was made (data version %d then, %d now) and it was not asked --as-of; make reports to be signed with --as-of to be able to remake them", m.DataVersion, mark.Version), nil
		}
	}
	q := &core.Queries{Store: st}
	opts := a.reportOptions()
	if m.AsOfRequested != "" {
		opts.AsOf, _ = time.Parse(time.RFC3339Nano, m.AsOfRequested)
	}
	p := *m.Params
	var rep any
	var err error
	switch t.Kind {
	case "lot":
		opts.DepthLimit = p.Depth
		rep, err = report.Lot(ctx, q, core.LotRef{Item: p.Item, Lot: p.Lot}, opts)
	case "recall":
		rep, err = report.Recall(ctx, q, p.Selector(), opts)
	case "fsma204":
		fp := report.FSMAParams{Item: p.Item, Lot: p.Lot}
		fp.From, _ = time.Parse(time.RFC3339Nano, p.From)
		fp.To, _ = time.Parse(time.RFC3339Nano, p.To)
		rep, err = report.FSMA204(ctx, q, fp, opts)
	default:
		return "not possible: unknown report kind " + t.Kind, nil
	}
	if err != nil {
		return "", fmt.Errorf("make the report again: %w", err)
	}
	if report.MetaOf(rep).SHA256 == t.Claimed {
		return "match", nil
	}
	return "differs", nil
}
