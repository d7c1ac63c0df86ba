// Package slave is the FastRpc client: it calls a master's methods by name
// over a pool of persistent connections.
//
// Call, CallAppend (allocation-free with a reused buffer) and CallForBuffer
// send a byte slice and read the response into memory; CallStream streams
// both directions through an io.Reader and an io.Writer, for payloads of
// any size. Deadlines on the context bound the call and travel to the
// master. Failures are sentinel errors and *RemoteError, usable with
// errors.Is and errors.As.
//
// The pool is a conn.Pool (poolimpl.Mutex unless Config.Pool says
// otherwise). Idle connections the master closed are found and replaced
// before use. A call that failed mid-flight is never re-sent by the slave;
// the one exception is a call the master answered "not processed" (it was
// shutting down, or closing the idle connection the request crossed),
// which is sent again on another connection unless its body was a stream.
//
// This package speaks only the raw byte path; the wire format lives in
// package frame.
package slave
