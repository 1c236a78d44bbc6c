// Command connector-example is an out-of-tree lothub connector, built as
// its own executable: it reads the scans an MES exports as JSON Lines files
// into a directory, and accepts scans POSTed by scanners (HMAC-signed
// webhooks).
//
// Build and install it as a plugin the hub finds:
//
//	go build -o plugins/lothub-connector-mes-scans ./examples/connector-example
//
// Started by hand, it only says that it is a plugin. See docs/connectors.md.
package main

import "github.com/lothub/lothub/sdk"

func main() { sdk.Serve(New()) }
