package sdk

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/lothub/lothub/sdk/proto/lothub/connector/v1"
)

// MaxMessageSize bounds one gRPC message between hub and plugin: a Read
// batch or a webhook request. Ask for fewer records when a batch of large
// documents would exceed it.
const MaxMessageSize = 64 << 20

// grpcServer serves a Connector in the plugin process. It is where the SDK
// validates configuration before the connector sees it, turns panics into
// errors, and strips secrets from error text.
type grpcServer struct {
	pb.UnimplementedConnectorServiceServer
	c    Connector
	spec Spec
	log  *slog.Logger
}

func newGRPCServer(c Connector, log *slog.Logger) *grpcServer {
	if log == nil {
		log = slog.Default()
	}
	return &grpcServer{c: c, spec: c.Spec(), log: log}
}

// config parses raw against the connector's spec. On failure it returns a
// status error; ParseConfig never quotes secret values, but redact anyway.
func (s *grpcServer) config(raw map[string]string) (Config, error) {
	cfg, err := ParseConfig(s.spec, raw)
	if err != nil {
		return Config{}, toStatus(err, func(m string) string { return redactValues(s.spec.Params, raw, m) })
	}
	return cfg, nil
}

// recover turns a panic in the connector into an error, so that one bad
// record or response does not kill the plugin process.
func (s *grpcServer) recover(call string, redact func(string) string, errp *error) {
	if r := recover(); r != nil {
		s.log.Error("connector panicked", "call", call, "panic", redact(fmt.Sprint(r)), "stack", string(debug.Stack()))
		*errp = toStatus(fmt.Errorf("connector panicked in %s: %v (a bug in the connector)", call, r), redact)
	}
}

func (s *grpcServer) Spec(ctx context.Context, _ *pb.SpecRequest) (*pb.SpecResponse, error) {
	_, webhook := s.c.(WebhookHandler)
	return &pb.SpecResponse{Spec: specToPB(s.spec), Webhook: webhook}, nil
}

func (s *grpcServer) Check(ctx context.Context, req *pb.CheckRequest) (_ *pb.CheckResponse, err error) {
	cfg, err := s.config(req.GetConfig())
	if err != nil {
		return nil, err
	}
	defer s.recover("Check", cfg.Redact, &err)
	if err := s.c.Check(ctx, cfg); err != nil {
		return nil, toStatus(err, cfg.Redact)
	}
	return &pb.CheckResponse{}, nil
}

func (s *grpcServer) Read(ctx context.Context, req *pb.ReadRequest) (_ *pb.ReadResponse, err error) {
	if req.GetMax() < 1 {
		return nil, status.Errorf(codes.InvalidArgument, "read: max is %d, want at least 1", req.GetMax())
	}
	cfg, err := s.config(req.GetConfig())
	if err != nil {
		return nil, err
	}
	defer s.recover("Read", cfg.Redact, &err)
	res, err := s.c.Read(ctx, cfg, req.GetPosition(), int(req.GetMax()))
	if err != nil {
		return nil, toStatus(err, cfg.Redact)
	}
	resp := &pb.ReadResponse{Records: recordsToPB(res.Records), Next: res.Next, More: res.More}
	if n := proto.Size(resp); n > MaxMessageSize {
		return nil, toStatus(fmt.Errorf("read: a batch of %d records is %d bytes, over the %d-byte message limit; ask for fewer records", len(res.Records), n, MaxMessageSize), cfg.Redact)
	}
	return resp, nil
}

func (s *grpcServer) Webhook(ctx context.Context, req *pb.WebhookRequest) (_ *pb.WebhookResponse, err error) {
	wh, ok := s.c.(WebhookHandler)
	if !ok {
		return nil, toStatus(fmt.Errorf("connector %s does not accept webhooks: %w", s.spec.Name, errors.ErrUnsupported), func(m string) string { return m })
	}
	cfg, err := s.config(req.GetConfig())
	if err != nil {
		return nil, err
	}
	defer s.recover("Webhook", cfg.Redact, &err)
	res, err := wh.Webhook(ctx, cfg, WebhookRequest{
		Method:  req.GetMethod(),
		Headers: valuesFromPB(req.GetHeaders()),
		Query:   valuesFromPB(req.GetQuery()),
		Body:    req.GetBody(),
	})
	if err != nil {
		return nil, toStatus(err, cfg.Redact)
	}
	return &pb.WebhookResponse{Records: recordsToPB(res.Records), Status: int32(res.Status), Body: res.Body}, nil
}

func (s *grpcServer) Ack(ctx context.Context, req *pb.AckRequest) (_ *pb.AckResponse, err error) {
	a, ok := s.c.(Acknowledger)
	if !ok {
		return nil, status.Errorf(codes.Unimplemented, "connector %s acts on nothing after a commit", s.spec.Name)
	}
	cfg, err := s.config(req.GetConfig())
	if err != nil {
		return nil, err
	}
	defer s.recover("Ack", cfg.Redact, &err)
	if err := a.Ack(ctx, cfg, req.GetPosition()); err != nil {
		return nil, toStatus(err, cfg.Redact)
	}
	return &pb.AckResponse{}, nil
}

func specToPB(s Spec) *pb.Spec {
	out := &pb.Spec{Name: s.Name, Version: s.Version, Description: s.Description, Kinds: s.Kinds}
	for _, p := range s.Params {
		out.Params = append(out.Params, &pb.Param{
			Name: p.Name, Type: string(p.Type), Default: p.Default,
			Required: p.Required, Secret: p.Secret, Description: p.Description,
		})
	}
	return out
}

func specFromPB(s *pb.Spec) Spec {
	out := Spec{Name: s.GetName(), Version: s.GetVersion(), Description: s.GetDescription(), Kinds: s.GetKinds()}
	for _, p := range s.GetParams() {
		out.Params = append(out.Params, Param{
			Name: p.GetName(), Type: ParamType(p.GetType()), Default: p.GetDefault(),
			Required: p.GetRequired(), Secret: p.GetSecret(), Description: p.GetDescription(),
		})
	}
	return out
}

func recordsToPB(rs []Record) []*pb.Record {
	out := make([]*pb.Record, len(rs))
	for i, r := range rs {
		out[i] = &pb.Record{Kind: r.Kind, Id: r.ID, Payload: r.Payload, Position: r.Position, Deletes: r.Deletes}
		if !r.Time.IsZero() {
			out[i].Time = timestamppb.New(r.Time)
		}
	}
	return out
}

func recordsFromPB(rs []*pb.Record) []Record {
	out := make([]Record, len(rs))
	for i, r := range rs {
		out[i] = Record{Kind: r.GetKind(), ID: r.GetId(), Payload: r.GetPayload(), Position: r.GetPosition(), Deletes: r.GetDeletes()}
		if r.GetTime() != nil {
			out[i].Time = r.GetTime().AsTime()
		}
	}
	return out
}

func valuesToPB(m map[string][]string) map[string]*pb.Values {
	if m == nil {
		return nil
	}
	out := make(map[string]*pb.Values, len(m))
	for k, v := range m {
		out[k] = &pb.Values{Values: v}
	}
	return out
}

func valuesFromPB(m map[string]*pb.Values) map[string][]string {
	out := make(map[string][]string, len(m))
	for k, v := range m {
		out[k] = v.GetValues()
	}
	return out
}
