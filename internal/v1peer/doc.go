// Package v1peer is a frozen copy of FastRpc's wire protocol version 1: a
// v1 master ([Master]) and a v1 slave ([Dial]) written from the version 1
// specification below, for tests that prove newer masters and slaves still
// interoperate with today's version 1 peers.
//
// What it is not: it is not a production implementation (it reports
// through testing.TB, keeps every protocol violation it sees in memory and
// serves one loopback listener per test), and it is never updated to a
// newer protocol version. It deliberately imports nothing from this module
// (not frame, conn, master or slave), only the standard library, so that it
// keeps speaking version 1 whatever those packages become. If a test
// against it fails, fix the newer peer, not this package.
//
// # Protocol version 1
//
// All integers are big endian.
//
// Preface, 8 bytes, once in each direction:
//
//	"FRPC" (46 52 50 43) | version (16) | status (16)
//
// A v1 slave sends version 1, status 0; it writes and flushes its preface
// first, then reads the master's and rejects it when the magic differs or
// the version is not 1. The master's status is 0 ok, 1 overloaded or
// 2 shutting down; after 1 or 2 the master closes the connection. A v1
// master sends its preface (version 1, status 0) as soon as it accepts,
// without waiting for the slave's; then it reads the slave's preface,
// rejects bad magic or a version other than 1, and ignores the slave's
// status field.
//
// Request, a 32-byte header and then exactly length payload bytes:
//
//	method ID (64) | payload length (64) | timeout ns (64, 0 = none) |
//	flags (32, must be 0) | reserved (32, must be 0)
//
// Response, a 16-byte header and then the payload:
//
//	status (8) | reserved (24, must be 0) | application error code (32) |
//	payload length (64)
//
// Statuses: 0 ok, 1 application error, 2 unknown method, 3 request too
// large, 4 handler panic, 5 shutting down, 6 deadline exceeded,
// 7 permission denied. The payload of a response that is not ok is a
// UTF-8 message.
//
// The method ID of the name "capabilities" is 0; of any other name it is
// the 64-bit FNV-1a hash of the name (offset basis 14695981039346656037,
// prime 1099511628211).
//
// The capabilities method (ID 0) answers this body:
//
//	count (32), then count entries of four strings:
//	  name, description, incoming encoding, returning encoding
//	each string: length (16), then that many bytes
//
// Its own entry has the name "capabilities" and the returning encoding
// "fastrpc.capabilities.v1".
//
// One call at a time is in flight on a connection.
//
// # This package's peers
//
// The master peer serves each connection in its own goroutine. It answers a
// request of more than [MaxRequest] bytes with status 3 and closes the
// connection, an unknown method with status 2, and a handler error with
// status 1 (or what a [*Status] says). It does not enforce the request's
// timeout. Every read and write is bounded by a 10 s deadline; a peer that
// violates the protocol has its connection closed and the violation
// recorded in [MasterPeer.Errors].
//
// The slave peer bounds connecting and the handshake by 5 s, and every
// wait of a call by 5 s or the call's timeout, whichever is larger.
package v1peer
