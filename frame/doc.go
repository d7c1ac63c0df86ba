// Package frame is the FastRpc wire format: the connection preface, request
// and response headers, status codes, method IDs, the capabilities body, and
// the limits a receiver checks before it allocates anything.
//
// It is pure encoding and decoding over byte slices. It knows nothing of
// sockets, buffering, goroutines or handlers (package conn frames a
// net.Conn; packages master and slave give the frames meaning), and encoding
// or decoding a header allocates nothing.
//
// There are two versions of the protocol. Version 1 frames a call as a
// request header, a payload, a response header and a payload. Version 2
// adds a call ID to every frame, metadata (key/value pairs) to requests and
// responses, and a cancel frame; its headers are version 1's with fields
// appended. Peers agree on the version in the preface, so every pairing of
// old and new peers works, at the lower version.
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
// Both peers send an 8-byte preface as soon as the connection is open.
//
//	 0       1       2       3       4       5       6       7
//	+-------+-------+-------+-------+-------+-------+-------+-------+
//	|  'F'  |  'R'  |  'P'  |  'C'  |    version    |    status     |
//	+-------+-------+-------+-------+-------+-------+-------+-------+
//
// The magic is the ASCII bytes "FRPC" (46 52 50 43). A version 1 slave
// sends version 1, status 0, and a version 1 master version 1 without
// waiting for the slave's preface. The master's status is a
// [HandshakeStatus]: 0 when it will serve the connection,
// [HandshakeOverloaded] when it is at its connection limit,
// [HandshakeShuttingDown] when it is stopping; in the last two cases it
// closes the connection after the preface. A peer whose magic differs is not
// speaking FastRpc; a peer whose version it does not speak speaks another
// revision of it. Either way the connection is closed. Version
// negotiation (below) fills in the fields for version 2.
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
// # Version negotiation
//
// A slave sends version 1 in its preface, so that version 1 masters (which
// refuse any other) accept it, and the highest version it speaks in the
// status field ([SlavePreface]); version 1 slaves send 0 there, which
// counts as 1. A version 2 master reads the slave's preface before it
// sends its own (bounded by its header timeout), and answers with the
// lower of the two highest versions ([Negotiate]) in its version field:
// the connection speaks that version from the next byte on, in both
// directions. A master refusing the connection (overloaded, shutting down)
// may send its preface at once with version 1. A slave accepts any version
// from 1 up to the one it offered, and nothing else.
//
//	slave  -> 46525043 0001 0002   "FRPC", version 1, offers up to 2
//	master -> 46525043 0002 0000   "FRPC", version 2, HandshakeOK
//
// A version 1 master sends version 1 whatever the slave offered, and a
// version 1 slave offers nothing: both get version 1.
//
// # Protocol, version 2
//
// Version 2 keeps version 1's rules except as said here: one call in
// flight per connection (but see multiplexing below), the statuses, the
// limits, and the method IDs.
//
// A request header is 40 bytes: version 1's first 24, then the call ID,
// the kind, and the length of the metadata block.
//
//	 0                               8                              16
//	+-------------------------------+-------------------------------+
//	|        method ID (64)         |      payload length (64)      |
//	+-------------------------------+-------------------------------+
//	|       timeout, ns (64)        |         call ID (64)          |
//	+-------+-----------------------+-------------------------------+
//	| kind  |    flags (24) = 0     | metadata length (32)  |
//	+-------+-----------------------+-----------------------+
//	32      33                      36                      40
//
// Then come exactly metadata length bytes of metadata, then exactly
// payload length bytes of payload. Kind 0 ([KindRequest]) is a request.
// Kind 1 ([KindCancel]) is a cancel frame: it carries only a call ID;
// every other field is 0 and nothing follows it. Other kinds and flags are
// reserved: a receiver treats them as a protocol violation.
//
// A response header is 32 bytes: version 1's 16, then the ID of the call
// answered and the length of the response's metadata block, which sits
// between the header and the payload.
//
//	 0       1                       4                               8
//	+-------+-----------------------+-------------------------------+
//	|status |   reserved (24) = 0   |   application error code (32) |
//	+-------+-----------------------+-------------------------------+
//	|                      payload length (64)                      |
//	+---------------------------------------------------------------+
//	|                         call ID (64)                          |
//	+-------------------------------+-------------------------------+
//	|     metadata length (32)      |        reserved (32) = 0      |
//	+-------------------------------+-------------------------------+
//	16                              24              28              32
//
// # Call IDs
//
// A slave gives each request on a connection an ID greater than the one
// before it, starting at 1; 0 is never a call's. The response repeats the
// ID. A response whose ID is not that of the call in flight is a protocol
// violation: the slave closes the connection and delivers it to no
// caller. The one exception is the notice of a closing connection
// ([StatusShuttingDown]), which a master may send unasked with ID 0: it
// answers whatever request crossed it, "not processed".
//
// # Metadata
//
// A metadata block is a sequence of pairs, each
//
//	key length (8) | key | value length (16) | value
//
// Keys are 1 to [MaxMetadataKey] bytes of lower-case ASCII letters, digits,
// '-', '_' and '.'; values are any bytes. A key may appear more than once;
// order is kept. A block is at most [MaxMetadataSize] bytes and
// [MaxMetadataPairs] pairs: a receiver checks the length in the header
// before it reads the block, and closes the connection on a block over the
// limit or malformed ([ErrMetadata]). A call without metadata sends a
// length of 0 and no block. Responses carry metadata the same way,
// whatever their status.
//
// # Cancellation
//
// Once a request has been sent whole, the slave may send a cancel frame
// with its ID: it no longer waits for the result. The master cancels the
// handler's context and answers exactly once as always: with the
// handler's answer if that comes first, otherwise with [StatusCancelled].
// The slave reads that answer before it sends the next request, so the
// connection stays usable. A cancel frame for a call already answered
// crossed its answer on the way and is ignored; a cancel frame for an ID
// the master never saw is a protocol violation.
//
// # Multiplexing
//
// Every frame names its call, responses say which call they answer, and
// cancellation is per call, so a later revision can let a slave keep many
// calls in flight on one connection, answered in any order, with these
// same frames. It will be offered as a feature in the capabilities body;
// until a master lists it, one call is in flight per connection.
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
// On a version 2 connection the body goes on with the master's features,
// and the capabilities method's own entry names the returning encoding
// [CapabilitiesEncodingV2]:
//
//	count (16), then count strings, each length (16) and bytes
//
// A feature is "version.N" for each version N the master speaks,
// [FeatureMetadata], [FeatureCancel], "idempotent." and a method's name
// for each method the master declares safe to run twice for one call
// ([IdempotentFeature]), or a name a later revision defines; a slave
// ignores features it does not know.
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
// testdata/vectors.txt holds hex encodings of every frame kind of both
// versions, checked by this package's tests in both directions.
package frame
