// Package core holds lothub's domain: canonical traceability events, lot
// identity, the genealogy rules that turn events into a lot graph, and the
// trace, recall, lot-status and gap queries every interface (CLI, HTTP,
// reports) calls.
//
// Every answer (genealogy, traces, recalls, lot status, holds, gaps) is a
// function of the events stored: their times, ids and current versions,
// never of the batches they came in or the order those arrived in. Where
// the hub derives events itself (lots born on hold, hold.go) it derives
// them from the others and withdraws what a late event no longer
// justifies. The conformance suite checks it (AnswersIndependentOfChunking).
//
// core does no I/O except through the Store interface; the stores live in
// core/store/sqlite and core/store/postgres and must both pass the
// conformance suite in core/store/storetest.
package core
