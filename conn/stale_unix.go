//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package conn

import (
	"net"
	"syscall"
)

// prober peeks at a socket without blocking and without consuming data.
type prober struct {
	raw syscall.RawConn
	fn  func(fd uintptr) // bound once so probing allocates nothing
	buf [1]byte
	n   int
	err error
}

// maxUnwrap bounds how many wrapping layers init looks through.
const maxUnwrap = 4

// init finds nc's socket. A wrapper that exposes the connection it runs
// over with a NetConn method, *tls.Conn above all, is probed on that
// connection's socket. For TLS this is sound because of when probing
// happens: only on an idle connection after the handshake, and the slave's
// handshake ends by reading the master's preface through TLS, which also
// consumes everything the master's TLS layer sent before it (TLS 1.3
// session tickets go out within the master's handshake, so before the
// preface). A FastRpc master sends nothing unasked after that; a
// close_notify, an alert, or a stopping master's notice is exactly what
// Stale is meant to report. Bytes a wrapper already holds in its own
// buffer are not seen; they could only have come in with the last
// response read, and the next call on the connection reads them. A
// wrapper whose own protocol sends bytes unasked (keep-alive pings, say)
// would make its idle connections look stale, costing redials.
func (p *prober) init(nc net.Conn) {
	for range maxUnwrap {
		if _, ok := nc.(syscall.Conn); ok {
			break
		}
		w, ok := nc.(interface{ NetConn() net.Conn })
		if !ok || w.NetConn() == nil {
			return
		}
		nc = w.NetConn()
	}
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return
	}
	p.raw = raw
	p.fn = p.peek
}

func (p *prober) peek(fd uintptr) {
	p.n, _, p.err = syscall.Recvfrom(int(fd), p.buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
}

func (p *prober) stale() bool {
	if p.raw == nil {
		return false
	}
	// Control, not Read: RawConn.Read fails without calling fn once the
	// read deadline has passed, and a deadline left over from an earlier
	// call says nothing about the connection. The peek never waits.
	if err := p.raw.Control(p.fn); err != nil {
		return true // closed locally
	}
	switch {
	case p.err == syscall.EAGAIN || p.err == syscall.EWOULDBLOCK:
		return false // open, nothing pending: healthy
	case p.err == syscall.EINTR:
		return false
	case p.err != nil:
		return true // reset, or another socket error
	default:
		return true // p.n == 0 is EOF; p.n > 0 is unsolicited data
	}
}
