// Package proto holds the versioned gRPC protocol between the lothub hub and
// connector plugins: lothub/connector/v1/connector.proto and the Go code
// generated from it (package connectorv1).
//
// Only the adapters in package sdk import the generated code; hubs and
// connectors see the Go types of package sdk. Regenerate with
//
//	go generate ./sdk/...
//
// which runs buf with protoc-gen-go and protoc-gen-go-grpc as Go tools
// (go.mod tool directives): no protoc binary, no network.
package proto

//go:generate go tool buf generate
