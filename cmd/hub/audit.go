package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/lothub/lothub/core"
)

// The audit trail: hub audit log|verify|head, and retention: hub archive
// export|prune (docs/audit.md).

// osActor is who runs the CLI: the operating-system user. Every change a
// command makes is recorded in the audit trail under it.
func osActor() core.Actor {
	name := ""
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	if name == "" {
		name = os.Getenv("USER")
	}
	if name == "" {
		name = "unknown"
	}
	return core.Actor{Kind: "os", Name: name}
}

func (a *app) auditCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "The audit trail: who changed what, when and why (log, verify, head)",
	}
	cmd.AddCommand(a.auditLogCommand(), a.auditVerifyCommand(), a.auditHeadCommand())
	return cmd
}

func (a *app) auditLogCommand() *cobra.Command {
	var lot, from, to string
	var p core.AuditLogParams
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "log [--lot ITEM/LOT] [--actor A] [--action X] [--from T] [--to T] [--limit N] [--before SEQ]",
		Short: "List audit entries, newest first",
		Long: `Lists audit entries, newest first. --lot selects a lot's own entries
(holds, releases) and those of the batches that wrote its events; --actor
takes kind:name (user:ann, os:root, connector:sap) or a bare name; --action
takes an action (hold.placed) or a prefix ending in a dot (hold.). --from and
--to take a time, a date or (--from) a duration back from now (72h). Page
with --before: the JSON's next_before.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			now := time.Now()
			var err error
			if p.From, err = parseSince(from, now); err != nil {
				return err
			}
			if p.To, err = parseSince(to, now); err != nil {
				return core.Errorf(core.EINVALID, "--to %q: want a time (2026-03-01T00:00:00Z) or a date (2026-03-01)", to)
			}
			if lot != "" {
				q, err := core.ParseLotQty(lot)
				if err != nil || q.Qty != nil {
					return core.Errorf(core.EINVALID, "--lot %q: want ITEM/LOT", lot)
				}
				p.Lot = &core.LotRef{Item: q.Item, Lot: q.Lot}
			}
			if p.Limit < 0 {
				return core.Errorf(core.EINVALID, "--limit %d: want a number ≥ 0 (0: all)", p.Limit)
			}
			return a.withStore(cmd.Context(), func(s core.Store) error {
				page, err := (&core.Queries{Store: s}).AuditLog(cmd.Context(), p)
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(a.stdout, page)
				}
				if len(page.Entries) == 0 {
					fmt.Fprintln(a.stdout, "no audit entries")
					return nil
				}
				t := newTable(a.stdout, "SEQ", "TIME", "ACTOR", "ACTION", "OBJECT", "REASON", "DETAILS")
				for _, e := range page.Entries {
					details := string(e.Details)
					if len(details) > 120 {
						details = details[:117] + "..."
					}
					t.row(fmt.Sprint(e.Seq), e.Time.Format("2006-01-02T15:04:05.000Z07:00"), e.Actor.String(), e.Action, e.Object, e.Reason, details)
				}
				t.flush()
				if page.Next != 0 {
					fmt.Fprintf(a.stdout, "more: hub audit log --before %d\n", page.Next)
				}
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&lot, "lot", "", "entries about this lot: ITEM/LOT")
	f.StringVar(&p.Actor, "actor", "", "entries by this actor: kind:name or a name")
	f.StringVar(&p.Action, "action", "", "entries of this action, or of a prefix ending in '.' (hold.)")
	f.StringVar(&from, "from", "", "entries at or after: a time, a date or a duration back (72h)")
	f.StringVar(&to, "to", "", "entries before: a time or a date")
	f.IntVar(&p.Limit, "limit", 100, "at most this many entries (0: all)")
	f.Int64Var(&p.Before, "before", 0, "entries with a seq below this (the next page)")
	f.BoolVar(&asJSON, "json", false, `print {"entries": [...], "next_before": SEQ}`)
	return cmd
}

func (a *app) auditVerifyCommand() *cobra.Command {
	var head string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "verify [--head SEQ:HASH] [--json]",
		Short: "Recompute the audit chain and every batch's event digest; name the first entry edited, deleted, inserted or reordered",
		Long: `Recomputes every entry's hash and link, and re-derives the digest of the
event rows each batch wrote from the events table. Names the first entry that
was edited, deleted, inserted or reordered, and an event row that changed.
--head SEQ:HASH (as hub audit head printed it earlier) also proves that
nothing was cut from the end since. Exits 0 when the trail verifies, 4 when
it does not.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var want *core.AuditHead
			if head != "" {
				h, err := core.ParseAuditHead(head)
				if err != nil {
					return err
				}
				want = &h
			}
			return a.withStore(cmd.Context(), func(s core.Store) error {
				v, err := core.VerifyAudit(cmd.Context(), s, want)
				if err != nil {
					return err
				}
				if asJSON {
					if err := writeJSON(a.stdout, v); err != nil {
						return err
					}
				} else if v.OK {
					fmt.Fprintf(a.stdout, "audit trail verified: %d entries, %d event rows; head %s\n", v.Entries, v.Events, v.Head)
					if v.HeadPruned {
						fmt.Fprintf(a.stdout, "the head you gave lies in a range pruned after a verified export (hub archive prune): check it against that export\n")
					}
					if v.EventsBefore > 0 {
						fmt.Fprintf(a.stdout, "event rows up to seq %d were stored before the trail began (or their entries were pruned): no entry covers them\n", v.EventsBefore)
					}
				} else {
					fmt.Fprintf(a.stdout, "audit trail does NOT verify (%d entries, %d event rows read)\n", v.Entries, v.Events)
					t := newTable(a.stdout, "  ENTRY", "KIND", "DETAIL")
					for _, p := range v.Problems {
						seq := "-"
						if p.Seq != 0 {
							seq = fmt.Sprint(p.Seq)
						}
						t.row("  "+seq, p.Kind, p.Detail)
					}
					t.flush()
					if v.More > 0 {
						fmt.Fprintf(a.stdout, "  … and %d more\n", v.More)
					}
				}
				if !v.OK {
					p := v.Problems[0]
					return core.Errorf(core.ECONFLICT, "the audit trail does not verify: %s", p.Detail)
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&head, "head", "", "a head recorded earlier (hub audit head): prove nothing was cut from the end")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the verification as JSON")
	return cmd
}

func (a *app) auditHeadCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "head",
		Short: "Print the latest entry's SEQ:HASH, to record elsewhere (a ticket, a printed report)",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withStore(cmd.Context(), func(s core.Store) error {
				h, err := s.AuditHead(cmd.Context())
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(a.stdout, h)
				}
				if h.Seq == 0 {
					fmt.Fprintln(a.stdout, "the audit trail is empty")
					return nil
				}
				fmt.Fprintln(a.stdout, h)
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, `print {"seq", "hash"}`)
	return cmd
}

// parseDate reads --before of hub archive: a date (midnight UTC) or a time.
func parseDate(flag, s string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02", time.RFC3339} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, core.Errorf(core.EINVALID, "%s %q: want a date (2026-01-01) or a time (2026-01-01T00:00:00Z)", flag, s)
}

func (a *app) archiveCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "archive",
		Short: "Retention: export old audit entries and raw records, then prune them (docs/audit.md)",
	}
	var before, out, export string
	exp := &cobra.Command{
		Use:   "export --before DATE --out FILE",
		Short: "Write the audit entries and raw records from before DATE, and the chain's head, to FILE (JSON Lines)",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			t, err := parseDate("--before", before)
			if err != nil {
				return err
			}
			if out == "" {
				return core.Errorf(core.EINVALID, "--out FILE is required: where the export goes")
			}
			f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				if errors.Is(err, os.ErrExist) {
					return core.Errorf(core.ECONFLICT, "%s exists: an export never overwrites a file; name another", out)
				}
				return fmt.Errorf("create %s: %w", out, err)
			}
			err = a.withStore(cmd.Context(), func(s core.Store) error {
				h, err := core.ExportArchive(cmd.Context(), s, t, f)
				if err != nil {
					return err
				}
				if err := f.Sync(); err != nil {
					return fmt.Errorf("write %s: %w", out, err)
				}
				fmt.Fprintf(a.stdout, "%s: %d audit entries (through %s) and %d raw records from before %s; chain head %s (record it)\n",
					out, h.Entries, h.Through, h.RawRecords, t.Format(time.RFC3339), h.Chain)
				return nil
			})
			if cerr := f.Close(); err == nil && cerr != nil {
				err = fmt.Errorf("write %s: %w", out, cerr)
			}
			if err != nil {
				os.Remove(out) // a partial export is no export
			}
			return err
		},
	}
	exp.Flags().StringVar(&before, "before", "", "export what is older than this date (required)")
	exp.Flags().StringVar(&out, "out", "", "the file to write (required; never overwritten)")
	prune := &cobra.Command{
		Use:   "prune --before DATE --export FILE",
		Short: "Delete what FILE (a verified hub archive export) holds, leaving a checkpoint entry so the chain still verifies",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			t, err := parseDate("--before", before)
			if err != nil {
				return err
			}
			if export == "" {
				return core.Errorf(core.EINVALID, "--export FILE is required: prune deletes only what a verified export holds")
			}
			return a.withStore(cmd.Context(), func(s core.Store) error {
				res, err := pruneFrom(cmd.Context(), s, export, t)
				if err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "pruned %d audit entries and %d raw records; checkpoint entry %d:%s\n",
					res.Entries, res.RawRecords, res.Checkpoint.Seq, res.Checkpoint.Hash)
				return nil
			})
		},
	}
	prune.Flags().StringVar(&before, "before", "", "the date the export was made with (required: a check)")
	prune.Flags().StringVar(&export, "export", "", "the export file (required)")
	cmd.AddCommand(exp, prune)
	return cmd
}

func pruneFrom(ctx context.Context, s core.Store, file string, before time.Time) (*core.PruneResult, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read the export: %w", err)
	}
	// The date is a check that the operator prunes what they meant to:
	// the export's head (its last line) says what it holds.
	text := strings.TrimSpace(string(b))
	var last core.ArchiveLine
	if err := json.Unmarshal([]byte(text[strings.LastIndex(text, "\n")+1:]), &last); err == nil && last.Head != nil && !last.Head.Before.Equal(before) {
		return nil, core.Errorf(core.EINVALID, "%s is an export of what came before %s, not %s: give the date it was made with",
			file, last.Head.Before.Format(time.RFC3339), before.Format(time.RFC3339))
	}
	return core.PruneArchive(ctx, s, bytes.NewReader(b), file)
}
