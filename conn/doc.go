// Package conn frames a net.Conn with the FastRpc wire format: buffered
// reading and writing of prefaces, headers and payload streams, deadlines,
// the opening handshake of each side, and a cheap check that an idle
// connection is still open ([Conn.Stale]).
//
// A slave opens connections with [Dial] through a [Dialer], and a master
// answers with [Conn.ServerHandshake] on the net.Listener a [Listener]
// opens: together they settle on a protocol version ([Conn.Version]), and
// the headers read and written follow it. In version 2 a Conn numbers the
// requests it writes and refuses responses for another call
// ([ErrCallID]). Both interfaces live here,
// side by side, and package transport has TCP, unix socket and TLS ones.
//
// Conn knows nothing of handlers, method names, pools or call semantics;
// packages master, slave and poolimpl build those on top. A Conn is not
// safe for concurrent use except for Close and the deadline setters, which
// may be called from another goroutine to interrupt a blocked read or
// write.
package conn
