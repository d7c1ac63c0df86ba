// Package typed is FastRpc's optional typed layer: handlers and calls that
// take and return Go values, serialized by a codec chosen per method, over
// the same raw byte path (package master and slave) as everything else.
//
// On the master, Register wraps a func(ctx, Req) (Resp, error) into a raw
// handler and advertises its codec in the capabilities:
//
//	typed.Register(m, "add", codec.Msgpack, func(ctx context.Context, r AddReq) (AddResp, error) {
//		return AddResp{Sum: r.A + r.B}, nil
//	})
//
// On the slave, Call uses the codec the master advertises for the method
// (one capabilities call the first time, cached afterwards):
//
//	sum, err := typed.Call[AddReq, AddResp](ctx, s, "add", AddReq{A: 1, B: 2})
//
// Registrar and Caller are small interfaces that *master.Master and
// *fastrpc.RpcMaster, and *slave.Slave and *fastrpc.RpcSlave, satisfy, so
// code started from the quick start adopts typed calls without changing
// its set-up. NewMethod makes a stub whose Call skips the lookup, for hot
// paths. Several methods, each with its own codec, live on one master.
//
// # Errors
//
// A handler's error reaches the caller as the raw path's
// *slave.RemoteError (errors.Is(err, slave.ErrApplication) holds), wrapped
// in a *Error carrying its code and message; a handler returns a code with
// Errorf, master.WithCode, or any error with a Code() uint32 method. A request the master
// cannot decode is answered with CodeBadRequest; a response the slave
// cannot decode is a *DecodeError; both name the method, the codec and the
// Go type. An unknown method (slave.ErrUnknownMethod), an advertised
// encoding with no codec on the slave (ErrNoCodec) and a WithCodec that
// contradicts the advertised codec (ErrCodecMismatch) fail before
// anything is sent.
//
// # Cost
//
// Payload buffers are pooled on both sides and values cross the codecs'
// any-typed API in pooled boxes, so with msgpack or cbor a call allocates
// only what decoding its values needs (for example, one string per string
// field on each side); see bench_test.go. A codec's decoded values never
// alias its input, so no pooled buffer is ever visible to handlers or
// callers.
//
// # What it is not
//
// It adds no wire format: a typed call is an ordinary call whose payload
// happens to be, say, msgpack, and any client that produces the same bytes
// can call a typed method (and a typed Call can call any method whose
// payloads it can encode). It does not stream: requests and responses are
// held in memory whole, so for bulk data use the raw CallStream and
// IOOperator. There is no code generation and no schema negotiation beyond
// the encoding names in the capabilities.
package typed
