package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/lothub/lothub/internal/jsonobject"
	pb "github.com/lothub/lothub/sdk/proto/lothub/connector/v1"
)

// DefaultCallTimeout bounds a call to a plugin whose context has no
// deadline, so that a hung plugin cannot hang the hub.
const DefaultCallTimeout = 5 * time.Minute

// specTimeout bounds the Spec call made when the connection opens.
const specTimeout = 30 * time.Second

// grpcClient is the hub's side of the connection: a Connector (and
// WebhookHandler) whose methods are calls to the plugin. It checks what the
// plugin sends back, since the hub must not trust a plugin to keep the
// protocol.
type grpcClient struct {
	rpc     pb.ConnectorServiceClient
	spec    Spec
	webhook bool
	// noAck: the plugin answered an Ack with UNIMPLEMENTED, so its
	// connector acts on nothing after a commit; a process does not change
	// its mind, and the hub acknowledges after every batch it commits, on
	// the committing goroutine: the calls after the first are not made.
	noAck atomic.Bool
}

// newGRPCClient asks the plugin for its spec (it never changes during the
// plugin's life) and returns a client that answers Spec from memory.
func newGRPCClient(ctx context.Context, conn grpc.ClientConnInterface) (*grpcClient, error) {
	c := &grpcClient{rpc: pb.NewConnectorServiceClient(conn)}
	ctx, cancel := context.WithTimeout(ctx, specTimeout)
	defer cancel()
	resp, err := c.rpc.Spec(ctx, &pb.SpecRequest{})
	if err != nil {
		err, _ := fromStatus("spec", err)
		return nil, err
	}
	c.spec = specFromPB(resp.GetSpec())
	if err := c.spec.Validate(); err != nil {
		return nil, fmt.Errorf("connector plugin sent an invalid spec: %w", err)
	}
	c.webhook = resp.GetWebhook()
	return c, nil
}

func callContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, DefaultCallTimeout)
}

func (c *grpcClient) Spec() Spec { return c.spec.clone() }

func (c *grpcClient) Check(ctx context.Context, cfg Config) error {
	ctx, cancel := callContext(ctx)
	defer cancel()
	if _, err := c.rpc.Check(ctx, &pb.CheckRequest{Config: cfg.Values()}); err != nil {
		err, _ := fromStatus("check", err)
		return err
	}
	return nil
}

func (c *grpcClient) Read(ctx context.Context, cfg Config, pos Position, max int) (ReadResult, error) {
	if max < 1 {
		return ReadResult{}, fmt.Errorf("connector read: max is %d, want at least 1", max)
	}
	ctx, cancel := callContext(ctx)
	defer cancel()
	resp, err := c.rpc.Read(ctx, &pb.ReadRequest{Config: cfg.Values(), Position: pos, Max: int32(min(max, math.MaxInt32))})
	if err != nil {
		err, _ := fromStatus("read", err)
		return ReadResult{}, err
	}
	res := ReadResult{Records: recordsFromPB(resp.GetRecords()), Next: resp.GetNext(), More: resp.GetMore()}
	if len(res.Records) > max {
		return ReadResult{}, fmt.Errorf("connector %s broke the protocol: read returned %d records, more than the %d asked for", c.spec.Name, len(res.Records), max)
	}
	if len(res.Records) > 0 && len(res.Next) == 0 {
		return ReadResult{}, fmt.Errorf("connector %s broke the protocol: read returned %d records and no next position", c.spec.Name, len(res.Records))
	}
	if err := c.checkRecords(res.Records); err != nil {
		return ReadResult{}, err
	}
	return res, nil
}

func (c *grpcClient) Webhook(ctx context.Context, cfg Config, req WebhookRequest) (WebhookResult, error) {
	if !c.webhook {
		// Do not even send the body: the plugin would refuse it.
		return WebhookResult{}, fmt.Errorf("connector %s does not accept webhooks: %w", c.spec.Name, errors.ErrUnsupported)
	}
	ctx, cancel := callContext(ctx)
	defer cancel()
	resp, err := c.rpc.Webhook(ctx, &pb.WebhookRequest{
		Config:  cfg.Values(),
		Method:  req.Method,
		Headers: valuesToPB(req.Headers),
		Query:   valuesToPB(req.Query),
		Body:    req.Body,
	})
	if err != nil {
		err, _ := fromStatus("webhook", err)
		return WebhookResult{}, err
	}
	res := WebhookResult{Records: recordsFromPB(resp.GetRecords()), Status: int(resp.GetStatus()), Body: resp.GetBody()}
	if err := c.checkRecords(res.Records); err != nil {
		return WebhookResult{}, err
	}
	return res, nil
}

// Ack calls the plugin's Ack. A plugin whose connector has no Ack (or that
// was built before the call existed) answers UNIMPLEMENTED: nothing to do.
func (c *grpcClient) Ack(ctx context.Context, cfg Config, pos Position) error {
	if c.noAck.Load() {
		return nil
	}
	ctx, cancel := callContext(ctx)
	defer cancel()
	if _, err := c.rpc.Ack(ctx, &pb.AckRequest{Config: cfg.Values(), Position: pos}); err != nil {
		if status.Code(err) == codes.Unimplemented {
			// Remember it only when the plugin has no Ack at all: the
			// server's own answer (or gRPC's, for a plugin built before
			// the call existed), not a connector's error for one call.
			if _, fromConnector := fromStatus("ack", err); !fromConnector {
				c.noAck.Store(true)
			}
			return nil
		}
		err, _ := fromStatus("ack", err)
		return err
	}
	return nil
}

// checkRecords enforces what the hub relies on: an id, a declared kind and
// a JSON payload on every record. A payload that is a JSON object is
// decoded on the way, in the same pass (Record.Fields): the hub maps its
// fields next.
func (c *grpcClient) checkRecords(rs []Record) error {
	for i := range rs {
		r := &rs[i]
		var problem string
		switch {
		case r.ID == "":
			problem = "has no id"
		case !c.spec.HasKind(r.Kind):
			problem = fmt.Sprintf("has kind %q, which the spec does not declare", r.Kind)
		default:
			if fields, ok := jsonobject.Decode(r.Payload, false); ok {
				r.fields = fields
				continue
			}
			if json.Valid(r.Payload) {
				continue // JSON, not an object, or an object the hub decodes itself
			}
			problem = "has a payload that is not valid JSON"
		}
		return fmt.Errorf("connector %s broke the protocol: record %d (id %q) %s", c.spec.Name, i, r.ID, problem)
	}
	return nil
}
