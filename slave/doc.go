// Package slave is the FastRpc client: it calls a master's methods by name
// over a pool of persistent connections.
//
// Call and CallAppend send a byte slice and read the response into memory
// (a new slice, or appended to the caller's, allocation-free: strconv's
// Format and Append pair); CallStream streams both directions through an
// io.Reader and an io.Writer, for payloads of any size. Capabilities lists
// what the master serves. Deadlines on the context bound the call and
// travel to the master. Failures are sentinel errors and *RemoteError,
// usable with errors.Is and errors.As; ErrUnavailable says a request was
// not sent and is safe to send again.
//
// The pool is a poolimpl.Pool (poolimpl.Mutex unless Config.Pool says
// otherwise). Idle connections the master closed are found and replaced
// before use. A call that failed mid-flight is never re-sent by the slave;
// the one exception is a call the master answered "not processed" (it was
// shutting down, or closing the idle connection the request crossed),
// which is sent again on another connection unless its body was a stream.
// Middleware wraps every call, as the master's wraps every handler.
//
// Each connection speaks the highest protocol version both sides know
// (package frame; Config.MaxProtocolVersion caps it). Over version 2 a
// call sends the metadata of its context (package metadata), a response
// naming another call is refused as a protocol violation, and a call whose
// context ends while it waits sends a cancel frame and returns at once:
// the connection goes back to the pool once the master has answered.
//
// This package speaks only the raw byte path; typed calls are package
// typed, the wire format package frame.
package slave
