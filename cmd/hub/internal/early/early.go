// Package early finds, before the hub's packages are initialised, the
// store a command-line trace or recall will open, so that opening it can
// start at once and overlap the rest of the process's start (see the
// packages under it, each imported for its initialiser alone).
package early

import (
	"os"
	"strings"
)

// Store returns the store that the command line args (without the
// program name) and the environment name, when the command is one that
// opens it first thing to read (hub trace, hub recall) and the store is
// given by --db or $HUB_DB. Anything it does not understand (a flag
// before the command, help) gives false: the command then opens its
// store as it always does.
func Store(args []string, getenv func(string) string) (string, bool) {
	db, dbSet, command := "", false, ""
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			i = len(args)
		case a == "--db" || a == "--config":
			if i+1 >= len(args) {
				return "", false
			}
			if a == "--db" {
				db, dbSet = args[i+1], true
			}
			i++
		case strings.HasPrefix(a, "--db="):
			db, dbSet = a[len("--db="):], true
		case strings.HasPrefix(a, "--config="):
		case a == "-h" || a == "--help" || a == "help":
			return "", false
		case strings.HasPrefix(a, "-"):
			if command == "" {
				return "", false // a flag this does not know, before the command
			}
		case command == "":
			command = a
		}
	}
	if command != "trace" && command != "recall" {
		return "", false
	}
	if !dbSet {
		db = getenv("HUB_DB")
	}
	return db, db != ""
}

// Postgres reports whether db names a PostgreSQL store.
func Postgres(db string) bool {
	return strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://")
}

// Args is os.Args without the program name.
func Args() []string {
	if len(os.Args) < 2 {
		return nil
	}
	return os.Args[1:]
}

// A TraceCall is a command-line trace or recall from one lot whose answer
// does not depend on anything but the store: hub trace forward|backward
// ITEM LOT or hub recall ITEM LOT, with no flag but --db and --json.
type TraceCall struct {
	Command string // "forward", "backward" or "recall"
	Item    string
	Lot     string
}

// Trace returns the trace or recall the command line args (without the
// program name) ask for, when it is a TraceCall; anything else (another
// flag, a selector, --summary, --as-of, --config, help, "--") gives
// false, and the command runs as it always does.
func Trace(args []string) (TraceCall, bool) {
	var pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--db":
			if i+1 >= len(args) {
				return TraceCall{}, false
			}
			i++
		case strings.HasPrefix(a, "--db="), a == "--json":
		case strings.HasPrefix(a, "-"):
			return TraceCall{}, false
		default:
			pos = append(pos, a)
		}
	}
	switch {
	case len(pos) == 4 && pos[0] == "trace" && (pos[1] == "forward" || pos[1] == "backward"):
		return TraceCall{Command: pos[1], Item: pos[2], Lot: pos[3]}, true
	case len(pos) == 3 && pos[0] == "recall":
		return TraceCall{Command: "recall", Item: pos[1], Lot: pos[2]}, true
	}
	return TraceCall{}, false
}
