// Package fake holds fake SAP systems for the sap connector's tests: S4, an
// S/4HANA serving API_MATERIAL_DOCUMENT_SRV in OData v2 JSON, and B1, a
// Business One Service Layer, both on httptest servers speaking the real
// wire formats, with faults to inject; and the small plants they serve.
package fake
