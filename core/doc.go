// Package core holds lothub's domain: canonical traceability events, lot
// identity, the genealogy rules that turn events into a lot graph, and the
// trace, recall, lot-status and gap queries every interface (CLI, HTTP,
// reports) calls.
//
// core does no I/O except through the Store interface; the stores live in
// core/store/sqlite and core/store/postgres and must both pass the
// conformance suite in core/store/storetest.
package core
