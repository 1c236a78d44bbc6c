package main

import (
	"context"
	"fmt"
	"github.com/lothub/lothub/access"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/lothub/lothub/config"
	"github.com/lothub/lothub/connectors/filedrop"
	"github.com/lothub/lothub/connectors/filedrop/sftptest"
	"github.com/lothub/lothub/core"
	demoplant "github.com/lothub/lothub/examples/demo-plant"
	"github.com/lothub/lothub/runner"
)

// demoConnector is the connector's name in the demo configuration: runs,
// cursor and archived records carry it.
const demoConnector = "demo-plant"

func (a *app) demoCommand() *cobra.Command {
	var plantDir, listen string
	var days int
	var serve bool
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run lothub's main job on a demo plant: CSV exports over SFTP, synced into the database, then a recall and a backward trace",
		Long: `Creates a demo plant — a small bakery's receipts, work-order consumption and
output, quality steps and shipments, as CSV files in the filedrop connector's
canonical layout — serves them from an SFTP server started on 127.0.0.1 (a
fresh host key, pinned in the connector's configuration, and a fresh key
pair), syncs them through the filedrop connector plugin and its default
mapping into the database (--db, default ./hub.db), and prints the recall of
a contaminated raw lot and a backward trace from a customer complaint.

The files go to --plant: examples/demo-plant when run in the repository,
./demo-plant otherwise. Run it again and nothing is read twice: the
connector's position, stored with the events, remembers every file.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.demo(cmd.Context(), plantDir, days); err != nil {
				return err
			}
			if !serve {
				return nil
			}
			return a.demoServe(cmd.Context(), listen)
		},
	}
	cmd.Flags().StringVar(&plantDir, "plant", "", "folder to write the demo plant's CSV files to (default examples/demo-plant in the repository, else ./demo-plant)")
	cmd.Flags().IntVar(&days, "days", 10, "production days of the demo plant")
	cmd.Flags().BoolVar(&serve, "serve", false, "then serve the web application on the demo's database (as hub serve does), printing its address and a demo sign-in")
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8080", "with --serve: the address to serve on")
	return cmd
}

// demoServe serves the hub on the demo's database with ./hub.yaml (the
// configuration the demo just left, or the one that was there), and
// prints where to sign in.
func (a *app) demoServe(ctx context.Context, listen string) error {
	h, _, err := a.configOrDefaults()
	if err != nil {
		return err
	}
	if err := h.Resolve(); err != nil {
		return err
	}
	h.Intake.Listen = listen
	fmt.Fprintln(a.stdout)
	return a.serve(ctx, h, true, func(s core.Store, url string) error {
		login, err := demoLogin(ctx, s)
		if err != nil {
			return fmt.Errorf("the demo's sign-in: %w", err)
		}
		fmt.Fprintf(a.stdout, "\nOpen %s/ in a browser and sign in as %s.\n", url, login)
		fmt.Fprintf(a.stdout, "Search for lot %s, open its graph and its recall. Ctrl-C stops the hub.\n", demoplant.Generate(demoplant.Config{}).Contaminated.Lot)
		return nil
	})
}

// demoLogin makes the demo's user, demo, a quality manager (hub user add
// demo --role quality), with a new random password each time the demo
// serves, and says how to sign in.
func demoLogin(ctx context.Context, s core.Store) (string, error) {
	pw := access.RandomPassword()
	us := &access.Users{Store: s}
	_, err := us.Add(ctx, "demo", "Demo quality manager", core.RoleQuality, pw)
	if core.ErrorCode(err) == core.ECONFLICT {
		err = us.SetPassword(ctx, "demo", pw)
	}
	if err != nil {
		return "", err
	}
	return "user demo, password " + pw + " (role quality; a new password each time the demo serves)", nil
}

func defaultPlantDir() string {
	if info, err := os.Stat(filepath.Join("examples", "demo-plant")); err == nil && info.IsDir() {
		return filepath.Join("examples", "demo-plant")
	}
	return "demo-plant"
}

func (a *app) demo(ctx context.Context, dir string, days int) error {
	if days < 1 || days > 3650 {
		return usageError{fmt.Errorf("--days %d: want 1 to 3650", days)}
	}
	if dir == "" {
		dir = defaultPlantDir()
	}
	plant := demoplant.Generate(demoplant.Config{Days: days})
	if err := plant.Write(dir); err != nil {
		return err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("demo plant folder: %w", err)
	}

	srv, err := sftptest.Start(sftptest.Options{Root: abs})
	if err != nil {
		return fmt.Errorf("start the demo SFTP server: %w", err)
	}
	defer srv.Close()
	state, err := demoStateDir()
	if err != nil {
		return err
	}
	h, err := writeDemoConfig(state, srv)
	if err != nil {
		return err
	}

	fmt.Fprintf(a.stdout, "lothub demo: a small bakery, %d production days\n\n", days)
	fmt.Fprintf(a.stdout, "  %d rows in %d CSV files written to %s\n", plant.Rows, len(plant.Files), dir)
	fmt.Fprintf(a.stdout, "  served by an SFTP server on %s (host key %s, pinned in the connector's configuration %s)\n",
		srv.Addr, srv.Fingerprint(), h.File)

	return a.withStore(ctx, func(s core.Store) error {
		logs := slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		r := &runner.Runner{Store: s, Config: h, Plugins: a.plugins(h), Logger: logs}
		run, err := r.Sync(ctx, demoConnector, "demo")
		if err != nil {
			return fmt.Errorf("sync the demo plant: %w", err)
		}
		fmt.Fprintf(a.stdout, "  synced by the filedrop connector plugin into %s: run %d %s, %d rows read, %d events written, %d unchanged, %d quarantined, %s\n",
			a.db, run.ID, run.Status, run.Records, run.Events, run.Unchanged, run.Quarant, run.Ended.Sub(run.Started).Round(time.Millisecond))
		if run.Records == 0 {
			fmt.Fprintln(a.stdout, "  (nothing new: the files were ingested by an earlier demo, and the connector remembers them by name, size, time and content hash)")
		}
		if err := a.demoQuarantine(ctx, s); err != nil {
			return err
		}
		if err := a.leaveDemoConfig(abs); err != nil {
			return err
		}
		return a.demoStory(ctx, s, plant)
	})
}

// demoStateDir is where the demo keeps its configuration, key and
// mapping: a stable place, since quarantine reasons name the mapping file.
func demoStateDir() (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	dir := filepath.Join(base, "lothub", "demo")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("demo configuration folder: %w", err)
	}
	return dir, nil
}

// writeDemoConfig writes the hub configuration of the demo (the
// connector, its key and its mapping) into dir and loads it.
func writeDemoConfig(dir string, srv *sftptest.Server) (*config.Hub, error) {
	files := map[string][]byte{
		"client_key":   srv.ClientKey,
		"mapping.yaml": filedrop.DefaultMapping,
		"hub.yaml": fmt.Appendf(nil, `# Written by hub demo for one run.
connectors:
  - name: %s
    plugin: filedrop
    mapping: mapping.yaml
    batch_size: 200
    timeout: 1m
    max_retry: 1m
    config:
      source: %q
      private_key: ${file:client_key}
      host_key: %q
      kinds: receive=receive*.csv,consume=consume*.csv,produce=produce*.csv,step=step*.csv,ship=ship*.csv,hold=hold*.csv
      # The demo writes each file under a .tmp name and renames it when
      # complete, so waiting for files to stop changing is not needed.
      stable_wait: 0s
`, demoConnector, srv.URL(""), srv.Fingerprint()),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			return nil, fmt.Errorf("demo configuration: %w", err)
		}
	}
	return config.Load(filepath.Join(dir, "hub.yaml"))
}

// Files the demo leaves in the current folder, beside ./hub.db, so that
// hub sync, hub runs and hub serve work right after it.
const (
	demoConfigFile  = "hub.yaml"
	demoMappingFile = "demo-plant-mapping.yaml"
)

// leaveDemoConfig writes ./hub.yaml: the demo's connector, under the same
// name, reading the plant's files from their folder (the demo's SFTP
// server is gone after it), with the filedrop default mapping beside it.
// The connector's position names files by their path below the root, the
// same over SFTP and from the folder, so the next sync reads nothing the
// demo read (a file whose time differs is compared by content hash). No
// secret is in it. An existing file is never overwritten.
func (a *app) leaveDemoConfig(plantDir string) error {
	fmt.Fprintln(a.stdout)
	if fileExists(demoConfigFile) {
		fmt.Fprintf(a.stdout, "  ./%s exists: not overwritten (to sync the demo plant from it, add a connector %s: plugin filedrop, source %s)\n", demoConfigFile, demoConnector, plantDir)
		return nil
	}
	store := ""
	if strings.HasPrefix(a.db, "postgres://") || strings.HasPrefix(a.db, "postgresql://") {
		// A URL may hold a password: it stays on the command line.
		store = "# store: the demo's database was given by --db; give it again (or $HUB_DB).\n"
	} else if db, err := filepath.Abs(a.db); err == nil {
		store = fmt.Sprintf("store: %q\n", db)
	}
	cfg := fmt.Sprintf(`# Written by hub demo: the demo plant's connector, reading its CSV files
# from their folder. Edit it freely; hub demo never overwrites it.
# docs/operations.md describes every key.
%sconnectors:
  - name: %s
    plugin: filedrop
    mapping: %s
    # schedule: "@every 5m"    # uncomment: hub serve syncs the folder on it
    config:
      source: %q
      kinds: receive=receive*.csv,consume=consume*.csv,produce=produce*.csv,step=step*.csv,ship=ship*.csv,hold=hold*.csv
      # The demo writes each file under a .tmp name and renames it when
      # complete: no need to wait for files to stop changing.
      stable_wait: 0s
`, store, demoConnector, demoMappingFile, plantDir)
	if _, err := config.ParseDeferred(demoConfigFile, []byte(cfg)); err != nil {
		return fmt.Errorf("the demo's configuration (a bug): %w", err)
	}
	wrote := []string{demoConfigFile}
	if !fileExists(demoMappingFile) {
		if err := writeNew(demoMappingFile, filedrop.DefaultMapping); err != nil {
			return err
		}
		wrote = append(wrote, demoMappingFile)
	}
	if err := writeNew(demoConfigFile, []byte(cfg)); err != nil {
		return err
	}
	dir, _ := os.Getwd()
	fmt.Fprintf(a.stdout, "  wrote %s in %s: the connector %s reading %s from its folder, so that 'hub sync %s', 'hub runs' and 'hub serve' work now\n",
		strings.Join(wrote, " and "), dir, demoConnector, plantDir, demoConnector)
	return nil
}

// writeNew creates file with b, failing when it exists.
func writeNew(file string, b []byte) error {
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("demo configuration: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("demo configuration: write %s: %w", file, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("demo configuration: write %s: %w", file, err)
	}
	return nil
}

// demoQuarantine shows the demo's rows that went to quarantine.
func (a *app) demoQuarantine(ctx context.Context, s core.Store) error {
	rows, err := s.Quarantined(ctx, core.QuarantineFilter{})
	if err != nil {
		return err
	}
	shown := 0
	for _, q := range rows {
		if q.Source != demoConnector || shown == 3 {
			continue
		}
		if shown == 0 {
			fmt.Fprintln(a.stdout)
		}
		shown++
		fmt.Fprintf(a.stdout, "  quarantined: %s\n", oneLine(q.Reason, 200))
	}
	if shown > 0 {
		fmt.Fprintln(a.stdout, "  (bad rows never stop a file and are never lost: fix the row in the file and drop it again; 'hub errors' lists them)")
	}
	return nil
}

func oneLine(s string, n int) string {
	return truncate(strings.Join(strings.Fields(s), " "), n)
}

// demoStory prints the recall of the contaminated raw lot and the
// backward trace from the complaint, then what to try next.
func (a *app) demoStory(ctx context.Context, s core.Store, p *demoplant.Plant) error {
	q := core.Queries{Store: s}
	bad := core.LotRef{Item: p.Contaminated.Item, Lot: p.Contaminated.Lot}
	fmt.Fprintf(a.stdout, "\n1. %s recalls its lot %s: it was received as %s. What was made from it, and who got it?\n\n",
		p.ContaminatedSupplier, p.SupplierLot, bad)
	res, err := q.Recall(ctx, core.Selector{Lot: &bad})
	if err != nil {
		return err
	}
	printTrace(indent(a.stdout), res, true)

	fmt.Fprintf(a.stdout, "\n2. %s (%s) complains about the %s delivered on sales order %s. Where did it come from?\n\n",
		p.ComplaintCustName, p.ComplaintCustomer, p.ComplaintLot.Item, p.ComplaintOrder)
	back, err := q.Trace(ctx, core.Backward, core.Selector{SalesOrder: p.ComplaintOrder})
	if err != nil {
		return err
	}
	printTrace(indent(a.stdout), back, false)

	db := a.db
	if strings.ContainsAny(db, " \t'\"") {
		db = fmt.Sprintf("%q", db)
	}
	hub := "hub --db " + db
	fmt.Fprintln(a.stdout, "\nTry next (go build -o hub ./cmd/hub, or go run ./cmd/hub):")
	t := &table{w: a.stdout}
	for _, c := range [][2]string{
		{fmt.Sprintf("recall %s %s --json", bad.Item, bad.Lot), "# the recall above, as JSON"},
		{"recall --supplier-lot " + p.SupplierLot, "# the same, from the supplier's lot number"},
		{"trace backward --sales-order " + p.ComplaintOrder, "# the complaint's trace"},
		{fmt.Sprintf("lot %s %s", p.ComplaintLot.Item, p.ComplaintLot.Lot), "# one lot: status, steps, holds, history"},
		{"errors", "# quarantined rows, with file:line"},
		{"runs", "# sync runs"},
		{"gaps", "# breaks in the chain"},
		{"sync " + demoConnector, "# one more sync, from ./" + demoConfigFile + ": nothing new to read"},
		{"serve", "# the HTTP API on 127.0.0.1:8080 (Ctrl-C stops it)"},
	} {
		t.row("  "+hub+" "+c[0], c[1])
	}
	t.flush()
	fmt.Fprintln(a.stdout, "Your own plant's files: docs/connectors/filedrop.md (SFTP user, host key, file patterns, formats).")
	return nil
}

// indent prefixes every line written through it with two spaces.
func indent(w io.Writer) io.Writer { return &indenter{w: w, bol: true} }

type indenter struct {
	w   io.Writer
	bol bool
}

func (in *indenter) Write(p []byte) (int, error) {
	var b []byte
	for _, c := range p {
		if in.bol && c != '\n' {
			b = append(b, ' ', ' ')
		}
		b = append(b, c)
		in.bol = c == '\n'
	}
	if _, err := in.w.Write(b); err != nil {
		return 0, err
	}
	return len(p), nil
}
