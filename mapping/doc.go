// Package mapping is lothub's declarative mapping language: YAML files that
// turn source records (an SAP material document item, a NetSuite
// transaction line, a CSV row) into canonical events (core.Event).
//
// A mapping is compiled once (Load, Compile): the YAML is decoded strictly,
// every expression is compiled and type-checked with expr
// (github.com/expr-lang/expr), and every problem is reported at its
// file:line:col. Map then turns records into events, safely from many
// goroutines; a record it cannot map is a *RecordError for the hub to
// quarantine. LoadTests and RunTests run a mapping's test file, and
// ReadRecords reads records from JSON Lines, JSON or CSV files.
//
// The package is pure: no store, no network, and no file I/O but reading
// the mapping, test and record files it is handed. It does not set
// Event.Source; the hub does. docs/mapping.md is the user's guide.
package mapping
