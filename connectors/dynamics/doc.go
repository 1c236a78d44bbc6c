// Package dynamics is the lothub connector for Microsoft Dynamics 365, both
// editions, chosen by the system parameter:
//
//   - fo: Finance & Operations / Supply Chain Management, read through its
//     OData v4 endpoint (https://{env}.operations.dynamics.com/data/{Entity}).
//   - bc: Business Central, read through its API
//     (https://api.businesscentral.dynamics.com/v2.0/{tenant}/{environment}/api/...),
//     which also pushes change notifications (webhooks).
//
// Both authenticate as an application with Microsoft Entra ID client
// credentials (a client secret or a certificate), read incrementally on a
// modified timestamp with an overlap window, follow the server's
// @odata.nextLink paging, and keep everything they need to resume in the
// position: the connector itself holds nothing but a token cache.
//
// What it reads, entity by entity, and why, is in docs/connectors/dynamics.md;
// the default mappings are dynamics-fo.yaml and dynamics-bc.yaml beside this
// file. The package reads only: it never writes to the ERP, except the
// webhook subscription Business Central needs to push notifications.
package dynamics
