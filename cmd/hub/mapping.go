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
	cmd := &cobra.Command{
		Use:   "run MAP.yaml --kind KIND RECORDS...",
		Short: "Map source records and print the events as JSON Lines (nothing is stored)",
		Long: `Reads source records — CSV with a header row (.csv), JSON Lines (.jsonl, or -
for standard input) or JSON (.json: an array, or an OData response) — maps
them, and prints the events as JSON Lines on standard output. Records the
mapping cannot map are reported on standard error with their id (file:line)
and the reason; the exit status is then 2. Nothing is stored: use
'hub ingest --mapping' for that.`,
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
			out := bufio.NewWriterSize(a.stdout, 64<<10)
			enc := json.NewEncoder(out)
			enc.SetEscapeHTML(false)
			var records, events, empty, failed int
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
					evs, err := m.Map(rec)
					var re *mapping.RecordError
					if errors.As(err, &re) {
						failed++
						out.Flush()
						fmt.Fprintln(a.stderr, re)
						return nil
					}
					if err != nil {
						return err
					}
					if len(evs) == 0 {
						empty++
					}
					for _, ev := range evs {
						events++
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
			fmt.Fprintf(a.stderr, "%d records: %d events, %d records with no events (skipped), %d records failed\n", records, events, empty, failed)
			if failed > 0 {
				return core.Errorf(core.EINVALID, "%d of %d records could not be mapped (reasons above; the hub would quarantine them)", failed, records)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&kind, "kind", "", "the kind of source record the files hold (default: the mapping's only kind)")
	return cmd
}
