// Package outbox delivers the actions events set off (hub.yaml actions:)
// to the systems they write to: SAP S/4HANA and Business One, NetSuite,
// Business Central, a file for an API-less ERP, any HTTP endpoint.
//
// Planner decides, inside the ingest transaction, which actions an event
// sets off (core.Actions); the store keeps them (core.OutboxStore). Worker
// claims due actions, delivers them and records the outcome: delivered
// with the ERP's document number, failed and retried with backoff (429,
// 5xx, timeouts, honouring Retry-After), or dead with the ERP's own
// message (a permanent 4xx). Before it sends an action again after an
// attempt whose outcome it does not know, it asks the ERP whether the
// document exists, by the idempotency key each action writes into it
// (docs/actions.md gives the exactly-once argument).
//
// The package does no genealogy and never writes events; it reads the
// configuration and talks to the store only through core.Store.
package outbox
