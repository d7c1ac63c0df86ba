// Package conn frames a net.Conn with the FastRpc wire format: buffered
// reading and writing of prefaces, headers and payload streams, deadlines,
// the opening handshake of each side, and a cheap check that an idle
// connection is still open.
//
// It also defines what the slave consumes to get connections: the [Dialer]
// that opens a net.Conn, and the [Pool] interface a connection pool
// implements (package poolimpl ships implementations).
//
// Conn knows nothing of handlers, method names or call semantics; packages
// master and slave build those on top. A Conn is not safe for concurrent use
// except for Close and the deadline setters, which may be called from
// another goroutine to interrupt a blocked read or write.
package conn
