// Package epcis captures GS1 EPCIS 2.0 documents (JSON / JSON-LD) into
// lothub: it validates a document against GS1's JSON schema (package
// epcis/schema), gives every event its identity (its eventID, or the CBV 2.0
// event hash when it has none), and maps each event to canonical events
// (docs/epcis.md says what every event type means for the genealogy).
//
// It does no I/O of its own: the caller reads the document and hands the
// records Capture returns to core.Ingester, which archives every EPCIS event
// as it came (the raw archive, source "epcis") with the canonical events it
// made, in one transaction.
package epcis
