// Package frame is the FastRpc wire format: the connection preface, request
// and response headers, status codes, method IDs, the capabilities body, and
// the limits a receiver checks before it allocates anything.
//
// It is pure encoding and decoding over byte slices. It knows nothing of
// sockets, buffering, goroutines or handlers (package conn frames a
// net.Conn; packages master and slave give the frames meaning), and encoding
// or decoding a header allocates nothing.
//
// # Protocol, version 1
//
// Every integer is unsigned, fixed width, in network byte order (big endian).
// A connection carries one call at a time: the slave sends a request, the
// master answers it with exactly one response, and only then may the next
// request be sent on that connection. Concurrency comes from using several
// connections.
//
// # Preface
//
// Both peers send an 8-byte preface as soon as the connection is open; the
// master sends its own without waiting for the slave's.
//
//	 0       1       2       3       4       5       6       7
//	+-------+-------+-------+-------+-------+-------+-------+-------+
//	|  'F'  |  'R'  |  'P'  |  'C'  |    version    |    status     |
//	+-------+-------+-------+-------+-------+-------+-------+-------+
//
// The magic is the ASCII bytes "FRPC" (46 52 50 43). Version is 1. The slave
// sends status 0. The master sends a [HandshakeStatus]: 0 when it will serve
// the connection, [HandshakeOverloaded] when it is at its connection limit,
// [HandshakeShuttingDown] when it is stopping; in the last two cases it
// closes the connection after the preface. A peer whose magic differs is not
// speaking FastRpc; a peer whose version differs speaks another revision of
// it. Either way the connection is closed.
//
// # Request header
//
// A request is a 32-byte header followed by exactly Length payload bytes.
//
//	 0                               8                              16
//	+-------------------------------+-------------------------------+
//	|        method ID (64)         |      payload length (64)      |
//	+-------------------------------+---------------+---------------+
//	|      timeout, ns (64)         |  flags (32)   | reserved (32) |
//	+-------------------------------+---------------+---------------+
//	16                              24              28              32
//
// The method ID is [MethodID] of the method's name: 0 for "capabilities",
// otherwise the 64-bit FNV-1a hash of the name's bytes. It depends on nothing
// but the name, so it is stable across restarts and registration orders, and
// a slave needs no round trip to learn it. A master refuses to register two
// names with the same ID.
//
// The timeout is the time the slave will wait for the response, in
// nanoseconds, measured from when the request was sent; 0 means the slave
// waits without limit. It is relative so that clocks need not agree. The
// master uses it as the handler's deadline.
//
// No flags are defined in version 1; flags and reserved must be 0, and a
// receiver treats anything else as a protocol violation.
//
// # Response header
//
// A response is a 16-byte header followed by exactly Length payload bytes.
//
//	 0       1                       4                               8
//	+-------+-----------------------+-------------------------------+
//	|status |   reserved (24) = 0   |   application error code (32) |
//	+-------+-----------------------+-------------------------------+
//	|                      payload length (64)                      |
//	+---------------------------------------------------------------+
//	8                                                              16
//
// With [StatusOK] the payload is the method's result. With any other status
// the payload is a UTF-8 message of at most [MaxErrorMessage] bytes, and
// the code is an application-defined error code (0 when none was given;
// meaningful with [StatusApplicationError]).
//
// A response with [StatusShuttingDown] may also be sent on an idle
// connection, before any request, by a master that is stopping or that
// closes the connection for being idle too long: it means "this connection
// is closing and the master processes nothing more on it". A slave that finds
// it as the answer to a request knows the request was not processed.
//
// # Capabilities
//
// Method ID 0, named "capabilities", is built into every master. Its request
// payload is ignored; its response payload lists every method the master
// serves, "capabilities" included:
//
//	count (32), then count entries, each four strings:
//	  name, description, incoming encoding, returning encoding
//	each string: length (16), then that many UTF-8 bytes
//
// # Limits
//
// A receiver compares every length with its own limit before reading or
// allocating: a header that claims 2^63 bytes costs the receiver nothing
// beyond an error. Error messages are at most [MaxErrorMessage] bytes and
// capability strings at most [MaxStringLen] bytes; the limits on payloads
// are settings of the master and the slave.
//
// # Test vectors
//
// testdata/vectors.txt holds hex encodings of every frame kind, checked by
// this package's tests in both directions.
package frame
