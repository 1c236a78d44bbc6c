// Command stopplugin is a connector plugin for the hub's lifecycle tests
// (see TestSyncEndsWhenThePluginStopsAfterTheLastRead). It serves `orders`
// work orders of MES scans, in the example connector's record format, and
// when the hub asks it to shut down after the sync's last read, it stops
// itself with SIGSTOP before answering: what a plugin an operator stopped
// (kill -STOP) after the last read looks like to the hub, at the one moment
// that matters. Its process never answers nor exits by itself again.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/lothub/lothub/sdk"
)

type scans struct{}

func (scans) Spec() sdk.Spec {
	return sdk.Spec{
		Name:        "stopper",
		Version:     "0.0.1",
		Description: "Test plugin: MES scans; stops itself (SIGSTOP) when asked to shut down.",
		Params: []sdk.Param{
			{Name: "orders", Type: sdk.TypeInt, Required: true, Description: "Work orders to serve, two scans each."},
		},
		Kinds: []string{"scan"},
	}
}

func (scans) Check(context.Context, sdk.Config) error { return nil }

// Read serves scans 2*orders in order; the position is "scan:N", the
// number of scans read.
func (scans) Read(_ context.Context, cfg sdk.Config, pos sdk.Position, max int) (sdk.ReadResult, error) {
	total := 2 * cfg.Int("orders")
	from := 0
	if len(pos) > 0 {
		n, err := strconv.Atoi(strings.TrimPrefix(string(pos), "scan:"))
		if err != nil || n < 0 || n > total {
			return sdk.ReadResult{}, fmt.Errorf("position %q: %w", pos, sdk.ErrInvalidPosition)
		}
		from = n
	}
	to := min(from+max, total)
	var res sdk.ReadResult
	for i := from; i < to; i++ {
		o, dir, item, lot := i/2, "IN", "RAW", fmt.Sprintf("R-%d", i/2%9)
		if i%2 == 1 {
			dir, item, lot = "OUT", "FG", fmt.Sprintf("FG-%d", o)
		}
		at := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC).Add(time.Duration(o) * time.Minute)
		id := fmt.Sprintf("S%d-%s", o, strings.ToLower(dir))
		payload, err := json.Marshal(map[string]any{"scan_id": id, "time": at.Format(time.RFC3339), "station": "MIX-1",
			"order": fmt.Sprintf("WO-%d", o), "direction": dir, "item": item, "lot": lot, "qty": 5, "uom": "KG"})
		if err != nil {
			return sdk.ReadResult{}, err
		}
		res.Records = append(res.Records, sdk.Record{Kind: "scan", ID: "scan/" + id, Payload: payload, Time: at})
	}
	res.Next = sdk.Position("scan:" + strconv.Itoa(to))
	res.More = to < total
	return res, nil
}

// stopOnShutdown stops the process when go-plugin's Shutdown call arrives,
// and never answers it. The call waits on: SIGSTOP takes effect when the
// kernel gets round to the process's threads, and until then this one
// must not go on to stop the server and exit.
func stopOnShutdown(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if info.FullMethod == "/plugin.GRPCController/Shutdown" {
		syscall.Kill(os.Getpid(), syscall.SIGSTOP)
		for {
			time.Sleep(time.Hour)
		}
	}
	return handler(ctx, req)
}

func main() {
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: sdk.Handshake(),
		Plugins:         sdk.PluginSet(scans{}),
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			return plugin.DefaultGRPCServer(append(opts, grpc.ChainUnaryInterceptor(stopOnShutdown)))
		},
	})
}
