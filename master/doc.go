// Package master is the FastRpc server: it registers handlers by name,
// accepts connections, and serves each connection's calls in its own
// goroutine.
//
// Serve serves any net.Listener; ListenAndServe is the TCP shortcut, and
// Run serves the listeners of Config.Listeners (modules from JSON, see
// FromJSON). Shutdown stops gracefully; Close stops at once.
//
// A [Handler] is a func(*IOOperator) error; the IOOperator streams the
// request payload in and the response out, so payloads of any size cross
// with bounded memory. A handler's error reaches the caller as an
// application error, with a code through WithCode. Limits (request size,
// header and idle timeouts, progress of payloads and responses, connection
// count) are on by default, see Config. Each call has its own context,
// cancelled when its slave leaves or cancels the call, when the master
// closes and when the handler returns. Middleware wraps every handler, as
// the slave's wraps every call.
//
// The master speaks protocol versions 1 and 2 (see package frame), each
// connection the highest its slave offers. Over version 2 a call carries
// metadata (IOOperator.Metadata, metadata.FromIncomingContext on the
// call's context; IOOperator.SetResponseMetadata for the answer's), and a
// slave that gives up sends a cancel frame, which cancels the handler's
// context with ErrCancelled and keeps the connection.
//
// This package speaks only the raw byte path. Typed calls with codecs are
// package typed; the wire format lives in package frame.
package master
