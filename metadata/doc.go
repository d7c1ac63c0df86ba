// Package metadata carries key/value pairs with a call, beside its
// payload: an auth token, a trace context or a request ID on the way in,
// a request ID, server timing or a retry hint on the way out. It is
// FastRpc's counterpart of grpc's metadata package and is used the same
// way:
//
//	ctx = metadata.AppendToOutgoingContext(ctx, "x-request-id", id)
//	out, err := s.Call(ctx, "echo", req) // the master's handler sees the pair
//
// A handler reads what came with its call from its context
// (FromIncomingContext) or its IOOperator, and sets what goes back with
// IOOperator.SetResponseMetadata; a caller that wants it passes a place to
// keep it with CaptureResponse.
//
// Metadata travels only over protocol version 2 (see package frame): a
// slave refuses to send a call with metadata to a master that speaks only
// version 1, and a master drops response metadata for a version 1 slave,
// which cannot receive it. Keys are lower-case ASCII (Pairs lower-cases
// them); values are any bytes; a key may repeat. The limits of
// frame.MaxMetadataSize and frame.MaxMetadataPairs apply to each
// direction of a call, and are checked before anything is sent or
// allocated.
//
// It is not a place for large data (put that in the payload), and it does
// not interpret any key: modules such as package middleware's token
// authentication give keys their meaning.
package metadata
