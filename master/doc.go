// Package master is the FastRpc server: it registers handlers by name,
// accepts connections on any net.Listener, and serves each connection's
// calls in its own goroutine.
//
// A handler is a func(*IOOperator) error; the IOOperator streams the
// request payload in and the response out, so payloads of any size cross
// with bounded memory. Limits (request size, header and idle timeouts,
// progress of payloads and responses, connection count) are on by
// default, see Config. Each call has its own context, cancelled when its
// slave leaves, when the master closes and when the handler returns.
// Shutdown stops gracefully; Close stops at once.
//
// This package speaks only the raw byte path. Typed calls with codecs are
// built on top of it elsewhere; the wire format lives in package frame.
package master
