package sdk

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	pb "github.com/lothub/lothub/sdk/proto/lothub/connector/v1"
)

// The go-plugin handshake. ProtocolVersion changes only with an
// incompatible protocol (a new protobuf package, lothub.connector.v2); the
// hub then serves both versions for a deprecation period. The magic cookie
// only stops the binary from being started by hand by mistake; it is not a
// secret and not a security measure (AutoMTLS is).
const (
	ProtocolVersion  = 1
	MagicCookieKey   = "LOTHUB_CONNECTOR_PLUGIN"
	MagicCookieValue = "9c1e5b7a4f2d4e0b8a6c3d1f0e2b4a68"
)

// PluginName is the name under which a connector is served in go-plugin's
// plugin set.
const PluginName = "connector"

// Handshake returns the go-plugin handshake both sides must agree on.
func Handshake() plugin.HandshakeConfig {
	return plugin.HandshakeConfig{
		ProtocolVersion:  ProtocolVersion,
		MagicCookieKey:   MagicCookieKey,
		MagicCookieValue: MagicCookieValue,
	}
}

// PluginSet returns the go-plugin plugin set that serves c. Serve and
// Launch use it; it is exported for hosts that build their own
// plugin.ClientConfig and for test kits (sdktest runs it through
// plugin.TestPluginGRPCConn). On the host side c is nil, and dispensing
// PluginName yields a value implementing Connector and WebhookHandler.
func PluginSet(c Connector) plugin.PluginSet {
	return plugin.PluginSet{PluginName: &connectorPlugin{impl: c}}
}

// connectorPlugin binds a Connector to go-plugin's gRPC transport.
type connectorPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	impl Connector
}

func (p *connectorPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	if p.impl == nil {
		return errors.New("sdk: no connector to serve")
	}
	pb.RegisterConnectorServiceServer(s, newGRPCServer(p.impl, slog.Default()))
	return nil
}

func (p *connectorPlugin) GRPCClient(ctx context.Context, _ *plugin.GRPCBroker, conn *grpc.ClientConn) (any, error) {
	return newGRPCClient(ctx, conn)
}

// Serve runs c as a connector plugin: the only call a plugin's main needs.
//
//	func main() { sdk.Serve(New()) }
//
// It validates c's spec, sends log/slog output (slog.Default) to the hub in
// go-plugin's format, and serves gRPC until the hub closes the connection or
// kills the process; then it exits the process. Started by hand rather than
// by the hub, it says so and exits with status 1.
func Serve(c Connector) {
	// go-plugin replaces os.Stderr with a pipe once serving; logs must go
	// to the real one, which the hub reads line by line.
	stderr := os.Stderr
	slog.SetDefault(slog.New(newPluginLogHandler(stderr, slog.LevelDebug)))
	if err := c.Spec().Validate(); err != nil {
		fmt.Fprintf(stderr, "lothub connector: invalid spec, refusing to serve:\n%v\n", err)
		os.Exit(1)
	}
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: Handshake(),
		Plugins:         PluginSet(c),
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			opts = append(opts, grpc.MaxRecvMsgSize(MaxMessageSize), grpc.MaxSendMsgSize(MaxMessageSize))
			return plugin.DefaultGRPCServer(opts)
		},
	})
}
