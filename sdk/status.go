package sdk

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/types/known/durationpb"
)

// How typed errors cross the process boundary: a gRPC status whose code
// suits the error, with a google.rpc.ErrorInfo detail naming the kind
// (reason) in our domain, plus RetryInfo or BadRequest where they carry
// data. The client rebuilds the Go error from the details, so errors.Is and
// errors.As work on the hub side as they do in the plugin. A status without
// our ErrorInfo came from the transport (the plugin died, the connection
// broke), not from the connector.
const (
	errorDomain = "connector.lothub.dev"

	reasonRetry            = "RETRY"
	reasonInvalidConfig    = "INVALID_CONFIG"
	reasonInvalidPosition  = "INVALID_POSITION"
	reasonInvalidSignature = "INVALID_SIGNATURE"
	reasonUnsupported      = "UNSUPPORTED"
	reasonConnector        = "CONNECTOR_ERROR"
)

// toStatus turns an error returned by a connector into a gRPC status error.
// redact removes secret values from the text.
func toStatus(err error, redact func(string) string) error {
	msg := redact(err.Error())
	code, reason := codes.Unknown, reasonConnector
	var extra []protoadapt.MessageV1
	var retry *RetryError
	var invalid *InvalidConfigError
	switch {
	case errors.As(err, &invalid):
		code, reason = codes.InvalidArgument, reasonInvalidConfig
		extra = append(extra, &errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
			{Field: invalid.Param, Description: redact(invalid.Reason)},
		}})
	case errors.As(err, &retry):
		code, reason = codes.Unavailable, reasonRetry
		if retry.After > 0 {
			extra = append(extra, &errdetails.RetryInfo{RetryDelay: durationpb.New(retry.After)})
		}
	case errors.Is(err, ErrRetry):
		code, reason = codes.Unavailable, reasonRetry
	case errors.Is(err, ErrInvalidPosition):
		code, reason = codes.FailedPrecondition, reasonInvalidPosition
	case errors.Is(err, ErrInvalidSignature):
		code, reason = codes.Unauthenticated, reasonInvalidSignature
	case errors.Is(err, errors.ErrUnsupported):
		code, reason = codes.Unimplemented, reasonUnsupported
	case errors.Is(err, context.DeadlineExceeded):
		code = codes.DeadlineExceeded
	case errors.Is(err, context.Canceled):
		code = codes.Canceled
	}
	st := status.New(code, msg)
	details := append([]protoadapt.MessageV1{&errdetails.ErrorInfo{Reason: reason, Domain: errorDomain}}, extra...)
	withDetails, derr := st.WithDetails(details...)
	if derr != nil {
		return st.Err()
	}
	return withDetails.Err()
}

// remoteError is an error the connector returned in the plugin: its text as
// the plugin printed it, and the typed error it stood for.
type remoteError struct {
	msg   string
	cause error
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.cause }

// transportError is a failed call the connector did not answer: the
// connection broke or the plugin died.
type transportError struct {
	call string
	code codes.Code
	msg  string
}

func (e *transportError) Error() string {
	return fmt.Sprintf("connector %s: %s: %s", e.call, e.code, e.msg)
}

// fromStatus rebuilds the Go error behind a gRPC status error from call.
// It returns the error and whether the connector (not the transport)
// produced it.
func fromStatus(call string, err error) (error, bool) {
	st, ok := status.FromError(err)
	if !ok {
		return fmt.Errorf("connector %s: %w", call, err), false
	}
	var info *errdetails.ErrorInfo
	var retryInfo *errdetails.RetryInfo
	var bad *errdetails.BadRequest
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			if d.GetDomain() == errorDomain {
				info = d
			}
		case *errdetails.RetryInfo:
			retryInfo = d
		case *errdetails.BadRequest:
			bad = d
		}
	}
	if info == nil {
		switch st.Code() {
		case codes.DeadlineExceeded:
			return fmt.Errorf("connector %s: %w", call, context.DeadlineExceeded), false
		case codes.Canceled:
			return fmt.Errorf("connector %s: %w", call, context.Canceled), false
		}
		return &transportError{call: call, code: st.Code(), msg: st.Message()}, false
	}
	re := &remoteError{msg: st.Message()}
	switch info.GetReason() {
	case reasonRetry:
		r := &RetryError{}
		if retryInfo != nil && retryInfo.GetRetryDelay().IsValid() {
			r.After = retryInfo.GetRetryDelay().AsDuration()
		}
		re.cause = r
	case reasonInvalidConfig:
		ic := &InvalidConfigError{Reason: st.Message()}
		if bad != nil && len(bad.GetFieldViolations()) > 0 {
			ic.Param = bad.GetFieldViolations()[0].GetField()
			ic.Reason = bad.GetFieldViolations()[0].GetDescription()
		}
		re.cause = ic
	case reasonInvalidPosition:
		re.cause = ErrInvalidPosition
	case reasonInvalidSignature:
		re.cause = ErrInvalidSignature
	case reasonUnsupported:
		re.cause = errors.ErrUnsupported
	default:
		switch st.Code() {
		case codes.DeadlineExceeded:
			re.cause = context.DeadlineExceeded
		case codes.Canceled:
			re.cause = context.Canceled
		}
	}
	return re, true
}
