// Package sdk is what an integrator imports to write a lothub connector, and
// what the hub uses to run one.
//
// A connector knows one source (an ERP, an MES, a directory of exports). It
// implements [Connector] — and [WebhookHandler] when the source can push —
// and its main function is one line:
//
//	func main() { sdk.Serve(New()) }
//
// The connector is then an executable (named lothub-connector-NAME) that the
// hub starts as a child process and talks to over gRPC through
// hashicorp/go-plugin: versioned handshake, automatic mutual TLS. The hub
// side is [Launch], which returns a [*Client] implementing the same
// Connector interface.
//
// The SDK stands between the two: it cleans, defaults and validates raw
// configuration against the connector's [Spec] before the connector sees it
// ([ParseConfig]) and reads it into the connector's options with the
// checks every connector needs ([Decoder]: ranges, choices, durations, time
// zones, dates, lists, secrets), keeps secret values out of every string it
// prints, and carries typed errors ([RetryError], [InvalidConfigError],
// [ErrInvalidPosition], [ErrInvalidSignature]) across the process boundary.
//
// Package sdk/sdktest is the conformance kit every connector runs in its own
// tests. The protocol itself (protobuf) lives in sdk/proto; its generated
// types never leave this package's adapters.
//
// A connector reads: it never writes genealogy, events or positions itself.
// The hub stores the positions a connector returns in the same transaction
// as the events made from its records.
package sdk
