// Command hub is lothub's single binary: ingest, trace, recall, lot status,
// gaps, quarantine, schema migrations and the synthetic plant generator.
// Commands are thin: they parse flags, call one function in core, print.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	// Start opening a trace's or recall's store during package
	// initialisation (postgres.Prestart, sqlite.PrestartReads).
	_ "github.com/lothub/lothub/cmd/hub/internal/early/pg"
	_ "github.com/lothub/lothub/cmd/hub/internal/early/sqlite"
	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/core/store/postgres"
	"github.com/lothub/lothub/core/store/sqlite"
	"github.com/lothub/lothub/internal/startgc"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		if context.Cause(ctx) == context.Canceled {
			return // main is returning: no signal came
		}
		// The first SIGINT or SIGTERM asks the command to stop (a sync
		// ends within seconds and records its run as interrupted); the
		// signals are no longer caught after it, so a second one kills
		// the hub at once.
		stop()
		fmt.Fprintf(os.Stderr, "hub: %v: stopping (a second one kills the hub at once)\n", context.Cause(ctx))
	}()
	stopProfile := profile(os.Getenv("LOTHUB_CPUPROFILE"))
	code := Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	// Not taken: the command ended before opening its store.
	postgres.ClosePrestarted()
	sqlite.ClosePrestarted()
	stopProfile()
	stop()
	os.Exit(code)
}

// profile writes a CPU profile of the command to file when it is set
// (LOTHUB_CPUPROFILE=hub.prof hub recall …; read it with go tool pprof):
// how a slow command is reported.
func profile(file string) (stop func()) {
	if file == "" {
		return func() {}
	}
	f, err := os.Create(file)
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "hub: no CPU profile: %v\n", err)
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}

// Exit statuses, one per error code. Scripts rely on them.
const (
	exitOK       = 0
	exitInternal = 1 // a bug or an infrastructure failure
	exitInvalid  = 2 // bad usage or bad input
	exitNotFound = 3 // the lot (or other thing) asked for does not exist
	exitConflict = 4 // the store is in a state that forbids the action
)

func exitCode(err error) int {
	switch core.ErrorCode(err) {
	case "":
		return exitOK
	case core.EINVALID:
		return exitInvalid
	case core.ENOTFOUND:
		return exitNotFound
	case core.ECONFLICT:
		return exitConflict
	}
	return exitInternal
}

// app holds what every command shares.
type app struct {
	db     string
	dbSet  bool   // --db or $HUB_DB given: it wins over the configuration's store
	config string // --config
	// evaluate: run the gap rules after an ingest (hub ingest --evaluate).
	evaluate bool
	snapshot bool // hub ingest --snapshot
	// reads: the command only reads and exits (trace, recall), so a
	// SQLite store is opened with small page caches (sqlite.OpenReads).
	reads  bool
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// Main runs the hub with args and returns the exit status.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr}
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	var usage usageError
	if errors.As(err, &usage) {
		path := "hub"
		if cmd != nil {
			path = cmd.CommandPath()
		}
		fmt.Fprintf(stderr, "hub: %v\nRun '%s --help' for usage.\n", err, path)
		return exitInvalid
	}
	fmt.Fprintf(stderr, "hub: %v\n", err)
	return exitCode(err)
}

// tunesGC is the annotation of a command that calls bulkgc.Tune before it
// allocates much (see rootCommand's PersistentPreRun).
const tunesGC = "tunes-gc"

// usageError marks errors in the command line itself.
type usageError struct{ error }

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "hub",
		Short: "lothub: lot genealogy from ERP and MES transactions",
		Long: `lothub turns the receipts, issues, outputs, steps and shipments your ERP
and MES record into a lot genealogy graph, and answers forward and backward
traces, recalls, lot status and gaps in well under a second.

The database is --db or $HUB_DB: a file path (SQLite, default ./hub.db) or a
postgres:// URL.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	def := os.Getenv("HUB_DB")
	if def == "" {
		def = "hub.db"
	}
	root.PersistentFlags().StringVar(&a.db, "db", def, "database: a SQLite file path or a postgres:// URL (env HUB_DB)")
	root.PersistentFlags().StringVar(&a.config, "config", "", "hub configuration file: connectors, schedules, intake (env HUB_CONFIG, default ./hub.yaml)")
	root.PersistentPreRun = func(cmd *cobra.Command, _ []string) {
		// The collector was held off during package initialisation
		// (internal/startgc). A command that tunes it itself (trace,
		// recall: bulkgc.Tune, first thing) takes it over as it is: a
		// collection started here would find the 4 MB initialisation
		// left and collect it for nothing.
		if cmd.Annotations[tunesGC] == "" {
			startgc.Done()
		}
		a.dbSet = os.Getenv("HUB_DB") != "" || cmd.Flags().Changed("db")
		// Every change a command makes is recorded in the audit trail
		// under the operating-system user who ran it (hub serve records
		// each request's own actor).
		cmd.SetContext(core.WithActor(cmd.Context(), osActor()))
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(
		a.migrateCommand(),
		a.ingestCommand(),
		a.traceCommand(),
		a.recallCommand(),
		a.lotCommand(),
		a.gapsCommand(),
		a.gapCommand(),
		a.confirmCommand(),
		a.errorsCommand(),
		a.genCommand(),
		a.demoCommand(),
		a.mappingCommand(),
		a.remapCommand(),
		a.syncCommand(),
		a.runsCommand(),
		a.cursorCommand(),
		a.connectorsCommand(),
		a.connectorCommand(),
		a.configCommand(),
		a.pluginCommand(),
		a.serveCommand(),
		a.balanceCommand(),
		a.reportCommand(),
		a.exportCommand(),
		a.userCommand(),
		a.tokenCommand(),
		a.outboxCommand(),
		a.actionCommand(),
		a.auditCommand(),
		a.archiveCommand(),
	)
	root.AddCommand(a.holdCommands()...)
	root.SetHelpCommand(helpCommand(root))
	strictGroups(root)
	return root
}

// strictGroups makes every command that only groups others (hub itself,
// hub cursor, hub gap, hub mapping, hub trace) refuse an unknown
// subcommand as bad usage (exit 2), at any depth. Left to cobra, a group
// prints its help and succeeds ('hub cursor rest sap' exit 0), and an
// unknown command of the root fails as an internal error (exit 1). A
// group given no subcommand still prints its help and succeeds.
func strictGroups(c *cobra.Command) {
	for _, sub := range c.Commands() {
		strictGroups(sub)
	}
	if !c.HasSubCommands() {
		return
	}
	if c.Runnable() {
		// A command that runs and also has subcommands (hub errors,
		// hub errors resolve): an argument it refuses is an unknown
		// subcommand, named as such.
		orig := c.Args
		c.Args = func(cmd *cobra.Command, args []string) error {
			if orig == nil {
				return nil
			}
			if err := orig(cmd, args); err != nil && len(args) > 0 {
				return unknownCommand(cmd, args)
			} else if err != nil {
				return err
			}
			return nil
		}
		return
	}
	c.Args = unknownCommand
	c.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
}

// unknownCommand refuses any argument of a group: cobra finds known
// subcommands before it, so what is left is not one.
func unknownCommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	return usageError{fmt.Errorf("unknown command %q for %q%s", args[0], cmd.CommandPath(), didYouMean(cmd, args[0]))}
}

// didYouMean names the subcommands of cmd close to name (cobra's
// suggestions: within two edits, or a prefix), as " (did you mean …?)".
func didYouMean(cmd *cobra.Command, name string) string {
	cmd.SuggestionsMinimumDistance = 2
	s := cmd.SuggestionsFor(name)
	if len(s) == 0 {
		return ""
	}
	q := make([]string, len(s))
	for i, n := range s {
		q[i] = strconv.Quote(n)
	}
	return " (did you mean " + strings.Join(q, " or ") + "?)"
}

// helpCommand is 'hub help [COMMAND...]': cobra's, except that an unknown
// topic is bad usage (exit 2) like the unknown command it names.
func helpCommand(root *cobra.Command) *cobra.Command {
	return &cobra.Command{
		Use:   "help [COMMAND...]",
		Short: "Help about any command",
		RunE: func(_ *cobra.Command, args []string) error {
			c := root
			for _, name := range args {
				next := findSub(c, name)
				if next == nil {
					return usageError{fmt.Errorf("unknown command %q for %q%s", name, c.CommandPath(), didYouMean(c, name))}
				}
				c = next
			}
			return c.Help()
		},
	}
}

// findSub is the subcommand of c called name or one of its aliases.
func findSub(c *cobra.Command, name string) *cobra.Command {
	for _, sub := range c.Commands() {
		if sub.Name() == name || sub.HasAlias(name) {
			return sub
		}
	}
	return nil
}

// openStoreFor opens the store named by --db, applying pending
// migrations: oneShot for a command that runs and exits (its reads are
// set up for statements run once), not for hub serve.
func (a *app) openStoreFor(ctx context.Context, oneShot bool) (core.Store, error) {
	if strings.HasPrefix(a.db, "postgres://") || strings.HasPrefix(a.db, "postgresql://") {
		return openPostgres(ctx, a.db, oneShot)
	}
	if a.reads {
		return sqlite.OpenReads(ctx, a.db)
	}
	return sqlite.Open(ctx, a.db)
}

// withStore runs fn with a store opened for one command and closes it
// after.
func (a *app) withStore(ctx context.Context, fn func(core.Store) error) error {
	return a.withStoreFor(ctx, true, fn)
}

// withStoreFor is withStore, oneShot or not (openStoreFor).
func (a *app) withStoreFor(ctx context.Context, oneShot bool, fn func(core.Store) error) error {
	s, err := a.openStoreFor(ctx, oneShot)
	if err != nil {
		return err
	}
	defer s.Close()
	return fn(s)
}

// exactArgs is cobra.ExactArgs with a usage error that says what is wanted.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageError{fmt.Errorf("%s wants %s", cmd.CommandPath(), what)}
		}
		return nil
	}
}

// maxArgs is cobra.MaximumNArgs with a usage error (exit 2).
func maxArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) > n {
			return usageError{fmt.Errorf("%s wants %s", cmd.CommandPath(), what)}
		}
		return nil
	}
}
