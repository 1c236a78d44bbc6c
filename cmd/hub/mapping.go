package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/mapping"
)

func (a *app) mappingCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "mapping",
		Short: "Check, test and try mapping files (source records → canonical events)",
		Long: `A mapping file (YAML) turns source records — an SAP material document item,
a NetSuite transaction line, a CSV row — into canonical events. See
docs/mapping.md for the language.

  hub mapping check MAP.yaml...                 compile; print every problem as file:line:col
  hub mapping test MAP.yaml...                  run MAP.test.yaml beside each mapping
  hub mapping run MAP.yaml --kind K RECORDS...  print the events as JSON Lines

None of them touches the database.`,
	}
	cmd.AddCommand(a.mappingCheckCommand(), a.mappingTestCommand(), a.mappingRunCommand())
	return cmd
}

// minArgs is cobra.MinimumNArgs with a usage error that says what is wanted.
func minArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < n {
			return usageError{fmt.Errorf("%s wants %s", cmd.CommandPath(), what)}
		}
		return nil
	}
}

// loadMapping loads a mapping and prints its problems, one a line, to
// stderr. It returns nil when the file has problems.
func (a *app) loadMapping(path string) *mapping.Mapping {
	m, err := mapping.Load(path)
	if err != nil {
		a.printErrors(err)
		return nil
	}
	return m
}

// printErrors prints a mapping error list one problem a line.
func (a *app) printErrors(err error) {
	var list mapping.ErrorList
	if errors.As(err, &list) {
		for _, e := range list {
			fmt.Fprintln(a.stderr, e)
		}
		return
	}
	fmt.Fprintln(a.stderr, err)
}

// isTestFile tells a mapping's test file (x.test.yaml) from a mapping, so
// 'hub mapping check *.yaml' checks both.
func isTestFile(path string) bool {
	return strings.HasSuffix(path, ".test.yaml") || strings.HasSuffix(path, ".test.yml")
}

func (a *app) mappingCheckCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "check MAP.yaml...",
		Short: "Compile mapping files and report every problem as file:line:col",
		Long: `Compiles each mapping file: decodes it strictly, compiles and type-checks
every expression, and prints every problem as file:line:col: what (what to
do). A test file (x.test.yaml) given to it is checked as a test file.`,
		Args: minArgs(1, "at least one mapping file"),
		RunE: func(_ *cobra.Command, args []string) error {
			bad := 0
			for _, path := range args {
				if isTestFile(path) {
					cases, err := mapping.LoadTests(path)
					if err != nil {
						a.printErrors(err)
						bad++
						continue
					}
					fmt.Fprintf(a.stdout, "%s: ok (test file, %d cases)\n", path, len(cases))
					continue
				}
				m := a.loadMapping(path)
				if m == nil {
					bad++
					continue
				}
				fmt.Fprintf(a.stdout, "%s: ok (%d rules, kinds %s)\n", path, m.Rules(), strings.Join(m.Kinds(), ", "))
			}
			if bad > 0 {
				return core.Errorf(core.EINVALID, "%d of %d mapping files have errors (fix them at the positions above)", bad, len(args))
			}
			return nil
		},
	}
}

func (a *app) mappingTestCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "test MAP.yaml...",
		Short: "Run each mapping's test file (MAP.test.yaml) and show what differs",
		Long: `Runs the test file beside each mapping (x.yaml → x.test.yaml): every case
maps its record and compares the outcome with the expected events, error or
skip. A failing case shows the fields that differ: "-" what the test wants,
"+" what the mapping gave. A mapping without a test file fails.`,
		Args: minArgs(1, "at least one mapping file"),
		RunE: func(_ *cobra.Command, args []string) error {
			failed, passed, broken := 0, 0, 0
			for _, path := range args {
				m := a.loadMapping(path)
				if m == nil {
					broken++
					continue
				}
				cases, err := mapping.LoadTests(mapping.TestFile(path))
				if err != nil {
					a.printErrors(err)
					broken++
					continue
				}
				results, err := m.RunTests(cases)
				if err != nil {
					fmt.Fprintln(a.stderr, err)
					broken++
					continue
				}
				fmt.Fprintf(a.stdout, "%s (%s):\n", path, mapping.TestFile(path))
				f := 0
				for _, r := range results {
					if r.Pass {
						fmt.Fprintf(a.stdout, "  PASS %s\n", r.Name)
						continue
					}
					f++
					fmt.Fprintf(a.stdout, "  FAIL %s (%s)\n", r.Name, r.Pos)
					for _, l := range strings.Split(strings.TrimRight(r.Diff, "\n"), "\n") {
						fmt.Fprintf(a.stdout, "       %s\n", l)
					}
				}
				fmt.Fprintf(a.stdout, "  %d passed, %d failed\n", len(results)-f, f)
				failed += f
				passed += len(results) - f
			}
			switch {
			case broken > 0:
				return core.Errorf(core.EINVALID, "%d of %d mappings could not be tested (see above)", broken, len(args))
			case failed > 0:
				return core.Errorf(core.EINVALID, "%d of %d mapping tests failed", failed, failed+passed)
			}
			return nil
		},
	}
}

func (a *app) mappingRunCommand() *cobra.Command {
	var kind string
	var explain, asJSON bool
	cmd := &cobra.Command{
		Use:   "run MAP.yaml --kind KIND RECORDS...",
		Short: "Map source records and print the events as JSON Lines (nothing is stored)",
		Long: `Reads source records — CSV with a header row (.csv), JSON Lines (.jsonl, or -
for standard input) or JSON (.json: an array, or an OData response) — maps
them, and prints the events as JSON Lines on standard output. Records the
mapping cannot map are reported on standard error with their id (file:line)
and the reason; the exit status is then 2. The summary on standard error
counts the records skipped, by rule and reason. Nothing is stored: use
'hub ingest --mapping' for that.

With --explain, prints instead, for every record, each rule tried and why
it did or did not apply, and what came of the record: its events, the skip
(rule and reason) or the reason it would be quarantined. With --json too,
one JSON object a record.`,
		Args: minArgs(2, "a mapping file and at least one records file"),
		RunE: func(cmd *cobra.Command, args []string) error {
			m := a.loadMapping(args[0])
			if m == nil {
				return core.Errorf(core.EINVALID, "%s has errors (fix them at the positions above)", args[0])
			}
			if kind == "" {
				if len(m.Kinds()) != 1 {
					return usageError{fmt.Errorf("say which kind of record the files hold: --kind (one of %s)", strings.Join(m.Kinds(), ", "))}
				}
				kind = m.Kinds()[0]
			}
			if !m.Applies(kind) {
				return usageError{fmt.Errorf("mapping %s does not map kind %q (it maps %s)", args[0], kind, strings.Join(m.Kinds(), ", "))}
			}
			if asJSON && !explain {
				return usageError{fmt.Errorf("--json goes with --explain (the events are JSON Lines already)")}
			}
			out := bufio.NewWriterSize(a.stdout, 64<<10)
			enc := json.NewEncoder(out)
			enc.SetEscapeHTML(false)
			var records, events, skipped, failed int
			var skips []core.SkipCount
			for _, name := range args[1:] {
				var r io.Reader = a.stdin
				if name != "-" {
					f, err := os.Open(name)
					if err != nil {
						out.Flush()
						return core.Errorf(core.EINVALID, "cannot read records: %v", err)
					}
					defer f.Close()
					r = f
				}
				err := mapping.ReadRecords(cmd.Context(), r, name, kind, func(rec mapping.Record, _ int) error {
					records++
					var o mapping.Outcome
					if explain {
						x := m.Explain(rec)
						o = x.Outcome
						if err := writeExplanation(out, enc, x, asJSON); err != nil {
							return fmt.Errorf("write explanation: %w", err)
						}
					} else {
						o = m.MapRecord(rec)
					}
					var re *mapping.RecordError
					switch {
					case errors.As(o.Err, &re):
						failed++
						if !explain {
							out.Flush()
							fmt.Fprintln(a.stderr, re)
						}
						return nil
					case o.Err != nil:
						return o.Err
					case o.Skip != nil:
						skipped++
						skips = core.AddSkips(skips, core.SkipCount{Rule: o.Skip.Rule, Reason: o.Skip.Reason, Records: 1})
					}
					for _, ev := range o.Events {
						events++
						if explain {
							continue
						}
						if err := enc.Encode(ev); err != nil {
							return fmt.Errorf("write events: %w", err)
						}
					}
					return nil
				})
				if err != nil {
					out.Flush()
					return err
				}
			}
			if err := out.Flush(); err != nil {
				return fmt.Errorf("write events: %w", err)
			}
			fmt.Fprintf(a.stderr, "%d records: %d events, %d records skipped, %d records failed\n", records, events, skipped, failed)
			writeSkips(a.stderr, "  ", skips)
			if failed > 0 {
				return core.Errorf(core.EINVALID, "%d of %d records could not be mapped (reasons above; the hub would quarantine them)", failed, records)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&kind, "kind", "", "the kind of source record the files hold (default: the mapping's only kind)")
	cmd.Flags().BoolVar(&explain, "explain", false, "show, for every record, which rule matched or why none did, instead of the events")
	cmd.Flags().BoolVar(&asJSON, "json", false, "with --explain: one JSON object a record")
	return cmd
}

// explained is the JSON form of one record's explanation (hub mapping run
// --explain --json).
type explained struct {
	mapping.Explanation
	Outcome string     `json:"outcome"` // "events", "skipped" or "quarantined"
	Events  []string   `json:"events,omitempty"`
	Skip    *core.Skip `json:"skip,omitempty"`
	Error   string     `json:"error,omitempty"`
}

func writeExplanation(w io.Writer, enc *json.Encoder, x mapping.Explanation, asJSON bool) error {
	e := explained{Explanation: x}
	switch o := x.Outcome; {
	case o.Err != nil:
		e.Outcome, e.Error = "quarantined", o.Err.Error()
	case o.Skip != nil:
		e.Outcome, e.Skip = "skipped", o.Skip
	default:
		e.Outcome = "events"
		for _, ev := range o.Events {
			e.Events = append(e.Events, string(ev.Type)+" "+ev.ID)
		}
	}
	if e.Rules == nil {
		e.Rules = []mapping.RuleTrial{}
	}
	if asJSON {
		return enc.Encode(e)
	}
	fmt.Fprintf(w, "record %s (kind %s)", x.RecordID, x.Kind)
	if x.LotField != "" {
		fmt.Fprintf(w, ", lot %v in %s", x.Lot, x.LotField)
	}
	fmt.Fprintln(w)
	for _, r := range x.Rules {
		fmt.Fprintf(w, "  rule %q (%s): %s\n", r.Rule, r.Where, r.Result)
	}
	switch e.Outcome {
	case "quarantined":
		fmt.Fprintf(w, "  → quarantined: %s\n", e.Error)
	case "skipped":
		fmt.Fprintf(w, "  → skipped by rule %q: %s\n", e.Skip.Rule, e.Skip.Reason)
	default:
		fmt.Fprintf(w, "  → %d event(s): %s\n", len(e.Events), strings.Join(e.Events, ", "))
	}
	_, err := fmt.Fprintln(w)
	return err
}
